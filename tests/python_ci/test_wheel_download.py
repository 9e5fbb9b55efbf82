"""Downloading wheels per (target, Python) with pip: every gap named, an unreachable index named as such."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from python_ci.job import JobError
from python_ci.pinned_requirements import parse_pins
from python_ci.wheel_download import Fetcher, fetch_all
from tests.python_ci.wheelhouse_support import use_python_with_pip


@pytest.fixture
def pip_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_python_with_pip(monkeypatch)
    monkeypatch.setenv("PIP_RETRIES", "1")  # pip names the connection error only when it retries


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_index_is_named_as_such_not_as_a_missing_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pip_env: None
) -> None:
    for name in [k for k in os.environ if k.startswith("PIP_") and k != "PIP_RETRIES"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    fetcher = Fetcher([f"--index-url http://127.0.0.1:{_closed_port()}/simple"], tmp_path, tmp_path)
    pins, _ = parse_pins("six==1.17.0\n")
    problem = fetcher.download(pins, "manylinux_2_28_x86_64", "3.12")
    assert problem is not None
    assert problem.startswith("index unreachable:"), problem


def test_wheels_are_fetched_per_target_and_every_gap_is_named(
    tmp_path: Path, pip_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """six has a universal wheel; docopt has only an sdist, so it is missing for every target and Python."""
    dest = tmp_path / "wheels"
    dest.mkdir()
    fetcher = Fetcher([], dest, tmp_path)
    pins, _ = parse_pins("six==1.17.0\n")
    fetch_all(fetcher, pins, ["manylinux_2_28_x86_64", "musllinux_1_2_aarch64"], ["3.12"])
    assert [p.name for p in dest.iterdir()] == ["six-1.17.0-py2.py3-none-any.whl"]

    pins, _ = parse_pins("six==1.17.0\ndocopt==0.6.2\n")
    with pytest.raises(JobError) as caught:
        fetch_all(fetcher, pins, ["manylinux_2_28_x86_64"], ["3.11", "3.12"])
    rows = [line.split() for line in str(caught.value).splitlines()[1:]]
    assert rows == [
        ["docopt==0.6.2", "manylinux_2_28_x86_64", "cp3.11", "no", "wheel"],
        ["docopt==0.6.2", "manylinux_2_28_x86_64", "cp3.12", "no", "wheel"],
    ]
    assert "nothing was packed" in str(caught.value)
    # The log counts the pins that lack a wheel, not every pin of the failed download.
    log = capsys.readouterr().err
    assert "cp3.12 manylinux_2_28_x86_64: 2 pins: pip failed (no wheel); trying each alone" in log
    assert "cp3.12 manylinux_2_28_x86_64: 1 of 2 pins fail alone" in log


def test_no_pins_means_no_download(tmp_path: Path) -> None:
    fetch_all(Fetcher([], tmp_path / "absent", tmp_path), [], ["manylinux_2_28_x86_64"], ["3.12"])
    assert not (tmp_path / "absent").exists()
