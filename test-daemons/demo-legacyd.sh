#!/bin/sh
# demo-legacyd.sh - a tiny self-daemonizing "legacy" daemon for catchd's
# README quick start (no dependency beyond sh, setsid(1), sleep and mv).
#
#   demo-legacyd.sh PIDFILE
#
# The launcher forks a child and exits 0 at once. The child detaches
# (setsid), writes PIDFILE atomically, logs "demo-legacyd: reloading" to
# stderr on every HUP and exits 0 on TERM or INT ("demo-legacyd: stopping").
# While idle it blocks in `wait` on one long background `sleep`: no periodic
# wake-ups. The child is started with `setsid -f`, not with `&`: a
# background job of a non-interactive shell would start with INT and QUIT
# ignored, and Ctrl-C (forwarded by catchd) could not stop it.

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: demo-legacyd.sh PIDFILE" >&2
    exit 2
fi
pidfile=$1

if [ "${DEMO_LEGACYD_DETACHED:-}" != 1 ]; then
    # Launcher: start the detached child and return at once, like a daemon.
    DEMO_LEGACYD_DETACHED=1 setsid -f /bin/sh "$0" "$pidfile" </dev/null >/dev/null
    exit 0
fi

# Child. Traps first, so that a signal sent as soon as PIDFILE names us is
# handled rather than killing us.
sleeper=
trap 'echo "demo-legacyd: reloading" >&2' HUP
# On stop, end the whole process group (this shell leads its own session
# and group, and its background `sleep` is in it), with TERM ignored here
# first so that only the sleep dies of it; then exit 0. The sleep is also
# SIGKILLed by PID ($!): a TERM that reaches it between fork and exec can be
# lost with the shell's reset traps, and then it would outlive the demo.
trap 'echo "demo-legacyd: stopping" >&2
      rm -f "$pidfile"
      trap "" TERM
      kill -TERM 0 2>/dev/null
      [ -z "$!" ] || kill -KILL "$!" 2>/dev/null
      exit 0' TERM INT

if ! { echo "$$" >"$pidfile.tmp" && mv -f "$pidfile.tmp" "$pidfile"; }; then
    echo "demo-legacyd: cannot write $pidfile" >&2
    exit 1
fi

while :; do
    sleep 2147483647 &
    sleeper=$!
    # A trapped signal interrupts `wait` (status > 128): run the trap, then
    # go back to waiting on the same sleep.
    while wait "$sleeper"; [ "$?" -gt 128 ]; do :; done
done
