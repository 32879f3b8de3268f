#!/usr/bin/env bash
# Installs the Debian packages the build, the demo and the tests need, and for the tests the
# official Standard Webhooks library from PyPI (into .build/python, for the test receiver);
# does nothing when they are all present. Usage: scripts/install-deps.sh [build|test|bench|deb]...
set -euo pipefail

packages=(pkg-config libcurl4-openssl-dev libssl-dev libsystemd-dev libmicrohttpd-dev openssl python3 procps)
for what in "$@"; do
    case "$what" in
        build) ;;
        test) packages+=(python3-aiosmtpd python3-pip systemd tinyproxy cmake python3-fusepy fuse
                         chromium chromium-driver python3-selenium) ;;
        bench) packages+=(nginx-light wrk valgrind) ;;
        deb) packages+=(dpkg-dev fakeroot lintian binutils patchelf) ;;
        *) echo "install-deps: unknown group $what" >&2; exit 2 ;;
    esac
done

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep "install ok installed" >/dev/null || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The receivers verify signatures with the official Standard Webhooks library, as a receiving
# system would (pure Python, no dependencies; kept out of the system's packages).
if [[ " $* " == *" test "* ]]; then
    root=$(cd "$(dirname "$0")/.." && pwd)
    if [ ! -f "$root/.build/python/standardwebhooks/__init__.py" ]; then
        echo "installing: standardwebhooks (PyPI) into .build/python"
        /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
            --target "$root/.build/python" --no-deps standardwebhooks==1.1.0
    fi
fi
