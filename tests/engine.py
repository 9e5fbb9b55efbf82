"""Run pipelines for real in gitlab-ci-local (shell executor, shell isolation) from tests.

A test builds a throw-away git repository that holds the catalogue's `templates/` (as the catalog project would)
plus the project under test, then runs gitlab-ci-local in it. Components are included as
`$CI_SERVER_FQDN/$CI_PROJECT_PATH/<name>@$CI_COMMIT_SHA`, which gitlab-ci-local resolves from this repository
because its `origin` remote names the catalog's path and the ref is HEAD.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# One uv cache for the pipelines the tests run (gitignored, kept between sessions): components honour an
# inherited UV_CACHE_DIR, so jobs skip downloads already made. The `cache:` keyword itself is tested separately.
SHARED_UV_CACHE = ROOT / ".cache" / "uv-tests"
CATALOG_REMOTE = "git@gitlab.example.com:python-ci/catalog.git"
CATALOG_PATH = "python-ci/catalog"

_STATUS_LINE = re.compile(r"^ (PASS|FAIL|WARN)  (.+?)(?: (\d+(?:\.\d+)?)% coverage)?\s*$")
# gitlab-ci-local prints this WARN line when a test sets a predefined variable: it is not a job.
_PREDEFINED_WARNING = "Avoid overriding predefined variables"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_IGNORED = shutil.ignore_patterns(
    ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".gitlab-ci-local", "node_modules"
)


def _pyenv_versions() -> str | None:
    """All pyenv interpreters, the current one first, so shell jobs find `python3.10` ... `python3.13` (a job's
    image is ignored by the shell executor: `uv venv --python X.Y` is what makes a Python matrix real here)."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout.split()
    current = subprocess.run([pyenv, "version-name"], capture_output=True, text=True, check=False).stdout.strip()
    ordered = [v for v in current.split(":") if v] + [v for v in listed if v not in current.split(":")]
    return ":".join(ordered) or None


def engine_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment gitlab-ci-local and its shell jobs run with: the pinned engine and uv on PATH, every pyenv
    interpreter reachable, and uv never downloading a Python."""
    env = dict(os.environ)
    path = [str(ROOT / "node_modules" / ".bin"), str(ROOT / ".venv-bootstrap" / "bin"), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    env.pop("VIRTUAL_ENV", None)
    versions = _pyenv_versions()
    if versions and "PYENV_VERSION" not in env:
        env["PYENV_VERSION"] = versions
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    env.update(extra or {})
    return env


def shared_cache_env() -> dict[str, str]:
    """Environment for `run_pipeline` that points every job at the tests' shared uv cache."""
    SHARED_UV_CACHE.mkdir(parents=True, exist_ok=True)
    return {"UV_CACHE_DIR": str(SHARED_UV_CACHE)}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and return its stdout."""
    cmd = ["git", "-c", "user.name=python-ci tests", "-c", "user.email=tests@python-ci.invalid", *args]
    done = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(
    dest: Path,
    *,
    ci_yaml: str,
    project: Path | None = None,
    project_dir: str = ".",
    files: Mapping[str, str] | None = None,
    with_templates: bool = True,
    remote: str = CATALOG_REMOTE,
) -> Path:
    """Create a committed git repository at `dest`: catalogue templates, a project copied under `project_dir`,
    extra `files`, and `.gitlab-ci.yml`."""
    dest.mkdir(parents=True, exist_ok=True)
    if with_templates:
        shutil.copytree(ROOT / "templates", dest / "templates", dirs_exist_ok=True)
    if project is not None:
        shutil.copytree(project, dest / project_dir, ignore=_IGNORED, dirs_exist_ok=True)
    for rel, text in (files or {}).items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (dest / ".gitlab-ci.yml").write_text(ci_yaml)
    git(dest, "init", "-q", "-b", "main")
    git(dest, "remote", "add", "origin", remote)
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "test fixture")
    return dest


@dataclass(frozen=True)
class PipelineRun:
    """What one gitlab-ci-local run produced."""

    repo: Path
    returncode: int
    output: str

    @property
    def statuses(self) -> dict[str, str]:
        """Job name -> PASS, FAIL or WARN, from the run's closing summary."""
        found: dict[str, str] = {}
        for line in self.output.splitlines():
            match = _STATUS_LINE.match(line)
            if match and _PREDEFINED_WARNING not in line:
                found[match.group(2)] = match.group(1)
        return found

    @property
    def coverage(self) -> dict[str, float]:
        """Job name -> the percentage its `coverage:` regex read from the log, for jobs that report one."""
        found: dict[str, float] = {}
        for line in self.output.splitlines():
            match = _STATUS_LINE.match(line)
            if match and match.group(3) is not None:
                found[match.group(2)] = float(match.group(3))
        return found

    def artifacts(self, job: str) -> Path:
        """The folder holding the artifacts `job` exported (paths, and dotenv reports under .gitlab-ci-reports)."""
        return self.repo / ".gitlab-ci-local" / "artifacts" / safe_job_name(job)

    def log(self, job: str) -> str:
        """The job's own log."""
        return _ANSI.sub("", (self.repo / ".gitlab-ci-local" / "output" / f"{safe_job_name(job)}.log").read_text())


def safe_job_name(job: str) -> str:
    """The file name gitlab-ci-local gives a job's artifacts and log: each run of characters outside [A-Za-z0-9_-]
    becomes its unpadded base64url (so `pytest: [3.10]` is `pytestOiBb3Lg10XQ`)."""

    def encode(match: re.Match[str]) -> str:
        return base64.urlsafe_b64encode(match.group(0).encode()).decode().rstrip("=")

    return re.sub(r"[^\w-]+", encode, job, flags=re.ASCII)


def run_pipeline(
    repo: Path,
    *args: str,
    variables: Mapping[str, str] | None = None,
    inputs: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> PipelineRun:
    """Run gitlab-ci-local in `repo` (extra CLI `args`, e.g. job names) and collect what it produced.

    `inputs` values are JSON as gitlab-ci-local's `--input` expects (strings quoted)."""
    cmd = ["gitlab-ci-local", "--force-shell-executor", "--shell-isolation", "--no-artifacts-to-source"]
    cmd += ["--color=false", "--max-job-name-padding=0"]
    cmd += _flags("--variable", variables) + _flags("--input", inputs)
    cmd += list(args)
    done = subprocess.run(
        cmd,
        cwd=repo,
        env=engine_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return PipelineRun(repo=repo, returncode=done.returncode, output=_ANSI.sub("", done.stdout + done.stderr))


def _flags(flag: str, pairs: Mapping[str, str] | None) -> list[str]:
    out: list[str] = []
    for key, value in (pairs or {}).items():
        out += [flag, f"{key}={value}"]
    return out


def include(components: Iterable[tuple[str, Mapping[str, object]]]) -> str:
    """A `.gitlab-ci.yml` that includes each named component at HEAD with the given inputs."""
    entries: list[dict[str, object]] = []
    for name, inputs in components:
        entry: dict[str, object] = {"component": f"$CI_SERVER_FQDN/$CI_PROJECT_PATH/{name}@$CI_COMMIT_SHA"}
        if inputs:
            entry["inputs"] = dict(inputs)
        entries.append(entry)
    # JSON is YAML: no YAML emitter needed for a file this simple.
    return json.dumps({"include": entries}, indent=2)
