"""Each component fails on a project broken on purpose, and still leaves reports that point at the fault.

One pipeline (pip-style project with hashed requirements, in a monorepo sub-directory) runs all of them at once."""

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.engine import ROOT, PipelineRun, include, make_repo, run_pipeline, shared_cache_env

FIXTURE = ROOT / "tests" / "fixtures" / "broken"
DIR = "services/broken"
GATE_ARGS = ["--deselect", "tests/test_calc.py::test_fails_on_purpose"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    ci = include(
        [
            ("ruff", {"project_dir": DIR}),
            ("mypy", {"project_dir": DIR}),
            ("pyright", {"project_dir": DIR}),
            ("pytest", {"project_dir": DIR}),
            (
                "pytest",
                {"project_dir": DIR, "job_name": "coverage-gate", "coverage_threshold": 90, "pytest_args": GATE_ARGS},
            ),
        ]
    )
    repo = make_repo(tmp_path_factory.mktemp("broken"), ci_yaml=ci, project=FIXTURE, project_dir=DIR)
    return run_pipeline(repo, env=shared_cache_env())


def _codequality(run: PipelineRun, job: str, name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((run.artifacts(job) / "ci-reports" / name).read_text())
    return data


def _begin(issue: dict[str, Any]) -> int:
    """First line of an issue: ruff writes `positions.begin.line`, the converter writes `lines.begin`."""
    location = issue["location"]
    if "lines" in location:
        return int(location["lines"]["begin"])
    return int(location["positions"]["begin"]["line"])


def test_every_job_fails(run: PipelineRun) -> None:
    assert run.returncode == 1
    assert run.statuses == {
        "ruff": "FAIL",
        "mypy": "FAIL",
        "pyright": "FAIL",
        "pytest: [3.12]": "FAIL",
        "coverage-gate: [3.12]": "FAIL",
    }


def test_ruff_report_names_the_lint_error(run: PipelineRun) -> None:
    issues = _codequality(run, "ruff", "ruff-codequality.json")
    assert [(i["check_name"], i["location"]["path"], _begin(i)) for i in issues] == [
        ("F401", f"{DIR}/pkg/unused.py", 3)
    ]


@pytest.mark.parametrize("tool", ["mypy", "pyright"])
def test_type_checker_report_names_the_type_error(run: PipelineRun, tool: str) -> None:
    issues = _codequality(run, tool, f"{tool}-codequality.json")
    assert len(issues) == 1, issues
    issue = issues[0]
    assert issue["location"] == {"path": f"{DIR}/pkg/typed.py", "lines": {"begin": 5, "end": 5}}
    assert issue["severity"] == "major"
    assert str(issue["check_name"]).startswith(f"{tool}:")
    assert "float" in str(issue["description"])
    assert len(str(issue["fingerprint"])) == 64
    assert f"{DIR}/pkg/typed.py:5: error:" in run.log(tool)


def test_failing_test_still_leaves_junit_and_cobertura(run: PipelineRun) -> None:
    reports = run.artifacts("pytest: [3.12]") / "ci-reports"
    suite = ET.parse(reports / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed == ["test_fails_on_purpose"]
    coverage = ET.parse(reports / "coverage.xml").getroot()
    assert coverage.tag == "coverage"
    # Files named from the repository's root, which GitLab places in merge requests (tests/python_ci/test_cobertura.py).
    assert {c.get("filename") for c in coverage.iter("class")} >= {f"{DIR}/pkg/calc.py", f"{DIR}/pkg/typed.py"}
    assert "1 failed, 1 passed" in run.log("pytest: [3.12]")


def test_coverage_under_the_threshold_fails_with_tests_green(run: PipelineRun) -> None:
    log = run.log("coverage-gate: [3.12]")
    assert "1 passed, 1 deselected" in log
    assert "Required test coverage of 90% not reached" in log
    suite = ET.parse(run.artifacts("coverage-gate: [3.12]") / "ci-reports" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    # The job's `coverage:` regex reads the TOTAL line: 4 of 23 statements.
    assert "17%" in log
