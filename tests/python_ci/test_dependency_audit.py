"""The dependency-audit job run in-process against an OSV service on 127.0.0.1: a pinned package with a known
advisory fails with a report valid against the fields GitLab documents, a fixed pin passes, the threshold and the
allow-list (and its expiry) decide the verdict."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from python_ci import dependency_audit
from python_ci.job import JobError
from tests.supply_chain import ADVISORY, DS_REPORT_SCHEMA, FIXED, VULNERABLE, hashed_pins, osv_service, uv_project


@pytest.fixture
def osv(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The job's variables with the OSV mirror on 127.0.0.1 (through PIP_AUDIT_OSV_URL, as a runner would set it);
    yields the requests the service received."""
    with osv_service() as (url, requests):
        for name, value in {"PIP_AUDIT_OSV_URL": url, "PYCI_PIP_AUDIT_VERSION": "2.10.1"}.items():
            monkeypatch.setenv(name, value)
        yield requests


def _report(root: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((root / "ci-reports" / dependency_audit.REPORT).read_text())
    jsonschema.validate(report, DS_REPORT_SCHEMA)
    return report


def _requirements(root: Path, requirement: str) -> None:
    (root / "requirements.txt").write_text(hashed_pins(requirement, root.parent / "scratch"))


def test_a_known_advisory_fails_with_a_gitlab_report(checkout: Path, osv: list[str]) -> None:
    _requirements(checkout, VULNERABLE)
    assert dependency_audit.main([]) == 1
    report = _report(checkout)
    findings: list[dict[str, Any]] = report["vulnerabilities"]
    [finding] = findings
    assert finding["severity"] == "Medium"  # GHSA's MODERATE
    assert ADVISORY in [identifier["value"] for identifier in finding["identifiers"]]
    assert finding["location"] == {
        "file": "requirements.txt",
        "dependency": {"package": {"name": "idna"}, "version": "3.6"},
    }
    assert finding["solution"] == "Upgrade idna to 3.7."
    assert report["dependency_files"] == [
        {
            "path": "requirements.txt",
            "package_manager": "pip",
            "dependencies": [{"package": {"name": "idna"}, "version": "3.6"}],
        }
    ]
    assert "POST /v1/query" in osv and f"GET /v1/vulns/{ADVISORY}" in osv


def test_a_fixed_pin_in_a_uv_lock_passes(checkout: Path, osv: list[str]) -> None:
    uv_project(checkout, FIXED)
    assert dependency_audit.main([]) == 0
    report = _report(checkout)
    assert report["vulnerabilities"] == []
    # iniconfig of the dev group is not shipped: not audited.
    assert report["dependency_files"][0]["dependencies"] == [{"package": {"name": "idna"}, "version": "3.7"}]
    assert report["dependency_files"][0]["path"] == "uv.lock"
    assert osv == ["POST /v1/query"]


def test_below_the_threshold_passes_and_is_still_reported(
    checkout: Path, osv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    del osv
    _requirements(checkout, VULNERABLE)
    monkeypatch.setenv("PYCI_SEVERITY_THRESHOLD", "high")
    assert dependency_audit.main([]) == 0
    assert len(_report(checkout)["vulnerabilities"]) == 1


def test_allow_list_suppresses_until_it_expires(
    checkout: Path, osv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    del osv
    _requirements(checkout, VULNERABLE)
    # Matched by an alias: pip-audit names the finding PYSEC-2024-60.
    monkeypatch.setenv("PYCI_ALLOW", 'allow=["CVE-2024-3651 until 2999-12-31"]')
    assert dependency_audit.main([]) == 0
    assert _report(checkout)["vulnerabilities"] == []
    assert "allowed until 2999-12-31" in capsys.readouterr().err
    monkeypatch.setenv("PYCI_ALLOW", f'allow=["{ADVISORY} until 2001-01-31"]')
    assert dependency_audit.main([]) == 1
    assert f"allow-list entry {ADVISORY} expired on 2001-01-31: it no longer suppresses" in capsys.readouterr().err
    assert len(_report(checkout)["vulnerabilities"]) == 1


def test_an_unreadable_severity_is_unknown_and_fails() -> None:
    # A service that answers queries but has no /v1/vulns records: nothing gives a severity.
    assert dependency_audit.osv_severity("http://127.0.0.1:9/v1", ["GHSA-0000-0000-0000"], timeout=1) == "Unknown"
    assert dependency_audit.fails("Unknown", "Critical")
    assert not dependency_audit.fails("Medium", "High")


@pytest.mark.parametrize("item", ["GHSA-1 until tomorrow", "GHSA-1", "GHSA-1 until 2026-02-30", "x;y until 2026-01-01"])
def test_malformed_allow_items_are_refused(item: str) -> None:
    with pytest.raises(JobError, match="allow item"):
        dependency_audit.allow_list([item])


def test_the_report_schema_catches_a_missing_field() -> None:
    broken: dict[str, Any] = {"version": "15.0.7", "scan": {}, "vulnerabilities": []}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, DS_REPORT_SCHEMA)
