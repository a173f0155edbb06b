# bench-lib.sh: sourced by scripts/bench.sh and scripts/bench-live.sh, which
# start servers and load generators the same way and must stop them the same
# way on every exit, however it comes.
#
# The script sets WORK (its work directory) and KEEP_WORK (BENCH_KEEP), sets
# SERVER_PID and LOAD_PID while those run, defines say(), and may define
# on_cleanup (run after both are stopped, before the work directory goes).

# Stop one process we started: SIGTERM, ten seconds' grace, then SIGKILL.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # (called by the EXIT trap)
cleanup() {
    local status=$?
    if [[ -n $LOAD_PID ]]; then
        stop_pid "$LOAD_PID"
        LOAD_PID=''
    fi
    if [[ -n $SERVER_PID ]]; then
        stop_pid "$SERVER_PID"
        SERVER_PID=''
    fi
    if declare -F on_cleanup >/dev/null; then on_cleanup; fi
    if ((status != 0)) || [[ -n $KEEP_WORK ]]; then
        say "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
