#!/usr/bin/env bash
# Installs mastodon-mock (a stateful Mastodon API emulator on PyPI, by another author) into its
# own virtual environment, .cache/mastodon-mock-venv (git-ignored), so its dependencies never
# meet ours. tests/fidelity/mastodon/test_mastodon_mock_flow.py runs the adapter against it.
# Idempotent: does nothing when that version is already installed.
set -euo pipefail

VERSION="0.6.1"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.cache/mastodon-mock-venv"
# Kept outside the checkout too (as .ci/atproto-setup.sh does), so a fresh clone on the same
# machine links it; COALESCE_CI_CACHE=none keeps it inside the checkout.
shared="${COALESCE_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coalesce-ci}"
mkdir -p "$repo_root/.cache"
if [[ "$shared" != none ]] && { [[ -L "$venv" ]] || [[ ! -e "$venv" ]]; } && mkdir -p "$shared" 2>/dev/null; then
  ln -sfn "$shared/mastodon-mock-$VERSION" "$venv"
fi

log() { echo "[mastodon-mock-setup] $*" >&2; }

installed() {
  [ -x "$venv/bin/mastodon_mock" ] &&
    "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mastodon_mock') != '$VERSION')" 2>/dev/null
}

if installed; then
  log "mastodon-mock $VERSION already installed"
  exit 0
fi
rm -rf "$(readlink -f "$venv")"
python3 -m venv "$(readlink -f "$venv")"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "mastodon-mock==$VERSION"
installed || { log "mastodon-mock $VERSION did not install"; exit 1; }
log "mastodon-mock $VERSION installed in $venv"
