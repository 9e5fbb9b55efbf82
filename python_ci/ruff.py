"""The ruff job: `ruff check` as a GitLab code-quality report and in the log, then `ruff format --check`."""

from __future__ import annotations

import os

from python_ci.job import checkout_root, flag, project_dir, reports_dir, run, variable, words
from python_ci.uv import ensure_uv


def main(argv: list[str]) -> int:
    """Lint `project_dir` with `ruff==$PYCI_RUFF_VERSION` (a uv tool environment); 1 when ruff found anything.

    Writes `ci-reports/ruff-codequality.json` (ruff's own `gitlab` output format) whatever the result."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    reports = reports_dir(root)
    uv = ensure_uv(root)
    ruff = [uv, "tool", "run", "--from", f"ruff=={variable('PYCI_RUFF_VERSION')}", "ruff"]
    extra = words(variable("PYCI_CHECK_ARGS", ""))
    exclude = ["--extend-exclude", ".cache"]
    # ruff names files relative to CI_PROJECT_DIR in the report: the checkout's root, where the job started.
    report_env = {**os.environ, "CI_PROJECT_DIR": str(root)}
    run(
        [*ruff, "check", "--exit-zero", "--output-format=gitlab", *exclude, *extra],
        cwd=project,
        env=report_env,
        output=reports / "ruff-codequality.json",
    )
    status = 0
    if run([*ruff, "check", "--output-format=full", *exclude, *extra], cwd=project) != 0:
        status = 1
    if flag("PYCI_FORMAT_CHECK", default=True) and run([*ruff, "format", "--check", "--diff", *exclude], cwd=project):
        status = 1
    return status
