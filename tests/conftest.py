"""Test-suite configuration."""

from __future__ import annotations

import pytest

from tests.engine import docker_unavailable

# Fixture projects carry their own tests (run inside pipelines, on purpose failing for some): never collect them here.
collect_ignore = ["fixtures"]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests marked `docker` skip, saying why, where the local engine cannot run (not root, no docker.io)."""
    if item.get_closest_marker("docker") is not None:
        reason = docker_unavailable()
        if reason is not None:
            pytest.skip(f"docker executor: {reason}")
