"""What every job shares: its inputs (the `PYCI_*` variables), one-line messages, running a command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast


class JobError(Exception):
    """The job cannot go on; the message is the one line the job prints before it exits 1."""


def say(tool: str, message: str) -> None:
    """Print `python-ci <tool>: <message>` on stderr (the job log shows both streams)."""
    print(f"python-ci {tool}: {message}", file=sys.stderr, flush=True)


def variable(name: str, default: str | None = None) -> str:
    """The job variable `name` (how the component passes an input); `default` when unset.

    Raises JobError when it is unset and there is no default: the component did not set it."""
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise JobError(f"the job variable {name} is not set (is the template from this catalogue version?)")
        return default
    return value


def flag(name: str, default: bool = False) -> bool:
    """A boolean input passed as `true`/`false` (GitLab's rendering of a boolean input).

    Raises JobError for any other value."""
    value = variable(name, "true" if default else "false")
    if value not in {"true", "false"}:
        raise JobError(f"{name} must be true or false, not {value!r}")
    return value == "true"


def words(value: str) -> list[str]:
    """Split a space-separated input into items, never globbing or evaluating anything: `"a  b"` -> `["a", "b"]`."""
    return value.split()


def as_list(value: object) -> list[object]:
    """`value` when it is a list (from parsed JSON or TOML), else []: typed access to data of unknown shape."""
    return cast("list[object]", value) if isinstance(value, list) else []


def as_dict(value: object) -> dict[str, object]:
    """`value` when it is a table/object (from parsed JSON or TOML), else {}."""
    return cast("dict[str, object]", value) if isinstance(value, dict) else {}


def array(name: str) -> list[str]:
    """An array input passed through the job variable `name`, as `<label>=<array>` (a component writes e.g.
    `PYCI_PATHS: "paths=<the paths input>"`: inside a longer string GitLab renders the array with Ruby's
    `inspect`, gitlab-ci-local as JSON; both read as JSON for plain strings). Each item is one argument, never split
    or evaluated. Unset, empty or `[]`: [].

    Raises JobError when the value holds no array of strings, numbers or booleans."""
    text = variable(name, "")
    start = text.find("[")
    if start < 0:
        if text.partition("=")[2].strip():
            raise JobError(f"{name} is not an array: {text!r}")
        return []
    body = text[start:]
    parsed: object
    try:
        parsed = json.loads(body)
    except ValueError:
        # Ruby's inspect escapes `#{`, `#$`, `#@` and ESC in ways JSON does not.
        try:
            parsed = json.loads(body.replace("\\#", "#").replace("\\e", "\\u001b"))
        except ValueError:
            parsed = None
    items = as_list(parsed)
    if not isinstance(parsed, list) or not all(isinstance(item, str | int | float | bool) for item in items):
        raise JobError(f"{name} is not an array of words: {body!r}")
    return [json.dumps(item) if isinstance(item, bool) else str(item) for item in items]


# CPython 3.N with N >= 11: the versions the components accept (3.9 and 3.10 reached their end of life; the
# job library needs tomllib). Open-ended, so a new CPython needs no catalogue release.
PYTHON_VERSION = re.compile(r"3\.(1[1-9]|[2-9][0-9])")


def check_python_version(value: str) -> str:
    """`value` when it names a Python 3.N (N >= 11) as `python_version` / a `python_versions` item must.

    Raises JobError with the likely cause otherwise: YAML reads an unquoted `3.10` as the number 3.1."""
    if PYTHON_VERSION.fullmatch(value):
        return value
    hint = (
        " (YAML reads an unquoted 3.10 as 3.1, 3.20 as 3.2: quote versions)" if re.fullmatch(r"3\.[1-9]", value) else ""
    )
    raise JobError(f"python version {value!r} is not 3.N with N >= 11{hint}")


def checkout_root() -> Path:
    """The checkout's root: the directory the job's script starts in (never `$CI_PROJECT_DIR`, which
    gitlab-ci-local maps elsewhere for jobs with an image)."""
    return Path(variable("PYCI_ROOT", str(Path.cwd()))).resolve()


def project_dir(root: Path) -> Path:
    """The project directory (`PYCI_PROJECT_DIR`, relative to `root`). Raises JobError when it does not exist."""
    rel = variable("PYCI_PROJECT_DIR", ".")
    path = (root / rel).resolve()
    if not path.is_dir():
        raise JobError(f"project_dir {rel!r} is not a directory of the checkout")
    return path


def reports_dir(root: Path) -> Path:
    """`ci-reports/` at the checkout's root (made if missing): where every report goes."""
    path = root / "ci-reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(
    cmd: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    output: Path | None = None,
) -> int:
    """Run `cmd` (no shell) and return its exit status; its standard output goes to the job log, or into the file
    `output` when given.

    Raises JobError when the program does not exist."""
    try:
        if output is None:
            done = subprocess.run(list(cmd), cwd=cwd, env=None if env is None else dict(env), check=False)
        else:
            with output.open("wb") as stream:
                done = subprocess.run(
                    list(cmd), cwd=cwd, env=None if env is None else dict(env), stdout=stream, check=False
                )
    except FileNotFoundError as error:
        raise JobError(f"{cmd[0]} is not installed in the job's image") from error
    return done.returncode


def capture(cmd: Sequence[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `cmd` (no shell, no stdin) and keep its standard output and error as text, for a message that quotes
    them. Raises JobError when the program does not exist."""
    try:
        return subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError as error:
        raise JobError(f"{cmd[0]} is not installed in the job's image") from error


def ignore_job_caches(root: Path) -> None:
    """Make `<root>/.cache` (the job's caches: uv's downloads, tool environments) invisible to tools that honour
    `.gitignore` files, without touching any file of the project."""
    cache = root / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    ignore = cache / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")


def tool_caches(root: Path) -> dict[str, str]:
    """Environment that sends the caches tools write beside the code (`.mypy_cache`, `__pycache__`, `.coverage`,
    pytest's `.pytest_cache` through `PYCI_PYTEST_CACHE`) to `<root>/.cache/`, so a check leaves the project's
    files as it found them whatever the project's configuration asks."""
    ignore_job_caches(root)
    cache = root / ".cache"
    return {
        "MYPY_CACHE_DIR": str(cache / "mypy"),
        "PYTHONPYCACHEPREFIX": str(cache / "pycache"),
        "COVERAGE_FILE": str(cache / "coverage" / ".coverage"),
        "PYCI_PYTEST_CACHE": str(cache / "pytest"),
    }


def project_paths(project: Path) -> list[str]:
    """The `paths` input's items (`PYCI_PATHS`, relative to `project`): what a checker looks at; [] when unset.

    Raises JobError for an item that is not a file or folder of the project (or looks like an option)."""
    paths = array("PYCI_PATHS")
    for item in paths:
        if item.startswith("-") or not (project / item).exists():
            raise JobError(f"paths item {item!r} is not a file or folder of the project directory")
    return paths
