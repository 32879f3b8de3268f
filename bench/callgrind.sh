#!/usr/bin/env bash
# Instructions per oe_emit, counted by valgrind's callgrind (deterministic: a busy machine does
# not change the count): bench/emit_bench with one thread, the in-process agent of the emit
# benchmark (64 MiB drop_oldest, one dead recipient) against the C ring's append.
#   bench/callgrind.sh [LIBDIR] [EVENTS]   LIBDIR defaults to build/lib (make lib)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
libdir=$(cd "${1:-build/lib}" && pwd)
events=${2:-200000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -sf liboutbound-events.so.1 "$libdir/liboutbound-events.so"
cc -std=c11 -O2 -g -I include -I Tests/CABI bench/emit_bench.c -L "$libdir" -loutbound-events \
    -Wl,-rpath,"$libdir" -lpthread -lcurl -o "$work/emit_bench"
# Inclusive instructions of one function over the whole run (its first line: the function
# itself, or a clone of it the compiler made, such as ring_append.constprop.0).
inclusive() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v f="$2" 'found == "" && ($0 ~ ("[ :]" f "[ .]") || $0 ~ ("[ :]" f "$")) { gsub(",", "", $1); found = $1 }
                       END { print found + 0 }'
}
for what in oe baseline; do
    valgrind --tool=callgrind --callgrind-out-file="$work/$what.out" "$work/emit_bench" "$what" 1 "$events" \
        >/dev/null 2>"$work/$what.err"
done
ours=$(inclusive "$work/oe.out" oe_emit)
theirs=$(inclusive "$work/baseline.out" ring_append)
echo "instructions per emit: oe_emit $((ours / events)), the C ring's append $((theirs / events)) ($events emits)"
if [ -n "${CALLGRIND_TOP:-}" ]; then
    callgrind_annotate --inclusive=yes "$work/oe.out" 2>/dev/null | head -n "$CALLGRIND_TOP"
fi
