#!/usr/bin/env bash
# Idempotent set-up for the two README commands on a fresh Debian/Ubuntu machine.
# As root it installs missing apt packages; as a user it says which ones are missing.
# Usage: scripts/setup.sh [--containers]   (--containers adds Buildah, skopeo, the registry, mmdebstrap and
# Debian's Docker engine, which scripts/containers.py runs with its state in .cache/engine)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.venv/.setup-state"
UV_VERSION="0.13.9"

log() { printf 'setup: %s\n' "$*" >&2; }

want_containers=false
[[ "${1:-}" == "--containers" ]] && want_containers=true

# --- apt packages ------------------------------------------------------------------------------------------
apt_missing=()      # needed: set-up stops without them
optional_missing=() # tests that need them skip, saying why
need_cmd() { command -v "$1" >/dev/null 2>&1 || apt_missing+=("$2"); }
want_cmd() { command -v "$1" >/dev/null 2>&1 || optional_missing+=("$2"); }
need_cmd git git
need_cmd rsync rsync
need_cmd python3 python3
need_cmd npm npm
want_cmd shellcheck shellcheck
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_missing+=(python3-venv)
if $want_containers; then
  need_cmd buildah buildah
  need_cmd skopeo skopeo
  need_cmd docker-registry docker-registry
  need_cmd mmdebstrap mmdebstrap
  need_cmd htpasswd apache2-utils
  need_cmd dockerd docker.io
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  apt_missing+=("${optional_missing[@]}")
  optional_missing=()
fi
if ((${#optional_missing[@]})); then
  log "optional packages missing (their tests will skip): ${optional_missing[*]}"
fi
if ((${#apt_missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing apt packages: ${apt_missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
  else
    log "missing packages (run as root, or install them): ${apt_missing[*]}"
    exit 1
  fi
fi

# --- uv (pinned), from PyPI into a private bootstrap venv --------------------------------------------------
BOOT="$ROOT/.venv-bootstrap"
if ! "$BOOT/bin/uv" --version 2>/dev/null | grep -q " $UV_VERSION\b"; then
  log "installing uv $UV_VERSION"
  python3 -m venv "$BOOT"
  "$BOOT/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
export PATH="$BOOT/bin:$PATH"

# --- the catalogue's Python tools, hash-pinned ---------------------------------------------------------------
lock_sum=$(sha256sum "$ROOT/requirements/dev.txt" | cut -d' ' -f1)
if [[ ! -x "$ROOT/.venv/bin/python" ]] || ! grep -qx "py:$lock_sum" "$STATE" 2>/dev/null; then
  log "syncing .venv from requirements/dev.txt"
  uv venv -q --allow-existing --python python3 "$ROOT/.venv"
  uv pip sync -q --python "$ROOT/.venv/bin/python" --require-hashes "$ROOT/requirements/dev.txt"
  sed -i '/^py:/d' "$STATE" 2>/dev/null || true
  echo "py:$lock_sum" >>"$STATE"
fi

# --- the local CI engine: gitlab-ci-local on Node 22, both pinned in package-lock.json ------------------------
npm_sum=$(cat "$ROOT/package.json" "$ROOT/package-lock.json" | sha256sum | cut -d' ' -f1)
if [[ ! -x "$ROOT/node_modules/.bin/gitlab-ci-local" ]] || ! grep -qx "npm:$npm_sum" "$STATE" 2>/dev/null; then
  log "installing gitlab-ci-local and Node 22 (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  sed -i '/^npm:/d' "$STATE" 2>/dev/null || true
  echo "npm:$npm_sum" >>"$STATE"
fi
