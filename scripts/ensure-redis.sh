#!/usr/bin/env bash
# ensure-redis.sh
#
# Make sure a Redis server is reachable and print its URL on stdout, e.g.
#
#   export REDIS_URL="$(scripts/ensure-redis.sh)"
#
# * If REDIS_URL is set, that server is used: we wait for it to answer PING
#   and print the URL unchanged. If it is unreachable and points at this
#   machine, we start (or install) a local redis-server on its port first;
#   if it points elsewhere, we fail.
# * Otherwise a local redis-server on 127.0.0.1:6379 is used (started, or
#   installed via apt-get, as needed) and redis://127.0.0.1:6379/0 is printed.
#
# Safe to run repeatedly and non-interactively (CI): on success it writes
# nothing but the URL to stdout and one status line to stderr. Tool output
# is kept in a temp log that is shown only when something fails.
#
# Environment knobs:
#   REDIS_URL             use this server instead of the local one
#   ENSURE_WAIT_SECONDS   how long to wait for a server to come up (default 30)
set -euo pipefail

readonly PROG=ensure-redis
readonly WAIT_SECONDS=${ENSURE_WAIT_SECONDS:-30}
readonly LOCAL_HOST=127.0.0.1
readonly LOCAL_PORT=6379
# Where the local dev/CI server keeps its (unused: no persistence) dir and log.
readonly REDIS_DIR=/var/lib/redis
readonly REDIS_LOG_DIR=/var/log/redis

# shellcheck source=ensure-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ensure-lib.sh"

# ---------------------------------------------------------------- helpers --

# True once the server answers PING with PONG. redis-cli's exit status is
# not enough: "-LOADING" or "-NOAUTH" replies still exit 0.
# --no-auth-warning: a password in the URL would otherwise print a warning.
is_ready() { # url
    command -v redis-cli >/dev/null || return 1
    [[ $(timeout 5 redis-cli --no-auth-warning -u "$1" ping 2>/dev/null </dev/null) == PONG ]]
}

wait_ready() { # url seconds
    local deadline=$((SECONDS + $2))
    until is_ready "$1"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

is_local_host() {
    case $1 in
        '' | localhost | 127.0.0.1 | ::1) return 0 ;;
        *) return 1 ;;
    esac
}

# Split a redis:// URL just enough to know where it points; sets U_HOST U_PORT.
parse_url() {
    local url=$1 rest hostport
    [[ $url =~ ^rediss?:// ]] || die "REDIS_URL must be a redis:// or rediss:// URL"
    rest=${url#*://}
    rest=${rest%%\?*}
    hostport=${rest%%/*}
    hostport=${hostport##*@}
    if [[ $hostport == \[* ]]; then          # [ipv6]:port
        U_HOST=${hostport#\[}; U_HOST=${U_HOST%%\]*}
        U_PORT=${hostport##*\]}; U_PORT=${U_PORT#:}
    else
        U_HOST=$(urldecode "${hostport%%:*}")
        U_PORT=''; [[ $hostport == *:* ]] && U_PORT=${hostport##*:}
    fi
    U_PORT=${U_PORT:-6379}
}

# ------------------------------------------------------- local server ----

# Install redis-server (it pulls in redis-tools, i.e. redis-cli) when the
# server binary is missing.
ensure_installed() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
    apt_install redis-server
}

# redis-cli is needed even just to check a server. If nothing listens on
# the local port we will probably have to run a server too, so install the
# full package; otherwise (remote server, or e.g. a Docker container on
# localhost) the client alone is enough and won't fight over the port.
ensure_client_tools() { # host port
    command -v redis-cli >/dev/null && return 0
    if is_local_host "$1" && ! port_in_use "$2"; then
        apt_install redis-server
    else
        apt_install redis-tools
    fi
}

# Start a throwaway dev/CI redis-server on 127.0.0.1 (and ::1 if the box has
# IPv6: the "-" makes that bind optional) with persistence off: nothing in
# it needs to survive a restart. Same command line as on the dev machines.
start_local_server() { # port
    local port=$1 logfile=$REDIS_LOG_DIR/ci.log
    [[ $port == "$LOCAL_PORT" ]] || logfile=$REDIS_LOG_DIR/ci-$port.log

    # The Debian package creates these, but a bare install or a wiped
    # container may not have them; redis-server refuses to start without.
    quiet as_root mkdir -p "$REDIS_DIR" "$REDIS_LOG_DIR" \
        || die "cannot create $REDIS_DIR / $REDIS_LOG_DIR"

    local args=(--daemonize yes --port "$port" --save "" --appendonly no
                --dir "$REDIS_DIR" --logfile "$logfile")
    # "-::1" (optional bind) needs Redis >= 7; older servers reject it, so
    # retry with IPv4 only. A failure of both (e.g. a concurrent run won the
    # race for the port) is only fatal if the server then does not answer.
    quiet as_root redis-server --bind 127.0.0.1 -::1 "${args[@]}" \
        || quiet as_root redis-server --bind 127.0.0.1 "${args[@]}" \
        || true
    ACTIONS+=("started redis-server on port $port")

    wait_ready "redis://$LOCAL_HOST:$port" "$WAIT_SECONDS" \
        || die "redis-server did not answer on $LOCAL_HOST:$port within ${WAIT_SECONDS}s (log: $logfile)
$(tail -n 20 "$logfile" 2>/dev/null)"
}

# Make sure something answers PING on 127.0.0.1:PORT, starting our own
# server only if the port is free.
ensure_local_server() { # port
    local port=$1
    is_ready "redis://$LOCAL_HOST:$port" && return 0
    if port_in_use "$port"; then
        # Someone else owns the port (e.g. a redis container that is still
        # starting): don't start a second server, just give it time.
        wait_ready "redis://$LOCAL_HOST:$port" "$WAIT_SECONDS" \
            || die "something listens on $LOCAL_HOST:$port but it does not answer PING within ${WAIT_SECONDS}s"
    else
        ensure_installed
        # The Debian package may have started its own service on 6379.
        is_ready "redis://$LOCAL_HOST:$port" || start_local_server "$port"
    fi
}

# ------------------------------------------------------------- main -----

if [[ -n ${REDIS_URL:-} ]]; then
    url=$REDIS_URL
    parse_url "$url"
    ensure_client_tools "$U_HOST" "$U_PORT"
    if ! is_ready "$url"; then
        if is_local_host "$U_HOST" && ! port_in_use "$U_PORT"; then
            # Nothing is even listening locally: no point waiting, start the
            # local server (installing it if needed).
            ensure_local_server "$U_PORT"
        fi
        wait_ready "$url" "$WAIT_SECONDS" \
            || die "Redis at $(redact "$url") does not answer PING (waited ${WAIT_SECONDS}s)"
    fi
else
    ensure_client_tools "$LOCAL_HOST" "$LOCAL_PORT"
    ensure_local_server "$LOCAL_PORT"
    url="redis://$LOCAL_HOST:$LOCAL_PORT/0"
fi

summary="ready"
if ((${#ACTIONS[@]})); then
    printf -v done_list '%s, ' "${ACTIONS[@]}"
    summary+=" (${done_list%, })"
fi
echo "$PROG: $summary: $(redact "$url")" >&2
echo "$url"
