"""The ruff job: `ruff check` as a GitLab code-quality report and in the log, then `ruff format --check`.

A check never changes what it checks: `--no-fix` whatever the project's `fix`/`unsafe-fixes` settings ask,
`--no-cache` so no `.ruff_cache` lands in the checkout, and the job's own caches under `.cache/` are kept out of
ruff's view by a `.gitignore` there (ruff honours it in a git checkout) rather than by `--extend-exclude`, which
`ruff format` only takes since 0.16 and which would replace nothing of the project's own excludes anyway.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import cast

from python_ci.job import (
    JobError,
    array,
    as_dict,
    as_list,
    checkout_root,
    flag,
    ignore_job_caches,
    project_dir,
    project_paths,
    reports_dir,
    run,
    say,
    variable,
)
from python_ci.pins import choose_version
from python_ci.uv import ensure_uv

# `ruff check` became mandatory (bare `ruff PATH` removed) in 0.5.0; every flag the job passes exists since.
OLDEST = "0.5.0"


def complete_report(report: Path) -> int:
    """Give every issue of ruff's `gitlab` report the `check_name` GitLab's code-quality format requires (ruff
    before 0.10 leaves it out; its description starts with `(CODE)`); returns how many issues there are.

    Raises JobError when the report is not a JSON array (ruff failed to write it)."""
    try:
        parsed: object = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise JobError(f"ruff wrote no code-quality report: {error}") from error
    if not isinstance(parsed, list):
        raise JobError("ruff's code-quality report is not a JSON array")
    issues = [as_dict(issue) for issue in as_list(cast("object", parsed))]
    for issue in issues:
        if "check_name" not in issue:
            code = re.match(r"\(([A-Z]+[0-9]*)\)", str(issue.get("description", "")))
            issue["check_name"] = code.group(1) if code else "ruff"
    report.write_text(json.dumps(issues, indent=2), encoding="utf-8")
    return len(issues)


def main(argv: list[str]) -> int:
    """Lint the `paths` of `project_dir` with the ruff version the project pins (or the input's, or ours); 1 when
    ruff found anything. Writes `ci-reports/ruff-codequality.json` (ruff's `gitlab` format) whatever the result."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    reports = reports_dir(root)
    paths = project_paths(project)  # [] lets ruff find the files itself
    try:
        version, why = choose_version(
            "ruff",
            given=variable("PYCI_RUFF_VERSION", ""),
            fallback=variable("PYCI_RUFF_DEFAULT"),
            oldest=OLDEST,
            project=project,
            root=root,
        )
    except ValueError as error:
        raise JobError(str(error)) from error
    say("ruff", f"running ruff {version} ({why}) on {' '.join(paths) or 'the project directory'}")
    uv = ensure_uv(root)
    ignore_job_caches(root)
    ruff = [uv, "tool", "run", "--from", f"ruff=={version}", "ruff"]
    # Named paths still honour the project's own exclude settings.
    scope = [*(["--force-exclude"] if paths else []), "--no-cache"]
    check = [*ruff, "check", "--no-fix", *scope, *array("PYCI_CHECK_ARGS")]
    # ruff names files relative to CI_PROJECT_DIR in the report: the checkout's root, where the job started.
    report_env = {**os.environ, "CI_PROJECT_DIR": str(root)}
    report = reports / "ruff-codequality.json"
    status = run([*check, "--exit-zero", "--output-format=gitlab", *paths], cwd=project, env=report_env, output=report)
    if status != 0:
        raise JobError(f"ruff {version} could not run (exit {status}); see the lines above")
    complete_report(report)
    status = 0
    if run([*check, "--output-format=full", *paths], cwd=project) != 0:
        status = 1
    format_check = [*ruff, "format", "--check", "--diff", *scope, *paths]
    if flag("PYCI_FORMAT_CHECK", default=True) and run(format_check, cwd=project) != 0:
        status = 1
    return status
