"""Test-suite configuration."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from scripts.containers import stopped_after
from tests.engine import docker_unavailable

# Fixture projects carry their own tests (run inside pipelines, on purpose failing for some): never collect them here.
collect_ignore = ["fixtures"]


# The local engine that the first `docker` test starts is stopped by its PID when the session ends; one that was
# running before the session (a developer's `python -m scripts.containers up`) stays up. Session hooks, not a
# fixture: the first `docker` test starts the engine in pytest_runtest_setup, before any fixture is set up.
_ENGINE = contextlib.ExitStack()


def pytest_sessionstart(session: pytest.Session) -> None:
    del session
    _ENGINE.enter_context(stopped_after())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    del session, exitstatus
    _ENGINE.close()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked `docker` skip, saying why, where the local engine cannot run (not root, no docker.io)."""
    if item.get_closest_marker("docker") is not None:
        reason = docker_unavailable()
        if reason is not None:
            pytest.skip(f"docker executor: {reason}")


@pytest.fixture(autouse=True)
def restore_environ() -> Iterator[None]:
    """Give every test the process environment it started with: job code run in-process sets variables for the
    tools it runs (UV_PYTHON, UV_PROJECT_ENVIRONMENT, index settings), as a job may, and no later test may inherit
    them (a leaked UV_PROJECT_ENVIRONMENT sent another test's `uv sync` elsewhere)."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
