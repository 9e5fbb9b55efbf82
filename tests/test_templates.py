"""Properties every component keeps, and the inline code-quality converter run on its own."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts.render import library_files, library_key
from scripts.validate import GLOBAL_KEYWORDS, GitLabLoader
from tests.engine import ROOT, include, make_repo, run_pipeline

TEMPLATES = {p.stem: p.read_text() for p in sorted((ROOT / "templates").glob("*.yml"))}


def _block(text: str, name: str) -> str:
    match = re.search(rf"# >>> python-ci {name}.*?# <<< python-ci {name}", text, re.S)
    assert match is not None, name
    return match.group(0)


def _body(text: str) -> dict[str, dict[str, object]]:
    body = text.split("\n---\n", 1)[1].replace("$[[ inputs.job_name ]]", "job")
    loaded: dict[str, dict[str, object]] = yaml.load(re.sub(r"\$\[\[ inputs\.\w+ \]\]", "X", body), Loader=GitLabLoader)
    return loaded


def test_catalogue_has_every_component() -> None:
    expected = {"ruff", "mypy", "pyright", "pytest", "version", "image-build", "image-push", "wheelhouse"}
    assert set(TEMPLATES) == expected


def test_install_block_is_the_same_everywhere() -> None:
    blocks = {name: _block(TEMPLATES[name], "install") for name in ("mypy", "pyright", "pytest")}
    assert len(set(blocks.values())) == 1


def test_converter_block_is_the_same_in_both_type_checkers() -> None:
    assert _block(TEMPLATES["mypy"], "codequality") == _block(TEMPLATES["pyright"], "codequality")


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_one_job_no_global_keywords_and_inputs_never_inside_scripts(name: str) -> None:
    body = _body(TEMPLATES[name])
    # One job; the job library of this version rides along as a hidden key when the job calls it.
    assert [key for key in body if key != library_key(library_files())] == ["job"]
    assert not set(GLOBAL_KEYWORDS) & set(body)
    job = body["job"]
    assert isinstance(job, dict)
    # Inputs are interpolated as text: inside a script they would be code. They go through `variables:` instead.
    raw_job = TEMPLATES[name].split("\n---\n", 1)[1]
    script = raw_job.split("  script:\n", 1)[1].split("\n  artifacts:", 1)[0]
    assert "$[[" not in script
    for key in ("stage", "needs", "rules", "allow_failure", "image", "variables"):
        assert key in job, key
    artifacts = job["artifacts"]
    assert isinstance(artifacts, dict)
    # Test and quality reports matter most when the job fails; a dotenv for later jobs only on success.
    reports = artifacts.get("reports", {})
    assert isinstance(reports, dict)
    if set(reports) - {"dotenv"}:
        assert artifacts["when"] == "always"


@pytest.mark.parametrize(
    ("variables", "runs"),
    [
        ({"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"}, True),
        ({"CI_OPEN_MERGE_REQUESTS": "acme/service!7"}, False),
        ({}, True),
    ],
)
def test_default_rules_avoid_duplicate_branch_and_mr_pipelines(
    tmp_path: Path, variables: dict[str, str], runs: bool
) -> None:
    repo = make_repo(tmp_path, ci_yaml=include([("version", {"output_dir": "pkg"})]), files={"pkg/__init__.py": ""})
    run = run_pipeline(repo, "--json-schema-validation=false", variables=variables)
    assert run.statuses == ({"version": "PASS"} if runs else {}), run.output


# --- the inline converter, run as the jobs run it -------------------------------------------------------------

CONVERTER = re.search(
    r"<<'PYCI_CODEQUALITY'\n(.*?)\n\s*PYCI_CODEQUALITY\n", _block(TEMPLATES["mypy"], "codequality"), re.S
)


def _convert(tmp_path: Path, tool: str, output: str) -> tuple[list[dict[str, object]], str]:
    assert CONVERTER is not None
    code = "\n".join(line[6:] for line in CONVERTER.group(1).splitlines())
    source, report = tmp_path / f"{tool}.out", tmp_path / f"{tool}-codequality.json"
    source.write_text(output)
    done = subprocess.run(
        [sys.executable, "-", tool, str(source), str(report), str(tmp_path)],
        input=code,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path / "proj",
    )
    return json.loads(report.read_text()), done.stdout


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    (tmp_path / "proj").mkdir()
    return tmp_path


def test_mypy_lines_become_issues_relative_to_the_checkout(proj: Path) -> None:
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
    issues, echoed = _convert(proj, "mypy", output)
    assert [(i["check_name"], i["severity"], i["location"]) for i in issues] == [
        ("mypy:arg-type", "major", {"path": "proj/pkg/a.py", "lines": {"begin": 4, "end": 6}}),
        ("mypy:mypy", "info", {"path": "proj/pkg/a.py", "lines": {"begin": 9, "end": 9}}),
    ]
    assert issues[0]["description"] == 'arg-type: Bad "x" (try y)'
    assert "mypy: some plain text line" in echoed
    assert 'proj/pkg/a.py:4: error: Bad "x" (try y) [arg-type]' in echoed


def test_pyright_diagnostics_become_issues_with_unique_fingerprints(proj: Path) -> None:
    same = {
        "file": str(proj / "proj" / "m.py"),
        "severity": "warning",
        "message": "dup",
        "rule": "reportX",
        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}},
    }
    issues, _ = _convert(proj, "pyright", json.dumps({"generalDiagnostics": [same, same]}))
    assert [i["location"] for i in issues] == [{"path": "proj/m.py", "lines": {"begin": 1, "end": 1}}] * 2
    assert [i["severity"] for i in issues] == ["minor", "minor"]
    assert len({i["fingerprint"] for i in issues}) == 2


def test_unparseable_pyright_output_gives_an_empty_report_and_is_shown(proj: Path) -> None:
    issues, echoed = _convert(proj, "pyright", "No configuration file found.\nfatal\n")
    assert issues == []
    assert "fatal" in echoed
