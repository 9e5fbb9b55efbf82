"""The mypy job: mypy in the project's `.venv` (made by `python_ci environment`), its JSON output turned into a
GitLab code-quality report."""

from __future__ import annotations

import re
from pathlib import Path

from python_ci.codequality import write_report
from python_ci.environment import activated
from python_ci.job import array, checkout_root, project_dir, reports_dir, run, tool_caches

# mypy's own `files` setting (mypy docs, "The mypy configuration file"): when set, mypy needs no paths.
_FILES_SETTING = re.compile(r"^files *=", re.M)
CONFIG_FILES = ("pyproject.toml", "mypy.ini", ".mypy.ini", "setup.cfg")


def targets(project: Path, args: list[str]) -> list[str]:
    """mypy's arguments: `args`, or `.` when there are none and no configuration file of `project` sets `files`."""
    if args:
        return args
    for name in CONFIG_FILES:
        path = project / name
        if path.is_file() and _FILES_SETTING.search(path.read_text(encoding="utf-8", errors="replace")):
            return []
    return ["."]


def main(argv: list[str]) -> int:
    """Run mypy on `project_dir` with `PYCI_TOOL_ARGS`; mypy's exit status (1 with errors).

    Writes `ci-reports/mypy.out` (mypy's JSON lines) and `ci-reports/mypy-codequality.json` whatever the result."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    reports = reports_dir(root)
    env = {**activated(project / ".venv"), **tool_caches(root)}
    run(["mypy", "--version"], cwd=project, env=env)
    args = targets(project, array("PYCI_TOOL_ARGS"))
    status = run(["mypy", "--output", "json", *args], cwd=project, env=env, output=reports / "mypy.out")
    write_report("mypy", reports / "mypy.out", reports / "mypy-codequality.json", root, project)
    return status
