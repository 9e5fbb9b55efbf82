"""A green monorepo pipeline: a uv project (uv.lock) and a poetry project (poetry.lock) side by side, each found
by the install auto-detection (mypy and pytest); pytest as a two-version matrix that really runs on both
interpreters; the version component's build info imported by the tests; the CI cache, through the `cache` input,
keyed on the lock file.

Lock files are made here, at test time, in the temporary repository (none is committed); tests/poetry_support.py
says how poetry.lock is made: `poetry lock` and `poetry install` both really run."""

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.engine import (
    ROOT,
    PipelineRun,
    engine_env,
    include,
    make_repo,
    run_pipeline,
    shared_cache_env,
    venv_cache,
)
from tests.poetry_support import POETRY_VERSION, poetry_lock

UV_DIR = "services/uv-svc"
POETRY_DIR = "services/poetry-svc"
MATRIX = ["3.11", "3.12"]  # 3.9 and 3.10 are refused by the job library (tomllib, end of life)


def _uv_project(work: Path) -> Path:
    project = work / "uv-svc"
    subprocess.run(["cp", "-r", str(ROOT / "tests" / "fixtures" / "uv_project"), str(project)], check=True)
    subprocess.run(["uv", "lock", "--quiet"], cwd=project, env=engine_env(), check=True)
    return project


def _poetry_project(work: Path) -> Path:
    project = work / "poetry-svc"
    subprocess.run(["cp", "-r", str(ROOT / "tests" / "fixtures" / "poetry_project"), str(project)], check=True)
    poetry_lock(project, work / "poetry-cache")
    return project


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    work = tmp_path_factory.mktemp("installers-work")
    uv_project, poetry_project = _uv_project(work), _poetry_project(work)
    uv_cache, poetry_cache = (
        venv_cache(UV_DIR, f"{UV_DIR}/uv.lock"),
        venv_cache(POETRY_DIR, f"{POETRY_DIR}/poetry.lock"),
    )
    ci = include(
        [
            ("version", {"project_dir": UV_DIR, "output_dir": "svc", "service_name": "uv-svc"}),
            ("pytest", {"project_dir": UV_DIR, "python_versions": MATRIX, "needs": ["version"], "cache": uv_cache}),
            (
                "mypy",
                {"project_dir": POETRY_DIR, "job_name": "mypy-poetry", "python_version": "3.11", "cache": poetry_cache},
            ),
            (
                "pytest",
                {
                    "project_dir": POETRY_DIR,
                    "job_name": "pytest-poetry",
                    "python_versions": ["3.11"],
                    "cache": poetry_cache,
                },
            ),
        ]
    )
    repo = tmp_path_factory.mktemp("installers")
    files = {f"{UV_DIR}/{p.relative_to(uv_project)}": p.read_text() for p in uv_project.rglob("*") if p.is_file()}
    files |= {
        f"{POETRY_DIR}/{p.relative_to(poetry_project)}": p.read_text() for p in poetry_project.rglob("*") if p.is_file()
    }
    make_repo(repo, ci_yaml=ci, files=files)
    return run_pipeline(repo, env=shared_cache_env())


def test_all_jobs_pass(run: PipelineRun) -> None:
    assert run.statuses == {
        "version": "PASS",
        "pytest: [3.11]": "PASS",
        "pytest: [3.12]": "PASS",
        "mypy-poetry": "PASS",
        "pytest-poetry: [3.11]": "PASS",
    }, run.output
    assert run.returncode == 0


@pytest.mark.parametrize("version", MATRIX)
def test_matrix_job_ran_on_its_own_python(run: PipelineRun, version: str) -> None:
    job = f"pytest: [{version}]"
    assert f"python-ci pytest: pytest on Python {version}." in run.log(job)
    suite = ET.parse(run.artifacts(job) / "ci-reports" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    # Nothing skipped: the interpreter check and the build-info check really ran in CI.
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "0", "0")
    assert "TOTAL" in run.log(job)


def test_each_installer_was_auto_detected(run: PipelineRun) -> None:
    assert "uv.lock -> uv sync --locked" in run.log("pytest: [3.11]")
    poetry_log = run.log("mypy-poetry")
    assert f"poetry.lock -> poetry {POETRY_VERSION} install" in poetry_log
    assert "Installing dependencies from lock file" in poetry_log
    assert "python-ci pytest: pytest on Python 3.11." in run.log("pytest-poetry: [3.11]")


def test_the_documented_cache_input_keeps_each_jobs_venv_keyed_on_its_name_and_the_lock_file(run: PipelineRun) -> None:
    root = run.repo / ".gitlab-ci-local" / "cache"
    venvs = {p.name: p for p in root.iterdir()}
    # `$CI_JOB_NAME_SLUG` (a matrix entry's name holds its Python) + a checksum of the lock file, never `default`
    keys = {name.removeprefix("0_").rsplit("-", 1)[0]: name for name in venvs}
    assert set(keys) == {"pytest-3-11", "pytest-3-12", "mypy-poetry", "pytest-poetry-3-11"}, sorted(venvs)
    assert not [name for name in venvs if name.endswith("-default")]
    versions = {"pytest-3-11": "3.11", "pytest-3-12": "3.12", "mypy-poetry": "3.11", "pytest-poetry-3-11": "3.11"}
    for slug, name in keys.items():
        venv = venvs[name] / (UV_DIR if slug.startswith("pytest-3") else POETRY_DIR) / ".venv"
        assert (venv / ".python-ci-stamp").is_file(), name
        assert f"version_info = {versions[slug]}." in (venv / "pyvenv.cfg").read_text(), name


def test_coverage_regex_reads_the_total(run: PipelineRun) -> None:
    assert run.coverage == {"pytest: [3.11]": 100.0, "pytest: [3.12]": 100.0, "pytest-poetry: [3.11]": 100.0}
