#!/usr/bin/env bash
# Builds Tests/CABI/abi_test.c as firmware would (strict C11, the public header, the built
# library), runs it against a receiver on 127.0.0.1, and checks what the receiver got.
# Usage: Tests/CABI/run.sh LIBDIR
set -euo pipefail
libdir=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'kill $receiver 2>/dev/null || true; rm -rf "$work"' EXIT

cc -std=c11 -Wall -Wextra -Werror -pedantic -I "$root/include" "$here/abi_test.c" \
    -L "$libdir" -loutbound-events -Wl,-rpath,"$libdir" -o "$work/abi_test"

python3 "$root/scripts/receiver.py" --log "$work/requests.jsonl" >"$work/port" &
receiver=$!
for _ in $(seq 1 50); do grep -q PORT "$work/port" 2>/dev/null && break; sleep 0.1; done
port=$(awk '{print $2}' "$work/port")

timeout 60 "$work/abi_test" "http://127.0.0.1:$port/hook"

python3 - "$work/requests.jsonl" <<'PY'
import json, sys, urllib.parse
requests = [r for r in map(json.loads, open(sys.argv[1])) if r["path"] == "/hook"]
lsids = [urllib.parse.parse_qs(r["body"])["lsid"][0] for r in requests]
assert lsids == ["lsid-%d" % i for i in range(5)], lsids
first = urllib.parse.parse_qsl(requests[0]["body"])
assert [k for k, _ in first] == ["event", "version", "timestamp", "appliance_id", "lsid", "external_key"], first
print("ok - the receiver got the 5 events in order, standard variables first, no custom fields")
PY

# Bounded memory and allocation-free emit, with a million events to a dead receiver.
cc -std=c11 -O2 -Wall -Wextra -Werror -I "$root/include" "$here/memory_test.c" \
    -L "$libdir" -loutbound-events -Wl,-rpath,"$libdir" -o "$work/memory_test"
timeout 300 "$work/memory_test" 1000000

# The ABI test again, built with AddressSanitizer and UndefinedBehaviorSanitizer.
cc -std=c11 -g -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra -Werror -I "$root/include" \
    "$here/abi_test.c" -L "$libdir" -loutbound-events -Wl,-rpath,"$libdir" -o "$work/abi_test_sanitized"
ASAN_OPTIONS=detect_leaks=0 timeout 120 "$work/abi_test_sanitized" "http://127.0.0.1:$port/hook" | tail -1
