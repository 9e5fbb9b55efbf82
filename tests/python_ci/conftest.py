"""Fixtures for the job library's unit tests: a job's environment without a CI engine (a committed checkout with
the job's variables, or a bare checkout root), and a venv holding the tools the jobs run."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine import ROOT, SHARED_UV_CACHE, shared_cache_env

JobEnv = Callable[..., Path]


@pytest.fixture
def job_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> JobEnv:
    """Make a committed git checkout at tmp_path/checkout from {path: text}, enter it, and set the job variables
    given as keyword arguments (as the component's `variables:` would); returns the checkout."""

    def make(files: dict[str, str], **variables: str) -> Path:
        root = tmp_path / "checkout"
        for rel, text in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        root.mkdir(exist_ok=True)
        for cmd in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
            subprocess.run(["git", *cmd], cwd=root, check=True)
        monkeypatch.chdir(root)
        for name, value in {**shared_cache_env(), **variables}.items():
            monkeypatch.setenv(name, value)
        return root

    return make


def changed_files(root: Path) -> list[str]:
    """What a job changed in the checkout: `git status` entries (untracked and modified, ignored ones too) other
    than the job's own outputs (ci-reports/, .cache/)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    own = ("ci-reports/", ".cache/")
    return [line for line in out.splitlines() if not line[3:].startswith(own)]


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty checkout root, the job's working directory, with the variables every component sets (Python 3.11,
    project at the root) and the tests' shared uv cache; uv, the dev tools and Python on PATH."""
    root = tmp_path / "checkout"
    root.mkdir()
    monkeypatch.chdir(root)
    for name in [name for name in os.environ if name.startswith(("PYCI_", "UV_", "VIRTUAL_ENV"))]:
        monkeypatch.delenv(name)
    SHARED_UV_CACHE.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("UV_CACHE_DIR", str(SHARED_UV_CACHE))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    monkeypatch.setenv("UV_NO_PROGRESS", "1")
    monkeypatch.setenv("UV_LINK_MODE", "copy")
    monkeypatch.setenv("PYTHON_VERSION", "3.11")
    monkeypatch.setenv("PYCI_ROOT", str(root))
    monkeypatch.setenv("PYCI_PROJECT_DIR", ".")
    monkeypatch.setenv("PYCI_UV_VERSION", "0.13.9")
    path = [str(ROOT / ".venv-bootstrap" / "bin"), str(ROOT / ".venv" / "bin"), os.environ.get("PATH", "")]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    return root


def write(root: Path, files: dict[str, str]) -> None:
    """Write `files` ({relative path: text}) under `root`."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="session")
def tool_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A relocatable venv (Python 3.11) with the tools the jobs run, at the dev pins (hard links from the tests'
    shared uv cache: seconds once the cache holds them)."""
    venv = tmp_path_factory.mktemp("tools") / ".venv"
    uv = str(ROOT / ".venv-bootstrap" / "bin" / "uv")
    env = {**os.environ, "UV_CACHE_DIR": str(SHARED_UV_CACHE), "UV_LINK_MODE": "hardlink", "UV_PYTHON": "3.11"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([uv, "venv", "--quiet", "--relocatable", str(venv)], check=True, env=env)
    pins = ["mypy==2.4.1", "pyright[nodejs]==1.1.414", "pytest==9.2.0", "pytest-cov==7.1.0"]
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *pins], check=True, env=env
    )
    return venv


def use_venv(project: Path, venv: Path) -> None:
    """Give `project` the `.venv` `venv` (a symbolic link), as `python_ci environment` would have made it."""
    (project / ".venv").symlink_to(venv)
