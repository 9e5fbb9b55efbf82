"""The version of a tool (ruff, mypy, pyright) that the project itself pins, so a job runs what the project runs.

Looked up, first found wins, in the files a project pins its tools in:
1. `uv.lock` (of the project or of the uv workspace around it, up to the checkout's root) and `poetry.lock`:
   the locked version (`[[package]]` tables, name compared as PEP 503 normalises it);
2. requirements files (`requirements*.txt`, `requirements/*.txt`): a `name==X.Y.Z` line (PEP 508, hashes allowed);
3. `pyproject.toml`: a `name==X.Y.Z` requirement in `[dependency-groups]` (PEP 735),
   `[project.optional-dependencies]` (PEP 621) or poetry's `[tool.poetry.group.*.dependencies]` (`"X.Y.Z"` or
   `"==X.Y.Z"`);
4. `.pre-commit-config.yaml`: the `rev:` of the tool's hook repository (e.g. `ruff-pre-commit`, `v0.15.20`).
Ranges (`>=`, `~=`) are not pins: the job's own default applies then.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from python_ci.job import as_dict, as_list

# Hook repositories whose `rev` is the tool's own version (pre-commit's convention of mirror repositories).
PRE_COMMIT_REPOS = {
    "ruff": ("ruff-pre-commit",),
    "mypy": ("mirrors-mypy",),
    "pyright": ("pyright-python",),
}
_VERSION = r"[0-9]+(?:\.[0-9]+)*(?:(?:a|b|rc|\.post|\.dev)[0-9]+)*"
_REV = re.compile(rf"^\s*rev:\s*['\"]?v?(?P<version>{_VERSION})['\"]?\s*(?:#.*)?$")
_REPO = re.compile(r"^\s*-\s*repo:\s*['\"]?(?P<url>\S+?)['\"]?\s*(?:#.*)?$")


@dataclass(frozen=True)
class Pin:
    """A pinned version and where it was read (a path relative to the checkout, with the kind of entry)."""

    version: str
    source: str


def normalize(name: str) -> str:
    """A distribution name as PEP 503 normalises it: lower case, runs of `-_.` as one `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_pin(line: str, package: str) -> str | None:
    """The version of `package==X` in one PEP 508 requirement line (extras and markers allowed), else None."""
    match = re.match(rf"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*({_VERSION})\s*(?:[;\\#]|$)", line)
    if match and normalize(match.group(1)) == normalize(package):
        return match.group(2)
    return None


def _lock_pin(path: Path, package: str) -> str | None:
    for entry in as_list(_toml(path).get("package")):
        table = as_dict(entry)
        version = table.get("version")
        if normalize(str(table.get("name", ""))) == normalize(package) and isinstance(version, str):
            return version
    return None


def _toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _lock_files(project: Path, root: Path) -> list[Path]:
    """`poetry.lock` of the project, and the nearest `uv.lock` from the project up to `root` (uv workspaces)."""
    found: list[Path] = []
    folder = project
    while True:
        if (folder / "uv.lock").is_file():
            found.append(folder / "uv.lock")
            break
        if folder in {root, folder.parent} or root not in folder.parents:
            break
        folder = folder.parent
    if (project / "poetry.lock").is_file():
        found.append(project / "poetry.lock")
    return found


def _pyproject_pin(data: dict[str, object], package: str) -> tuple[str, str] | None:
    lists: list[tuple[str, object]] = []
    for group, items in as_dict(data.get("dependency-groups")).items():
        lists.append((f"[dependency-groups] {group}", items))
    for extra, items in as_dict(as_dict(data.get("project")).get("optional-dependencies")).items():
        lists.append((f"[project.optional-dependencies] {extra}", items))
    for where, items in lists:
        for item in as_list(items):
            version = _requirement_pin(item, package) if isinstance(item, str) else None
            if version:
                return version, where
    groups = as_dict(as_dict(as_dict(data.get("tool")).get("poetry")).get("group"))
    for group, table in groups.items():
        for name, spec in as_dict(as_dict(table).get("dependencies")).items():
            options = as_dict(spec)  # `ruff = {version = "==0.12.0"}` or `ruff = "0.12.0"`
            text = options.get("version", "") if options else spec
            match = re.fullmatch(rf"(?:==)?\s*({_VERSION})", str(text).strip())
            if normalize(name) == normalize(package) and match:
                return match.group(1), f"[tool.poetry.group.{group}.dependencies]"
    return None


def _pre_commit_pin(path: Path, package: str) -> str | None:
    """The `rev` following the hook repository of `package` in a pre-commit config (read line by line: the
    standard library has no YAML parser, and the file's shape is fixed by pre-commit)."""
    names = PRE_COMMIT_REPOS.get(normalize(package), ())
    current = ""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        repo = _REPO.match(line)
        if repo:
            current = repo.group("url").rstrip("/").removesuffix(".git").rsplit("/", 1)[-1]
            continue
        rev = _REV.match(line)
        if rev and current in names:
            return rev.group("version")
    return None


def find_pin(project: Path, root: Path, package: str) -> Pin | None:
    """The version of `package` the project at `project` pins (see the module's docstring for where and in which
    order), with the file it came from relative to `root` (the checkout); None when nothing pins it exactly."""

    def where(path: Path, kind: str = "") -> str:
        rel = path.relative_to(root).as_posix() if root in path.parents or path == root else str(path)
        return f"{rel} {kind}".strip()

    for lock in _lock_files(project, root):
        version = _lock_pin(lock, package)
        if version:
            return Pin(version, where(lock))
    requirements = sorted(project.glob("requirements*.txt")) + sorted(project.glob("requirements/*.txt"))
    for path in requirements:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            version = _requirement_pin(line, package)
            if version:
                return Pin(version, where(path))
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        found = _pyproject_pin(_toml(pyproject), package)
        if found:
            return Pin(found[0], where(pyproject, found[1]))
    pre_commit = project / ".pre-commit-config.yaml"
    if not pre_commit.is_file():
        pre_commit = root / ".pre-commit-config.yaml"
    if pre_commit.is_file():
        version = _pre_commit_pin(pre_commit, package)
        if version:
            return Pin(version, where(pre_commit))
    return None


def version_tuple(version: str) -> tuple[int, ...]:
    """The release segment of a PEP 440 version as integers: `0.15.20` -> (0, 15, 20); `1.1.392.post0` ->
    (1, 1, 392)."""
    release = re.match(r"[0-9]+(?:\.[0-9]+)*", version)
    return tuple(int(part) for part in release.group(0).split(".")) if release else ()


def choose_version(tool: str, *, given: str, fallback: str, oldest: str, project: Path, root: Path) -> tuple[str, str]:
    """The version of `tool` a job runs, and why: the input `given` when set, else the project's pin, else the
    catalogue's `fallback`. Raises ValueError naming the source when the chosen version is older than `oldest`
    (the oldest version whose command line the job supports)."""
    if given:
        version, why = given, "the job's input"
    else:
        pin = find_pin(project, root, tool)
        version, why = (pin.version, f"pinned in {pin.source}") if pin else (fallback, "the catalogue's default")
    if version_tuple(version) < version_tuple(oldest):
        raise ValueError(
            f"{tool} {version} ({why}) is older than {oldest}, the oldest version this job supports: "
            f"set the {tool}_version input to {oldest} or newer"
        )
    return version, why
