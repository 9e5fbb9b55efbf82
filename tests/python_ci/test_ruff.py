"""The ruff job run in-process on real checkouts: reports, exit codes, versions, and an untouched checkout."""

import json
import subprocess
from pathlib import Path

import pytest

from python_ci import ruff
from python_ci.job import JobError
from tests.python_ci.conftest import JobEnv, changed_files

# A project whose configuration asks ruff to change files (fix, unsafe fixes, a cache inside the tree).
FIXING = '[tool.ruff]\nfix = true\nunsafe-fixes = true\ncache-dir = "build-cache"\n'
VARIABLES = {"PYCI_RUFF_DEFAULT": "0.17.6", "PYCI_UV_VERSION": "0.13.9", "PYCI_PROJECT_DIR": "."}


def _issues(root: Path) -> list[dict[str, object]]:
    issues: list[dict[str, object]] = json.loads((root / "ci-reports" / "ruff-codequality.json").read_text())
    return issues


def test_findings_are_reported_and_the_checkout_is_left_as_it_was(job_env: JobEnv) -> None:
    root = job_env({"pyproject.toml": FIXING, "app/a.py": "import os\n\nX = 1\n"}, **VARIABLES)
    assert ruff.main([]) == 1
    assert [issue["check_name"] for issue in _issues(root)] == ["F401"]
    location = _issues(root)[0]["location"]
    assert isinstance(location, dict)
    assert location["path"] == "app/a.py"
    assert (root / "app" / "a.py").read_text() == "import os\n\nX = 1\n"
    assert changed_files(root) == []


def test_job_caches_are_not_linted(job_env: JobEnv) -> None:
    root = job_env({"app/a.py": "X = 1\n"}, **VARIABLES)
    (root / ".cache" / "tool").mkdir(parents=True)
    (root / ".cache" / "tool" / "bad.py").write_text("import os\nx=1\n")
    assert ruff.main([]) == 0
    assert _issues(root) == []


def test_only_the_named_paths_are_checked_and_format_checked(job_env: JobEnv) -> None:
    files = {
        "pyproject.toml": '[tool.ruff]\nextend-exclude = ["app/generated.py"]\n',
        "app/ok.py": "X = 1\n",
        "app/generated.py": "import os\nx=1\n",
        "other/bad.py": "import os\nx=1\n",
        "docs/guide.md": "# Guide\n\n```python\nx=1\n```\n",
    }
    root = job_env(files, **VARIABLES, PYCI_PATHS='paths=["app"]')
    assert ruff.main([]) == 0
    assert _issues(root) == []


def test_the_projects_pinned_version_runs_without_flags_it_lacks(
    job_env: JobEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    root = job_env({"requirements-dev.txt": "ruff==0.15.20\n", "a.py": "x=1\n"}, **VARIABLES)
    assert ruff.main([]) == 1
    err = capsys.readouterr().err
    assert "running ruff 0.15.20 (pinned in requirements-dev.txt)" in err
    assert "unexpected argument" not in err
    assert changed_files(root) == []


def test_the_oldest_supported_version_runs(job_env: JobEnv) -> None:
    root = job_env({"a.py": "import os\n"}, **VARIABLES, PYCI_RUFF_VERSION=ruff.OLDEST, PYCI_FORMAT_CHECK="false")
    assert ruff.main([]) == 1
    assert [issue["check_name"] for issue in _issues(root)] == ["F401"]


def test_too_old_a_pin_and_a_missing_path_are_one_line_each(job_env: JobEnv) -> None:
    job_env({"requirements.txt": "ruff==0.4.10\n", "a.py": ""}, **VARIABLES)
    with pytest.raises(JobError, match=r"older than 0\.5\.0.*set the ruff_version input"):
        ruff.main([])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYCI_RUFF_VERSION", "0.17.6")
        patch.setenv("PYCI_PATHS", 'paths=["nope"]')
        with pytest.raises(JobError, match="'nope' is not a file or folder"):
            ruff.main([])


def test_a_ruff_that_cannot_run_fails_with_one_line(job_env: JobEnv) -> None:
    job_env({"a.py": ""}, **VARIABLES, PYCI_CHECK_ARGS='check_args=["--no-such-flag"]')
    with pytest.raises(JobError, match="could not run"):
        ruff.main([])
    assert subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=True).stdout


def test_a_report_that_is_not_an_array_is_one_line(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text("{}")
    with pytest.raises(JobError, match="not a JSON array"):
        ruff.complete_report(report)
    with pytest.raises(JobError, match="no code-quality report"):
        ruff.complete_report(tmp_path / "missing.json")
