"""Where a wheelhouse's pins come from: a uv.lock (the project's own or its uv workspace's), a poetry.lock, or a
pinned requirements file, exported to one pinned requirements file with the lock's hashes."""

from __future__ import annotations

import shutil
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from python_ci.job import JobError, capture, say, variable
from python_ci.pinned_requirements import logical_lines

LOCK_KINDS = ("auto", "uv", "poetry", "requirements")
EDITABLE = ("-e ", "--editable ")


@dataclass
class Uv:
    """uv from PATH, else `uv==$PYCI_UV_VERSION` installed into a throw-away folder under `scratch` on first use
    (plain python images have no uv; the image's own site-packages stay untouched)."""

    scratch: Path
    _path: str | None = field(default=None, init=False)

    def path(self) -> str:
        """The uv executable. Raises JobError when pip cannot install it."""
        if self._path is None:
            self._path = shutil.which("uv") or self._install()
        return self._path

    def _install(self) -> str:
        version = variable("PYCI_UV_VERSION")
        target = self.scratch / "uv"
        say("wheelhouse", f"uv not on PATH, installing uv=={version}")
        # --target: a folder of its own, no venv to make; uv's wheel holds the executable, which lands in bin/.
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--root-user-action=ignore",
            "--target",
            str(target),
        ]
        done = capture([*cmd, f"uv=={version}"])
        if done.returncode != 0:
            raise JobError(f"installing uv failed:\n{done.stdout}{done.stderr}")
        return str(target / "bin" / "uv")


def job_python_options() -> list[str]:
    """uv options that make the job's own interpreter the one uv uses, whatever `.python-version` or
    `requires-python` ask for, and forbid downloading another (uv docs: "Python discovery")."""
    return ["--python", sys.executable, "--no-python-downloads"]


@dataclass(frozen=True)
class Lock:
    """The lock in use: `kind` is uv, poetry or requirements; `path` the file; `package` the workspace member to
    export (None unless the uv.lock belongs to a workspace above the project)."""

    kind: str
    path: Path
    package: str | None = None

    def describe(self, root: Path) -> str:
        """How the manifest and the log name it: `uv.lock`, `poetry.lock`, `uv.lock (workspace member svc)`,
        `requirements (requirements.txt)`."""
        if self.kind == "requirements":
            return f"requirements ({self.path.name})"
        if self.package is not None:
            return f"uv.lock (workspace {self.path.parent.relative_to(root).as_posix()}, member {self.package})"
        return self.path.name


def project_name(project: Path) -> str:
    """`[project].name` of `project`'s pyproject.toml. Raises JobError when there is none."""
    pyproject = project / "pyproject.toml"
    name = tomllib.loads(pyproject.read_text()).get("project", {}).get("name") if pyproject.is_file() else None
    if not isinstance(name, str):
        raise JobError(f"{project} has no pyproject.toml with a [project] name, so it cannot be a workspace member")
    return name


def workspace_lock(project: Path, root: Path) -> Lock | None:
    """The uv.lock of the uv workspace `project` belongs to: the nearest folder above it, up to the checkout's
    `root`, with a uv.lock and a pyproject.toml declaring `[tool.uv.workspace]` (uv docs: "Workspaces")."""
    for folder in project.parents:
        if not folder.is_relative_to(root):
            return None
        pyproject = folder / "pyproject.toml"
        if (folder / "uv.lock").is_file() and pyproject.is_file():
            workspace = tomllib.loads(pyproject.read_text()).get("tool", {}).get("uv", {}).get("workspace")
            if workspace is not None:
                return Lock("uv", folder / "uv.lock", package=project_name(project))
    return None


def find_lock(project: Path, root: Path, choice: str, requirements: str) -> Lock:
    """The lock `choice` (one of LOCK_KINDS) names for `project`; auto tries, in order, the project's uv.lock, its
    poetry.lock, its uv workspace's uv.lock, then the requirements file `requirements`.

    Raises JobError when the chosen lock does not exist."""
    if choice not in LOCK_KINDS:
        raise JobError(f"lock must be one of {', '.join(LOCK_KINDS)}, not {choice!r}")
    if choice in {"auto", "uv", "poetry"}:
        for kind in ("uv", "poetry") if choice == "auto" else (choice,):
            if (project / f"{kind}.lock").is_file():
                return Lock(kind, project / f"{kind}.lock")
        if choice in {"auto", "uv"} and (member := workspace_lock(project, root)) is not None:
            return member
        if choice != "auto":
            raise JobError(f"lock is {choice} but {project}/{choice}.lock is missing")
    source = project / requirements
    if not source.is_file():
        raise JobError(f"no {requirements} in {project}, and neither uv.lock nor poetry.lock")
    return Lock("requirements", source)


@dataclass(frozen=True)
class Selection:
    """Which optional dependencies go in besides the main ones: extras (PEP 621 optional-dependencies) and
    dependency groups (PEP 735, or poetry's groups) by name, or all of either. Default groups stay out unless named."""

    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    all_extras: bool = False
    all_groups: bool = False

    def __bool__(self) -> bool:
        return bool(self.extras or self.groups or self.all_extras or self.all_groups)


def uv_export_command(uv: str, lock: Lock, out: Path, selection: Selection) -> list[str]:
    """`uv export` of the lock's main dependencies plus `selection` (no default groups, so dev tools stay out),
    refusing a stale lock (`--locked`), with the job's Python."""
    cmd = [uv, "export", "--format", "requirements-txt", "--locked", "--no-emit-project", "--no-default-groups"]
    cmd += ["--no-header", "--output-file", str(out), *job_python_options()]
    if lock.package is not None:
        cmd += ["--package", lock.package]
    cmd += ["--all-extras"] if selection.all_extras else [a for extra in selection.extras for a in ("--extra", extra)]
    cmd += ["--all-groups"] if selection.all_groups else [a for group in selection.groups for a in ("--group", group)]
    return cmd


def poetry_export_command(uv: str, out: Path, selection: Selection) -> list[str]:
    """poetry's own export (with poetry-plugin-export, run by uv in a throw-away tool environment on the job's
    Python): it applies the lock's groups, extras and markers exactly as `poetry install` would, keeps every file
    hash, and refuses a stale lock. Versions come from `PYCI_POETRY_VERSION` and
    `PYCI_POETRY_PLUGIN_EXPORT_VERSION`."""
    poetry = variable("PYCI_POETRY_VERSION")
    plugin = variable("PYCI_POETRY_PLUGIN_EXPORT_VERSION")
    cmd = [uv, "tool", "run", *job_python_options(), "--from", f"poetry=={poetry}"]
    cmd += ["--with", f"poetry-plugin-export=={plugin}"]
    cmd += ["poetry", "export", "--no-interaction", "--format", "requirements.txt", "--output", str(out)]
    cmd += ["--all-extras"] if selection.all_extras else [a for extra in selection.extras for a in ("--extras", extra)]
    cmd += ["--all-groups"] if selection.all_groups else [a for group in selection.groups for a in ("--with", group)]
    return cmd


def split_members(text: str, workspace: Path, root: Path) -> tuple[str, list[Path]]:
    """The export without its editable `-e ./path` lines (uv writes one per workspace member the project depends
    on, relative to the workspace root), and those members' folders.

    Raises JobError for an editable path outside the checkout or without a pyproject.toml."""
    kept: list[str] = []
    members: list[Path] = []
    for line in logical_lines(text):
        if not line.startswith(EDITABLE):
            kept.append(" ".join(line.split()))
            continue
        member = (workspace / line.split(maxsplit=1)[1]).resolve()
        if not member.is_relative_to(root) or not (member / "pyproject.toml").is_file():
            raise JobError(f"{line}: not a project folder of this checkout")
        members.append(member)
    return "".join(f"{line}\n" for line in kept), members


def export_lock(lock: Lock, project: Path, root: Path, out: Path, *, uv: Uv, selection: Selection) -> list[Path]:
    """Write `lock`'s pins for `project` to `out` (pip's requirements format, hashes kept); return the folders of
    the uv workspace members the project depends on (their wheels are built like the project's).

    Raises JobError when the export fails (a stale lock, an unknown extra or group) or when a requirements file
    is asked for extras or groups (it is already resolved)."""
    if lock.kind == "requirements":
        if selection:
            raise JobError("extras and groups select from a uv.lock or poetry.lock; a requirements file is resolved")
        shutil.copyfile(lock.path, out)
        return []
    raw = out.with_name(out.name + ".export")
    if lock.kind == "poetry":
        done = capture(poetry_export_command(uv.path(), raw, selection), cwd=project)
    else:
        done = capture(uv_export_command(uv.path(), lock, raw, selection), cwd=project)
    if done.returncode != 0:
        raise JobError(f"{lock.kind} export failed:\n{done.stdout}{done.stderr}")
    text = raw.read_text()
    raw.unlink()
    members: list[Path] = []
    if any(line.startswith(EDITABLE) for line in logical_lines(text)):
        text, members = split_members(text, lock.path.parent, root)
    out.write_text(text)
    return [member for member in members if member != project]
