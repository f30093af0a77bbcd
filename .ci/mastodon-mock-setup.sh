#!/usr/bin/env bash
# Installs mastodon-mock (a stateful Mastodon API emulator on PyPI, by another author) into its
# own virtual environment, .cache/mastodon-mock-venv (git-ignored), so its dependencies never
# meet ours. tests/fidelity/mastodon/test_mastodon_mock_flow.py runs the adapter against it.
# Idempotent: does nothing when that version is already installed.
set -euo pipefail

VERSION="0.6.1"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.cache/mastodon-mock-venv"

log() { echo "[mastodon-mock-setup] $*" >&2; }

installed() {
  [ -x "$venv/bin/mastodon_mock" ] &&
    "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mastodon_mock') != '$VERSION')" 2>/dev/null
}

if installed; then
  log "mastodon-mock $VERSION already installed"
  exit 0
fi
mkdir -p "$repo_root/.cache"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "mastodon-mock==$VERSION"
installed || { log "mastodon-mock $VERSION did not install"; exit 1; }
log "mastodon-mock $VERSION installed in $venv"
