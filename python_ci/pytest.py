"""The pytest job: pytest with coverage (pytest-cov) in the project's `.venv`, writing JUnit and Cobertura reports."""

from __future__ import annotations

import subprocess
from pathlib import Path

from python_ci.cobertura import rewrite
from python_ci.environment import activated
from python_ci.job import (
    JobError,
    array,
    checkout_root,
    project_dir,
    reports_dir,
    run,
    say,
    tool_caches,
    variable,
    words,
)


def coverage_args(sources: list[str], threshold: str, reports: Path) -> list[str]:
    """pytest-cov's arguments: `--cov` per source (bare `--cov` uses the coverage configuration), the terminal and
    Cobertura XML reports, and `--cov-fail-under` unless `threshold` is empty or zero.

    Raises JobError when `threshold` is not a number."""
    try:
        gate = float(threshold or 0)
    except ValueError as error:
        raise JobError(f"coverage_threshold must be a number, not {threshold!r}") from error
    args = [f"--cov={source}" for source in sources] or ["--cov"]
    args += ["--cov-report=term", f"--cov-report=xml:{reports / 'coverage.xml'}"]
    if gate:
        args.append(f"--cov-fail-under={threshold}")
    return args


def main(argv: list[str]) -> int:
    """Run pytest in `project_dir` with `PYCI_PYTEST_ARGS`; pytest's exit status.

    Writes `ci-reports/junit.xml` and `ci-reports/coverage.xml` (Cobertura, its paths made placeable by GitLab:
    python_ci/cobertura.py)."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    reports = reports_dir(root)
    caches = tool_caches(root)
    Path(caches["COVERAGE_FILE"]).parent.mkdir(parents=True, exist_ok=True)
    env = {**activated(project / ".venv"), **caches}
    version = subprocess.run(["python", "--version"], env=env, capture_output=True, text=True, check=False)
    # The benchmark and the tests look for this line: the tool's own output starts after it.
    say("pytest", f"pytest on {version.stdout.strip() or version.stderr.strip()}")
    args = coverage_args(words(variable("PYCI_COVERAGE_SOURCE", "")), variable("PYCI_COVERAGE_THRESHOLD", "0"), reports)
    junit = f"--junitxml={reports / 'junit.xml'}"
    cache = f"cache_dir={caches['PYCI_PYTEST_CACHE']}"
    status = run(
        ["python", "-m", "pytest", "-o", cache, *args, junit, *array("PYCI_PYTEST_ARGS")], cwd=project, env=env
    )
    coverage = reports / "coverage.xml"
    if coverage.is_file():
        placed = rewrite(coverage, root, project)
        say("pytest", f"coverage.xml: {placed} file(s) named from the repository's root for GitLab")
    return status
