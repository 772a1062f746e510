# pid_reuse.sh CATCHD TD_FORKER DIR: run by faults::pid_reuse as PID 1 of a
# fresh PID namespace (unshare --pid --fork --mount-proc). Only this
# script's processes live there, so writing ns_last_pid decides which PID
# the next process gets.
#
# The pidfile names a worker whose parent (a td-forker master that ignores
# TERM) reaps it, so its PID is free the moment it dies. catchd is held
# with SIGSTOP while the worker is killed and an innocent process is
# started on that very PID: when catchd continues, its main process's PID
# is alive again and the pidfile names it. catchd must see that its main
# process ended (the PID's start time changed), refuse the pidfile, and
# never signal the innocent: not the HUP that arrived while it was
# stopped, not the signals sent during the stop timeout, not the SIGKILLs
# that end the stop. `catchd --pidfile-check` must call the file `ok`
# before and `reused` after.
#
# Facts (key=value) go to DIR/facts; the test asserts on them and on
# DIR/catchd.log (catchd -v), DIR/innocent-report and DIR/audit-*.

CATCHD=$1 TD=$2 D=$3
fact() { echo "$1" >> "$D/facts"; }
fail() {
    fact "fail=$*"
    exit 1
}
# poll CMD...: until CMD succeeds, every 10 ms, for at most 10 s.
poll() {
    n=0
    until "$@"; do
        n=$((n + 1))
        [ "$n" -le 1000 ] || fail "timed out waiting for: $*"
        sleep 0.01
    done
}
has() { grep -q -e "$2" "$1" 2>/dev/null; }
gone() { [ ! -e "/proc/$1" ]; }
state() { sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null; }
stopped() { [ "$(state "$1")" = T ]; }
ready_pid() { sed -n "s/^ready pid=\([0-9]*\) .*role=$1\$/\1/p" "$D/report" | head -n 1; }

CATCHD_TD_REPORT=$D/report "$CATCHD" -v --pidfile "$D/d.pid" --stop-timeout 5s \
    -- "$TD" --fork double --workers 1 --ignore TERM 2> "$D/catchd.log" &
C=$!
fact "catchd=$C"
poll has "$D/report" 'role=worker$'
W=$(ready_pid worker)
fact "master=$(ready_pid main)"
fact "old-main=$W"
echo "$W" > "$D/d.pid.tmp" && mv "$D/d.pid.tmp" "$D/d.pid"
poll has "$D/catchd.log" "ready: main process PID $W ("
"$CATCHD" --pidfile-check "$D/d.pid" > "$D/audit-before" 2>&1
fact "audit-before-status=$?"

# catchd holds (W, start time) as its main process and cannot look.
kill -STOP "$C"
poll stopped "$C"
kill -KILL "$W"
poll gone "$W" # reaped by the master: the PID is free
# No fork between these two lines (echo is a builtin): the innocent gets W.
echo $((W - 1)) > /proc/sys/kernel/ns_last_pid
CATCHD_TD_REPORT=$D/innocent-report "$TD" --fork none &
I=$!
fact "innocent=$I"
[ "$I" = "$W" ] || fail "the innocent got PID $I, not $W"
poll has "$D/innocent-report" "^ready pid=$I "
kill -HUP "$C" # pending until catchd continues
kill -CONT "$C"
poll has "$D/catchd.log" "main process PID $W ended"
poll has "$D/catchd.log" "names PID $W ("
poll has "$D/catchd.log" "SIGHUP dropped"

# The stop timeout: the master ignores TERM. Signals now find no main
# process; the pidfile still names W.
for s in USR1 USR2 TERM INT; do
    kill -"$s" "$C"
    poll has "$D/catchd.log" "SIG$s dropped"
done
# The audit compares the file's mtime with the PID's start time at a
# one-second grain: date the file as if written 10 s ago, before W was
# recycled, instead of waiting.
touch -d "@$(($(date +%s) - 10))" "$D/d.pid"
"$CATCHD" --pidfile-check "$D/d.pid" > "$D/audit-after" 2>&1
fact "audit-after-status=$?"

wait "$C"
fact "catchd-status=$?"
fact "innocent-state=$(state "$I")"
kill -KILL "$I"
fact "done=1"
