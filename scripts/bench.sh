#!/usr/bin/env bash
# bench.sh: `make bench`. Measures Shipgraph answering one nested query
# (50 features with their test cases, builds and deployments) against a
# hand-written pgx + encoding/json baseline that returns the same JSON, and
# prints a markdown table (also written to bench-results.md).
#
#  1. PostgreSQL up (scripts/ensure-postgres.sh), dedicated database
#     shipgraph_bench migrated and topped up to 1000 features of the
#     issue's shape (10 test cases, 5 builds, 2 deployments per build).
#  2. bin/shipgraph and the baseline built; for each configuration
#       pinned: server GOMAXPROCS=1 taskset -c <cpu0>, load generator
#               taskset -c <cpu1>, and the bench database's PostgreSQL
#               backends pinned to <cpu1> after the warm-up
#       box:    nothing pinned
#     and each concurrency (1, 32) and server, a fresh server process is
#     started on a free loopback port, its answer verified (no errors, 50
#     features, and Shipgraph's equal to the baseline's), then loaded:
#     closed loop, C keep-alive connections, warm-up, measured window.
#  3. In-process Go benchmarks give allocs/op and B/op:
#     BenchmarkNestedQuery in package main (skipped if it does not exist)
#     and BenchmarkBaselineNestedQuery in internal/bench/baseline.
#
# Exits non-zero if any response was an error or differed from the
# verified answer, if a server died, or if a Go benchmark failed.
#
# Knobs (environment):
#   BENCH_SECONDS      measured seconds per point (default 10)
#   BENCH_WARMUP       warm-up seconds per point (default 2)
#   BENCH_CONCURRENCY  concurrency levels (default "1 32")
#   BENCH_CONFIGS      configurations (default "pinned box")
#   BENCH_FEATURES     features to seed (default 1000)
#   BENCH_LOG_LEVEL    SHIPGRAPH_LOG_LEVEL of the measured server (default
#                      info, written to a file: the access log is where
#                      statements per request come from; it costs nothing
#                      measurable. "warn" turns it off, and the column.)
#   BENCH_OUT          results file (default bench-results.md)
#   BENCH_AUTHORIZATION  sent as the Authorization header of every benchmark
#                      request (e.g. "Bearer <token>"), for a server that
#                      requires authentication
#   BENCH_DATABASE_URL use this database instead of shipgraph_bench on the
#                      local server (or on DATABASE_URL's server)
#   BENCH_KEEP=1       keep the work directory (server logs, answers, raw
#                      results as JSON lines); it is kept anyway on failure
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

MEASURE=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2}
CONCURRENCY=${BENCH_CONCURRENCY:-1 32}
CONFIGS=${BENCH_CONFIGS:-pinned box}
FEATURES=${BENCH_FEATURES:-1000}
LOG_LEVEL=${BENCH_LOG_LEVEL:-info}
OUT=${BENCH_OUT:-bench-results.md}
SERVERS=(shipgraph baseline)

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ $MEASURE =~ ^[0-9]+$ && $MEASURE -ge 1 ]] || die "BENCH_SECONDS must be a whole number of seconds >= 1"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a whole number of seconds"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/shipgraph-bench.XXXXXX")
SERVER_PID=''
LOAD_PID=''
KEEP_WORK=${BENCH_KEEP:-}

# stop_pid and the EXIT trap that stops SERVER_PID and LOAD_PID.
source scripts/bench-lib.sh

# ------------------------------------------------------------- build ----

say "building bin/shipgraph, the baseline and the load generator"
go build -o bin/shipgraph .
go build -o "$WORK/baseline" ./internal/bench/cmd/baseline
go build -o "$WORK/benchtool" ./internal/bench/cmd/benchtool
TOOL=$WORK/benchtool

# ---------------------------------------------------------- database ----

if [[ -n ${BENCH_DATABASE_URL:-} ]]; then
    DATABASE_URL=$(DATABASE_URL=$BENCH_DATABASE_URL scripts/ensure-postgres.sh)
elif [[ -n ${DATABASE_URL:-} ]]; then
    # Same server as DATABASE_URL, but our own database on it.
    DATABASE_URL=$(DATABASE_URL=$("$TOOL" dburl "$DATABASE_URL" shipgraph_bench) scripts/ensure-postgres.sh)
else
    DATABASE_URL=$(scripts/ensure-postgres.sh shipgraph_bench)
fi
export DATABASE_URL
# Only the environment configures the servers: a developer's .env must not.
export SHIPGRAPH_ENV_FILE="$WORK/none.env"
export SHIPGRAPH_LOG_FORMAT=json
# All the load is one caller's: the default rate limit (5,000 points an
# hour) would refuse it after a few hundred requests, and the run would
# measure 429s.
export SHIPGRAPH_RATE_LIMIT=2000000000

bin/shipgraph migrate up >"$WORK/migrate.log" || { cat "$WORK/migrate.log" >&2; die "migrate up failed"; }
# The issue's shape (seed.Options.Uniform): 10 test cases, 5 builds and 2
# deployments per build for every feature, so the query reads 1,300
# objects. Our own database is emptied first if it holds another shape.
RESET=(-reset)
if [[ -n ${BENCH_DATABASE_URL:-} ]]; then RESET=(); fi
say "$("$TOOL" seed -url "$DATABASE_URL" -features "$FEATURES" "${RESET[@]}")"

# ------------------------------------------------------------- token ----

# A Shipgraph that authenticates (JWT_SECRET_KEY, `shipgraph token`) gets a
# viewer token, signed with the developer's JWT_SECRET_KEY or else with a
# secret made up for this run. A binary without the token command answers
# anonymously and needs none. BENCH_AUTHORIZATION, when set, wins.
AUTH_NOTE='none (the server has no token command)'
if [[ -n ${BENCH_AUTHORIZATION:-} ]]; then
    AUTH_NOTE='BENCH_AUTHORIZATION'
else
    if [[ -z ${JWT_SECRET_KEY:-} ]]; then
        JWT_SECRET_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
        export JWT_SECRET_KEY
    fi
    if token=$(bin/shipgraph token --sub bench --roles viewer --ttl 6h 2>"$WORK/token.log") \
        && [[ $token =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]; then
        export BENCH_AUTHORIZATION="Bearer $token"
        AUTH_NOTE='a viewer token (shipgraph token --roles viewer): Shipgraph verifies its HS256 signature on every request; the baseline ignores it'
        say "authenticating with a viewer token from bin/shipgraph token"
    fi
fi

# ----------------------------------------------------------- pinning ----

read -r -a CPUS <<<"$("$TOOL" cpus || true)"
if ((${#CPUS[@]} == 0)); then
    read -r -a CPUS <<<"$(seq -s ' ' 0 $(($(nproc) - 1)))"
fi
PIN_NOTE=''
PIN_PG=''
if ! command -v taskset >/dev/null; then
    PIN_SERVER=() PIN_LOAD=()
    PIN_NOTE="taskset (util-linux) is missing: \"pinned\" is only GOMAXPROCS=1 for the server, nothing is pinned to a core"
elif ((${#CPUS[@]} < 2)); then
    PIN_SERVER=(taskset -c "${CPUS[0]}") PIN_LOAD=()
    PIN_NOTE="only one CPU available: the server is pinned to CPU ${CPUS[0]}, the load generator is not pinned"
else
    PIN_SERVER=(taskset -c "${CPUS[0]}") PIN_LOAD=(taskset -c "${CPUS[1]}")
    # The database's backends share the load generator's core, so that
    # the server's core does nothing but serve.
    PIN_PG=${CPUS[1]}
fi
if [[ -n $PIN_NOTE ]]; then say "warning: $PIN_NOTE"; fi

# ------------------------------------------------------------ points ----

RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# start_server SERVER CONFIG LOG: starts it in the background, sets
# SERVER_PID and SERVER_URL, and waits until it is ready.
start_server() {
    local server=$1 config=$2 log=$3 port pin=() env=()
    port=$("$TOOL" freeport)
    if [[ $config == pinned ]]; then
        env=(GOMAXPROCS=1)
        pin=("${PIN_SERVER[@]}")
    fi
    case $server in
        shipgraph)
            env "${env[@]}" SHIPGRAPH_LOG_LEVEL="$LOG_LEVEL" \
                "${pin[@]}" bin/shipgraph serve --addr "127.0.0.1:$port" >"$log" 2>&1 &
            ;;
        baseline)
            env "${env[@]}" "${pin[@]}" "$WORK/baseline" --addr "127.0.0.1:$port" >"$log" 2>&1 &
            ;;
    esac
    SERVER_PID=$!
    SERVER_URL="http://127.0.0.1:$port"
    if ! "$TOOL" wait "$SERVER_URL/readyz" 60s "$SERVER_PID"; then
        tail -n 20 "$log" >&2
        die "$server did not become ready"
    fi
}

COMPARED=''
for config in $CONFIGS; do
    [[ $config == pinned || $config == box ]] || die "unknown configuration $config (BENCH_CONFIGS: pinned, box)"
    load_pin=() pg_pin=()
    if [[ $config == pinned ]]; then
        load_pin=("${PIN_LOAD[@]}")
        if [[ -n $PIN_PG ]]; then pg_pin=(-pin-postgres "$PIN_PG" -database-url "$DATABASE_URL"); fi
    fi
    for c in $CONCURRENCY; do
        for server in "${SERVERS[@]}"; do
            point="$config-c$c-$server"
            log=$WORK/$point.log
            start_server "$server" "$config" "$log"

            # Verify before measuring: a successful answer with 50
            # features, the same as this server's earlier answers, and
            # (once) the same as the other server's.
            "$TOOL" check "$SERVER_URL/graphql" "$WORK/$point.json" >"$WORK/$point.summary" \
                || die "$server's answer failed verification"
            ref=$WORK/ref-$server.json
            if [[ -f $ref ]]; then
                "$TOOL" compare "$ref" "$WORK/$point.json" || die "$server answered differently than before"
            else
                cp "$WORK/$point.json" "$ref"
                cp "$WORK/$point.summary" "$WORK/ref-$server.summary"
            fi
            if [[ -z $COMPARED && -f $WORK/ref-shipgraph.json && -f $WORK/ref-baseline.json ]]; then
                "$TOOL" compare "$WORK/ref-shipgraph.json" "$WORK/ref-baseline.json" \
                    || die "the baseline's answer is not Shipgraph's"
                say "verified: the baseline's answer equals Shipgraph's ($(cat "$WORK/ref-shipgraph.summary"))"
                COMPARED=1
            fi

            stats=()
            case $server in
                shipgraph)
                    if [[ $LOG_LEVEL == info || $LOG_LEVEL == debug ]]; then stats=(-access-log "$log"); fi
                    ;;
                baseline) stats=(-stats-url "$SERVER_URL/debug/stats") ;;
            esac
            # In the background so that a signal is handled at once
            # (bash runs traps only between foreground commands).
            "${load_pin[@]}" "$TOOL" load "${pg_pin[@]}" -url "$SERVER_URL/graphql" -c "$c" \
                -warmup "${WARMUP}s" -duration "${MEASURE}s" -expect "$WORK/$point.json" \
                -tag "$point" -config "$config" -server "$server" -pid "$SERVER_PID" "${stats[@]}" \
                >>"$RESULTS" &
            LOAD_PID=$!
            wait "$LOAD_PID" || die "the load generator failed"
            LOAD_PID=''

            stop_pid "$SERVER_PID"
            SERVER_PID=''
        done
    done
done

# ------------------------------------------------------ Go benchmarks ----

GOTEST=$WORK/gotest.txt
: >"$GOTEST"
GOBENCH_FAILED=''
GOBENCH_NOTE=''
# Per-request allocations, in process; both against the bench database.
run_gobench() { # name package
    say "go test -bench $1 $2"
    if ! TEST_DATABASE_URL=$DATABASE_URL BENCH_DATABASE_URL=$DATABASE_URL \
        go test -run '^$' -bench "^$1\$" -benchmem -count 1 "$2" >"$WORK/$1.txt" 2>&1; then
        tail -n 30 "$WORK/$1.txt" >&2
        say "error: go test -bench $1 $2 failed"
        GOBENCH_FAILED+="${GOBENCH_FAILED:+, }$1"
    fi
    cat "$WORK/$1.txt" >>"$GOTEST"
}
if grep -qs 'func BenchmarkNestedQuery(' ./*_test.go; then
    run_gobench BenchmarkNestedQuery .
else
    GOBENCH_NOTE="package main has no BenchmarkNestedQuery: Shipgraph's allocs/op and B/op are not measured"
    say "note: $GOBENCH_NOTE"
fi
run_gobench BenchmarkBaselineNestedQuery ./internal/bench/baseline

# ------------------------------------------------------------ report ----

HEADER=$WORK/header.md
{
    cpu_model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
    mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null)
    pg=$(psql -X -w -At -d "$DATABASE_URL" -c 'SHOW server_version' 2>/dev/null | cut -d' ' -f1 || true)
    rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [[ -n $(git status --porcelain 2>/dev/null) ]]; then rev+=" (with local changes)"; fi
    counts=$(psql -X -w -At -F ' ' -d "$DATABASE_URL" -c \
        "SELECT (SELECT count(*) FROM features), (SELECT count(*) FROM test_cases), (SELECT count(*) FROM builds), (SELECT count(*) FROM deployments)" 2>/dev/null || true)
    read -r n_f n_t n_b n_d <<<"${counts:-? ? ? ?}"
    summary=$(cat "$WORK/ref-shipgraph.summary" 2>/dev/null || cat "$WORK/ref-baseline.summary")
    field() { sed -E "s/.*\"$1\":([0-9]+).*/\1/" <<<"$summary"; }

    echo "# Shipgraph benchmark: nested query vs hand-written baseline"
    echo
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), commit $rev; $cpu_model, $(nproc) CPUs (allowed: ${CPUS[*]}), $mem; $(go env GOVERSION); PostgreSQL ${pg:-?}"
    echo "- database $(psql -X -w -At -d "$DATABASE_URL" -c "SELECT current_database()" 2>/dev/null || echo shipgraph_bench): $n_f features, $n_t test cases, $n_b builds, $n_d deployments"
    echo "- query: features(first: 50) → testCases(first: 10) + totalCount, builds(first: 5) → deployments(first: 2); answer $(field bytes) bytes, $(field objects) objects ($(field features) features, $(field test_cases) test cases, $(field builds) builds, $(field deployments) deployments); the baseline's answer was verified equal to Shipgraph's"
    echo "- load: closed loop over loopback, C keep-alive connections, ${WARMUP}s warm-up then ${MEASURE}s measured per point, a fresh server process per point; every response checked byte for byte against the verified answer (errors)"
    echo "- pinned, 1 core: server GOMAXPROCS=1 ${PIN_SERVER[*]:-(not pinned)}, load generator ${PIN_LOAD[*]:-(not pinned)}, PostgreSQL's backends of the bench database $([[ -n $PIN_PG ]] && echo "pinned to CPU $PIN_PG after the warm-up" || echo "not pinned"); whole box: nothing pinned. Both servers: 10 pooled database connections${SHIPGRAPH_DB_MAX_CONNS:+ (SHIPGRAPH_DB_MAX_CONNS=$SHIPGRAPH_DB_MAX_CONNS)}${SHIPGRAPH_LOADER_WAIT:+; SHIPGRAPH_LOADER_WAIT=$SHIPGRAPH_LOADER_WAIT}"
    if [[ -n $PIN_NOTE ]]; then echo "- **note:** $PIN_NOTE"; fi
    if [[ $LOG_LEVEL == info || $LOG_LEVEL == debug ]]; then
        echo "- SQL stmts/req: mean (min–max) of sql_statements over the measured requests' access-log lines (Shipgraph's log at $LOG_LEVEL, to a file); the baseline counts its statements itself"
    else
        echo "- SQL stmts/req: Shipgraph's access log is off (BENCH_LOG_LEVEL=$LOG_LEVEL), so its statements are not counted"
    fi
    echo "- Authorization: $AUTH_NOTE"
    echo "- peak RSS: the server's VmHWM after the point; server CPU ms/req: the server's CPU time in the measured window / requests; other load: CPU used meanwhile by processes other than the server, PostgreSQL and the load generator"
    if [[ -n $GOBENCH_NOTE ]]; then echo "- **note:** $GOBENCH_NOTE"; fi
    if [[ -n $GOBENCH_FAILED ]]; then echo "- **FAILED:** go test -bench $GOBENCH_FAILED (its allocs/op and B/op are n/a)"; fi
} >"$HEADER"

echo >&2
status=0
"$TOOL" table -results "$RESULTS" -gotest "$GOTEST" -header "$HEADER" -out "$OUT" || status=1
say "results written to $OUT"
if [[ -n $GOBENCH_FAILED ]]; then
    say "error: Go benchmark failed: $GOBENCH_FAILED (see above)"
    status=1
fi
exit "$status"
