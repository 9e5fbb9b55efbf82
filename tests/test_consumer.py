"""A service in its own git repository includes the catalogue by version, as real users do.

The catalogue is published as a bare git repository with release tags; the consumer's remote names a GitLab host,
and a private git config rewrites that host to the bare repository (gitlab-ci-local fetches versioned components
with git), so `@1.0.0` and `@~latest` resolve offline exactly as they would against GitLab's catalog."""

import json
import re
from pathlib import Path

import pytest

from tests.catalog_release import CONSUMER_REMOTE, publish
from tests.engine import PipelineRun, make_repo, run_pipeline, shared_cache_env

CONSUMER_CI = """\
include:
  - component: $CI_SERVER_FQDN/python-ci/catalog/ruff@1.0.0
  - component: $CI_SERVER_FQDN/python-ci/catalog/version@1.0.0
    inputs:
      job_name: version-pinned
      output_dir: pinned
  - component: $CI_SERVER_FQDN/python-ci/catalog/version@~latest
    inputs:
      output_dir: pkg
  - component: $CI_SERVER_FQDN/python-ci/catalog/pytest@1.0.0
    inputs:
      python_versions: ["3.11"]
      coverage_threshold: 100
"""
# A project with only a pyproject.toml (no lock, no requirements, no build system): the install falls back to
# `uv pip install -r pyproject.toml --group dev`.
PYPROJECT = """\
[project]
name = "service"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = []

[dependency-groups]
dev = ["pytest>=8"]

[tool.coverage.run]
source = ["pkg"]
omit = ["pkg/_build_info.py"]
"""
TEST = """\
from pkg.mod import GREETING


def test_greeting() -> None:
    assert GREETING == "hello"
"""


def _release(catalog: Path, tag: str) -> None:
    """Give each release a recognisable default (so the test can tell releases apart)."""
    initial_version = {"1.0.0": "0.1.0", "1.1.0": "0.2.0"}.get(tag, "9.9.9")
    template = catalog / "templates" / "version.yml"
    text = re.sub(
        r"(initial_version:\n(?:      .*\n)*?      default: ).*\n", rf"\g<1>{initial_version}\n", template.read_text()
    )
    template.write_text(text)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    work = tmp_path_factory.mktemp("consumer")
    # 2.0.0-rc.1 is a pre-release: `~latest` must skip it.
    env = publish(work, "python-ci/catalog", ["1.0.0", "1.1.0", "2.0.0-rc.1"], _release)
    files = {
        "pkg/__init__.py": "",
        "pkg/mod.py": 'GREETING = "hello"\n',
        "pinned/__init__.py": "",
        "pyproject.toml": PYPROJECT,
        "tests/__init__.py": "",
        "tests/test_mod.py": TEST,
    }
    repo = make_repo(
        work / "service",
        ci_yaml=CONSUMER_CI,
        files=files,
        with_templates=False,
        remote=CONSUMER_REMOTE,
    )
    return run_pipeline(repo, env={**env, **shared_cache_env()})


def _version(run: PipelineRun, job: str, package: str) -> str:
    info = json.loads((run.artifacts(job) / package / "_build_info.json").read_text())
    return str(info["version"])


def test_versioned_components_run_green(run: PipelineRun) -> None:
    assert run.statuses == {"ruff": "PASS", "version-pinned": "PASS", "version": "PASS", "pytest: [3.11]": "PASS"}, (
        run.output
    )
    assert not (run.repo / "templates").exists()


def test_a_pyproject_only_project_installs_its_dev_group(run: PipelineRun) -> None:
    log = run.log("pytest: [3.11]")
    assert "pyproject.toml -> uv pip install -r pyproject.toml --group dev" in log
    assert "1 passed" in log
    assert run.coverage["pytest: [3.11]"] == 100.0


def test_exact_version_and_latest_resolve_to_the_right_releases(run: PipelineRun) -> None:
    assert _version(run, "version-pinned", "pinned").startswith("0.1.0.dev")  # @1.0.0
    assert _version(run, "version", "pkg").startswith("0.2.0.dev")  # @~latest: 1.1.0, not 2.0.0-rc.1
