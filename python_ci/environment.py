"""The project's own environment for mypy, pyright and pytest: `<project_dir>/.venv`, made or reused.

What it is made from, in this order: `uv.lock` (`uv sync --locked`), `poetry.lock` (`poetry install`, poetry run by
`uv tool run`), requirements files (`uv pip install -r`, with `--require-hashes` when hashed), `pyproject.toml`
(`uv pip install -e .` for a package, `-r pyproject.toml` otherwise, plus the `dev` dependency group of PEP 735).
Then the job's tool (`PYCI_TOOL_PACKAGE==PYCI_TOOL_VERSION`) is added. The `.venv` is relocatable and stamped
with a hash of what made it: when the consumer caches it (the components' `cache` input; nothing by default), a
restored `.venv` with the same stamp whose Python still runs is reused as it is; anything else starts afresh.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_ci.job import (
    JobError,
    array,
    check_python_version,
    checkout_root,
    flag,
    project_dir,
    run,
    say,
    tool_caches,
    variable,
    words,
)
from python_ci.pins import choose_version, normalize
from python_ci.uv import ensure_uv

STAMP = ".python-ci-stamp"
# The requirements files looked for when the `requirements` input is empty, in this order.
REQUIREMENTS = (
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-test.txt",
    "requirements/dev.txt",
    "requirements/test.txt",
)
# A group's or an extra's name (PEP 735 and PEP 685 normalise them like package names, PEP 503).
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class Source:
    """What the environment is made from: `kind` is `uv.lock`, `poetry.lock`, `requirements`, `pyproject` or
    `none`; `files` are the files read (relative to the project), in the order given."""

    kind: str
    files: tuple[str, ...]
    member: str = ""  # a uv workspace member's project name, when the uv.lock is the workspace's, at an ancestor


@dataclass(frozen=True)
class Selection:
    """Which optional dependencies go in, as uv and PEP 735 name them: dependency `groups`, `extras` (the
    project's optional dependencies, PEP 621), or all of either."""

    groups: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    all_groups: bool = False
    all_extras: bool = False

    def __bool__(self) -> bool:
        return bool(self.groups or self.extras or self.all_groups or self.all_extras)

    def __str__(self) -> str:
        parts = [*(f"group {g}" for g in self.groups), *(f"extra {e}" for e in self.extras)]
        parts += ["all groups"] * self.all_groups + ["all extras"] * self.all_extras
        return ", ".join(parts)


def detect(project: Path, requirements: list[str], root: Path | None = None) -> Source:
    """The installer's input in `project`: a lock file, else the `uv.lock` of a uv workspace at an ancestor (up to
    `root`, the checkout) that has `project` as a member, else `requirements` (or the existing default files when
    empty), else `pyproject.toml`. Raises JobError when a named requirements file does not exist."""
    for lock in ("uv.lock", "poetry.lock"):
        if (project / lock).is_file():
            return Source(lock, (lock,))
    workspace = _workspace_lock(project, root or project)
    if workspace is not None:
        return workspace
    if requirements:
        missing = [name for name in requirements if not (project / name).is_file()]
        if missing:
            raise JobError(f"requirements file(s) not found in the project: {' '.join(missing)}")
        return Source("requirements", tuple(requirements))
    found = tuple(name for name in REQUIREMENTS if (project / name).is_file())
    if found:
        return Source("requirements", found)
    if (project / "pyproject.toml").is_file():
        return Source("pyproject", ("pyproject.toml",))
    return Source("none", ())


def _workspace_lock(project: Path, root: Path) -> Source | None:
    """The `uv.lock` of the nearest ancestor of `project` (not above `root`) whose pyproject.toml declares a
    `[tool.uv.workspace]` (uv docs, "Workspaces"), with `project`'s name as the member to sync; None when there
    is none or `project` has no pyproject.toml naming it."""
    if not (project / "pyproject.toml").is_file():
        return None
    name = str(_pyproject(project).get("project", {}).get("name", ""))
    project, root = project.resolve(), root.resolve()
    for parent in project.parents:
        if not parent.is_relative_to(root):
            break
        locked = name and (parent / "uv.lock").is_file() and (parent / "pyproject.toml").is_file()
        if locked and "workspace" in _pyproject(parent).get("tool", {}).get("uv", {}):
            return Source("uv.lock", (os.path.relpath(parent / "uv.lock", project),), member=name)
    return None


def workspace_cache_hint(source: Source, root: Path, project: Path) -> str:
    """One line for a uv workspace member's job whose `.venv` came from a cache: the lock it installs, and the
    `cache` input that keys that cache on it. A key's `files` must be files of the repository (GitLab's
    `cache:key:files`, at most two, no variables), and a member has no lock of its own: a key naming
    `<member>/uv.lock` falls back to `<prefix>-default` and never follows the workspace's lock."""
    lock = Path(os.path.relpath(project / source.files[0], root)).as_posix()
    venv = Path(os.path.relpath(project / ".venv", root)).as_posix()
    cache = f"[{{key: {{files: [{lock}], prefix: $CI_JOB_NAME_SLUG}}, paths: [{venv}], when: always}}]"
    return (
        f"workspace member {source.member}: installing the workspace's {lock}; to key this job's cached .venv on "
        f"it, set the component's input `cache: {cache}`"
    )


def stamp(source: Source, project: Path, settings: str) -> str:
    """The SHA-256 (hex) of `settings` (Python version, left-out packages, tool), the source's kind and its files'
    bytes; for poetry also the project's path, since poetry writes absolute paths into the environment."""
    digest = hashlib.sha256(f"{settings}|{source.kind}|{' '.join(source.files)}\n".encode())
    if source.kind == "poetry.lock":
        digest.update(f"{project}\n".encode())
    for name in source.files:
        digest.update((project / name).read_bytes())
    return digest.hexdigest()


def reusable(venv: Path, expected: str) -> bool:
    """Whether the `.venv` at `venv` carries the stamp `expected` and its Python still starts."""
    try:
        if (venv / STAMP).read_text(encoding="utf-8").strip() != expected:
            return False
    except OSError:
        return False
    try:
        return subprocess.run([str(venv / "bin" / "python"), "-c", ""], check=False).returncode == 0
    except OSError:
        return False


def activated(venv: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's environment) with `venv` active: `VIRTUAL_ENV` set, its `bin` first on PATH."""
    base = dict(os.environ if env is None else env)
    base.pop("PYTHONHOME", None)
    return {**base, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{base.get('PATH', '')}"}


def _pyproject(project: Path) -> dict[str, Any]:
    try:
        with (project / "pyproject.toml").open("rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise JobError(f"{project.name}/pyproject.toml is not valid TOML: {error}") from error


def install_commands(
    source: Source,
    project: Path,
    uv: str,
    exclude: list[str],
    excludes_file: Path | None,
    *,
    selection: Selection = Selection(),
) -> list[list[str]]:
    """The commands (argument lists, run in `project` with the `.venv` active) that install `source` into a
    fresh or reused `.venv`, with the optional dependencies `selection` names, leaving out the packages `exclude`
    (uv pip reads them from `excludes_file`). poetry has no way to leave packages out: `exclude` does not apply.

    Raises JobError when `selection` asks for groups or extras from requirements files (they have none: name the
    files in the `requirements` input instead)."""
    if source.kind == "uv.lock":
        # --inexact keeps this job's tool (installed afterwards) instead of removing and reinstalling it every run.
        skip = [arg for name in exclude for arg in ("--no-install-package", name)]
        member = ["--package", source.member] if source.member else []
        return [[uv, "sync", "--locked", "--inexact", *member, *_uv_selection(selection), *skip]]
    if source.kind == "poetry.lock":
        poetry = [uv, "tool", "run", "--from", f"poetry=={variable('PYCI_POETRY_VERSION')}", "poetry"]
        chosen = [arg for group in selection.groups for arg in ("--with", group)]
        chosen += ["--all-groups"] * selection.all_groups
        chosen += (
            ["--all-extras"] if selection.all_extras else [arg for e in selection.extras for arg in ("--extras", e)]
        )
        return [[*poetry, "install", "--no-interaction", *chosen]]
    left_out = ["--excludes", str(excludes_file)] if excludes_file is not None else []
    if source.kind == "pyproject":
        data = _pyproject(project)
        declared = data.get("dependency-groups", {})
        groups = list(declared) if selection.all_groups else ["dev"] * ("dev" in declared) + list(selection.groups)
        extras = list(data.get("project", {}).get("optional-dependencies", {})) if selection.all_extras else []
        extras = list(dict.fromkeys([*selection.extras, *extras]))
        if "build-system" in data:
            # An editable install of the package: extras are part of the requirement, `.[a,b]`.
            target = ["-e", f".[{','.join(extras)}]" if extras else "."]
        else:
            target = ["-r", "pyproject.toml", *(arg for e in extras for arg in ("--extra", e))]
        chosen = [arg for group in dict.fromkeys(groups) for arg in ("--group", group)]
        return [[uv, "pip", "install", *target, *chosen, *left_out]]
    if source.kind == "requirements":
        if selection:
            raise JobError(
                f"{selection}: requirements files have no dependency groups or extras; "
                "list the files to install in the `requirements` input instead"
            )
        hashed = any("--hash=" in (project / name).read_text(encoding="utf-8") for name in source.files)
        files = [arg for name in source.files for arg in ("-r", name)]
        return [[uv, "pip", "install", *(["--require-hashes"] if hashed else []), *files, *left_out]]
    return []


def _uv_selection(selection: Selection) -> list[str]:
    chosen = [arg for group in selection.groups for arg in ("--group", group)]
    chosen += [arg for extra in selection.extras for arg in ("--extra", extra)]
    return chosen + ["--all-groups"] * selection.all_groups + ["--all-extras"] * selection.all_extras


def describe(source: Source, command: list[str]) -> str:
    """The log line naming the source and the installer's arguments: `uv.lock -> uv sync --locked ...`."""
    name = "requirements" if source.kind == "requirements" else source.files[0]
    if "poetry" in command:
        # poetry runs from `uv tool run --from poetry==X poetry ...`: the log names it `poetry X ...`.
        version = command[command.index("--from") + 1].removeprefix("poetry==")
        shown = ["poetry", version, *command[command.index("poetry") + 1 :]]
    else:
        shown = ["uv", *command[1:]]
    return f"{name} -> {' '.join(shown)}"


def selection() -> Selection:
    """The optional dependencies the job's inputs ask for: `PYCI_GROUPS`, `PYCI_EXTRAS` (array inputs),
    `PYCI_ALL_GROUPS`, `PYCI_ALL_EXTRAS` (booleans). Raises JobError for a name that is not a valid group or extra
    name (letters, digits, `.`, `_`, `-`)."""
    groups, extras = array("PYCI_GROUPS"), array("PYCI_EXTRAS")
    bad = [name for name in [*groups, *extras] if not _NAME.fullmatch(name)]
    if bad:
        raise JobError(f"not a dependency group or extra name: {', '.join(map(repr, bad))}")
    return Selection(
        tuple(dict.fromkeys(groups)),
        tuple(dict.fromkeys(extras)),
        flag("PYCI_ALL_GROUPS"),
        flag("PYCI_ALL_EXTRAS"),
    )


def prepare(root: Path, project: Path) -> Path:
    """Make or reuse `project/.venv` for this job (inputs from the PYCI_* variables) and return its path.

    The job's Python (`PYTHON_VERSION`) is the only one used: uv is pinned to it and never downloads one, whatever
    a `.python-version` file or `requires-python` asks for.
    Raises JobError on a bad input or when an installer fails."""
    python = check_python_version(variable("PYTHON_VERSION"))
    os.environ["UV_PYTHON"] = python
    os.environ["UV_PYTHON_DOWNLOADS"] = "never"
    # A workspace member's environment is its own `.venv`, not the workspace root's (uv's default).
    os.environ["UV_PROJECT_ENVIRONMENT"] = str(project / ".venv")
    os.environ.setdefault("POETRY_CACHE_DIR", str(root / ".cache" / "poetry"))
    os.environ["POETRY_VIRTUALENVS_IN_PROJECT"] = "true"
    uv = ensure_uv(root)
    package, version = variable("PYCI_TOOL_PACKAGE", ""), variable("PYCI_TOOL_VERSION", "")
    default = variable("PYCI_TOOL_DEFAULT", "")
    if default:
        # A type checker runs the version the project pins (python_ci/pins.py), unless the input names one.
        tool = variable("PYCI_TOOL")
        try:
            version, why = choose_version(
                tool, given=version, fallback=default, oldest=variable("PYCI_TOOL_OLDEST"), project=project, root=root
            )
        except ValueError as error:
            raise JobError(str(error)) from error
        say("environment", f"{tool} {version} ({why})")
    exclude = words(variable("PYCI_EXCLUDE", ""))
    source = detect(project, words(variable("PYCI_REQUIREMENTS", "")), root)
    chosen = selection()
    venv = project / ".venv"
    if source.member and venv.is_dir():
        # A checkout has no .venv: this one came from the job's cache, so say how to key that cache on the lock.
        say("environment", workspace_cache_hint(source, root, project))
    expected = stamp(source, project, f"{python}|{' '.join(exclude)}|{package}=={version}|{chosen!r}")
    fresh = not reusable(venv, expected)
    if fresh:
        if venv.is_symlink() or venv.is_file():
            venv.unlink()
        elif venv.exists():
            shutil.rmtree(venv)
        _check(run([uv, "venv", "--quiet", "--relocatable", str(venv)], cwd=project), "uv venv")
    else:
        say("environment", f"reusing the cached .venv (made from {' '.join(source.files)} with the same settings)")
    env = activated(venv)
    excludes_file: Path | None = None
    if exclude:
        say("environment", f"leaving out {' '.join(exclude)}")
        excludes_file = Path(tempfile.mkdtemp(prefix="python-ci-")) / "excludes.txt"
        excludes_file.write_text("".join(f"{name}\n" for name in exclude), encoding="utf-8")
    install(project, uv, env, source, Plan(exclude, excludes_file, chosen, fresh))
    if version:
        _check(run([uv, "pip", "install", "--quiet", f"{package}=={version}"], cwd=project, env=env), package)
    if fresh:
        # Written only when new: an unchanged .venv lets the runner skip uploading the cache again.
        (venv / STAMP).write_text(f"{expected}\n", encoding="utf-8")
    return venv


@dataclass(frozen=True)
class Plan:
    """What to install: leave out `exclude` (uv pip reads them from `excludes_file`), add `selection`; `fresh`
    when the `.venv` was just made."""

    exclude: list[str]
    excludes_file: Path | None
    selection: Selection
    fresh: bool


def install(project: Path, uv: str, env: Mapping[str, str], source: Source, plan: Plan) -> None:
    """Install the project's dependencies from `source` into the active `.venv` (`env`) as `plan` says; an excluded
    package that an installed one requires is kept (see `required_exclusions`). Raises JobError when an installer
    fails."""
    exclude = plan.exclude
    commands = install_commands(source, project, uv, exclude, plan.excludes_file, selection=plan.selection)
    if exclude and commands and source.kind != "poetry.lock":
        kept = required_exclusions(project, uv, env, source=source, commands=commands, exclude=exclude)
        exclude = [name for name in exclude if normalize(name) not in kept]
        if plan.excludes_file is not None:
            plan.excludes_file.write_text("".join(f"{name}\n" for name in exclude), encoding="utf-8")
        # Installed already; again only to add what must be kept.
        commands = (
            install_commands(source, project, uv, exclude, plan.excludes_file, selection=plan.selection) if kept else []
        )
    if source.kind == "poetry.lock" and not plan.fresh:
        commands = []  # poetry re-resolves on every install: a reused environment is already complete
    if not commands and source.kind == "none":
        say("environment", "no uv.lock, poetry.lock, requirements file or pyproject.toml: nothing to install")
    for command in commands:
        say("environment", describe(source, command))
        _check(run(command, cwd=project, env=env), describe(source, command))


_MISSING = re.compile(r"The package `(?P<by>[^`]+)` requires `(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")


def missing_requirements(check_output: str) -> dict[str, str]:
    """{normalised name: the package that requires it} from `uv pip check`'s report of packages that are required
    but not installed (`The package `a` requires `b>=1`, but it's not installed`)."""
    return {normalize(m["name"]): m["by"] for m in _MISSING.finditer(check_output)}


def required_exclusions(
    project: Path, uv: str, env: Mapping[str, str], *, source: Source, commands: list[list[str]], exclude: list[str]
) -> set[str]:
    """Install with `commands` (which leave `exclude` out), then the excluded packages that an installed package
    requires (e.g. pytest-examples requires ruff): leaving those out would break the package that needs them, so
    the caller installs again keeping them. Returns their normalised names (empty when nothing is needed).

    Raises JobError when an install command fails."""
    for command in commands:
        say("environment", describe(source, command))
        _check(run(command, cwd=project, env=env), describe(source, command))
    done = subprocess.run(
        [uv, "pip", "check", "--python", env.get("VIRTUAL_ENV", ".venv") + "/bin/python"],
        cwd=project,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    missing = missing_requirements(done.stdout + done.stderr)
    needed = {name: by for name, by in missing.items() if name in {normalize(e) for e in exclude}}
    for name, by in sorted(needed.items()):
        say("environment", f"keeping {name}: {by} requires it")
    return set(needed)


def _check(status: int, what: str) -> None:
    if status != 0:
        raise JobError(f"{what} failed (exit {status})")


def run_setup(project: Path, venv: Path, commands: list[str]) -> None:
    """Run the user's set-up `commands` (e.g. `alembic upgrade head`) in `project` with `venv` active, in order,
    before the tool. Each is split like a POSIX shell's words (`shlex`: quotes group, nothing is expanded) and run
    without a shell: `;`, `|`, `$(...)` are plain characters. Raises JobError when one fails."""
    env = {**activated(venv), **tool_caches(checkout_root())}
    for command in commands:
        try:
            argv = shlex.split(command)
        except ValueError as error:
            raise JobError(f"set-up command {command!r}: {error}") from None
        if not argv:
            continue
        say("environment", f"set-up: {shlex.join(argv)}")
        _check(run(argv, cwd=project, env=env), f"set-up command {command!r}")


def main(argv: list[str]) -> int:
    """`python_ci environment`: make or reuse the project's `.venv` (see the module's docstring), then run the
    set-up commands (`PYCI_SETUP_COMMANDS`, an array input); 0 when ready."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    venv = prepare(root, project)
    run_setup(project, venv, array("PYCI_SETUP_COMMANDS"))
    return 0
