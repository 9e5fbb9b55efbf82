"""Run pipelines for real in gitlab-ci-local from tests: shell executor (shell isolation) by default, or its docker
executor (`executor="docker"`: each job in its `image:` on the local engine, tests marked `docker`).

A test builds a throw-away git repository that holds the catalogue's `templates/` (as the catalog project would)
plus the project under test, then runs gitlab-ci-local in it. Components are included as
`$CI_SERVER_FQDN/$CI_PROJECT_PATH/<name>@$CI_COMMIT_SHA`, which gitlab-ci-local resolves from this repository
because its `origin` remote names the catalog's path and the ref is HEAD.
The engine helpers are shared with the local pipeline runner (scripts/localci.py).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from scripts import containers, local_registry
from scripts.localci import (
    CATALOG_PATH,
    CATALOG_REMOTE,
    ROOT,
    SHELL,
    Executor,
    engine_command,
    engine_env,
    git,
    hide_secrets,
    init_repo,
    parse_coverage,
    parse_statuses,
    safe_job_name,
    strip_ansi,
)

__all__ = [
    "CATALOG_PATH",
    "CATALOG_REMOTE",
    "ROOT",
    "SHARED_UV_CACHE",
    "PipelineRun",
    "container_marks",
    "docker_unavailable",
    "engine_env",
    "git",
    "include",
    "make_repo",
    "run_pipeline",
    "safe_job_name",
    "shared_cache_env",
    "venv_cache",
]

# One uv cache for the pipelines the tests run (gitignored, kept between sessions): components honour an
# inherited UV_CACHE_DIR, so jobs skip downloads already made. The `cache:` keyword itself is tested separately.
SHARED_UV_CACHE = ROOT / ".cache" / "uv-tests"
_IGNORED = shutil.ignore_patterns(
    ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".gitlab-ci-local", "node_modules"
)


def shared_cache_env() -> dict[str, str]:
    """Environment for `run_pipeline` that points every job at the tests' shared uv cache."""
    SHARED_UV_CACHE.mkdir(parents=True, exist_ok=True)
    return {"UV_CACHE_DIR": str(SHARED_UV_CACHE)}


def container_marks() -> list[pytest.MarkDecorator]:
    """The marks of a module whose jobs run in containers with the image tools at hand (`docker`, `container`,
    `engine`), skipped, saying why, where the local registry's requirements are missing (not root, no buildah)."""
    reason = local_registry.missing_requirements()
    skip = pytest.mark.skipif(reason is not None, reason=f"container tests: {reason}")
    return [pytest.mark.docker, pytest.mark.container, pytest.mark.engine, skip]


def venv_cache(project_dir: str, lock: str) -> list[dict[str, object]]:
    """The components' `cache` input as the README gives it for keeping a job's `.venv` (`<project_dir>/.venv`),
    keyed on the job's name (`$CI_JOB_NAME_SLUG`) and `lock` (a path in the repository)."""
    key = {"files": [lock], "prefix": "$CI_JOB_NAME_SLUG"}
    return [{"key": key, "paths": [f"{project_dir}/.venv"], "when": "always"}]


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
    init_repo(dest, remote=remote, message="test fixture")
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
        return parse_statuses(self.output)

    @property
    def coverage(self) -> dict[str, float]:
        """Job name -> the percentage its `coverage:` regex read from the log, for jobs that report one."""
        return parse_coverage(self.output)

    def artifacts(self, job: str) -> Path:
        """The folder holding the artifacts `job` exported (paths, and dotenv reports under .gitlab-ci-reports)."""
        return self.repo / ".gitlab-ci-local" / "artifacts" / safe_job_name(job)

    def log(self, job: str) -> str:
        """The job's own log."""
        return strip_ansi((self.repo / ".gitlab-ci-local" / "output" / f"{safe_job_name(job)}.log").read_text())


@functools.cache
def docker_unavailable() -> str | None:
    """Why the docker executor cannot run here (None when it can): starts the local engine and builds the
    stand-in images once per session (`scripts/containers.py`; ~1 s when they exist, minutes the first time)."""
    engine, why_not = containers.ready()
    return None if engine is not None else why_not


def run_pipeline(
    repo: Path,
    *args: str,
    variables: Mapping[str, str] | None = None,
    inputs: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    executor: Literal["shell", "docker"] = "shell",
    privileged: bool = False,
) -> PipelineRun:
    """Run gitlab-ci-local in `repo` (extra CLI `args`, e.g. job names) and collect what it produced.

    `inputs` values are JSON as gitlab-ci-local's `--input` expects (strings quoted). `executor="docker"` runs
    each job in its image on the local engine (call `docker_unavailable()` first, or mark the test `docker`),
    `--privileged` when `privileged`, as a privileged runner; `env` then reaches only gitlab-ci-local itself,
    never the jobs (a runner's host environment does not either)."""
    runner = SHELL
    if executor == "docker":
        runner = Executor("docker", containers.default_engine().host, privileged=privileged)
    cmd = engine_command(*args, variables=hide_secrets(repo, variables or {}), inputs=inputs, executor=runner)
    # Output to files, not pipes: Node exits before a large piped write (a --preview of every component) is flushed.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        done = subprocess.run(
            cmd,
            cwd=repo,
            env=engine_env({**runner.env(), **(env or {})}),
            stdout=out,
            stderr=err,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        out.seek(0)
        err.seek(0)
        output = out.read().decode(errors="replace") + err.read().decode(errors="replace")
    return PipelineRun(repo=repo, returncode=done.returncode, output=strip_ansi(output))


def include(components: Iterable[tuple[str, Mapping[str, object]]]) -> str:
    """A `.gitlab-ci.yml` that includes each named component at HEAD with the given inputs."""
    entries: list[dict[str, object]] = []
    for name, inputs in components:
        entry: dict[str, object] = {"component": f"$CI_SERVER_FQDN/$CI_PROJECT_PATH/{name}@$CI_COMMIT_SHA"}
        if inputs:
            entry["inputs"] = dict(inputs)
        entries.append(entry)
    # Each entry as a JSON flow mapping (JSON is YAML), so callers can append more YAML after it.
    return "include:\n" + "".join(f"  - {json.dumps(entry)}\n" for entry in entries)
