#!/usr/bin/env bash
# The packages as an operator meets them (make test-deb, run by make test): lintian clean, the
# symbols file equal to the exported functions, installed over an older version with dpkg, a C
# program built with pkg-config alone and with CMake's find_package alone and run against a
# receiver, nothing of the Swift toolchain needed, the journald catalog installed, the daemon
# (Embedded Swift, no runtime inside), its unit (systemd-analyze verify and security), user and
# conffile in place, and nothing left after dpkg -r and -P (the daemon's user, state and
# configuration directory included).
set -euo pipefail
# (grep -q in a pipeline would end the writer early, and pipefail would report its SIGPIPE.)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
version=$(sed -n 's/^#define OE_VERSION_STRING "\(.*\)"/\1/p' include/outbound_events.h)
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
packages=(liboutbound-events1 liboutbound-events-dev outbound-events-tools)
work=$(mktemp -d)
trap 'kill $receiver 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "not ok - $*"; exit 1; }

DEB_VERSION=0.9.0-1 packaging/build-deb.sh >/dev/null
packaging/build-deb.sh >/dev/null
new=()
old=()
for package in "${packages[@]}"; do
    new+=("dist/${package}_${version}-1_${arch}.deb")
    old+=("dist/${package}_0.9.0-1_${arch}.deb")
done

# lintian: no errors and no warnings (overrides carry their reasons).
lintian "${new[@]}" > "$work/lintian" 2>&1 || true
grep -E '^[EW]: ' "$work/lintian" && fail "lintian reports errors or warnings"
echo "ok - lintian: no errors, no warnings"

# The symbols file lists exactly what the library exports, and that is the header's functions.
dpkg-deb -e "${new[0]}" "$work/control"
dpkg-deb -x "${new[0]}" "$work/tree"
library="$work/tree/usr/lib/$multiarch/liboutbound-events.so.$version"
exported=$(nm -D --defined-only --extern-only "$library" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort)
listed=$(awk '/^ oe_/ {sub(/@.*/, "", $1); print $1}' "$work/control/symbols" | sort)
[ "$exported" = "$listed" ] || fail "the symbols file does not match the exported symbols"
Tests/CABI/check-symbols.sh "$library" include/outbound_events.h
readelf -d "$library" | grep 'SONAME.*\[liboutbound-events.so.1\]' >/dev/null || fail "SONAME"
readelf -d "$library" | grep -E 'RPATH|RUNPATH' >/dev/null && fail "the library has a RUNPATH"
readelf -lW "$library" | grep GNU_RELRO >/dev/null || fail "no RELRO"
readelf -d "$library" | grep BIND_NOW >/dev/null || fail "no BIND_NOW"
[ "$(stat -c %a "$library")" = 644 ] || fail "library mode"
echo "ok - symbols file, SONAME, no RUNPATH, RELRO and BIND_NOW, mode 0644"

# Install the older version, then upgrade.
$sudo dpkg -P "${packages[@]}" >/dev/null 2>&1 || true
$sudo dpkg -i "${old[@]}" >/dev/null
$sudo dpkg -i "${new[@]}" >/dev/null
for package in "${packages[@]}"; do
    [ "$(dpkg-query -W -f='${Version}' "$package")" = "$version-1" ] || fail "$package was not upgraded"
done
echo "ok - upgraded 0.9.0-1 to $version-1 with dpkg -i"

# A firmware service builds against the installed packages with pkg-config alone.
flags=$(pkg-config --cflags --libs outbound-events)
cc -std=c11 -Wall -Wextra -Werror examples/firmware_service.c $flags -o "$work/firmware_service"
if ldd "$work/firmware_service" /usr/lib/$multiarch/liboutbound-events.so.1 /usr/bin/outbound-events /usr/bin/outbound-eventsd | grep -iE 'swift|not found'; then
    fail "something of the Swift toolchain is needed at run time"
fi
python3 scripts/receiver.py --log "$work/requests.jsonl" > "$work/port" &
receiver=$!
for _ in $(seq 1 50); do grep -q PORT "$work/port" 2>/dev/null && break; sleep 0.1; done
port=$(awk '{print $2}' "$work/port")
env -i PATH=/usr/bin:/bin timeout 60 "$work/firmware_service" "http://127.0.0.1:$port/hook" 1s > "$work/service.out"
[ "$(wc -l < "$work/requests.jsonl")" = 6 ] || fail "the receiver did not get the session's 6 events"
echo "ok - cc \$(pkg-config --cflags --libs outbound-events) builds the sample service; it delivers; ldd shows no Swift"

# And with CMake alone: find_package(OutboundEvents 1.0 REQUIRED) and the imported target.
rm -f "$work/requests.jsonl"
cmake -S examples -B "$work/cmake" -DCMAKE_BUILD_TYPE=Release > "$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "cmake could not configure the sample service"; }
cmake --build "$work/cmake" > "$work/cmake-build.log" 2>&1 || { cat "$work/cmake-build.log"; fail "cmake could not build the sample service"; }
env -i PATH=/usr/bin:/bin timeout 60 "$work/cmake/firmware_service" "http://127.0.0.1:$port/hook" 1s > "$work/service-cmake.out"
[ "$(wc -l < "$work/requests.jsonl")" = 6 ] || fail "the CMake-built service did not deliver the session's 6 events"
# A request for another major version, or a newer minor one, is refused.
mkdir -p "$work/cmake-v2"
printf 'cmake_minimum_required(VERSION 3.16)\nproject(v C)\nfind_package(OutboundEvents 2.0 QUIET)\nif(OutboundEvents_FOUND)\n  message(FATAL_ERROR "2.0 accepted")\nendif()\nfind_package(OutboundEvents 1.99 QUIET)\nif(OutboundEvents_FOUND)\n  message(FATAL_ERROR "1.99 accepted")\nendif()\n' > "$work/cmake-v2/CMakeLists.txt"
cmake -S "$work/cmake-v2" -B "$work/cmake-v2/build" > "$work/cmake-v2.log" 2>&1 || { cat "$work/cmake-v2.log"; fail "the CMake version file accepts the wrong versions"; }
echo "ok - find_package(OutboundEvents 1.0 REQUIRED) and OutboundEvents::OutboundEvents build the sample service; it delivers; 2.0 and 1.99 are refused"

# The tool, its man page and the journald catalog.
/usr/bin/outbound-events --version | grep -x "$version" >/dev/null || fail "outbound-events --version"
for page in man1/outbound-events.1 man5/outbound-events.conf.5 man8/outbound-eventsd.8; do
    [ -f "/usr/share/man/$page.gz" ] || fail "man page $page is not installed"
    # The installed page renders without a warning (what lintian's groff check would report).
    warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "/usr/share/man/$page.gz" 2>&1 >/dev/null) || fail "man $page: $warnings"
    [ -z "$warnings" ] || fail "man $page: $warnings"
done
# systemd's file trigger on /usr/lib/systemd/catalog rebuilds journald's catalog database.
journalctl --list-catalog | grep 3be05f24e14848368b0e00acc0225f0c >/dev/null || fail "the catalog is not in journald's database"
echo "ok - tool, man pages outbound-events(1), outbound-events.conf(5) and outbound-eventsd(8), and journald catalog installed (journalctl -x explains the entries)"

# The daemon: its unit, checked offline (no systemd need run: verify resolves ExecStart= and
# the man pages of Documentation= on this system), its system user, its directories, and its
# configuration, a conffile holding secrets, valid as shipped.
daemon_version=$(/usr/bin/outbound-eventsd --version) || fail "outbound-eventsd --version"
[ "$daemon_version" = "outbound-eventsd $version" ] || [ "$daemon_version" = "$version" ] || fail "outbound-eventsd --version: $daemon_version"
# The installed daemon is the Embedded one: no Swift runtime inside or beside it, 1.5 MiB at most.
Tests/CABI/check-daemon.sh /usr/bin/outbound-eventsd
unit=/usr/lib/systemd/system/outbound-events.service
[ -f "$unit" ] || fail "$unit is not installed"
verify=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify $unit: $verify"
systemd-analyze security --offline=true "$unit" > "$work/security" 2>&1 || { cat "$work/security"; fail "systemd-analyze security"; }
exposure=$(sed -n 's/.*Overall exposure level for outbound-events.service: \([0-9][0-9.]*\).*/\1/p' "$work/security")
[ -n "$exposure" ] || { cat "$work/security"; fail "systemd-analyze security printed no overall exposure level"; }
awk -v e="$exposure" 'BEGIN { exit !(e + 0 <= 2.5) }' || { cat "$work/security"; fail "the unit's exposure level is $exposure, above 2.5"; }
echo "ok - outbound-events.service installed; systemd-analyze verify has nothing to say; exposure $exposure (at most 2.5)"
getent passwd outbound-events >/dev/null || fail "no user outbound-events"
getent group outbound-events >/dev/null || fail "no group outbound-events"
getent group outbound-events-admin >/dev/null || fail "no group outbound-events-admin (the page's socket)"
tools_depends=$(dpkg-query -W -f='${Depends}' outbound-events-tools)
[[ "$tools_depends" == *libmicrohttpd* ]] || fail "outbound-events-tools does not depend on libmicrohttpd: $tools_depends"
library_depends=$(dpkg-query -W -f='${Depends}' "liboutbound-events$(echo "$version" | cut -d. -f1)")
[[ "$library_depends" != *microhttpd* ]] || fail "the library depends on libmicrohttpd: $library_depends"
ldd /usr/lib/$multiarch/liboutbound-events.so.1 | grep -q microhttpd && fail "the library links libmicrohttpd"
[ "$(stat -c '%a %U:%G' /var/lib/outbound-events)" = "750 outbound-events:outbound-events" ] || fail "/var/lib/outbound-events: $(stat -c '%a %U:%G' /var/lib/outbound-events)"
[ "$(stat -c '%a %U:%G' /run/outbound-events)" = "755 outbound-events:outbound-events" ] || fail "/run/outbound-events: $(stat -c '%a %U:%G' /run/outbound-events)"
conffile=/etc/outbound-events/outbound-events.conf
[ "$(stat -c '%a %U:%G' "$conffile")" = "640 root:outbound-events" ] || fail "$conffile: $(stat -c '%a %U:%G' "$conffile")"
conffiles=$(dpkg-query -W --showformat='${Conffiles}' outbound-events-tools)
[[ "$conffiles" == *" $conffile "* ]] || fail "$conffile is not a conffile: $conffiles"
$sudo /usr/bin/outbound-events check "$conffile" > "$work/check.out" 2>&1 || { cat "$work/check.out"; fail "the shipped $conffile does not validate"; }
echo "ok - user and group outbound-events, its directories, $conffile (conffile, 0640 root:outbound-events, valid)"

# Remove, then purge: nothing of ours is left.
files=$(dpkg -L "${packages[@]}" | sort -u)
$sudo dpkg -r "${packages[@]}" >/dev/null
[ -e "/usr/lib/$multiarch/liboutbound-events.so.1" ] && fail "dpkg -r left the library"
$sudo dpkg -P "${packages[@]}" >/dev/null 2>&1
left=""
while read -r path; do
    [ -e "$path" ] && [ ! -d "$path" ] && left+="$path "
done <<< "$files"
[ -z "$left" ] || fail "dpkg -P left: $left"
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || echo not-installed)
    [ "$status" = not-installed ] || fail "$package is $status"
done
getent passwd outbound-events >/dev/null && fail "dpkg -P left the user outbound-events"
getent group outbound-events >/dev/null && fail "dpkg -P left the group outbound-events"
getent group outbound-events-admin >/dev/null && fail "dpkg -P left the group outbound-events-admin"
for path in /var/lib/outbound-events /run/outbound-events /etc/outbound-events; do
    [ -e "$path" ] && fail "dpkg -P left $path"
done
echo "ok - dpkg -r and dpkg -P leave no files behind, nor the user outbound-events, its state or configuration directory"
