#!/usr/bin/env bash
# The daemon ships as the library does, in Embedded Swift: no Swift runtime inside or beside it,
# and small (issue 22: 1.5 MiB or less once stripped, as the package installs it).
# Usage: Tests/CABI/check-daemon.sh DAEMON
set -euo pipefail
daemon=$1
limit=$((3 * 1024 * 1024 / 2))

# Beside it: it needs only libc (and libm), the C libraries the agent calls and libmicrohttpd,
# the page's HTTP server (the daemon's alone: check-symbols.sh refuses it in the library).
needed=$(readelf -d "$daemon" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort)
unexpected=$(echo "$needed" | grep -vxE 'lib(c|m|curl|ssl|crypto|systemd|microhttpd)\.so\.[0-9]+' || true)
if [ -n "$unexpected" ]; then
    echo "not ok - the daemon needs more than libc, libm, libcurl, OpenSSL, libsystemd and libmicrohttpd:"
    echo "$unexpected"
    exit 1
fi
swift=$(nm -D --undefined-only "$daemon" | awk '$2 ~ /^(swift_|\$s)/ {print $2}')
if [ -n "$swift" ]; then
    echo "not ok - the daemon calls into a Swift runtime it does not carry:" $swift
    exit 1
fi
echo "ok - the daemon needs only $(echo $needed | sed 's/ /, /g'): no Swift runtime beside it"

# Inside: a runtime linked in statically brings its reflection metadata sections (swift5_*).
metadata=$(readelf -SW "$daemon" | grep -o 'swift5_[a-z_]*' | sort -u || true)
if [ -n "$metadata" ]; then
    echo "not ok - the daemon carries the Swift runtime's metadata sections:" $metadata
    exit 1
fi
echo "ok - no Swift runtime inside the daemon: no swift5_* metadata sections"

stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip --strip-unneeded --remove-section=.comment --remove-section=.note -o "$stripped" "$daemon"
size=$(stat -c %s "$stripped")
if [ "$size" -gt "$limit" ]; then
    echo "not ok - the stripped daemon is $size bytes, more than $limit (1.5 MiB)"
    exit 1
fi
echo "ok - the stripped daemon is $size bytes (at most $limit, 1.5 MiB)"
