"""A check never changes what it checks: every tool job leaves the project's files as it found them, whatever
the project's configuration asks (ruff's fix and cache-dir, mypy's and pytest's caches, bytecode, coverage data)."""

import subprocess
from pathlib import Path

import pytest

from python_ci.__main__ import main as python_ci
from tests.python_ci.conftest import changed_files, use_venv, write

# Configuration that asks tools to write into the tree, and code they would rewrite.
PROJECT = {
    "pyproject.toml": (
        '[tool.ruff]\nfix = true\nunsafe-fixes = true\ncache-dir = "lint-cache"\n'
        '[tool.mypy]\nfiles = ["pkg"]\n'
        '[tool.pytest.ini_options]\naddopts = "-p pytester"\n'
        "[tool.coverage.run]\nbranch = true\n"
    ),
    "pkg/__init__.py": "import os\n\n\ndef f(x: int) -> int:\n    return x\n",
    "tests/test_pkg.py": "from pkg import f\n\n\ndef test_f() -> None:\n    assert f(1) == 1\n",
}


def test_every_tool_job_leaves_the_project_as_it_found_it(
    checkout: Path, tool_venv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(checkout, PROJECT)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=checkout, check=True)
    before = (checkout / "pkg" / "__init__.py").read_text()
    use_venv(checkout, tool_venv)
    monkeypatch.setenv("PYCI_RUFF_DEFAULT", "0.17.6")
    statuses = {tool: python_ci([tool]) for tool in ("ruff", "mypy", "pyright", "pytest")}
    # ruff reports the unused import (and does not remove it); the others pass.
    assert statuses == {"ruff": 1, "mypy": 0, "pyright": 0, "pytest": 0}
    assert (checkout / "pkg" / "__init__.py").read_text() == before
    assert [line for line in changed_files(checkout) if not line[3:].startswith(".venv")] == []
