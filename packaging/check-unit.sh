#!/usr/bin/env bash
# Checks the daemon's systemd unit offline, with nothing installed and no systemd running
# (systemd-analyze of Debian 12's systemd 252):
#   systemd-analyze verify                     has nothing to say
#   systemd-analyze security --offline=true    overall exposure level 2.5 or lower
# Usage: packaging/check-unit.sh [UNIT]   (default: packaging/outbound-events.service)
#
# verify insists that ExecStart= names an executable that exists, and runs man(1) for each
# man: page of Documentation=. When the unit's ExecStart= is not installed, a copy of the unit
# whose ExecStart= names a stub is checked instead, without the man page lookup; everything
# else in the copy is the unit's own. (test-deb.sh checks the installed unit as it is.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
unit=${1:-$root/packaging/outbound-events.service}
name=$(basename "$unit")
limit=2.5
fail() { echo "not ok - $*"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
man=yes
checked=$unit
if [ ! -x "$exec_start" ]; then
    printf '#!/bin/sh\nexit 0\n' > "$work/stub"
    chmod 0755 "$work/stub"
    sed "s|^ExecStart=$exec_start|ExecStart=$work/stub|" "$unit" > "$work/$name"
    checked="$work/$name"
    man=no
fi

out=$(systemd-analyze verify --man="$man" "$checked" 2>&1) || fail "systemd-analyze verify $name: $out"
[ -z "$out" ] || fail "systemd-analyze verify $name: $out"
echo "ok - systemd-analyze verify --man=$man $name: nothing to say"

systemd-analyze security --offline=true "$checked" > "$work/security" 2>&1 || { cat "$work/security"; fail "systemd-analyze security"; }
exposure=$(sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\).*/\1/p' "$work/security")
[ -n "$exposure" ] || { cat "$work/security"; fail "systemd-analyze security printed no overall exposure level"; }
if ! awk -v e="$exposure" -v l="$limit" 'BEGIN { exit !(e + 0 <= l + 0) }'; then
    grep '✗' "$work/security" || true
    fail "systemd-analyze security --offline=true $name: exposure $exposure, above $limit"
fi
echo "ok - systemd-analyze security --offline=true $name: exposure $exposure (at most $limit)"
