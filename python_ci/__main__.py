"""`python -m python_ci <command> [ARGS...]`: run one job's logic; the command names a module of this package."""

from __future__ import annotations

import importlib
import os
import sys

from python_ci.job import JobError, check_python_version, say

# command -> module: every module with a `main(argv) -> int` that a component calls.
COMMANDS = {
    "ruff": "python_ci.ruff",
    "version": "python_ci.version",
}


def main(argv: list[str] | None = None) -> int:
    """Run `argv[0]`'s module with the rest of `argv`; exit 2 on an unknown command, 1 on a JobError."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        say("python_ci", f"usage: python_ci {{{','.join(sorted(COMMANDS))}}} [ARGS...]; got {args[:1]}")
        return 2
    module = importlib.import_module(COMMANDS[args[0]])
    try:
        if os.environ.get("PYTHON_VERSION"):
            # A `parallel:matrix` item GitLab cannot check at pipeline creation: refuse it before anything runs.
            check_python_version(os.environ["PYTHON_VERSION"])
        status: int = module.main(args[1:])
    except JobError as error:
        say(args[0], str(error))
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
