#!/usr/bin/env bash
# Development server with reload on code changes, on 127.0.0.1:${PORT:-8000}; settings from .env / environment.
# Usage: scripts/dev.sh   (after scripts/test.sh or any other way of making .venv from requirements-dev.txt)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec .venv/bin/uvicorn app.main:app --reload --reload-dir app --host 127.0.0.1 --port "${PORT:-8000}"
