#!/usr/bin/env bash
# bench-live.sh: `make bench-live` (and the second half of `make bench`).
# Measures the deployment pipeline and live subscriptions of the real
# server binary over loopback, prints a markdown table with the targets of
# issue 4 (point 9), and appends it to bench-results.md.
#
#  1. PostgreSQL up (scripts/ensure-postgres.sh); the dedicated database
#     shipgraph_bench_live is dropped, created, migrated and seeded, so that
#     every run starts from the same data (and no queued job or paused
#     queue of an interrupted run is left over).
#  2. Deployments per second: bin/shipgraph as API + worker with zero-length
#     stages (SHIPGRAPH_STAGE_DURATION=0, the default worker limit unless
#     BENCH_LIVE_MAX_DEPLOYMENTS is set). livebench subscribes to
#     deploymentUpdated(filter: {status: SUCCEEDED}), runs a warm-up, then
#     C clients create N deployments through createDeployment as fast as
#     they are answered (distinct environments, idempotency keys); the
#     clock runs from the first create sent to the last deployment seen
#     SUCCEEDED (live, or by polling the stragglers every second).
#  3. Subscriptions, on a fresh server (worker limit 100, short stages):
#     with the River queue paused, 100 deployments are created and
#     250 connections × 20 deploymentProgress subscriptions (50 per
#     deployment) opened over graphql-transport-ws; once each has replayed
#     its first event and they have sat idle a few seconds, the server's
#     VmRSS minus the baseline taken before they were opened, divided by
#     their number, is the memory per idle subscription. Then the queue is
#     resumed, all 100 deployments run at once, and every event is timed
#     from its commit (occurredAt, the database clock) to its arrival;
#     every subscription must see 1..n without gap or duplicate, the
#     terminal SUCCEEDED, then complete.
#  4. The table goes to stdout and is appended to bench-results.md.
#
# Every process it starts is stopped on exit, whatever happens. Exits
# non-zero if a phase failed, a server died or an event was lost; a missed
# performance target is shown in the table, not an error.
#
# Knobs (environment):
#   BENCH_LIVE_DEPLOYMENTS       deployments created in 2. (default 1000)
#   BENCH_LIVE_CONCURRENCY       clients creating them (default 16)
#   BENCH_LIVE_MAX_DEPLOYMENTS   SHIPGRAPH_MAX_DEPLOYMENTS of 2. (default: the server's, 10)
#   BENCH_LIVE_SUB_DEPLOYMENTS   deployments running at once in 3. (default 100)
#   BENCH_LIVE_CONNS             WebSocket connections in 3. (default 250)
#   BENCH_LIVE_PER_CONN          subscriptions per connection (default 20)
#   BENCH_LIVE_STAGE_DURATION    SHIPGRAPH_STAGE_DURATION of 3. (default 1s)
#   BENCH_LIVE_IDLE              how long the subscriptions sit idle (default 3s)
#   BENCH_LIVE_FEATURES          features seeded (default 100)
#   BENCH_LOG_LEVEL              SHIPGRAPH_LOG_LEVEL of the servers, logged to a
#                                file (default info)
#   BENCH_OUT                    results file (default bench-results.md)
#   BENCH_DATABASE_URL           use this database as it is (not reset)
#   BENCH_KEEP=1                 keep the work directory (server logs, raw JSON)
#   BENCH_PROFILE_DIR            save the subscription server's heap and goroutine
#                                profiles (idle) and CPU profile (live) here
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

N=${BENCH_LIVE_DEPLOYMENTS:-1000}
C=${BENCH_LIVE_CONCURRENCY:-16}
MAX_DEPLOYMENTS=${BENCH_LIVE_MAX_DEPLOYMENTS:-}
SUB_DEPLOYMENTS=${BENCH_LIVE_SUB_DEPLOYMENTS:-100}
CONNS=${BENCH_LIVE_CONNS:-250}
PER_CONN=${BENCH_LIVE_PER_CONN:-20}
STAGE=${BENCH_LIVE_STAGE_DURATION:-1s}
IDLE=${BENCH_LIVE_IDLE:-3s}
FEATURES=${BENCH_LIVE_FEATURES:-100}
LOG_LEVEL=${BENCH_LOG_LEVEL:-info}
OUT=${BENCH_OUT:-bench-results.md}
DBNAME=shipgraph_bench_live

say() { echo "bench-live: $*" >&2; }
die() { say "error: $*"; exit 1; }

for v in N C SUB_DEPLOYMENTS CONNS PER_CONN FEATURES; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || die "$v must be a whole number >= 1 (got '${!v}')"
done
SUBS=$((CONNS * PER_CONN))
((SUBS >= SUB_DEPLOYMENTS)) || die "fewer subscriptions ($SUBS) than deployments ($SUB_DEPLOYMENTS)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shipgraph-bench-live.XXXXXX")
SERVER_PID=''
LOAD_PID=''
QUEUE_TOUCHED=''
KEEP_WORK=${BENCH_KEEP:-}

# stop_pid and the EXIT trap that stops SERVER_PID and LOAD_PID.
source scripts/bench-lib.sh

# shellcheck disable=SC2317 # (called by cleanup)
on_cleanup() {
    if [[ -n $QUEUE_TOUCHED && -x ${TOOL:-} ]]; then
        # The subscription phase pauses the deployment queue; never leave
        # it paused (the tool resumes it itself unless it was killed).
        timeout 15 "$TOOL" queue resume 2>/dev/null || true
    fi
}

# ------------------------------------------------------------- build ----

say "building bin/shipgraph and livebench"
go build -o bin/shipgraph .
go build -o "$WORK/livebench" ./internal/bench/cmd/livebench
TOOL=$WORK/livebench

# ------------------------------------------------------ file limits ----

# Each connection is a descriptor in the server and one in livebench.
need=$((SUBS / PER_CONN + 1024))
soft=$(ulimit -n)
if [[ $soft != unlimited ]] && ((soft < need)); then
    hard=$(ulimit -Hn)
    if [[ $hard == unlimited ]] || ((hard >= need)); then
        ulimit -n "$need"
    else
        ulimit -n "$hard"
    fi
    say "raised the open-file limit from $soft to $(ulimit -n)"
fi
[[ $(ulimit -n) == unlimited ]] || (($(ulimit -n) >= need)) \
    || die "the open-file limit ($(ulimit -n), hard $(ulimit -Hn)) is below the $need needed"

# ---------------------------------------------------------- database ----

if [[ -n ${BENCH_DATABASE_URL:-} ]]; then
    DATABASE_URL=$(DATABASE_URL=$BENCH_DATABASE_URL scripts/ensure-postgres.sh)
    DB_NOTE="BENCH_DATABASE_URL, as it was"
else
    if [[ -n ${DATABASE_URL:-} ]]; then
        # Same server as DATABASE_URL, but our own database on it.
        DATABASE_URL=$("$TOOL" dburl "$DATABASE_URL" "$DBNAME")
        DATABASE_URL=$(DATABASE_URL=$DATABASE_URL scripts/ensure-postgres.sh)
    else
        DATABASE_URL=$(scripts/ensure-postgres.sh "$DBNAME")
    fi
    # Start from scratch: the same data every run, nothing left over.
    maint=$("$TOOL" dburl "$DATABASE_URL" postgres)
    psql -X -w -q -v ON_ERROR_STOP=1 -d "$maint" -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" >"$WORK/drop.log" 2>&1 \
        || { cat "$WORK/drop.log" >&2; die "could not drop $DBNAME"; }
    DATABASE_URL=$(DATABASE_URL=$DATABASE_URL scripts/ensure-postgres.sh)
    DB_NOTE="$DBNAME, recreated for the run"
fi
export DATABASE_URL
# Only the environment configures the servers: a developer's .env must not.
export SHIPGRAPH_ENV_FILE="$WORK/none.env"
export SHIPGRAPH_LOG_FORMAT=json
# All the load is one caller's: the default rate limit would refuse it.
export SHIPGRAPH_RATE_LIMIT=2000000000

bin/shipgraph migrate up >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log" >&2; die "migrate up failed"; }
say "$(bin/shipgraph seed --features "$FEATURES")"

# ------------------------------------------------------------- token ----

if [[ -z ${JWT_SECRET_KEY:-} ]]; then
    JWT_SECRET_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
fi
export JWT_SECRET_KEY
token=$(bin/shipgraph token --sub bench-live --roles admin --ttl 1h 2>"$WORK/token.log") \
    || { cat "$WORK/token.log" >&2; die "shipgraph token failed"; }
export BENCH_AUTHORIZATION="Bearer $token"

# ----------------------------------------------------------- servers ----

# start_server NAME ENV…: starts bin/shipgraph on a free loopback port with
# the given environment, sets SERVER_PID and SERVER_URL, waits until ready.
start_server() {
    local name=$1 port
    shift
    port=$("$TOOL" freeport)
    env SHIPGRAPH_LOG_LEVEL="$LOG_LEVEL" "$@" \
        bin/shipgraph serve --addr "127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    SERVER_URL="http://127.0.0.1:$port"
    if ! "$TOOL" wait "$SERVER_URL/readyz" 60s "$SERVER_PID"; then
        tail -n 20 "$WORK/$name.log" >&2
        die "the $name server did not become ready"
    fi
}

# finish_server NAME: stops the server; a server that died meanwhile is a
# failure of its phase.
finish_server() {
    local name=$1 status=0
    if ! "$TOOL" wait "$SERVER_URL/readyz" 1s "$SERVER_PID" >/dev/null 2>&1; then
        say "error: the $name server died or stopped answering; its log ends:"
        tail -n 20 "$WORK/$name.log" >&2
        status=1
    fi
    stop_pid "$SERVER_PID"
    SERVER_PID=''
    return "$status"
}

RESULTS=$WORK/results.jsonl
: >"$RESULTS"
FAILED=''

# run_phase NAME ARGS…: runs livebench in the background (so that a signal
# is handled at once) and appends its JSON line to the results.
run_phase() {
    local name=$1
    shift
    "$TOOL" "$@" >"$WORK/$name.json" &
    LOAD_PID=$!
    if ! wait "$LOAD_PID"; then
        FAILED+="${FAILED:+, }$name"
    fi
    LOAD_PID=''
    cat "$WORK/$name.json" >>"$RESULTS"
}

# 2. Deployments per second, zero-length stages.
say "phase 1: $N deployments, $C clients, zero-length stages"
env1=(SHIPGRAPH_STAGE_DURATION=0 SHIPGRAPH_RUN_DEPLOYMENTS=true)
if [[ -n $MAX_DEPLOYMENTS ]]; then env1+=(SHIPGRAPH_MAX_DEPLOYMENTS="$MAX_DEPLOYMENTS"); fi
start_server deploys "${env1[@]}"
run_phase deploys deploys -url "$SERVER_URL/graphql" -pid "$SERVER_PID" -n "$N" -c "$C"
finish_server deploys || FAILED+="${FAILED:+, }deploys server"

# 3. Idle subscriptions' memory, then live latency.
say "phase 2: $SUBS subscriptions ($CONNS connections × $PER_CONN) on $SUB_DEPLOYMENTS deployments, stages of $STAGE"
pprof_port=$("$TOOL" freeport)
max_subs=$((PER_CONN > 50 ? PER_CONN : 50))
max_conns=$((CONNS > 20 ? CONNS : 20))
start_server subs SHIPGRAPH_STAGE_DURATION="$STAGE" SHIPGRAPH_RUN_DEPLOYMENTS=true \
    SHIPGRAPH_MAX_DEPLOYMENTS="$SUB_DEPLOYMENTS" SHIPGRAPH_MAX_CONNECTIONS="$max_conns" \
    SHIPGRAPH_MAX_SUBSCRIPTIONS="$max_subs" SHIPGRAPH_PPROF_ADDR="127.0.0.1:$pprof_port"
QUEUE_TOUCHED=1
run_phase subs subs -url "$SERVER_URL/graphql" -pprof "http://127.0.0.1:$pprof_port/debug/pprof" \
    -pid "$SERVER_PID" -deployments "$SUB_DEPLOYMENTS" -conns "$CONNS" -per-conn "$PER_CONN" -idle "$IDLE" \
    ${BENCH_PROFILE_DIR:+-profile-dir "$BENCH_PROFILE_DIR"}
finish_server subs || FAILED+="${FAILED:+, }subs server"

# ------------------------------------------------------------ report ----

HEADER=$WORK/header.md
{
    cpu_model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
    mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)
    pg=$(psql -X -w -At -d "$DATABASE_URL" -c 'SHOW server_version' 2>/dev/null | cut -d' ' -f1 || true)
    sync=$(psql -X -w -At -d "$DATABASE_URL" -c 'SHOW synchronous_commit' 2>/dev/null || true)
    rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git status --porcelain 2>/dev/null) ]]; then rev+=" (with local changes)"; fi
    echo "# Shipgraph live benchmark: deployment pipeline and subscriptions"
    echo
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $rev; $cpu_model, $(nproc) CPUs, $mem; $(go env GOVERSION); PostgreSQL ${pg:-?} (synchronous_commit ${sync:-?}); database $DB_NOTE, $FEATURES seeded features; everything on this machine over loopback: server, PostgreSQL and load generator share the CPUs (nothing pinned)"
    echo "- deployments/s: one bin/shipgraph serving the API and running deployments (SHIPGRAPH_STAGE_DURATION=0, SHIPGRAPH_MAX_DEPLOYMENTS=${MAX_DEPLOYMENTS:-10 (default)}, pool of ${SHIPGRAPH_DB_MAX_CONNS:-30} connections); after 20 warm-up deployments, $C clients create $N deployments (distinct environments, idempotency keys, over 100 SUCCEEDED builds) as fast as answered; the clock runs from the first createDeployment sent to the last deployment seen SUCCEEDED through deploymentUpdated (stragglers polled each second); per deployment, create → SUCCEEDED as the client saw it, split into queued and running by the deployment's createdAt/startedAt/finishedAt"
    echo "- subscriptions: a fresh bin/shipgraph (SHIPGRAPH_STAGE_DURATION=$STAGE, SHIPGRAPH_MAX_DEPLOYMENTS=$SUB_DEPLOYMENTS, SHIPGRAPH_MAX_CONNECTIONS=$max_conns, in-process bus, no Redis); the deployment queue paused through River while $SUB_DEPLOYMENTS deployments are created and $SUBS deploymentProgress subscriptions opened over graphql-transport-ws ($CONNS connections × $PER_CONN, $((SUBS / SUB_DEPLOYMENTS)) per deployment, one user); then resumed, so all $SUB_DEPLOYMENTS deployments start at the same instant (the worst case: their events come in bursts)"
    echo "- latency: for every live event, the time livebench read it minus its occurredAt (PostgreSQL's clock_timestamp() in the transaction that commits it: same machine, same clock); the replayed first event of each subscription is not timed"
    echo "- memory: VmRSS of the server (/proc/<pid>/status) after the subscriptions sat idle for $IDLE, minus VmRSS before they were opened (after the deployments were created and one subscription was opened and closed), divided by $SUBS; the breakdown comes from the server's profiler (SHIPGRAPH_PPROF_ADDR, loopback) after a forced collection. The server runs with its default GOGC=400 (set by serve)"
    echo "- CPU: from /proc, per process (server, every postgres process, livebench) and for the whole box over the measured window; \"other processes\" is whatever else ran on the machine meanwhile"
    if [[ -n $FAILED ]]; then echo "- **FAILED:** $FAILED (logs kept in $WORK)"; fi
} >"$HEADER"

echo >&2
status=0
"$TOOL" table -results "$RESULTS" -header "$HEADER" -out "$OUT" || status=1
say "results appended to $OUT"
if [[ -n $FAILED ]]; then
    say "error: failed: $FAILED"
    status=1
fi
exit "$status"
