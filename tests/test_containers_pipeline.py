"""The components as a GitLab runner's docker executor runs them: each job in its image on the local engine.

The repository's own pipeline on the reference service, end to end in containers (its 16 jobs, the local
registry and the OSV stand-in started, the image build privileged as a privileged runner), with every component
that keeps its default image checked to have started in it; then pytest and wheelhouse, which the self-test gives
other images, in their defaults on a small project; and ci-lint, which clones the catalogue it checks.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import threading
from collections.abc import Generator
from pathlib import Path

import pytest

from scripts import containers
from scripts.pipeline import PipelineResult, run_local_pipeline
from tests.catalog_release import CONSUMER_REMOTE, publish
from tests.engine import ROOT, container_marks, git, include, make_repo, run_pipeline

pytestmark = container_marks()
_STARTING = re.compile(r"^(?P<job>\S.*?) starting (?P<image>\S+) \(")
# The components whose include in .gitlab-ci.yml leaves `image` to its default (with python_version 3.11): those
# that install with uv, and the others.
UV_JOBS = ("ruff", "mypy", "pyright", "sbom", "dependency-audit", "hadolint", "sast")
DEFAULT_IMAGE_JOBS = (*UV_JOBS, "version", "image-build", "image-push")


def started_images(lines: list[str]) -> dict[str, str]:
    """Job name -> the image gitlab-ci-local started it in (its `<job> starting <image> (<stage>)` line)."""
    return {m["job"]: m["image"] for m in map(_STARTING.match, lines) if m}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> PipelineResult:
    work = tmp_path_factory.mktemp("self-test")
    return run_local_pipeline(ROOT, workdir=work / "repo", reports_dir=work / "reports", echo=False, executor="docker")


def test_the_self_test_pipeline_passes_in_containers(pipeline: PipelineResult) -> None:
    assert pipeline.executor.kind == "docker"
    failed = {job.name: job.status for job in pipeline.jobs if job.status != "PASS"}
    assert not failed, pipeline.output[-5000:]
    assert len(pipeline.jobs) == 16
    assert pipeline.smoke is not None and pipeline.smoke.ok  # the pushed image starts and serves


def test_each_component_left_to_its_default_image_started_in_it(pipeline: PipelineResult) -> None:
    images = started_images([line for _, line in pipeline.timeline])
    for job in DEFAULT_IMAGE_JOBS:
        assert images[job] == containers.default_image(job, "3.11"), job
    # The tests of the service need git: the self-test gives pytest the full image with uv.
    assert images["pytest: [3.12]"] == containers.uv_image(
        containers.template_default("pytest", "uv_version"), "3.12", slim=False
    )
    # The Python jobs' images have uv: none of them installed it.
    folders = {job.name: job.folder for job in pipeline.jobs}
    for job in (*UV_JOBS, "pytest: [3.11]", "pytest: [3.12]"):
        log = folders[job]
        assert log is not None, job
        assert "the image has no uv" not in (log / "job.log").read_text(encoding="utf-8"), job


def test_pytest_and_wheelhouse_run_in_their_default_images(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": '[project]\nname = "tiny"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n',
        "requirements.txt": "iniconfig==2.3.0\n",
        "tiny.py": '"""A module."""\n\nVALUE = 1\n',
        "tests/test_tiny.py": "import tiny\n\n\ndef test_value() -> None:\n    assert tiny.VALUE == 1\n",
    }
    wheelhouse = {"lock": "requirements", "requirements_file": "requirements.txt", "python_version": "3.12"}
    ci = include([("pytest", {"python_versions": ["3.12"]}), ("wheelhouse", wheelhouse)])
    run = run_pipeline(make_repo(tmp_path / "repo", ci_yaml=ci, files=files), executor="docker")
    assert run.statuses == {"pytest: [3.12]": "PASS", "wheelhouse": "PASS"}, run.output[-4000:]
    images = started_images(run.output.splitlines())
    assert images == {
        "pytest: [3.12]": containers.default_image("pytest", "3.12"),
        "wheelhouse": containers.default_image("wheelhouse", "3.12"),
    }
    assert "1 passed" in run.log("pytest: [3.12]")
    assert "the image has no uv" not in run.log("pytest: [3.12]")
    assert [p.name for p in (run.artifacts("wheelhouse") / "dist" / "wheelhouse").glob("*.tar.gz")] == [
        "wheelhouse.tar.gz"
    ]


@contextlib.contextmanager
def http_files(folder: Path) -> Generator[str]:
    """`folder` served read-only over HTTP on 127.0.0.1 (a free port) for the block; yields the base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join()


def test_ci_lint_runs_in_its_default_image(tmp_path: Path) -> None:
    """ci-lint clones the catalogue it checks with: here the published one, over git's dumb HTTP on 127.0.0.1 (the
    job container reaches the host's loopback; the tests' file:// remote is on the host's file system)."""
    catalog = "platform/python-ci"
    env = publish(tmp_path, catalog, ["1.0.0", "1.1.0"])
    git(tmp_path / "remote" / f"{catalog}.git", "update-server-info")  # the files a dumb-HTTP clone reads
    with http_files(tmp_path / "remote") as base:
        inputs = f"      catalog_path: {catalog}\n      catalog_url: {base}/{catalog}.git\n"
        ci = f"include:\n  - component: $CI_SERVER_FQDN/{catalog}/ci-lint@1.1\n    inputs:\n{inputs}"
        ci += f"  - component: $CI_SERVER_FQDN/{catalog}/ruff@1.1\n"
        repo = make_repo(tmp_path / "service", ci_yaml=ci, files={"pkg/__init__.py": ""}, with_templates=False,
                         remote=CONSUMER_REMOTE)  # fmt: skip
        run = run_pipeline(repo, "ci-lint", env=env, executor="docker")
    assert run.statuses == {"ci-lint": "PASS"}, run.output[-4000:]
    assert started_images(run.output.splitlines()) == {"ci-lint": containers.default_image("ci-lint", "3.12")}
    log = run.log("ci-lint")
    assert "python-ci ci-lint: catalogue @1.1 -> 1.1.0" in log
    assert "the image has no uv" not in log
