"""The new-service path, tried as a new user would: `gitlab-tool new ... --catalog platform/python-ci --version
1.0.0` writes a starter `.gitlab-ci.yml`; the copy, pushed as its own project, runs that file through
gitlab-ci-local against the catalogue published at tag 1.0.0, every job green."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.localci import init_repo
from scripts.validate import Catalog, check_path
from tests.catalog_release import HOST, publish
from tests.engine import ROOT, PipelineRun, run_pipeline, shared_cache_env

CATALOG = "platform/python-ci"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("starter") / "text-summary"
    cmd = [sys.executable, "-m", "scripts.gitlab_tool", "new", "text-summary", "--dest", str(dest), "--no-git"]
    cmd += ["--catalog", CATALOG, "--version", "1.0.0"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return dest


@pytest.fixture(scope="module")
def run(service: Path) -> PipelineRun:
    env = publish(service.parent, CATALOG, ["1.0.0"])
    # The service's own GitLab project: its name is the build info's service name ($CI_PROJECT_NAME).
    init_repo(service, remote=f"ssh://git@{HOST}/acme/text-summary.git", message="Start text-summary")
    return run_pipeline(service, env={**env, **shared_cache_env()}, timeout=1200)


def test_starter_gives_every_mandatory_input(service: Path) -> None:
    text = (service / ".gitlab-ci.yml").read_text()
    assert "component: $CI_SERVER_FQDN/platform/python-ci/version@1.0.0" in text
    assert "output_dir: app" in text
    result = check_path(service / ".gitlab-ci.yml", Catalog(path=CATALOG))
    assert (result.problems, result.unchecked) == ([], [])


def test_starter_runs_green_by_version_tag(run: PipelineRun) -> None:
    assert run.returncode == 0, run.output
    assert run.statuses == {
        "version": "PASS",
        "ruff": "PASS",
        "mypy": "PASS",
        "pyright": "PASS",
        "pytest: [3.12]": "PASS",
    }, run.output
    info = json.loads((run.artifacts("version") / "app" / "_build_info.json").read_text())
    assert info["service"] == "text-summary"
    assert not (run.repo / "templates").exists()  # the jobs came from the published tag, not from this checkout
