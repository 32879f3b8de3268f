#!/usr/bin/env bash
# Makes sure systemd-journald runs, so entries sent with sd_journal_sendv can be read back with
# journalctl. On a booted system it already does; in a container or CI machine it is started
# by hand.
set -euo pipefail

if [ -S /run/systemd/journal/socket ] && pgrep -x systemd-journal >/dev/null 2>&1; then
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo mkdir -p /run/systemd/journal
$sudo rm -f /run/systemd/journal/socket /run/systemd/journal/stdout /run/systemd/journal/dev-log
$sudo setsid /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
for _ in $(seq 1 50); do
    [ -S /run/systemd/journal/socket ] && exit 0
    sleep 0.1
done
echo "start-journald: systemd-journald did not come up" >&2
exit 1
