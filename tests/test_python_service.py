"""The README's quick start, run the way a service runs it: its `.gitlab-ci.yml` is the quick start's include of
the whole-pipeline component `python-service`, by version tag, against the catalogue published at 1.0.0, on a copy
of the reference service, through gitlab-ci-local. The parts come from nested includes of the single-job
components at the same version; the image part is switched off here (buildah and root: tests/test_image.py)."""

import json
from pathlib import Path

import pytest

from scripts.validate import ROOT, check_path
from tests.catalog_release import CONSUMER_REMOTE, publish
from tests.engine import PipelineRun, make_repo, run_pipeline, shared_cache_env

CATALOG = "python-ci/catalog"


def quick_start() -> str:
    """The YAML block of the README's `## Quick start` section."""
    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    work = tmp_path_factory.mktemp("python-service")
    env = publish(work, CATALOG, ["1.0.0"])
    ci = quick_start() + "      image: false\n"
    repo = make_repo(
        work / "service", ci_yaml=ci, project=ROOT / "example", with_templates=False, remote=CONSUMER_REMOTE
    )
    return run_pipeline(repo, env={**env, **shared_cache_env()}, timeout=1800)


def test_quick_start_is_the_whole_pipeline_include_and_valid(tmp_path: Path) -> None:
    block = quick_start()
    assert f"component: $CI_SERVER_FQDN/{CATALOG}/python-service@1.0.0" in block
    path = tmp_path / ".gitlab-ci.yml"
    path.write_text(block)
    result = check_path(path)  # every part checked through the nested includes: nothing left unchecked
    assert (result.problems, result.unchecked) == ([], [])


def test_every_part_runs_green_from_the_tag(run: PipelineRun) -> None:
    assert run.statuses == {
        "version": "PASS",
        "ruff": "PASS",
        "mypy": "PASS",
        "pyright": "PASS",
        "pytest: [3.12]": "PASS",
        "wheelhouse": "PASS",
    }, run.output
    assert not (run.repo / "templates").exists()  # every job came from the published tag


def test_parts_are_wired_and_switchable(run: PipelineRun) -> None:
    assert "image-build" not in run.output  # switched off: no job at all
    info = json.loads((run.artifacts("version") / "app" / "_build_info.json").read_text())
    assert info["version"].startswith("0.1.0.dev")
    assert run.coverage["pytest: [3.12]"] >= 80
    # The wheelhouse waited for the checks (stage deploy after test), as its optional needs say.
    order = [line.split(" ", 1)[0] for line in run.output.splitlines() if line.endswith("starting shell (deploy)")]
    assert order == ["wheelhouse"]
