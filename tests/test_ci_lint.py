"""CI lint for consumers: the ci-lint component, included by version tag, checks the consumer's own pipeline files
with the validator of the catalogue version they include, and fails the merge request's pipeline on a typo'd
input (which gitlab-ci-local, unlike GitLab, lets through) and on a `needs` in a file only tag pipelines include."""

import pytest

from tests.catalog_release import CONSUMER_REMOTE, publish
from tests.engine import PipelineRun, make_repo, run_pipeline, shared_cache_env

CATALOG = "platform/python-ci"
LINT = f"""\
include:
  - component: $CI_SERVER_FQDN/{CATALOG}/ci-lint@1.1
    inputs:
      catalog_path: {CATALOG}
"""
GOOD = f"""\
  - component: $CI_SERVER_FQDN/{CATALOG}/ruff@1.1
    inputs:
      python_version: "3.12"
  - local: ci/release.yml
    rules:
      - if: $CI_COMMIT_TAG
"""
RELEASE_GOOD = "publish:\n  stage: deploy\n  needs: [ruff]\n  script: [echo publish]\n"


def _run(tmp_path_factory: pytest.TempPathFactory, name: str, ci: str, release: str) -> PipelineRun:
    work = tmp_path_factory.mktemp(name)
    env = publish(work, CATALOG, ["1.0.0", "1.1.0"])
    repo = make_repo(
        work / "service",
        ci_yaml=ci,
        files={"ci/release.yml": release, "pkg/__init__.py": ""},
        with_templates=False,
        remote=CONSUMER_REMOTE,
    )
    return run_pipeline(repo, "ci-lint", env={**env, **shared_cache_env()})


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    # `pyhton_version`: GitLab refuses the include at creation, gitlab-ci-local ignores it and runs ruff on 3.12.
    ci = LINT + GOOD.replace("python_version", "pyhton_version")
    return _run(tmp_path_factory, "lint-broken", ci, RELEASE_GOOD.replace("[ruff]", "[wheel]"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    return _run(tmp_path_factory, "lint-clean", LINT + GOOD, RELEASE_GOOD)


def test_typo_and_missing_needs_fail_the_lint_job(broken: PipelineRun) -> None:
    assert broken.statuses == {"ci-lint": "FAIL"}, broken.output
    log = broken.log("ci-lint")
    assert "python-ci ci-lint: catalogue @1.1 -> 1.1.0" in log
    assert (
        ".gitlab-ci.yml: include[1] (ruff).inputs: unknown input `pyhton_version` (did you mean `python_version`?)"
        in log
    )
    # The file only tag pipelines include is checked through its include, merged with the jobs it needs.
    assert ".gitlab-ci.yml: publish.needs: publish job: undefined need: wheel" in log
    assert "refused by the validator of platform/python-ci@1.1" in log
    report = (broken.artifacts("ci-lint") / "ci-reports" / "ci-lint.txt").read_text()
    assert "unknown input `pyhton_version`" in report


def test_a_clean_pipeline_passes(clean: PipelineRun) -> None:
    assert clean.statuses == {"ci-lint": "PASS"}, clean.output
    log = clean.log("ci-lint")
    assert "not checked: .gitlab-ci.yml: include[2] (local: ci/release.yml): checked as if its `rules` included" in log
    assert "python-ci ci-lint: .gitlab-ci.yml: valid for platform/python-ci@1.1" in log
