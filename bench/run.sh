#!/usr/bin/env bash
# The benchmarks (make bench): every figure measured side by side with its baseline in the same
# run, 5 runs each, medians and ratios written to bench/RESULTS.md.
#   emit:     oe_emit (10 variables, ~400 bytes) vs a mutex-protected C ring, 1 and 2 threads
#   latency:  one oe_emit while deliveries run (p50/p99/p99.9), vs a C agent of the same shape
#   delivery: 100,000 events to nginx ("return 200", keep-alive) vs one reused libcurl handle
#             and wrk -t1 -c1; 4 recipients vs 4 handles in one multi handle
#   spool:    emit and delivery with queue.spool on vs off
#   memory:   resident memory with a 1,000,000-event backlog; stripped library size
#   appliance: a producer's oe_emit (outbound-eventsd running) vs the C ring, its latency while
#             the daemon delivers vs the in-process agent's, the daemon's drain vs the agent's
#   sync:     the slowest oe_emit, and its lateness against its schedule, with a spool whose
#             syncs take 100 ms (bench/slowsync.c preloaded) against the same spool on the same
#             disk with fast syncs; oe_agent_sync calls per second from 1, 2 and 8 threads
#   callgrind: instructions per in-process oe_emit (bench/callgrind.sh)
#   embedded: the shipped Embedded Swift library against the same sources in normal Swift (emit,
#             delivery, size); resident memory of a process with one agent against the C
#             equivalent, and the time of oe_agent_new
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${RUNS:-5}
events=${EVENTS:-100000}

scripts/install-deps.sh build bench
# The shipped library and daemon (Embedded Swift, make lib) and, side by side, the same library
# sources built as before the switch to Embedded (normal Swift, runtime linked statically:
# swift build).
make --no-print-directory lib
swift build -c release --product outbound-events >/dev/null
daemon="$root/build/bin/outbound-eventsd"
lib="$root/build/lib"
work=$(mktemp -d)
daemons=()
trap 'kill $(cat "$work/nginx/nginx.pid" 2>/dev/null) "${daemons[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
normal="$work/normal-lib"
mkdir -p "$normal"
cp "$root/.build/release/liboutbound-events.so" "$normal/liboutbound-events.so.1"
ln -s liboutbound-events.so.1 "$normal/liboutbound-events.so"

# Each program against LIBDIR; SUFFIX names the copy.
build() {
    local source=$1 libdir=$2 suffix=$3
    shift 3
    cc -std=c11 -O2 -Wall -Wextra -Werror -I include -I Tests/CABI "$source" -L "$libdir" -loutbound-events -Wl,-rpath,"$libdir" "$@" \
        -o "$work/$(basename "$source" .c)$suffix"
}
build bench/emit_bench.c "$lib" "" -lpthread -lcurl
build bench/emit_bench.c "$normal" -normal -lpthread -lcurl
build bench/deliver_bench.c "$lib" "" -lcurl
build bench/deliver_bench.c "$normal" -normal -lcurl
build Tests/CABI/memory_test.c "$lib" ""
build bench/footprint.c "$lib" "" -lpthread -lcurl
build bench/daemon_bench.c "$lib" "" -lpthread
build bench/sync_bench.c "$lib" "" -lpthread
cc -O2 -shared -fPIC -o "$work/slowsync.so" bench/slowsync.c -ldl
build bench/footprint.c "$normal" -normal -lpthread -lcurl

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
sed "s/__PORT__/$port/" bench/nginx.conf > "$work/nginx/nginx.conf"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>"$work/nginx/error.log" &
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
url="http://127.0.0.1:$port/hook"
# A port nothing listens on: the footprint's events stay queued.
dead="http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')/hook"
# Appliance mode: outbound-eventsd on three spools. "dead" only moves events into its queue
# (its recipient fails, the next attempt an hour away), "live" delivers to nginx, "drain" is
# started by daemon_bench drain once the events wait in its intake.
appliance() {
    local name=$1 recipient=$2
    mkdir -p "$work/$name"
    printf 'queue.spool = %s\nqueue.capacity = 64MiB\nlog.destination = none\nappliance_id = bench\n[http bench]\nurl = %s\nretry_interval = 1h\n' \
        "$work/$name/queue" "$recipient" > "$work/$name/conf"
}
appliance dead "http://127.0.0.1:9/"
appliance live "$url"
appliance drain "$url"
for name in dead live drain; do
    "$daemon" --config "$work/$name/conf" &
    daemons+=($!)
    for _ in $(seq 1 50); do [ -e "$work/$name/queue.intake" ] && break; sleep 0.1; done
done
kill "${daemons[2]}"
wait "${daemons[2]}" || true

python3 - "$work/post.lua" <<'PY'
import sys
body = ("event=support_conference_begin&version=3&timestamp=1795929813&appliance_id=bench&lsid=1&external_key=INC-0001234"
        "&type=support&username=ann.baker&display_name=Ann+Baker&public_site=Support+Portal+for+Customers"
        "&customer=ACME+Corporation&computer=WS-4711.acme.example&issue=Printer+does+not+print+double-sided+on+letter+paper"
        "&queue=Tier+2+Hardware%2C+Printers+and+Peripherals+%28EMEA%29")
open(sys.argv[1], "w").write('wrk.method = "POST"\nwrk.body = "%s"\nwrk.headers["Content-Type"] = '
                             '"application/x-www-form-urlencoded; charset=utf-8"\n' % body)
PY

results="$work/results"
: > "$results"
record() { echo "$1 $2" >> "$results"; echo "  $1: $2"; }
# The Embedded library and the normal-Swift build of the same sources, back to back, in swapped
# order every other run (the second of a pair tends to find nginx and the caches warmer).
versus() {
    local embedded=$1 normal=$2 program=$3
    shift 3
    if [ $((run % 2)) = 1 ]; then
        record "$embedded" "$("$work/$program" "$@")"
        record "$normal" "$("$work/$program-normal" "$@")"
    else
        record "$normal" "$("$work/$program-normal" "$@")"
        record "$embedded" "$("$work/$program" "$@")"
    fi
}
for run in $(seq 1 "$runs"); do
    echo "run $run of $runs"
    versus emit_oe_1 emit_normal_1 emit_bench oe 1 1000000
    record emit_base_1 "$("$work/emit_bench" baseline 1 1000000)"
    versus emit_oe_2 emit_normal_2 emit_bench oe 2 1000000
    record emit_base_2 "$("$work/emit_bench" baseline 2 1000000)"
    rm -f "$work/spool"
    record emit_oe_spool "$("$work/emit_bench" oe 1 1000000 "$work/spool")"
    rm -f "$work/spool"
    record latency "$("$work/emit_bench" latency "$url" 200000)"
    record latency_c "$("$work/emit_bench" latency-c "$url" 200000)"
    versus deliver_oe_1 deliver_normal_1 deliver_bench oe "$url" "$events" 1
    record deliver_curl_1 "$("$work/deliver_bench" curl "$url" "$events")"
    record deliver_wrk_1 "$(wrk -t1 -c1 -d5s -s "$work/post.lua" "$url" | awk '/Requests\/sec/ {print $2}')"
    versus deliver_oe_4 deliver_normal_4 deliver_bench oe "$url" "$events" 4
    record deliver_multi_4 "$("$work/deliver_bench" multi "$url" "$events" 4)"
    rm -f "$work/spool"
    record deliver_oe_spool "$("$work/deliver_bench" oe "$url" "$events" 1 "$work/spool")"
    rm -f "$work/spool"
    record producer_emit_1 "$("$work/daemon_bench" emit "$work/dead/queue" 1 1000000)"
    record producer_emit_2 "$("$work/daemon_bench" emit "$work/dead/queue" 2 1000000)"
    record producer_latency "$("$work/daemon_bench" latency "$work/live/queue" 200000)"
    record daemon_drain "$("$work/daemon_bench" drain "$work/drain/queue" "$events" "$daemon" "$work/drain/conf")"
    # A spool on the disk bench/ is on (not a tmpfs), fast then slow syncs, back to back.
    record sync_stall_fast "$("$work/sync_bench" stall "$root/.build/bench-sync.spool" 20000 5000)"
    record sync_stall_slow "$(LD_PRELOAD="$work/slowsync.so" "$work/sync_bench" stall "$root/.build/bench-sync.spool" 20000 5000)"
    for threads in 1 2 8; do
        record "sync_calls_$threads" "$("$work/sync_bench" syncs "$root/.build/bench-sync.spool" "$threads" 3)"
    done
    record footprint_oe "$("$work/footprint" oe "$dead")"
    record footprint_normal "$("$work/footprint-normal" oe "$dead")"
    record footprint_c "$("$work/footprint" c "$dead")"
done

"$work/memory_test" 1000000 > "$work/memory.txt" || true
stripped() {
    cp "$1" "$work/stripped.so"
    strip --strip-unneeded "$work/stripped.so"
    stat -c %s "$work/stripped.so"
}
library_bytes=$(stripped "$lib/liboutbound-events.so.1")
normal_bytes=$(stripped "$normal/liboutbound-events.so.1")
readelf -d "$lib/liboutbound-events.so.1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' > "$work/needed.txt"

python3 bench/report.py "$results" "$work/memory.txt" "$library_bytes" "$runs" "$events" "$normal_bytes" \
    "$work/needed.txt" > bench/RESULTS.md
python3 - "$results" >> bench/RESULTS.md <<'PY'
import statistics, sys
values = {}
for line in open(sys.argv[1]):
    key, *rest = line.split()
    values.setdefault(key, []).append([float(v) for v in rest])
def median(key, index=0):
    return statistics.median(row[index] for row in values[key])
print("\n## Power cuts: a slow disk never reaches oe_emit, and what oe_agent_sync costs\n")
print("One thread emits 5,000 events a second on a schedule into an agent with a spool; the same")
print("spool with fast syncs and with every sync taking 100 ms (bench/slowsync.c). Medians of the runs,")
print("in microseconds. Goal (SPEC 11): no oe_emit takes 50 ms or more with 100 ms syncs.\n")
print("| syncs | slowest emit | largest lateness vs schedule | p99.9 emit | p99.9 lateness |")
print("|---|---|---|---|---|")
for name, key in (("fast", "sync_stall_fast"), ("100 ms each", "sync_stall_slow")):
    print("| %s | %.0f | %.0f | %.0f | %.0f |" % (name, *(median(key, i) for i in range(4))))
print("\noe_agent_sync() calls completed per second (each thread emits one event, then syncs):\n")
print("| threads | calls/s |")
print("|---|---|")
for threads in (1, 2, 8):
    print("| %d | %.0f |" % (threads, median("sync_calls_%d" % threads)))
PY
{
    echo
    echo "## Instructions per in-process oe_emit (callgrind)"
    echo
    echo "\`bench/callgrind.sh\`: valgrind's callgrind counts the instructions inside \`oe_emit\` (the"
    echo "emit benchmark's agent, one thread) and inside the C ring's append; a count, so a busy machine"
    echo "does not change it. Goal: at most 1,500."
    echo
    echo "    $(bench/callgrind.sh "$lib" 100000)"
} >> bench/RESULTS.md
echo "wrote bench/RESULTS.md"
