"""The `.venv` cached through the components' `cache` input (nothing is cached by default): a warm job reuses it
even from another checkout path (it is relocatable), and a change to what it was made from (here the requirements)
makes it start afresh, leaving nothing stale.

Three runs of the mypy component on a small requirements project, each in a new repository at a new path that
starts from the engine cache the previous run saved, as a runner restores `cache:` into another build dir. The
`cache` input is the one the component's input description and the README give."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.engine import PipelineRun, include, make_repo, run_pipeline, shared_cache_env, venv_cache

CODE = '"""A typed module."""\n\n\ndef name() -> str:\n    """Its name."""\n    return __name__\n'
FIRST = "iniconfig==2.3.1\n"
THIRD = "pluggy==1.7.0\n"  # one requirement removed, another added
CACHE = Path(".gitlab-ci-local") / "cache"


def _run(where: Path, requirements: str, cache_from: Path | None) -> PipelineRun:
    inputs = {"project_dir": "svc", "python_version": "3.11", "mypy_args": ["pkg"]}
    # Keyed on a lock this project lacks (GitLab's `<prefix>-default` key): every run restores the one cache, and
    # the stamp inside decides whether the environment still fits.
    ci = include([("mypy", {**inputs, "cache": venv_cache("svc", "svc/uv.lock")})])
    files = {"svc/pkg/__init__.py": CODE, "svc/requirements.txt": requirements}
    repo = make_repo(where, ci_yaml=ci, files=files)
    if cache_from is not None:
        shutil.copytree(cache_from / CACHE, repo / CACHE, symlinks=True)
    return run_pipeline(repo, env=shared_cache_env())


def _venv(repo: Path) -> Path:
    (venv,) = (repo / CACHE).glob("0_mypy-*/svc/.venv")
    return venv


def _installed(venv: Path) -> set[str]:
    return {p.name.split("-")[0] for p in venv.glob("lib/python3.11/site-packages/*.dist-info")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[PipelineRun]:
    first = _run(tmp_path_factory.mktemp("cold"), FIRST, None)
    second = _run(tmp_path_factory.mktemp("warm-elsewhere"), FIRST, first.repo)
    third = _run(tmp_path_factory.mktemp("changed"), THIRD, second.repo)
    return [first, second, third]


def test_every_run_passes(runs: list[PipelineRun]) -> None:
    for run in runs:
        assert run.statuses == {"mypy": "PASS"}, run.output


def test_cold_run_installs_and_caches_a_relocatable_stamped_venv(runs: list[PipelineRun]) -> None:
    log = runs[0].log("mypy")
    assert "python-ci environment: requirements -> uv pip install -r requirements.txt" in log
    assert "reusing the cached .venv" not in log
    venv = _venv(runs[0].repo)
    assert "relocatable = true" in (venv / "pyvenv.cfg").read_text()
    assert len((venv / ".python-ci-stamp").read_text().strip()) == 64
    assert {"iniconfig", "mypy"} <= _installed(venv)


def test_warm_run_at_another_path_installs_nothing(runs: list[PipelineRun]) -> None:
    log = runs[1].log("mypy")
    assert "python-ci environment: reusing the cached .venv (made from requirements.txt with the same settings)" in log
    assert "Installed" not in log
    assert "Checked 1 package" in log
    # The restored scripts ran from a new directory: mypy itself started and checked the code.
    assert "python-ci mypy: 0 mypy issue(s)" in log
    assert str(runs[0].repo) not in (_venv(runs[1].repo) / "bin" / "mypy").read_text()


def test_changed_requirements_start_afresh_and_drop_what_was_removed(runs: list[PipelineRun]) -> None:
    log = runs[2].log("mypy")
    assert "reusing the cached .venv" not in log
    assert "Installed" in log
    # The job's own .venv (gitlab-ci-local saves a cache by copying over the old copy, never deleting from it,
    # where GitLab replaces the archive: the saved copy would still list the removed package).
    installed = _installed(runs[2].repo / ".gitlab-ci-local" / "builds" / "mypy" / "svc" / ".venv")
    assert "pluggy" in installed
    assert "iniconfig" not in installed
    stamps = [(_venv(run.repo) / ".python-ci-stamp").read_text() for run in runs[1:]]
    assert stamps[0] != stamps[1]


# --- a uv workspace member (issue 11, item 5) ------------------------------------------------------------------
# The member svc has no lock of its own: a key on svc/uv.lock is GitLab's fallback (`<prefix>-default`) and never
# follows the workspace's uv.lock. The job whose cached .venv was restored says, in one line, the `cache` input
# that keys it on the workspace's lock. Two runs (the second from the first's caches, with a changed uv.lock), each
# with the job twice: keyed on uv.lock (`mypy`) the key changes with the lock; keyed on svc/uv.lock it does not.
WORKSPACE = Path(__file__).parent / "fixtures" / "wheelhouse-workspace"


def _workspace_files(where: Path) -> dict[str, str]:
    shutil.copytree(WORKSPACE, where)
    subprocess.run(["uv", "lock", "--quiet", "--python", "3.11"], cwd=where, check=True, env=_without_virtualenv())
    return {p.relative_to(where).as_posix(): p.read_text() for p in where.rglob("*") if p.is_file()}


def _without_virtualenv() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> list[PipelineRun]:
    files = _workspace_files(tmp_path_factory.mktemp("ws") / "ws")
    inputs = {"project_dir": "svc", "python_version": "3.11", "mypy_args": ["--ignore-missing-imports", "svc"]}
    ci = include(
        [
            ("mypy", {**inputs, "cache": venv_cache("svc", "uv.lock")}),
            ("mypy", {**inputs, "job_name": "mypy-default", "cache": venv_cache("svc", "svc/uv.lock")}),
        ]
    )
    runs: list[PipelineRun] = []
    for lock in (files["uv.lock"], files["uv.lock"] + "\n# the lock changed\n"):
        repo = make_repo(tmp_path_factory.mktemp("member"), ci_yaml=ci, files={**files, "uv.lock": lock})
        if runs:
            shutil.copytree(runs[-1].repo / CACHE, repo / CACHE, symlinks=True)
        runs.append(run_pipeline(repo, env=shared_cache_env()))
    return runs


def _keys(run: PipelineRun, job: str) -> set[str]:
    """The job's cache keys in the run's engine cache (`0_<prefix>-<checksum of the key files>`)."""
    return {p.name for p in (run.repo / CACHE).iterdir() if re.fullmatch(rf"0_{job}-[^-]+", p.name)}


def test_a_members_cache_follows_the_workspace_lock_with_the_input_its_log_prints(
    members: list[PipelineRun],
) -> None:
    hint = (
        "python-ci environment: workspace member svc: installing the workspace's uv.lock; to key this job's cached "
        ".venv on it, set the component's input `cache: [{key: {files: [uv.lock], prefix: $CI_JOB_NAME_SLUG}, "
        "paths: [svc/.venv], when: always}]`"
    )
    for run in members:
        assert run.statuses == {"mypy": "PASS", "mypy-default": "PASS"}, run.output
        assert "uv.lock -> uv sync --locked --inexact --package svc" in run.log("mypy")
    first, second = members
    # Only a job whose .venv came from a cache says it; a cold job has nothing cached to key.
    assert hint not in first.log("mypy-default")
    assert hint in second.log("mypy-default")
    # The second run starts from the first's caches: a new key is a new entry beside the old one.
    assert len(_keys(first, "mypy")) == 1
    assert len(_keys(second, "mypy") - _keys(first, "mypy")) == 1
    assert len(_keys(first, "mypy-default")) == 1
    assert _keys(second, "mypy-default") == _keys(first, "mypy-default")
