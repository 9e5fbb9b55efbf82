"""The sast job: bandit on the project's Python code, as GitLab's SAST report (schema 15.0.x: GitLab docs, "SAST
report format" / "Security report schemas").

bandit rather than ruff's `S` rules (ruff's port of bandit's checks, available to the ruff component through
`check_args`): on the same code bandit also reports its import checks (B403 pickle, B404 subprocess; ruff has them
in preview only) and gives each finding a severity, a confidence and a CWE, which the SAST report's `severity`
and `identifiers` carry and the severity threshold reads. One finding per bandit result; its `id` is stable across
runs (a UUID of file, test and code line) so GitLab tracks it.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
import uuid
from pathlib import Path

from python_ci.job import (
    JobError,
    as_dict,
    as_list,
    checkout_root,
    ignore_job_caches,
    project_dir,
    project_paths,
    reports_dir,
    run,
    say,
    variable,
)
from python_ci.uv import ensure_uv

REPORT = "gl-sast-report.json"
SCHEMA_VERSION = "15.0.7"
SEVERITIES = ("low", "medium", "high")
GITLAB_SEVERITY = {"LOW": "Low", "MEDIUM": "Medium", "HIGH": "High"}
# What bandit never scans under the project: environments, caches, the job's own folders.
EXCLUDED = (".venv", "venv", ".cache", ".git", ".tox", ".nox", "node_modules", "build", "dist")


def targets(project: Path) -> list[str]:
    """The `paths` input's items (relative to `project`), else `.`.

    Raises JobError for an item that is not a file or folder of the project."""
    return project_paths(project) or ["."]


def project_config(project: Path) -> list[str]:
    """bandit's `-c pyproject.toml` when the project configures bandit there (`[tool.bandit]`), else []."""
    pyproject = project / "pyproject.toml"
    if pyproject.is_file() and "bandit" in tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}):
        return ["-c", str(pyproject)]
    return []


def finding(result: dict[str, object], prefix: str) -> dict[str, object]:
    """One bandit result (`test_id`, `test_name`, `issue_text`, `issue_severity`, `issue_cwe`, `filename`,
    `line_range`, `more_info`) -> a SAST report vulnerability; `prefix` makes the file relative to the checkout."""
    path = f"{prefix}{str(result.get('filename', '')).removeprefix('./')}"
    lines = [int(str(line)) for line in as_list(result.get("line_range"))] or [int(str(result.get("line_number", 1)))]
    test = str(result.get("test_id"))
    code = str(result.get("code", "")).strip()
    identifiers = [
        {"type": "bandit_test_id", "name": f"Bandit Test ID {test}", "value": test, "url": str(result.get("more_info"))}
    ]
    cwe = as_dict(result.get("issue_cwe")).get("id")
    if cwe:
        identifiers.append(
            {
                "type": "cwe",
                "name": f"CWE-{cwe}",
                "value": str(cwe),
                "url": str(as_dict(result.get("issue_cwe"))["link"]),
            }
        )
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bandit/{path}/{test}/{code}")),
        "name": f"{test} {result.get('test_name')}",
        "description": str(result.get("issue_text")),
        "severity": GITLAB_SEVERITY.get(str(result.get("issue_severity")), "Unknown"),
        "identifiers": identifiers,
        "location": {"file": path, "start_line": min(lines), "end_line": max(lines)},
    }


def fails(severity: str, threshold: str) -> bool:
    """Whether a finding of GitLab `severity` fails at bandit's `threshold` (low, medium, high); Unknown does."""
    level = severity.lower()
    return level not in SEVERITIES or SEVERITIES.index(level) >= SEVERITIES.index(threshold)


def main(argv: list[str]) -> int:
    """Scan `project_dir` (or its `paths`) with bandit; write `ci-reports/gl-sast-report.json` whatever the result;
    1 when a finding reaches `severity_threshold`.

    Raises JobError when an input is wrong or bandit cannot run."""
    del argv
    started = dt.datetime.now(dt.UTC)
    root = checkout_root()
    project = project_dir(root)
    threshold = variable("PYCI_SEVERITY_THRESHOLD", "medium")
    if threshold not in SEVERITIES:
        raise JobError(f"severity_threshold must be one of {', '.join(SEVERITIES)}, not {threshold!r}")
    paths = targets(project)
    version = variable("PYCI_BANDIT_VERSION")
    scratch = root / ".cache" / "python-ci-sast"
    scratch.mkdir(parents=True, exist_ok=True)
    ignore_job_caches(root)
    raw = scratch / "bandit.json"
    excluded = ",".join(f"*/{name}/*" for name in EXCLUDED)
    cmd = [ensure_uv(root), "tool", "run", "--from", f"bandit=={version}", "bandit", "-r", *project_config(project)]
    cmd += ["-x", excluded, "-f", "json", "-o", str(raw), "-q", "--exit-zero", *paths]
    say("sast", f"bandit {version} on {' '.join(paths)} in {project.relative_to(root).as_posix() or '.'}")
    status = run(cmd, cwd=project)
    try:
        output = as_dict(json.loads(raw.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise JobError(f"bandit wrote no report (exit {status}): {error}") from error
    for problem in (as_dict(item) for item in as_list(output.get("errors"))):
        say("sast", f"bandit could not scan {problem.get('filename')}: {problem.get('reason')}")
    rel = project.relative_to(root).as_posix()
    prefix = "" if rel == "." else f"{rel}/"
    findings = [finding(as_dict(result), prefix) for result in as_list(output.get("results"))]
    stamp = "%Y-%m-%dT%H:%M:%S"
    tool = {"id": "bandit", "name": "Bandit", "version": version, "vendor": {"name": "PyCQA"}}
    scan = {
        "analyzer": {"id": "python-ci-sast", "name": "python-ci sast", "version": "1", "vendor": {"name": "python-ci"}},
        "scanner": tool,
        "type": "sast",
        "start_time": started.strftime(stamp),
        "end_time": dt.datetime.now(dt.UTC).strftime(stamp),
        "status": "success",
    }
    report = {"version": SCHEMA_VERSION, "scan": scan, "vulnerabilities": findings}
    (reports_dir(root) / REPORT).write_text(json.dumps(report, indent=2), encoding="utf-8")
    failing = [f for f in findings if fails(str(f["severity"]), threshold)]
    for item in findings:
        where = as_dict(item["location"])
        say("sast", f"{item['severity']}: {where['file']}:{where['start_line']} {item['name']}: {item['description']}")
    say("sast", f"{len(findings)} finding(s), {len(failing)} at or above {threshold}")
    return 1 if failing else 0
