#!/usr/bin/env bash
# Installs the Debian packages the build, the demo and the tests need; does nothing when they
# are all present. Usage: scripts/install-deps.sh [build|test|bench|deb]...
set -euo pipefail

packages=(pkg-config libcurl4-openssl-dev libssl-dev libsystemd-dev openssl python3 procps)
for what in "$@"; do
    case "$what" in
        build) ;;
        test) packages+=(python3-aiosmtpd systemd) ;;
        bench) packages+=(nginx-light wrk valgrind) ;;
        deb) packages+=(dpkg-dev fakeroot lintian binutils patchelf) ;;
        *) echo "install-deps: unknown group $what" >&2; exit 2 ;;
    esac
done

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
