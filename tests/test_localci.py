"""Parsing gitlab-ci-local's output and copying a working tree."""

from pathlib import Path

from scripts.benchmark_pipeline import job_phases, report
from scripts.localci import copy_worktree, git, parse_coverage, parse_durations, parse_statuses, slug
from scripts.pipeline import JobResult, PipelineResult

SUMMARY = """\
ruff finished in 32 s
[03:51:55  1.41 s] version finished in 1.41 s
pytest: [3.11] finished in 1.92 min
lint > echo "x finished in 5 s"
validate finished in 350 ms  FAIL 1

 PASS  version
 PASS  pytest: [3.11] 92.5% coverage
 WARN  lint
 FAIL  validate
  > templates/x.yml: spec: problem
"""


def test_statuses_durations_and_coverage() -> None:
    assert parse_statuses(SUMMARY) == {
        "version": "PASS",
        "pytest: [3.11]": "PASS",
        "lint": "WARN",
        "validate": "FAIL",
    }
    durations = parse_durations(SUMMARY)
    assert durations["ruff"] == 32
    assert durations["version"] == 1.41
    assert abs(durations["pytest: [3.11]"] - 115.2) < 1e-6
    assert abs(durations["validate"] - 0.35) < 1e-9
    assert 'lint > echo "x' not in durations
    assert parse_coverage(SUMMARY) == {"pytest: [3.11]": 92.5}
    assert slug("pytest: [3.11]") == "pytest-3.11"


def test_copy_worktree_takes_tracked_and_untracked_but_not_ignored(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / ".gitignore").write_text("ignored/\n*.log\n")
    (src / "tracked.txt").write_text("t")
    git(src, "init", "-q", "-b", "main")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "x")
    (src / "new.txt").write_text("n")
    (src / "ignored").mkdir()
    (src / "ignored" / "a.txt").write_text("i")
    (src / "run.log").write_text("l")
    (src / "tracked.txt").unlink()  # deleted but not committed: not copied
    dest = tmp_path / "dest"
    assert copy_worktree(src, dest) == 2
    assert sorted(p.name for p in dest.rglob("*") if p.is_file()) == [".gitignore", "new.txt"]


def test_job_phases_split_install_from_tool(tmp_path: Path) -> None:
    timeline = [
        (1.0, "mypy starting shell (test)"),
        (1.5, "mypy $ # collapsed multi-line command"),
        (2.0, "mypy > python-ci environment: requirements -> uv pip install -r requirements.txt"),
        (4.0, "mypy > Installed 44 packages in 1.2s"),
        (4.1, "mypy >  + fastapi==0.165.0"),
        (5.0, "mypy > mypy 2.4.1 (compiled: yes)"),
        (5.5, "mypy >  + not an install: after the tool started"),
        (6.0, "mypy > Success: no issues found"),
        (7.1, "mypy finished in 6.1 s"),
        (7.9, "mypy cache created in '.gitlab-ci-local/cache/0_python-ci-venv-mypy' in 800 ms"),
        (8.0, "mypy exported artifacts in 100 ms"),
        (1.0, "version starting shell (build)"),
        (1.2, "version $ mkdir -p ci-reports"),
        (2.0, "version finished in 1 s"),
        (1.0, "ruff starting shell (test)"),
        (3.0, "ruff > Installed 1 package in 1.57s"),
        (3.5, "ruff > All checks passed!"),
        (3.6, "ruff finished in 2.6 s"),
    ]
    jobs = [JobResult("mypy", "PASS", 6.1), JobResult("version", "PASS", 1.0), JobResult("ruff", "PASS", 2.6)]
    result = PipelineResult(0, jobs, "", 8.0, tmp_path, timeline)
    phases = job_phases(result)
    # Up to `mypy --version` (the quiet tool install included), plus saving the cache and artifacts after the script.
    assert abs(phases["mypy"].overhead - (4.0 + 0.9)) < 1e-9
    assert abs(phases["mypy"].tool - 2.1) < 1e-9
    assert abs(phases["mypy"].total - 7.0) < 1e-9
    assert abs(phases["version"].overhead - 0.2) < 1e-9  # no installer: the engine's set-up only
    assert abs(phases["ruff"].overhead - 2.0) < 1e-9  # no version line: up to the last installer line


def test_benchmark_baseline_pipeline_is_valid(tmp_path: Path) -> None:
    from scripts.benchmark_pipeline import BASELINE  # noqa: PLC0415
    from scripts.validate import validate_path  # noqa: PLC0415

    pipeline = tmp_path / ".gitlab-ci.yml"
    pipeline.write_text(BASELINE)
    assert validate_path(pipeline) == []


def _result(tmp_path: Path, job: str, install_s: float, tool_s: float) -> PipelineResult:
    timeline = [
        (0.0, f"{job} starting shell (test)"),
        (install_s, f"{job} > mypy 2.4.1 (compiled: yes)"),
        (install_s + tool_s, f"{job} finished in {install_s + tool_s} s"),
    ]
    return PipelineResult(0, [JobResult(job, "PASS", install_s + tool_s)], "", install_s + tool_s, tmp_path, timeline)


def test_benchmark_report_prints_the_rows_and_checks_both_targets(tmp_path: Path) -> None:
    cold, pip = _result(tmp_path, "mypy", 20.0, 10.0), _result(tmp_path, "mypy", 40.0, 10.0)
    warm = [_result(tmp_path, "mypy", 2.0, 10.0), _result(tmp_path, "mypy", 5.0, 10.0)]  # the faster one counts
    together = [("warm caches", _result(tmp_path, "mypy", 6.0, 10.0))]
    text = report(cold, [("warm", warm)], pip, together, concurrency=1)
    assert "| warm #1 | each job alone | 12.0 | 1 | none | 17% |" in text
    assert "| warm caches | all at once | 16.0 | 1 | none | 38% |" in text
    assert "| mypy | 30.0 | 20.0 | 12.0 | 2.0 | 10.0 | 17% | 40.0 | 20.0x |" in text
    assert "- warm overhead / job time, all jobs: 17% (target <= 25%): met" in text
    assert "pip baseline / warm: 40.0 s / 2.0 s = 20.0x (target >= 10x): met" in text
