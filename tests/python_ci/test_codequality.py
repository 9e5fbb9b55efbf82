"""mypy's and pyright's output -> GitLab code-quality issues, with paths relative to the checkout."""

import json
from pathlib import Path

import pytest

from python_ci.codequality import mypy_findings, pyright_findings, write_report


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    return tmp_path


def _convert(root: Path, tool: str, output: str) -> list[dict[str, object]]:
    source, report = root / f"{tool}.out", root / f"{tool}-codequality.json"
    source.write_text(output)
    count = write_report(tool, source, report, root, root / "proj")
    issues: list[dict[str, object]] = json.loads(report.read_text())
    assert count == len(issues)
    return issues


def test_mypy_lines_become_issues_relative_to_the_checkout(proj: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        {
            "file": "pkg/a.py",
            "line": 4,
            "column": 1,
            "end_line": 6,
            "message": 'Bad "x"',
            "hint": "try y",
            "code": "arg-type",
            "severity": "error",
        },
        {
            "file": "pkg/a.py",
            "line": 9,
            "column": 1,
            "message": "Revealed",
            "hint": None,
            "code": None,
            "severity": "note",
        },
    ]
    output = "\n".join(json.dumps(line) for line in lines) + "\nmypy: some plain text line\n"
    issues = _convert(proj, "mypy", output)
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("mypy:arg-type", "major", {"path": "proj/pkg/a.py", "lines": {"begin": 4, "end": 6}}),
        ("mypy:mypy", "info", {"path": "proj/pkg/a.py", "lines": {"begin": 9, "end": 9}}),
    ]
    assert issues[0]["description"] == 'arg-type: Bad "x" (try y)'
    echoed = capsys.readouterr().out
    assert "mypy: some plain text line" in echoed
    assert 'proj/pkg/a.py:4: error: Bad "x" (try y) [arg-type]' in echoed
    assert "python-ci mypy: 2 mypy issue(s) in mypy-codequality.json" in echoed


def test_pyright_diagnostics_become_issues_with_unique_fingerprints(proj: Path) -> None:
    same = {
        "file": str(proj / "proj" / "m.py"),
        "severity": "warning",
        "message": "dup",
        "rule": "reportX",
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
    }
    issues = _convert(proj, "pyright", json.dumps({"generalDiagnostics": [same, same]}))
    assert [i["location"] for i in issues] == [{"path": "proj/m.py", "lines": {"begin": 1, "end": 1}}] * 2
    assert [i["severity"] for i in issues] == ["minor", "minor"]
    assert len({i["fingerprint"] for i in issues}) == 2


def test_unparseable_pyright_output_gives_an_empty_report_and_is_shown(
    proj: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _convert(proj, "pyright", "No configuration file found.\nfatal\n") == []
    assert "fatal" in capsys.readouterr().out


def test_missing_fields_take_defaults() -> None:
    (finding,), _ = pyright_findings(json.dumps({"generalDiagnostics": [{"file": "/a.py", "message": "m"}]}))
    assert (finding.first, finding.last, finding.severity, finding.check) == (1, 1, "error", "pyright")
    (finding,), other = mypy_findings(json.dumps({"file": "a.py", "message": "m", "severity": "error"}))
    assert (finding.first, finding.last, finding.check, other) == (1, 1, "mypy", [])
