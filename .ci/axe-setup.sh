#!/usr/bin/env bash
# Installs axe-core (npm) into .cache/axe (git-ignored) for the web console's accessibility checks
# (tests/web/conftest.py injects .cache/axe/node_modules/axe-core/axe.min.js into each page).
# Idempotent: does nothing when that version is already there.
set -euo pipefail

VERSION="4.14.1"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$repo_root/.cache/axe"
script="$prefix/node_modules/axe-core/axe.min.js"

log() { echo "[axe-setup] $*" >&2; }

if [[ -f "$script" ]] && grep -q "\"version\": \"$VERSION\"" "$prefix/node_modules/axe-core/package.json"; then
  log "axe-core $VERSION already installed"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  log "npm is required to install axe-core"
  exit 1
fi
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-save --no-audit --no-fund --no-package-lock "axe-core@$VERSION" >&2
[[ -f "$script" ]] || { log "axe-core did not install at $script"; exit 1; }
log "axe-core $VERSION installed in $prefix"
