#!/usr/bin/env bash
# ensure-chromium.sh
#
# Make sure a Chromium the browser test can drive is installed and print its
# path on stdout, e.g.
#
#   export SHIPGRAPH_CHROMIUM="$(scripts/ensure-chromium.sh)"
#
# * If SHIPGRAPH_CHROMIUM is set, that executable is used (it must run).
# * Otherwise the first of chromium, chromium-browser, google-chrome-stable,
#   google-chrome found on PATH that answers --version is used.
# * Otherwise Debian's chromium package is installed with apt-get (as root,
#   or through a non-interactive sudo) and its path printed.
#
# Safe to run repeatedly and non-interactively (CI): on success it writes
# nothing but the path to stdout and one status line to stderr. Tool output
# is kept in a temp log that is shown only when something fails.
set -euo pipefail

readonly PROG=ensure-chromium

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
quiet() { "$@" >"$LOG" 2>&1 </dev/null; }

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "need root (or passwordless sudo) to run: $*"
    fi
}

# A browser is usable if it runs at all: --version needs no display and no
# profile, and fails fast when a shared library is missing (a half-removed
# package, say), which a mere `command -v` would not notice.
usable() { # path
    [[ -x $1 ]] && quiet timeout 30 "$1" --version
}

# Non-interactive install from the Debian archive; the lock timeout queues
# us behind a concurrent apt run instead of failing. --no-install-recommends
# keeps it to the browser and its libraries (about 25 packages on a slim
# image): the recommended fonts, udev, upower, … are for desktops, and
# libfontconfig1 already depends on a font.
apt_install() {
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y
               -o DPkg::Lock::Timeout=300)
    local hint=''
    # Not fatal by itself: offline, the existing package lists plus the
    # local apt cache may still be enough; the install reports failure.
    quiet as_root "${apt[@]}" update || hint=' (apt-get update failed too: no network?)'
    quiet as_root "${apt[@]}" install --no-install-recommends "$@" \
        || die "apt-get install $* failed$hint"
    ACTIONS+=("installed $*")
}

find_browser() {
    local name path
    for name in chromium chromium-browser google-chrome-stable google-chrome; do
        path=$(command -v "$name" 2>/dev/null) || continue
        if usable "$path"; then
            echo "$path"
            return 0
        fi
    done
    return 1
}

if [[ -n ${SHIPGRAPH_CHROMIUM:-} ]]; then
    browser=$SHIPGRAPH_CHROMIUM
    usable "$browser" || die "SHIPGRAPH_CHROMIUM=$browser does not run ($browser --version failed)"
elif ! browser=$(find_browser); then
    command -v apt-get >/dev/null || die "no Chromium found and no apt-get to install one: set SHIPGRAPH_CHROMIUM"
    apt_install chromium
    browser=$(find_browser) || die "chromium was installed but does not run"
fi

summary="ready"
if ((${#ACTIONS[@]})); then
    printf -v done_list '%s, ' "${ACTIONS[@]}"
    summary+=" (${done_list%, })"
fi
# The version from stdout only: Debian's launcher script also writes shell
# warnings of its own (/etc/chromium.d) on stderr.
version=$(timeout 30 "$browser" --version 2>/dev/null </dev/null || true)
echo "$PROG: $summary: $browser (${version:-version unknown})" >&2
echo "$browser"
