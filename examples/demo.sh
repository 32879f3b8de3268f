#!/usr/bin/env bash
# The demo (make demo): a sample firmware service (examples/firmware_service.c) emits the events
# of one support session to a receiver on 127.0.0.1. The receiver refuses the first delivery
# with 503; the agent logs the failure, retries two seconds later, delivers everything in
# order and logs the recovery. Then the journal lines are shown, and the field tool reads the
# status file the service left and sends a test event of its own.
# Usage: examples/demo.sh LIBDIR TOOL
set -euo pipefail
libdir=$(cd "$1" && pwd)
tool=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $receiver 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== building the sample firmware service against include/ and $libdir"
cc -std=c11 -Wall -Wextra -Werror -I "$root/include" "$root/examples/firmware_service.c" \
    -L "$libdir" -loutbound-events -Wl,-rpath,"$libdir" -o "$work/firmware_service"

echo "sequence 503 200" > "$work/control"
python3 "$root/scripts/receiver.py" --log "$work/requests.jsonl" --control "$work/control" --print >"$work/receiver.out" &
receiver=$!
for _ in $(seq 1 50); do grep -q PORT "$work/receiver.out" 2>/dev/null && break; sleep 0.1; done
port=$(awk '/^PORT/ {print $2}' "$work/receiver.out")
tail -n +2 -f "$work/receiver.out" &
tailer=$!
echo "== receiver listening on http://127.0.0.1:$port/hook (it answers 503 once, then 200)"

since=$(date '+%Y-%m-%d %H:%M:%S')
echo "== running the firmware service"
"$work/firmware_service" "http://127.0.0.1:$port/hook" 2s "$work/firmware.json"
sleep 0.2
kill $tailer 2>/dev/null || true

echo
echo "== what the receiver got, in order"
python3 - "$work/requests.jsonl" <<'PY'
import json, sys, urllib.parse
for number, line in enumerate(open(sys.argv[1]), 1):
    request = json.loads(line)
    fields = urllib.parse.parse_qsl(request["body"])
    print("%d. %-52s answered %s  %s" % (number, dict(fields)["event"], request["answer"], request["headers"]["webhook-id"]))
    if number == 1:
        print("   body: " + request["body"])
        print("   webhook-signature: " + request["headers"].get("webhook-signature", "-"))
PY

echo
echo "== journal (journalctl -t outbound-events-demo --since '$since')"
sleep 0.5
journalctl --no-pager -t outbound-events-demo --since "$since" -o short-iso || true
echo
echo "== the failure entry with its fields (journalctl -o verbose)"
journalctl --no-pager -t outbound-events-demo --since "$since" -o verbose MESSAGE_ID=3be05f24e14848368b0e00acc0225f0c |
    grep -E '^\s+(MESSAGE|PRIORITY|MESSAGE_ID|OE_[A-Z_]+)=' || true

echo
echo "== the field tool: outbound-events status (the file the service wrote through status.path)"
"$tool" status "$work/firmware.json"
echo "== the field tool: outbound-events send-test http://127.0.0.1:$port/hook"
"$tool" send-test "http://127.0.0.1:$port/hook" || true
