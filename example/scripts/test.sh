#!/usr/bin/env bash
# From a fresh clone: make example/.venv from requirements-dev.txt (hash-checked) and run every check.
# Usage: scripts/test.sh [pytest args...]   Needs python3 (>= 3.11) and uv on PATH (or UV=/path/to/uv).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
UV="${UV:-uv}"
PYTHON="${PYTHON:-python3}"

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
