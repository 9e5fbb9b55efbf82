"""The hadolint job run in-process: a Dockerfile with `:latest`, `ADD http://` and an unpinned pip install fails
with a code-quality report, the project's `.hadolint.yaml` applies, the example's Dockerfiles are clean."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from python_ci import hadolint
from python_ci.job import JobError
from tests.engine import ROOT

BROKEN = (
    "FROM python:latest\nADD http://downloads.example.com/tool.tar.gz /opt/\nRUN pip install --no-cache-dir flask\n"
)


@pytest.fixture(autouse=True)
def variables(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    del checkout
    monkeypatch.setenv("PYCI_HADOLINT_VERSION", "2.15.1")


def _issues(root: Path) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = json.loads((root / "ci-reports" / hadolint.REPORT).read_text())
    return issues


def test_findings_fail_with_a_code_quality_report(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (checkout / "svc" / "docker").mkdir(parents=True)
    (checkout / "svc" / "docker" / "api.Dockerfile").write_text(BROKEN)
    (checkout / "svc" / ".venv").mkdir()
    (checkout / "svc" / ".venv" / "Dockerfile").write_text(BROKEN)  # not the project's: never linted
    monkeypatch.setenv("PYCI_PROJECT_DIR", "svc")
    assert hadolint.main([]) == 1
    issues = _issues(checkout)
    # DL3007: `:latest`; DL3013: pip install without a version. hadolint 2.15 has no rule for ADD of a URL
    # (DL3020 covers ADD of local files only).
    assert sorted(issue["check_name"] for issue in issues) == ["DL3007", "DL3013"]
    assert {issue["location"]["path"] for issue in issues} == {"svc/docker/api.Dockerfile"}
    assert all(issue["fingerprint"] and issue["severity"] for issue in issues)


def test_the_projects_config_applies_and_the_threshold_decides(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (checkout / "Dockerfile").write_text(BROKEN)
    (checkout / ".hadolint.yaml").write_text("ignored:\n  - DL3013\n")
    monkeypatch.setenv("PYCI_FAILURE_THRESHOLD", "error")
    assert hadolint.main([]) == 0  # DL3007 is a warning
    assert [issue["check_name"] for issue in _issues(checkout)] == ["DL3007"]
    monkeypatch.setenv("PYCI_FAILURE_THRESHOLD", "warning")
    assert hadolint.main([]) == 1


def test_the_examples_dockerfiles_are_clean(checkout: Path) -> None:
    for name in ("Dockerfile", "product.Dockerfile"):
        shutil.copy(ROOT / "example" / name, checkout / name)
    assert hadolint.main([]) == 0
    assert _issues(checkout) == []


def test_named_files_and_no_files(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hadolint.main([]) == 0
    assert _issues(checkout) == []
    monkeypatch.setenv("PYCI_DOCKERFILES", 'dockerfiles=["missing.Dockerfile"]')
    with pytest.raises(JobError, match="not a file"):
        hadolint.main([])
    monkeypatch.setenv("PYCI_DOCKERFILES", "dockerfiles=[]")
    monkeypatch.setenv("PYCI_FAILURE_THRESHOLD", "loud")
    with pytest.raises(JobError, match="failure_threshold"):
        hadolint.main([])
