#!/usr/bin/env bash
# ensure-postgres.sh [DBNAME]
#
# Make sure a PostgreSQL server is reachable and that the shipgraph database
# exists, then print a connection URL on stdout, e.g.
#
#   export DATABASE_URL="$(scripts/ensure-postgres.sh)"
#
# * If DATABASE_URL is set, that server is used: we wait for it, create the
#   database named in the URL if it is missing, and print the URL unchanged.
#   If it is unreachable and points at this machine, we start (or install)
#   the local server first; if it points elsewhere, we fail.
# * Otherwise the local Debian cluster on 127.0.0.1:5432 is used (started,
#   created or installed via apt-get as needed), DBNAME (default: shipgraph)
#   is created, and postgres://postgres@127.0.0.1:5432/DBNAME?sslmode=disable
#   is printed. (DBNAME is ignored when DATABASE_URL is set: the URL names
#   the database.)
#
# Nothing here has to run as the postgres OS user: pg_ctlcluster and
# pg_createcluster switch to it themselves when started as root, and all SQL
# goes over TCP as the postgres role.
#
# Safe to run repeatedly and non-interactively (CI): it never prompts, and on
# success writes nothing but the URL to stdout and one status line to stderr.
# Tool output is kept in a temp log that is shown only when something fails.
#
# Environment knobs:
#   DATABASE_URL          use this server instead of the local one
#   ENSURE_WAIT_SECONDS   how long to wait for a server to come up (default 30)
set -euo pipefail

readonly PROG=ensure-postgres
readonly WAIT_SECONDS=${ENSURE_WAIT_SECONDS:-30}
readonly DEFAULT_DB=${1:-shipgraph}
readonly LOCAL_HOST=127.0.0.1
readonly LOCAL_PORT=5432

# shellcheck source=ensure-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ensure-lib.sh"

# ---------------------------------------------------------------- helpers --

# psql that never prompts (-w: no terminal in CI) and ignores ~/.psqlrc.
pg() { psql -X -w -q "$@" </dev/null; }

# Same, but also without PGPASSWORD / ~/.pgpass: used to check that a role
# really gets in without any password.
pg_nopass() { env -u PGPASSWORD PGPASSFILE=/dev/null psql -X -w -q "$@" </dev/null; }

# pg_isready on a conninfo/URL; exit 0 once the server accepts connections
# (even if the database in the URL does not exist yet).
is_ready() { command -v pg_isready >/dev/null && pg_isready -q -t 2 -d "$1"; }

wait_ready() { # conninfo seconds
    local deadline=$((SECONDS + $2))
    until is_ready "$1"; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

# ------------------------------------------------------- local server ----

# Sets CL_VER / CL_NAME / CL_STATUS for the Debian cluster (pg_lsclusters)
# configured on the given port; returns 1 if there is none.
find_cluster() {
    local ver name port status _
    CL_VER='' CL_NAME='' CL_STATUS=''
    command -v pg_lsclusters >/dev/null || return 1
    while read -r ver name port status _; do
        if [[ $port == "$1" ]]; then
            CL_VER=$ver CL_NAME=$name CL_STATUS=$status
            return 0
        fi
    done < <(pg_lsclusters --no-header 2>/dev/null)
    return 1
}

pg_ctl_cluster() { # action
    # --skip-systemctl-redirect: containers and CI images usually have no
    # systemd, and this is how the dev machines start the cluster too.
    quiet as_root pg_ctlcluster --skip-systemctl-redirect "$CL_VER" "$CL_NAME" "$1"
}

# Make sure the Debian cluster for PORT is installed and running on
# 127.0.0.1, and that the "postgres" role can log in over TCP without a
# password.
ensure_local_server() { # port
    local port=$1

    if ! is_ready "host=$LOCAL_HOST port=$port"; then
        if port_in_use "$port"; then
            # Someone else owns the port (e.g. a postgres container that is
            # still starting): do not install/start a second server on top
            # of it, just give it time.
            wait_ready "host=$LOCAL_HOST port=$port" "$WAIT_SECONDS" \
                || die "something listens on $LOCAL_HOST:$port but it does not answer as PostgreSQL within ${WAIT_SECONDS}s"
        else
            start_local_cluster "$port"
        fi
    fi
    ensure_local_trust "$port"
}

start_local_cluster() { # port
    local port=$1 ver

    # Server binaries missing: install the distribution's PostgreSQL. On
    # Debian its postinst also creates the default cluster "main" on 5432.
    if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null \
        || ! command -v pg_ctlcluster >/dev/null; then
        apt_install postgresql
    fi

    if ! find_cluster "$port"; then
        # Binaries but no cluster on this port (e.g. it was dropped, or the
        # package was installed with create_main_cluster=false): create one
        # with the newest installed major version.
        if [[ -n $(pg_lsclusters --no-header 2>/dev/null) ]]; then
            die "no PostgreSQL cluster uses port $port; existing clusters:
$(pg_lsclusters 2>&1)"
        fi
        ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" | sort -V | tail -n 1)
        quiet as_root pg_createcluster --port "$port" "$ver" main \
            || die "pg_createcluster $ver main failed"
        ACTIONS+=("created cluster $ver/main")
        find_cluster "$port" || die "cluster $ver/main not found after creating it"
    fi

    if [[ $CL_STATUS != online* ]]; then
        # A failed start (e.g. a concurrent run started it first) is only
        # fatal if the server then does not come up.
        pg_ctl_cluster start || true
        ACTIONS+=("started cluster $CL_VER/$CL_NAME")
    fi
    wait_ready "host=$LOCAL_HOST port=$port" "$WAIT_SECONDS" \
        || die "cluster $CL_VER/$CL_NAME did not accept connections on $LOCAL_HOST:$port within ${WAIT_SECONDS}s (log: $(pg_lsclusters --no-header | awk -v p="$port" '$3==p {print $7}'))"
}

# A fresh Debian cluster uses scram-sha-256 for TCP and peer for sockets, so
# "postgres@127.0.0.1" without a password is rejected. For a dev box / CI
# runner we switch loopback TCP to trust.
# DEV/CI ONLY: this lets any local user connect as any role without a
# password. Never run this against a shared or production server.
ensure_local_trust() { # port
    local port=$1 hba
    local probe="host=$LOCAL_HOST port=$port user=postgres dbname=postgres connect_timeout=5"

    quiet pg_nopass -d "$probe" -Atc 'select 1' && return 0

    find_cluster "$port" \
        || die "the postgres role cannot log in on $LOCAL_HOST:$port without a password, and it is not a local Debian cluster that could be reconfigured; set DATABASE_URL instead"
    hba=/etc/postgresql/$CL_VER/$CL_NAME/pg_hba.conf
    [[ -f $hba ]] || die "cannot find $hba"

    if ! grep -q "added by scripts/ensure-postgres.sh" "$hba"; then
        # pg_hba.conf is first-match, so prepending wins over the default
        # scram rules without having to edit them. Keep a backup.
        quiet as_root cp -p "$hba" "$hba.orig-ensure-postgres"
        quiet as_root sed -i "1i\\
# added by scripts/ensure-postgres.sh -- DEV/CI ONLY: passwordless loopback TCP\\
host    all    all    127.0.0.1/32    trust\\
host    all    all    ::1/128         trust\\
" "$hba" || die "could not edit $hba"
        ACTIONS+=("set loopback trust auth in $hba")
    fi
    pg_ctl_cluster reload || die "reloading cluster $CL_VER/$CL_NAME failed"

    # A reload is asynchronous; give the postmaster a moment to re-read it.
    local deadline=$((SECONDS + 10))
    until quiet pg_nopass -d "$probe" -Atc 'select 1'; do
        ((SECONDS < deadline)) \
            || die "the postgres role still cannot log in on $LOCAL_HOST:$port without a password (see $hba)"
        sleep 1
    done
}

# ------------------------------------------------------------- database --

# Prints 1 if database DB exists on the server MAINT connects to.
# psql variables (-v db=...) quote the name safely; they are only
# interpolated in SQL read from stdin, hence the echo.
db_exists() { # maint-conninfo db
    echo "SELECT 1 FROM pg_database WHERE datname = :'db'" \
        | psql -X -w -q -At -v ON_ERROR_STOP=1 -v db="$2" -d "$1"
}

# Create database DB (if missing) using conninfo MAINT, which must point at
# a database that exists on the same server (postgres or template1).
ensure_database() { # maint-conninfo db
    local maint=$1 db=$2 exists
    exists=$(db_exists "$maint" "$db" 2>"$LOG") \
        || die "cannot list databases on $(redact "$maint")"
    [[ $exists == 1 ]] && return 0

    if ! echo "SELECT format('CREATE DATABASE %I', :'db') \gexec" \
        | psql -X -w -q -v ON_ERROR_STOP=1 -v db="$db" -d "$maint" >"$LOG" 2>&1; then
        # Lost a race against a concurrent run? Then it exists now.
        [[ $(db_exists "$maint" "$db" 2>/dev/null) == 1 ]] \
            || die "could not create database \"$db\" on $(redact "$maint") (does the role have CREATEDB?)"
    fi
    ACTIONS+=("created database $db")
}

# Install the psql/pg_isready clients if missing. If nothing listens on the
# local port we will probably have to run a server too, so take the full
# server package; otherwise (remote server, or e.g. a Docker container on
# localhost) the client is enough and won't fight over the port.
ensure_client_tools() { # host port
    command -v psql >/dev/null && command -v pg_isready >/dev/null && return 0
    if is_local_host "$1" && ! port_in_use "$2"; then
        apt_install postgresql
    else
        apt_install postgresql-client
    fi
}

# ------------------------------------------------------------- main -----

# Split a postgres:// URL just enough to know where it points and which
# database it names; sets U_SCHEME U_AUTH U_QUERY U_QUERY_NODB U_HOST U_PORT
# U_USER U_DB.
parse_url() {
    local url=$1 rest hostport
    [[ $url =~ ^(postgres|postgresql):// ]] \
        || die "DATABASE_URL must be a postgres:// or postgresql:// URL"
    U_SCHEME=${url%%://*}
    rest=${url#*://}
    U_QUERY=''
    if [[ $rest == *\?* ]]; then U_QUERY=${rest#*\?}; rest=${rest%%\?*}; fi
    U_AUTH=${rest%%/*}
    U_DB=''
    [[ $rest == */* ]] && U_DB=$(urldecode "${rest#*/}")
    U_USER=''
    if [[ $U_AUTH == *@* ]]; then
        U_USER=${U_AUTH%@*}; U_USER=$(urldecode "${U_USER%%:*}")
    fi
    hostport=${U_AUTH##*@}
    if [[ $hostport == \[* ]]; then          # [ipv6]:port
        U_HOST=${hostport#\[}; U_HOST=${U_HOST%%\]*}
        U_PORT=${hostport##*\]}; U_PORT=${U_PORT#:}
    else
        U_HOST=$(urldecode "${hostport%%:*}")
        U_PORT=''; [[ $hostport == *:* ]] && U_PORT=${hostport##*:}
    fi
    # ?host=/var/run/postgresql, ?port=... and ?dbname=... override the
    # other parts. U_QUERY_NODB is the query without dbname, for building
    # the maintenance-db URL.
    local kv kvs
    U_QUERY_NODB=''
    IFS='&' read -ra kvs <<<"$U_QUERY"
    for kv in "${kvs[@]}"; do
        case $kv in
            host=*) U_HOST=$(urldecode "${kv#host=}") ;;
            port=*) U_PORT=${kv#port=} ;;
            dbname=*) U_DB=$(urldecode "${kv#dbname=}"); continue ;;
        esac
        U_QUERY_NODB+=${U_QUERY_NODB:+&}$kv
    done
    U_PORT=${U_PORT:-${PGPORT:-5432}}
    # libpq: no database in the URL means "same as the user name".
    U_DB=${U_DB:-${PGDATABASE:-${U_USER:-${PGUSER:-$(id -un)}}}}
}

is_local_host() {
    case $1 in
        '' | localhost | 127.0.0.1 | ::1 | /*) return 0 ;;  # /* = socket dir
        *) return 1 ;;
    esac
}

if [[ -n ${DATABASE_URL:-} ]]; then
    url=$DATABASE_URL
    parse_url "$url"
    ensure_client_tools "$U_HOST" "$U_PORT"

    if ! is_ready "$url"; then
        if is_local_host "$U_HOST" && ! port_in_use "$U_PORT"; then
            # Nothing is even listening locally: no point waiting, start the
            # local server (installing it if needed).
            ensure_local_server "$U_PORT"
        fi
        wait_ready "$url" "$WAIT_SECONDS" \
            || die "PostgreSQL at $(redact "$url") is not reachable (waited ${WAIT_SECONDS}s)"
    fi

    # CREATE DATABASE has to run while connected to some other database of
    # the same server: same URL with the path swapped for the maintenance db.
    if [[ $U_DB != postgres && $U_DB != template1 ]]; then
        maint="$U_SCHEME://$U_AUTH/postgres${U_QUERY_NODB:+?$U_QUERY_NODB}"
        quiet pg -d "$maint" -c 'select 1' \
            || maint="$U_SCHEME://$U_AUTH/template1${U_QUERY_NODB:+?$U_QUERY_NODB}"
        ensure_database "$maint" "$U_DB"
    fi
else
    ensure_client_tools "$LOCAL_HOST" "$LOCAL_PORT"
    ensure_local_server "$LOCAL_PORT"
    ensure_database "host=$LOCAL_HOST port=$LOCAL_PORT user=postgres dbname=postgres" "$DEFAULT_DB"
    url="postgres://postgres@$LOCAL_HOST:$LOCAL_PORT/$DEFAULT_DB?sslmode=disable"
fi

# Final sanity check: the URL we hand out really connects.
quiet pg -d "$url" -c 'select 1' || die "cannot connect to $(redact "$url")"

summary="ready"
if ((${#ACTIONS[@]})); then
    printf -v done_list '%s, ' "${ACTIONS[@]}"
    summary+=" (${done_list%, })"
fi
echo "$PROG: $summary: $(redact "$url")" >&2
echo "$url"
