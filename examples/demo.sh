#!/usr/bin/env bash
# The demo (make demo): a sample firmware service (examples/firmware_service.c) emits the events
# of one support session to a receiver on 127.0.0.1. The receiver refuses the first delivery
# with 503; the agent logs the failure, retries two seconds later, delivers everything in
# order and logs the recovery. Then the journal lines are shown, and the field tool reads the
# status file the service left and sends a test event of its own.
# Then appliance mode: outbound-eventsd with two producer services (examples/producer_service.c).
# Usage: examples/demo.sh LIBDIR TOOL [DAEMON]
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

# Appliance mode (README, "Appliance mode"): one daemon owns the configuration and delivers;
# two firmware services attach to its spool as producers and only emit.
daemon=${3:-}
[ -n "$daemon" ] || exit 0
echo
echo "== appliance mode: outbound-eventsd and two producer services"
cc -std=c11 -Wall -Wextra -Werror -I "$root/include" "$root/examples/producer_service.c" \
    -L "$libdir" -loutbound-events -Wl,-rpath,"$libdir" -o "$work/producer_service"
# The Outbound Events page on 127.0.0.1, with a password made for the demo.
page_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
page_password=$(head -c 12 /dev/urandom | base64 | tr -d '/+=')
page_hash=$(echo "$page_password" | "$tool" admin-password)
cat > "$work/outbound-events.conf" <<CONF
appliance_id = demo-appliance
queue.spool = $work/queue
status.path = $work/daemon.json
log.identifier = outbound-eventsd-demo
admin.socket = $work/admin.sock
admin.listen = 127.0.0.1:$page_port
$page_hash

[http ticketing]
url = http://127.0.0.1:$port/hook
retry_interval = 2s
CONF
echo "-- $work/outbound-events.conf (outbound-events check validates it):"
sed 's/^/   /' "$work/outbound-events.conf"
"$tool" check "$work/outbound-events.conf"
since=$(date '+%Y-%m-%d %H:%M:%S')
before=$(wc -l < "$work/requests.jsonl")
"$daemon" --config "$work/outbound-events.conf" &
daemon_pid=$!
trap 'kill $receiver $daemon_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do [ -e "$work/queue.intake" ] && break; sleep 0.1; done
echo "-- two firmware services emit at once"
"$work/producer_service" "$work/queue" recording &
first=$!
"$work/producer_service" "$work/queue" chat
wait $first
echo "-- what the receiver got from the daemon: one queue, one order, each service's events in its order"
python3 - "$work/requests.jsonl" "$before" <<'PY'
import json, sys, urllib.parse
for number, line in enumerate(open(sys.argv[1]), 1):
    if number <= int(sys.argv[2]):
        continue
    request = json.loads(line)
    fields = dict(urllib.parse.parse_qsl(request["body"]))
    print("   %-34s from %-9s answered %s  %s" % (fields["event"], fields.get("service", "-"), request["answer"], request["headers"]["webhook-id"]))
PY
echo "-- the Outbound Events page: http://127.0.0.1:$page_port/  password: $page_password"
echo "   (also on the Unix socket $work/admin.sock, for the appliance's web server)"
echo "-- one change through its API: PUT /api/v1/recipients/http/from-page, then an event"
before=$(wc -l < "$work/requests.jsonl")
python3 - "$work/admin.sock" "http://127.0.0.1:$port/from-page" <<'PY'
import http.client, json, socket, sys
class Unix(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sys.argv[1])
connection = Unix("localhost", timeout=10)
body = json.dumps({"url": sys.argv[2], "events": "support_conference_end", "retry_interval": "2s"})
connection.request("PUT", "/api/v1/recipients/http/from-page", body, {"Content-Type": "application/json"})
answer = connection.getresponse()
print("   PUT %s -> %d %s" % (body, answer.status, answer.read().decode()))
PY
"$tool" emit --attach "$work/queue" support_conference_end lsid=from-the-page-demo | sed 's/^/   /'
for _ in $(seq 1 100); do grep -q from-the-page-demo "$work/requests.jsonl" && break; sleep 0.1; done
python3 - "$work/requests.jsonl" "$before" <<'PY'
import json, sys, urllib.parse
for number, line in enumerate(open(sys.argv[1]), 1):
    request = json.loads(line)
    if number > int(sys.argv[2]) and request["path"] == "/from-page":
        fields = dict(urllib.parse.parse_qsl(request["body"]))
        print("   the receiver got %s lsid=%s at %s (the recipient added through the API)" % (fields["event"], fields["lsid"], request["path"]))
PY
if [ -t 0 ]; then
    read -r -p "   Open the page, then press Enter to stop the daemon: " _
fi
echo "-- SIGHUP reloads the file (whole or not at all); SIGTERM stops the daemon"
kill -HUP $daemon_pid
sleep 0.5
kill -TERM $daemon_pid
wait $daemon_pid && echo "   outbound-eventsd exited 0"
echo "-- the daemon's journal (journalctl -t outbound-eventsd-demo --since '$since')"
sleep 0.5
journalctl --no-pager -t outbound-eventsd-demo --since "$since" -o short-iso || true
