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

# shellcheck source=ensure-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ensure-lib.sh"

# A browser is usable if it runs at all: --version needs no display and no
# profile, and fails fast when a shared library is missing (a half-removed
# package, say), which a mere `command -v` would not notice.
usable() { # path
    [[ -x $1 ]] && quiet timeout 30 "$1" --version
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
    # Without recommends: the browser and its libraries (about 25 packages
    # on a slim image); the recommended fonts, udev, upower… are for desktops.
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
