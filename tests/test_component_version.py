"""The version component: semver from release tags, PEP 440 dev versions otherwise, build info files and dotenv."""

import importlib.util
import json
import re
from pathlib import Path

import pytest
from packaging.version import Version

from tests.engine import PipelineRun, git, include, make_repo, run_pipeline

FIELDS = ("SERVICE", "VERSION", "GIT_BRANCH", "GIT_REVISION", "GIT_SHORT_REVISION", "BUILD_DATE")
CONSUMER = """
later:
  stage: test
  needs: [version]
  script:
    - echo "$BUILD_VERSION|$BUILD_GIT_BRANCH|$BUILD_GIT_SHORT_REVISION|$BUILD_DATE" > seen.txt
  artifacts:
    paths: [seen.txt]
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ci = include([("version", {"project_dir": "svc", "output_dir": "pkg", "service_name": "demo"})]) + CONSUMER
    files = {"svc/pkg/__init__.py": "", "svc/README.md": "demo\n"}
    return make_repo(tmp_path_factory.mktemp("version"), ci_yaml=ci, files=files)


def _module(run: PipelineRun, package: str = "svc/pkg") -> dict[str, str]:
    """Import the generated `_build_info.py` for real and return its constants."""
    path = run.artifacts("version") / package / "_build_info.py"
    spec = importlib.util.spec_from_file_location("_build_info_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: getattr(module, name) for name in FIELDS}


def _dotenv(run: PipelineRun) -> dict[str, str]:
    text = (run.artifacts("version") / ".gitlab-ci-reports" / "dotenv" / "ci-reports" / "build.env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines())


def test_branch_pipeline_gives_a_dev_version_and_all_three_outputs(repo: Path) -> None:
    run = run_pipeline(repo, "version", "later")
    assert run.statuses == {"version": "PASS", "later": "PASS"}, run.output
    head = git(repo, "rev-parse", "HEAD")
    info = _module(run)
    assert info["SERVICE"] == "demo"
    assert info["GIT_REVISION"] == head
    assert info["GIT_SHORT_REVISION"] == head[:8]
    assert info["GIT_BRANCH"] == "main"
    assert re.fullmatch(r"0\.1\.0\.dev\d+\+g" + head[:8], info["VERSION"]), info
    assert Version(info["VERSION"]).is_devrelease
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["BUILD_DATE"])
    data = json.loads((run.artifacts("version") / "svc" / "pkg" / "_build_info.json").read_text())
    assert data == {name.lower(): value for name, value in info.items()}
    dotenv = _dotenv(run)
    assert dotenv == {
        "BUILD_VERSION": info["VERSION"],
        "BUILD_GIT_BRANCH": "main",
        "BUILD_GIT_REVISION": head,
        "BUILD_GIT_SHORT_REVISION": head[:8],
        "BUILD_DATE": info["BUILD_DATE"],
    }
    # A later job gets the dotenv values as variables.
    seen = (run.artifacts("later") / "seen.txt").read_text().strip()
    assert seen == f"{info['VERSION']}|main|{head[:8]}|{info['BUILD_DATE']}"


@pytest.mark.parametrize(
    ("tag", "expected"), [("v1.2.3", "1.2.3"), ("v2.0.0-rc.1", "2.0.0rc1"), ("v0.4.0-beta2", "0.4.0b2")]
)
def test_release_tag_gives_its_version(repo: Path, tag: str, expected: str) -> None:
    run = run_pipeline(repo, "version", variables={"CI_COMMIT_TAG": tag})
    assert run.statuses == {"version": "PASS"}, run.output
    assert _module(run)["VERSION"] == expected
    assert str(Version(expected)) == expected
    assert _dotenv(run)["BUILD_VERSION"] == expected


@pytest.mark.parametrize("tag", ["1.2.3", "v01.2.3", "v1.2.3-rc.1; touch x"])
def test_a_tag_that_is_not_a_release_fails(repo: Path, tag: str) -> None:
    run = run_pipeline(repo, "version", variables={"CI_COMMIT_TAG": tag})
    assert run.statuses == {"version": "FAIL"}
    assert "is not a release tag" in run.log("version")
    assert not (repo / ".gitlab-ci-local" / "builds" / "version" / "svc" / "x").exists()


def test_dev_version_counts_from_the_last_release_tag(tmp_path: Path) -> None:
    ci = include([("version", {"output_dir": "pkg"})])
    repo = make_repo(tmp_path, ci_yaml=ci, files={"pkg/__init__.py": ""})
    git(repo, "tag", "v1.4.2")
    (repo / "CHANGES").write_text("after the release\n")
    git(repo, "add", "CHANGES")
    git(repo, "commit", "-q", "-m", "after the release")
    run = run_pipeline(repo, "version")
    assert run.statuses == {"version": "PASS"}, run.output
    version = Version(_module(run, "pkg")["VERSION"])
    assert (version.release, version.is_devrelease, version.local) == (
        (1, 4, 3),
        True,
        "g" + git(repo, "rev-parse", "HEAD")[:8],
    )
    assert version > Version("1.4.2")


def test_a_hostile_branch_name_is_data_in_every_output(repo: Path) -> None:
    branch = "feat/x\"'$(touch pwned)`touch pwned2`;touch pwned3"
    run = run_pipeline(
        repo, "version", "--ignore-predefined-vars=CI_COMMIT_BRANCH", variables={"CI_COMMIT_BRANCH": branch}
    )
    assert run.statuses == {"version": "PASS"}, run.output
    assert _module(run)["GIT_BRANCH"] == branch
    assert _dotenv(run)["BUILD_GIT_BRANCH"] == branch
    build = repo / ".gitlab-ci-local" / "builds" / "version"
    assert not list(build.rglob("pwned*"))
