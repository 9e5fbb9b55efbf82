"""python_ci.version in-process: real git repositories in tmp dirs, real files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from python_ci import version
from python_ci.__main__ import main as python_ci_main
from python_ci.job import JobError

SHA = "0123456789abcdef0123456789abcdef01234567"
ENV = {"CI_COMMIT_SHA": SHA, "CI_COMMIT_SHORT_SHA": SHA[:8], "CI_PIPELINE_IID": "57"}


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "tag.gpgsign=false", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit(path, "first")
    return path


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("v1.2.3", "1.2.3"), ("v2.0.0-rc.1", "2.0.0rc1"), ("v0.4.0-beta2", "0.4.0b2"), ("v1.0.0-alpha.3", "1.0.0a3")],
)
def test_a_release_tag_gives_its_version(tmp_path: Path, tag: str, expected: str) -> None:
    got = version.compute_version({**ENV, "CI_COMMIT_TAG": tag}, tmp_path, "0.1.0")
    assert got == expected
    assert str(Version(got)) == got


@pytest.mark.parametrize("tag", ["1.2.3", "v01.2.3", "release-7", "v1.2.3-rc.1; touch x"])
def test_a_tag_that_is_not_a_release_fails(tmp_path: Path, tag: str) -> None:
    with pytest.raises(JobError, match="is not a release tag"):
        version.compute_version({**ENV, "CI_COMMIT_TAG": tag}, tmp_path, "0.1.0")


def test_without_a_tag_the_dev_version_counts_from_the_initial_version(repo: Path) -> None:
    assert version.compute_version(ENV, repo, "0.3.0") == f"0.3.0.dev57+g{SHA[:8]}"


def test_the_dev_version_counts_from_the_last_release_tag(repo: Path) -> None:
    git(repo, "tag", "v1.4.2")
    commit(repo, "after")
    got = version.compute_version(ENV, repo, "0.1.0")
    assert got == f"1.4.3.dev57+g{SHA[:8]}"
    assert Version(got) > Version("1.4.2")


def test_a_missing_iid_counts_as_zero(repo: Path) -> None:
    env = {**ENV, "CI_PIPELINE_IID": ""}
    assert version.compute_version(env, repo, "0.1.0") == f"0.1.0.dev0+g{SHA[:8]}"


def test_build_info_rejects_revisions_that_are_not_shas(repo: Path) -> None:
    with pytest.raises(JobError, match="not git revisions"):
        version.build_info({**ENV, "CI_COMMIT_SHA": "HEAD"}, repo, "", "0.1.0")


def test_build_info_fields(repo: Path) -> None:
    env = {**ENV, "CI_COMMIT_BRANCH": "feat/x", "CI_PIPELINE_CREATED_AT": "2026-01-02T03:04:05Z"}
    info = version.build_info(env, repo, "demo", "0.1.0")
    assert info == {
        "service": "demo",
        "version": f"0.1.0.dev57+g{SHA[:8]}",
        "git_branch": "feat/x",
        "git_revision": SHA,
        "git_short_revision": SHA[:8],
        "build_date": "2026-01-02T03:04:05Z",
    }
    fallback = version.build_info(
        {**ENV, "CI_PIPELINE_CREATED_AT": "yesterday", "CI_PROJECT_NAME": "p"}, repo, "", "1.0.0"
    )
    assert fallback["service"] == "p"
    assert fallback["git_branch"] == "detached"
    assert fallback["build_date"] != "yesterday"


def test_main_writes_the_three_outputs(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "svc").mkdir()
    for key, value in {
        **ENV,
        "CI_COMMIT_TAG": "v1.2.3",
        "CI_COMMIT_BRANCH": "",
        "PYCI_ROOT": str(repo),
        "PYCI_PROJECT_DIR": "svc",
        "PYCI_OUTPUT_DIR": "pkg",
        "PYCI_SERVICE_NAME": "demo",
        "PYCI_INITIAL_VERSION": "0.1.0",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", 'x"; import os #')
    assert python_ci_main(["version"]) == 0
    package = repo / "svc" / "pkg"
    constants: dict[str, object] = {}
    exec((package / "_build_info.py").read_text(), constants)  # the file is Python: run it as an import would
    data = json.loads((package / "_build_info.json").read_text())
    assert constants["VERSION"] == data["version"] == "1.2.3"
    assert constants["GIT_BRANCH"] == data["git_branch"] == 'x"; import os #'
    dotenv = (repo / "ci-reports" / "build.env").read_text().splitlines()
    assert dotenv[0] == "BUILD_VERSION=1.2.3"
    assert [line.split("=", 1)[0] for line in dotenv] == list(version.DOTENV.values())


def test_a_newline_in_a_dotenv_value_fails(tmp_path: Path) -> None:
    info = dict.fromkeys(("service", *version.DOTENV), "x")
    info["git_branch"] = "a\nB=1"
    with pytest.raises(JobError, match="newline"):
        version.write_outputs(info, tmp_path / "pkg", tmp_path / "build.env")
