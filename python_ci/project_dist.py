"""How the project itself goes into a wheelhouse: its own pure-Python wheel, or, for an application folder that is
not a package, its source distribution (the files the application runs from, nothing of CI, containers or caches)."""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from pathlib import Path

from python_ci.job import JobError, capture

PROJECT_MODES = ("auto", "wheel", "source")
WHEEL_RE = re.compile(r"^[A-Za-z0-9_.+-]+\.whl$")

# What an application's source distribution leaves out, at any depth. The rule: ship what the application runs
# from; leave out what only the repository host, CI, container builds, editors or a developer's machine use, and
# anything generated or secret. (No git: the job's image may have none, and files a previous job generated, like
# the version component's build info, are untracked yet belong in the release.)
SOURCE_EXCLUDES = (
    # version control and repository hosting
    ".git",
    ".gitignore",
    ".gitattributes",
    ".gitmodules",
    ".github",
    ".gitlab",
    ".gitlab-ci.yml",
    ".gitlab-ci-local",
    ".pre-commit-config.yaml",
    # container builds
    "Dockerfile",
    "Dockerfile.*",
    "*.Dockerfile",
    "*.dockerfile",
    "Containerfile",
    "Containerfile.*",
    ".dockerignore",
    ".containerignore",
    "docker-compose*.yml",
    "docker-compose*.yaml",
    "compose.yml",
    "compose.yaml",
    "compose.*.yml",
    "compose.*.yaml",
    ".devcontainer",
    # editors
    ".vscode",
    ".idea",
    # local environments and secrets
    ".venv",
    "venv",
    ".env",
    ".env.*",
    ".envrc",
    "node_modules",
    # build output, caches and reports
    "dist",
    "build",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".cache",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    ".tox",
    ".nox",
    ".coverage",
    ".coverage.*",
    "coverage.xml",
    "htmlcov",
    "ci-reports",
)


def project_mode(project: Path, choice: str) -> str:
    """`wheel` or `source` for `project` when the input `choice` is `auto` (else `choice` itself): source for an
    application folder, i.e. no `[build-system]` or uv's `tool.uv.package = false` (uv docs: "Project packaging"),
    wheel otherwise. Raises JobError for an unknown choice."""
    if choice not in PROJECT_MODES:
        raise JobError(f"project must be one of {', '.join(PROJECT_MODES)}, not {choice!r}")
    if choice != "auto":
        return choice
    if (project / "setup.py").is_file():
        return "wheel"
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return "source"
    data = tomllib.loads(pyproject.read_text())
    if data.get("tool", {}).get("uv", {}).get("package") is False:
        return "source"
    return "wheel" if "build-system" in data else "source"


def build_wheel(project: Path, dest: Path, scratch: Path) -> Path:
    """Build `project`'s wheel with its own build backend (`pip wheel --no-deps`) and copy it to `dest`.

    Raises JobError when the build fails or the wheel is platform-specific: one project wheel serves every target."""
    out_dir = Path(scratch) / f"build-{project.name}"
    out_dir.mkdir(parents=True)
    cmd = [sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "-q"]
    done = capture([*cmd, "--wheel-dir", str(out_dir), "."], cwd=project)
    if done.returncode != 0:
        raise JobError(f"building the wheel of {project.name} failed:\n{done.stdout}{done.stderr}")
    built = sorted(out_dir.glob("*.whl"))
    if len(built) != 1 or not WHEEL_RE.match(built[0].name):
        raise JobError(f"expected one wheel from {project.name}, got {[p.name for p in built]}")
    if not built[0].name.endswith("-none-any.whl"):
        raise JobError(f"{built[0].name} is platform-specific; the wheelhouse ships one project wheel for all")
    return Path(shutil.copy2(built[0], dest / built[0].name))


def copy_source(project: Path, dest: Path) -> int:
    """Copy `project`'s source distribution to `dest` (absent before): every file but SOURCE_EXCLUDES, symlinks
    followed. Returns how many files were copied."""
    shutil.copytree(project, dest, ignore=shutil.ignore_patterns(*SOURCE_EXCLUDES), symlinks=False)
    return sum(1 for p in dest.rglob("*") if p.is_file())
