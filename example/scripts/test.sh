#!/usr/bin/env bash
# From a fresh clone: make example/.venv from requirements-dev.txt (hash-checked) and run every check.
# Usage: scripts/test.sh [pytest args...]
# Needs python3 (>= 3.11; PYTHON=python3.12 picks another). Uses uv from UV or PATH, else installs the pinned
# uv into .venv-uv with pip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
UV_VERSION=0.13.9
PYTHON="${PYTHON:-python3}"
if [[ -z "${UV:-}" ]]; then
  if command -v uv >/dev/null 2>&1; then
    UV=uv
  else
    if [[ ! -x .venv-uv/bin/uv ]]; then
      echo "test.sh: installing uv $UV_VERSION into .venv-uv" >&2
      "$PYTHON" -m venv .venv-uv
      .venv-uv/bin/pip install -q --disable-pip-version-check "uv==$UV_VERSION"
    fi
    UV=.venv-uv/bin/uv
  fi
fi

stamp=.venv/.requirements-dev.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [[ ! -x .venv/bin/python ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "test.sh: syncing .venv from requirements-dev.txt" >&2
  "$UV" venv -q --allow-existing --python "$PYTHON" .venv
  "$UV" pip sync -q --python .venv/bin/python --require-hashes requirements-dev.txt
  echo "$want" >"$stamp"
fi

echo "test.sh: ruff" >&2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "test.sh: mypy --strict" >&2
.venv/bin/mypy
echo "test.sh: pyright (strict)" >&2
.venv/bin/pyright
echo "test.sh: pytest" >&2
exec .venv/bin/pytest "$@"
