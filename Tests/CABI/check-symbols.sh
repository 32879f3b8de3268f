#!/usr/bin/env bash
# The library exports exactly the functions the header declares: nothing of Swift, nothing of
# the shims, no function missing. Usage: Tests/CABI/check-symbols.sh LIBRARY HEADER
set -euo pipefail
library=$1
header=$2
exported=$(nm -D --defined-only --extern-only "$library" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort)
declared=$(grep -oE '\boe_[a-z_]+\(' "$header" | tr -d '(' | sort -u)
others=$(nm -D --defined-only --extern-only "$library" | awk '$2 != "T" && $2 != "A" {print}')
if [ "$exported" != "$declared" ] || [ -n "$others" ]; then
    echo "not ok - exported symbols differ from the header"
    diff <(echo "$declared") <(echo "$exported") || true
    echo "$others"
    exit 1
fi
echo "ok - the library exports exactly the $(echo "$declared" | wc -l) functions of the header"

# Built in Embedded Swift: no Swift runtime or other Swift library is needed at run time, only
# the C libraries the agent calls (SPEC: libcurl, OpenSSL, libsystemd) and libc.
needed=$(readelf -d "$library" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort)
unexpected=$(echo "$needed" | grep -vxE 'lib(c|m|curl|ssl|crypto|systemd)\.so\.[0-9]+' || true)
if [ -n "$unexpected" ]; then
    echo "not ok - the library needs more than libc, libm, libcurl, OpenSSL and libsystemd:"
    echo "$unexpected"
    exit 1
fi
echo "ok - the library needs only $(echo $needed | sed 's/ /, /g'): no Swift runtime"

# Nor is one inside (SPEC: "built in Embedded Swift it carries no Swift runtime at all"): a
# runtime linked in statically brings its reflection metadata sections (swift5_*) with it.
metadata=$(readelf -SW "$library" | grep -o 'swift5_[a-z_]*' | sort -u || true)
if [ -n "$metadata" ]; then
    echo "not ok - the library carries the Swift runtime's metadata sections:" $metadata
    exit 1
fi
echo "ok - no Swift runtime inside: no swift5_* metadata sections"
