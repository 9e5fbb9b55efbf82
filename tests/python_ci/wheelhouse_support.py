"""What the wheelhouse modules' tests share: the fixtures, an interpreter with pip, a locked workspace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
WORKSPACE = FIXTURES / "wheelhouse-workspace"
SOURCE_APP = FIXTURES / "wheelhouse-source"
# The job runs pip as `sys.executable -m pip`, the image's python3; this venv has no pip, its base interpreter has.
PYTHON_WITH_PIP = str(Path(sys.base_prefix) / "bin" / "python3")
UV = shutil.which("uv") or str(ROOT / ".venv-bootstrap" / "bin" / "uv")


def use_python_with_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the job's interpreter one that has pip, and uv findable, as in a python image after uv's install."""
    monkeypatch.setattr(sys, "executable", PYTHON_WITH_PIP)
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(UV).parent), os.environ["PATH"]]))


_LOCKS: dict[str, str] = {}


def locked_workspace(dest: Path) -> Path:
    """A copy of the workspace fixture with a uv.lock at its root, made by the first call of the session (lock files
    are never committed) and copied by the others.

    The fixture's `.python-version` asks for 3.14, so the lock is made with this interpreter, named explicitly."""
    shutil.copytree(WORKSPACE, dest)
    if "workspace" in _LOCKS:
        (dest / "uv.lock").write_text(_LOCKS["workspace"])
        return dest
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run([UV, "lock", "--quiet", "--python", PYTHON_WITH_PIP], cwd=dest, check=True, env=env)
    _LOCKS["workspace"] = (dest / "uv.lock").read_text()
    return dest
