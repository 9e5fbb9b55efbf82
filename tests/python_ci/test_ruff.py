"""The ruff job in-process: a real ruff (pinned, from a uv tool environment) on a real project."""

import json
from pathlib import Path

import pytest

from python_ci.__main__ import main as python_ci
from tests.python_ci.conftest import write


@pytest.fixture
def ruff_job(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYCI_RUFF_VERSION", "0.17.6")
    monkeypatch.setenv("PYCI_PROJECT_DIR", "svc")
    return checkout


def test_clean_project_passes_with_an_empty_report(ruff_job: Path) -> None:
    write(ruff_job, {"svc/pkg/__init__.py": '"""A package."""\n\nNAME = "x"\n'})
    assert python_ci(["ruff"]) == 0
    assert json.loads((ruff_job / "ci-reports" / "ruff-codequality.json").read_text()) == []


def test_findings_fail_the_job_and_are_reported_from_the_checkout_root(ruff_job: Path) -> None:
    write(ruff_job, {"svc/pkg/__init__.py": "import os\n"})
    assert python_ci(["ruff"]) == 1
    (issue,) = json.loads((ruff_job / "ci-reports" / "ruff-codequality.json").read_text())
    assert issue["location"]["path"] == "svc/pkg/__init__.py"
    assert issue["check_name"] == "F401"


def test_format_check_alone_fails_and_can_be_turned_off(ruff_job: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(ruff_job, {"svc/pkg/__init__.py": "X  =  1\n"})
    monkeypatch.setenv("PYCI_CHECK_ARGS", "--select F")
    assert python_ci(["ruff"]) == 1
    monkeypatch.setenv("PYCI_FORMAT_CHECK", "false")
    assert python_ci(["ruff"]) == 0
