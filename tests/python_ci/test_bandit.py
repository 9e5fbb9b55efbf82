"""The sast job run in-process: `subprocess.run(..., shell=True)` fails with a SAST report valid against the fields
GitLab documents; the threshold decides; environments are not scanned; the project's [tool.bandit] applies."""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from python_ci import bandit
from python_ci.job import JobError
from tests.supply_chain import CLEAN, SAST_REPORT_SCHEMA, SHELL_TRUE


@pytest.fixture(autouse=True)
def variables(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    del checkout
    monkeypatch.setenv("PYCI_BANDIT_VERSION", "1.9.4")


def _report(root: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((root / "ci-reports" / bandit.REPORT).read_text())
    jsonschema.validate(report, SAST_REPORT_SCHEMA)
    return report


def test_shell_true_fails_with_a_sast_report(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (checkout / "svc" / "app").mkdir(parents=True)
    (checkout / "svc" / "app" / "run.py").write_text(SHELL_TRUE)
    (checkout / "svc" / ".venv" / "lib").mkdir(parents=True)
    (checkout / "svc" / ".venv" / "lib" / "bad.py").write_text(SHELL_TRUE)  # an environment: never scanned
    monkeypatch.setenv("PYCI_PROJECT_DIR", "svc")
    assert bandit.main([]) == 1
    findings: list[dict[str, Any]] = _report(checkout)["vulnerabilities"]
    by_test = {f["identifiers"][0]["value"]: f for f in findings}
    assert sorted(by_test) == ["B404", "B602"]
    shell = by_test["B602"]
    assert (shell["severity"], shell["location"]) == (
        "High",
        {"file": "svc/app/run.py", "start_line": 5, "end_line": 5},
    )
    assert {"type": "cwe", "name": "CWE-78", "value": "78"}.items() <= shell["identifiers"][1].items()


def test_the_threshold_and_the_projects_config(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (checkout / "run.py").write_text(SHELL_TRUE)
    (checkout / "pyproject.toml").write_text('[tool.bandit]\nskips = ["B602"]\n')
    # B602 skipped by the project: only B404 (low) is left, below the default threshold (medium).
    assert bandit.main([]) == 0
    assert [f["identifiers"][0]["value"] for f in _report(checkout)["vulnerabilities"]] == ["B404"]
    monkeypatch.setenv("PYCI_SEVERITY_THRESHOLD", "low")
    assert bandit.main([]) == 1


def test_clean_code_passes(checkout: Path) -> None:
    (checkout / "run.py").write_text(CLEAN)
    assert bandit.main([]) == 0
    # Low findings stay in the report below the threshold: the import (B404) and the call without a shell (B603).
    assert sorted(f["identifiers"][0]["value"] for f in _report(checkout)["vulnerabilities"]) == ["B404", "B603"]


def test_wrong_inputs(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    del checkout
    monkeypatch.setenv("PYCI_PATHS", 'paths=["missing"]')
    with pytest.raises(JobError, match="not a file or folder"):
        bandit.main([])
    monkeypatch.setenv("PYCI_SEVERITY_THRESHOLD", "loud")
    with pytest.raises(JobError, match="severity_threshold"):
        bandit.main([])
    assert bandit.fails("Unknown", "high")
