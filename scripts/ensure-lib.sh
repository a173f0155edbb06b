# ensure-lib.sh: sourced by scripts/ensure-postgres.sh, ensure-redis.sh and
# ensure-chromium.sh, which find, start or install what `make run` and
# `make test` need the same way: quietly, non-interactively, and with the
# output of the step that failed shown when one does.
#
# The script sets PROG (its name, for messages) and, to use port_in_use,
# LOCAL_HOST before sourcing it. It gets LOG (the current step's output),
# ACTIONS (what it had to do, for its one status line) and the helpers below.

LOG=$(mktemp "${TMPDIR:-/tmp}/$PROG.XXXXXX")
trap 'rm -f "$LOG"' EXIT
ACTIONS=()   # what we had to do; reported in the single status line

die() {
    echo "$PROG: error: $*" >&2
    if [[ -s $LOG ]]; then
        echo "$PROG: last output of the failing step:" >&2
        tail -n 30 "$LOG" | sed 's/^/    /' >&2
    fi
    exit 1
}

# Run a command with its output captured in $LOG (shown by die on failure)
# and stdin closed, so nothing can block waiting for a terminal in CI.
# Each step overwrites the log, so die shows the step that failed.
quiet() { "$@" >"$LOG" 2>&1 </dev/null; }

# Hide passwords (user:PASS@ or ?password=PASS) before a URL goes to logs.
redact() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#; s#([?&]password=)[^&]*#\1***#' <<<"$1"; }

# Decode %XX escapes of a URL part.
urldecode() { printf '%b' "${1//%/\\x}"; }

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root (or passwordless sudo) to run: $*"
    fi
}

# True if something accepts TCP connections on $LOCAL_HOST:PORT, whether or
# not it answers like the server yet (e.g. a Docker container still booting).
port_in_use() { (exec 3<>"/dev/tcp/$LOCAL_HOST/$1") 2>/dev/null; }

# Non-interactive install from the Debian archive, without recommended
# packages. The lock timeout makes us queue behind a concurrent apt run
# (e.g. unattended-upgrades) instead of failing.
APT_UPDATE=      # "", "ok" or "failed"
apt_install() {
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y
               -o DPkg::Lock::Timeout=300)
    if [[ -z $APT_UPDATE ]]; then
        # Not fatal by itself: offline, the existing package lists plus the
        # local apt cache may still be enough; the install reports failure.
        APT_UPDATE=ok
        quiet as_root "${apt[@]}" update || APT_UPDATE=failed
    fi
    local hint=''
    [[ $APT_UPDATE == failed ]] && hint=' (apt-get update failed too: no network?)'
    quiet as_root "${apt[@]}" install --no-install-recommends "$@" \
        || die "apt-get install $* failed$hint"
    ACTIONS+=("installed $*")
}
