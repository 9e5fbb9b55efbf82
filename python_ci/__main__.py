"""`python -m python_ci <command> [ARGS...]`: run one job's logic; the command names a module of this package."""

from __future__ import annotations

import importlib
import os
import sys

from python_ci.index import configured
from python_ci.job import JobError, check_python_version, say

# command -> module: every module with a `main(argv) -> int` that a component calls.
COMMANDS = {
    "environment": "python_ci.environment",
    "hadolint": "python_ci.hadolint",
    "mypy": "python_ci.mypy",
    "pyright": "python_ci.pyright",
    "pytest": "python_ci.pytest",
    "ci-lint": "python_ci.ci_lint",
    "sast": "python_ci.bandit",
    "dependency-audit": "python_ci.dependency_audit",
    "ruff": "python_ci.ruff",
    "sbom": "python_ci.sbom",
    "version": "python_ci.version",
    "wheelhouse": "python_ci.wheelhouse",
}
# Commands that install nothing: they run without the package index set-up (and its preflight request).
INSTALLS_NOTHING = frozenset({"version"})


def main(argv: list[str] | None = None) -> int:
    """Run `argv[0]`'s module with the rest of `argv`, inside the job's package index configuration; exit 2 on an
    unknown command, 1 on a JobError."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        say("python_ci", f"usage: python_ci {{{','.join(sorted(COMMANDS))}}} [ARGS...]; got {args[:1]}")
        return 2
    module = importlib.import_module(COMMANDS[args[0]])
    try:
        if os.environ.get("PYTHON_VERSION"):
            # A `parallel:matrix` item GitLab cannot check at pipeline creation: refuse it before anything runs.
            check_python_version(os.environ["PYTHON_VERSION"])
        # The job's package index (python_ci/index.py) for every command that may install something.
        if args[0] in INSTALLS_NOTHING:
            status: int = module.main(args[1:])
        else:
            with configured():
                status = module.main(args[1:])
    except JobError as error:
        say(args[0], str(error))
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
