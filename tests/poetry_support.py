"""poetry.lock files made at test time (none is committed: a lock names the registry it came from).

`poetry lock` cannot use the index's JSON API on these machines, so the project gets a simple-API source (the index
pip itself defaults to) before locking; poetry then really resolves and writes the lock."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.engine import engine_env

POETRY_VERSION = "2.5.1"


def simple_index_url() -> str:
    """The index the machine's installers use (pip's default unless the environment names another one)."""
    for name in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if os.environ.get(name):
            return os.environ[name]
    code = "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"
    return subprocess.run(["python3", "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def poetry_lock(project: Path, cache_dir: Path) -> None:
    """Add the simple-API source to `project`'s pyproject.toml and run `poetry lock` there (no venv is left behind)."""
    with (project / "pyproject.toml").open("a") as stream:
        stream.write(f'\n[[tool.poetry.source]]\nname = "index"\nurl = "{simple_index_url()}"\npriority = "primary"\n')
    env = engine_env({"POETRY_CACHE_DIR": str(cache_dir), "POETRY_VIRTUALENVS_IN_PROJECT": "true"})
    lock = ["uv", "tool", "run", "--from", f"poetry=={POETRY_VERSION}", "poetry", "lock", "--no-interaction"]
    subprocess.run(lock, cwd=project, env=env, check=True, capture_output=True)
    shutil.rmtree(project / ".venv", ignore_errors=True)
