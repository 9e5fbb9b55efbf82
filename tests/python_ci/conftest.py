"""Fixtures for the job library's unit tests: a job's environment without a CI engine."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.engine import shared_cache_env

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
