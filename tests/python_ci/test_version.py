"""python_ci.version in-process: real git repositories in tmp dirs (full, shallow, none), real files."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from python_ci import version
from python_ci.__main__ import main as python_ci_main
from python_ci.job import JobError
from python_ci.version import Scheme

SHA = "0123456789abcdef0123456789abcdef01234567"
ENV = {"CI_COMMIT_SHA": SHA, "CI_COMMIT_SHORT_SHA": SHA[:8], "CI_PIPELINE_IID": "57"}
LOCAL = f"+g{SHA[:8]}"


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


def shallow_clone(origin: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{origin}", str(dest)], check=True)
    return dest


def no_git_path(tmp_path: Path) -> str:
    """A PATH without git, as in an image without it (the module runs no other program)."""
    empty = tmp_path / "bin-without-git"
    empty.mkdir()
    return str(empty)


# --- tag pipelines: the tag alone decides, git or not ------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v1.2.3", "1.2.3"),
        ("2.1.0", "2.1.0"),
        ("v2.0.0-rc.1", "2.0.0rc1"),
        ("2.0.0rc1", "2.0.0rc1"),
        ("v0.4.0-beta2", "0.4.0b2"),
        ("1.5.0-beta", "1.5.0b0"),
        ("v1.0.0-alpha.3", "1.0.0a3"),
    ],
)
def test_a_release_tag_gives_its_version_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tag: str, expected: str
) -> None:
    monkeypatch.setenv("PATH", no_git_path(tmp_path))
    got = version.compute_version({**ENV, "CI_COMMIT_TAG": tag}, tmp_path, Scheme())
    assert got == expected == str(Version(got))


@pytest.mark.parametrize(
    ("tag", "scheme"),
    [
        ("v01.2.3", Scheme()),
        ("release-7", Scheme()),
        ("v1", Scheme()),
        ("v1.2.3-rc.1; touch x", Scheme()),
        ("1.2.3", Scheme(prefix="v")),
        ("v1.2.3", Scheme(prefix="")),
        ("v1.5.0-beta", Scheme(prereleases=False)),
    ],
)
def test_a_tag_that_is_not_a_release_fails(tmp_path: Path, tag: str, scheme: Scheme) -> None:
    with pytest.raises(
        JobError, match=re.escape(f"tag '{tag}' is not a release tag under tag_prefix '{scheme.prefix}'")
    ):
        version.compute_version({**ENV, "CI_COMMIT_TAG": tag}, tmp_path, scheme)


# --- branch pipelines: the highest release tag reachable from HEAD ------------------------------------------------


def test_without_a_tag_the_dev_version_counts_up_to_the_initial_version(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "tag", "v1")
    assert version.compute_version(ENV, repo, Scheme(initial="0.3.0")) == f"0.3.0.dev57{LOCAL}"
    assert capsys.readouterr().err == (
        f"python-ci version: no release tag reachable from HEAD: 0.3.0.dev57{LOCAL} counts from initial_version 0.3.0;"
        " not release tags: v1\n"
    )


@pytest.mark.parametrize(
    ("tags", "scheme", "expected", "source"),
    [
        (["v1.4.2"], Scheme(), "1.4.3.dev57", "v1.4.2"),
        # The cases: a bare X.Y.Z scheme after an old v tag, a beta after a release, one commit after an rc.
        (["v0.4.1", "2.1.0"], Scheme(), "2.1.1.dev57", "2.1.0"),
        (["v1.4.2", "v1.5.0-beta"], Scheme(), "1.5.0b1.dev57", "v1.5.0-beta"),
        (["v1.4.2", "v1.5.0-beta"], Scheme(prereleases=False), "1.4.3.dev57", "v1.4.2"),
        (["v2.0.0-rc.1"], Scheme(), "2.0.0rc2.dev57", "v2.0.0-rc.1"),
        (["2.0.0rc1"], Scheme(), "2.0.0rc2.dev57", "2.0.0rc1"),
        (["1.0.0a1"], Scheme(), "1.0.0a2.dev57", "1.0.0a1"),
        # Floating and other tags never hide the release, even on a newer commit.
        (["v1.4.2", "v1", "v1.4", "release-7", "latest"], Scheme(), "1.4.3.dev57", "v1.4.2"),
        (["v3.0.0", "1.0.0"], Scheme(prefix=""), "1.0.1.dev57", "1.0.0"),
        (["v3.0.0", "api/v1.2.0"], Scheme(prefix="api/v"), "1.2.1.dev57", "api/v1.2.0"),
    ],
)
def test_the_dev_version_counts_from_the_highest_release_tag(
    repo: Path, capsys: pytest.CaptureFixture[str], tags: list[str], scheme: Scheme, expected: str, source: str
) -> None:
    for tag in tags:  # each on its own commit, in this order: the last is the nearest
        git(repo, "tag", "-a", "-m", tag, tag) if tag.endswith("0") else git(repo, "tag", tag)
        commit(repo, f"after {tag}")
    got = version.compute_version(ENV, repo, scheme)
    assert got == expected + LOCAL
    assert str(Version(got)) == got
    assert f"counts from tag {source}, the highest release tag reachable from HEAD" in capsys.readouterr().err


def test_a_maintenance_release_merged_back_does_not_lower_the_version(repo: Path) -> None:
    git(repo, "tag", "v1.4.0")
    git(repo, "branch", "release-1.4")
    commit(repo, "2.0 work")
    git(repo, "tag", "v2.0.0")
    git(repo, "checkout", "-q", "release-1.4")
    commit(repo, "fix")
    git(repo, "tag", "v1.4.1")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge the fix", "release-1.4")
    assert version.compute_version(ENV, repo, Scheme()) == f"2.0.1.dev57{LOCAL}"
    git(repo, "checkout", "-q", "release-1.4")
    assert version.compute_version(ENV, repo, Scheme()) == f"1.4.2.dev57{LOCAL}"


def test_a_missing_iid_counts_as_zero_and_says_so(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {**ENV, "CI_PIPELINE_IID": ""}
    assert version.compute_version(env, repo, Scheme()) == f"0.1.0.dev0{LOCAL}"
    assert "warning: CI_PIPELINE_IID is '', not a number: the dev number is 0" in capsys.readouterr().err


# --- what the job needs: git, a repository, the whole history -----------------------------------------------------


def test_a_shallow_clone_is_deepened_and_its_tags_fetched(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "tag", "v1.4.2")
    for n in range(3):
        commit(repo, f"change {n}")
    clone = shallow_clone(repo, tmp_path / "clone")
    assert git(clone, "tag", "--merged", "HEAD") == ""
    got = version.compute_version({**ENV, "GIT_DEPTH": "1"}, clone, Scheme(strict=True))
    assert got == f"1.4.3.dev57{LOCAL}"
    assert "the clone was shallow (GIT_DEPTH='1'): fetched the whole history and its tags" in capsys.readouterr().err
    assert git(clone, "rev-parse", "--is-shallow-repository") == "false"


def test_a_shallow_clone_that_cannot_be_deepened_warns_or_fails(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "tag", "v1.4.2")
    commit(repo, "change")
    clone = shallow_clone(repo, tmp_path / "clone")
    git(clone, "remote", "set-url", "origin", str(tmp_path / "gone"))
    env = {**ENV, "GIT_DEPTH": "1"}
    got = version.compute_version(env, clone, Scheme())
    assert got == f"0.1.0.dev57{LOCAL}"
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "python-ci version: warning: the clone is shallow (GIT_DEPTH='1', a project or pipeline variable overrides"
        " the job's 0) and `git fetch --unshallow --tags` failed: "
    )
    assert err.endswith(f"; so 0.1.0.dev57{LOCAL} counts from initial_version 0.1.0\n")
    with pytest.raises(JobError, match=r"the clone is shallow .* strict is set"):
        version.compute_version(env, clone, Scheme(strict=True))


def test_without_git_a_branch_pipeline_warns_or_fails(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "tag", "v1.4.2")
    monkeypatch.setenv("PATH", no_git_path(tmp_path))
    assert version.compute_version(ENV, repo, Scheme()) == f"0.1.0.dev57{LOCAL}"
    assert capsys.readouterr().err == (
        "python-ci version: warning: the job's image has no git (a -slim image?);"
        f" so 0.1.0.dev57{LOCAL} counts from initial_version 0.1.0\n"
    )
    with pytest.raises(JobError, match=r"the job's image has no git .*strict is set"):
        version.compute_version(ENV, repo, Scheme(strict=True))


def test_outside_a_repository_a_branch_pipeline_warns_or_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert version.compute_version(ENV, tmp_path, Scheme()) == f"0.1.0.dev57{LOCAL}"
    assert "warning: the checkout is not a git repository (GIT_STRATEGY: none?)" in capsys.readouterr().err
    with pytest.raises(JobError, match=r"not a git repository .*strict is set"):
        version.compute_version(ENV, tmp_path, Scheme(strict=True))


def test_a_repository_without_commits_fails(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(JobError, match="`git tag --merged HEAD` failed"):
        version.compute_version(ENV, tmp_path, Scheme())


def test_many_non_release_tags_are_cut_short_in_the_log(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(7):
        git(repo, "tag", f"build-{n}")
    version.compute_version(ENV, repo, Scheme())
    assert "not release tags: build-0, build-1, build-2, build-3, build-4 ...\n" in capsys.readouterr().err


# --- build info and the job's outputs ------------------------------------------------------------------------------


def test_build_info_rejects_revisions_that_are_not_shas(repo: Path) -> None:
    with pytest.raises(JobError, match="not git revisions"):
        version.build_info({**ENV, "CI_COMMIT_SHA": "HEAD"}, repo, "", Scheme())


def test_build_info_fields(repo: Path) -> None:
    env = {**ENV, "CI_COMMIT_BRANCH": "feat/x", "CI_PIPELINE_CREATED_AT": "2026-01-02T03:04:05Z"}
    info = version.build_info(env, repo, "demo", Scheme())
    assert info == {
        "service": "demo",
        "version": f"0.1.0.dev57{LOCAL}",
        "git_branch": "feat/x",
        "git_revision": SHA,
        "git_short_revision": SHA[:8],
        "build_date": "2026-01-02T03:04:05Z",
    }
    env = {**ENV, "CI_PIPELINE_CREATED_AT": "yesterday", "CI_PROJECT_NAME": "p"}
    fallback = version.build_info(env, repo, "", Scheme())
    assert fallback["service"] == "p"
    assert fallback["git_branch"] == "detached"
    assert fallback["build_date"] != "yesterday"


def _job_env(monkeypatch: pytest.MonkeyPatch, repo: Path, **extra: str) -> None:
    inputs = {
        "PYCI_ROOT": str(repo),
        "PYCI_PROJECT_DIR": "svc",
        "PYCI_OUTPUT_DIR": "pkg",
        "PYCI_SERVICE_NAME": "demo",
        "PYCI_INITIAL_VERSION": "0.1.0",
        "PYCI_TAG_PREFIX": "v?",
        "PYCI_PRERELEASES": "true",
        "PYCI_STRICT": "false",
    }
    for key, value in {**ENV, **inputs, **extra}.items():
        monkeypatch.setenv(key, value)
    (repo / "svc").mkdir(exist_ok=True)


def test_main_writes_the_three_outputs(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _job_env(monkeypatch, repo, CI_COMMIT_TAG="v1.2.3", CI_COMMIT_BRANCH="")
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


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PYCI_TAG_PREFIX", "v*", "tag_prefix 'v*' is not"),
        ("PYCI_INITIAL_VERSION", "1.0.0rc1", "initial_version '1.0.0rc1' is not X.Y.Z"),
        ("PYCI_STRICT", "yes", "PYCI_STRICT must be true or false"),
    ],
)
def test_main_rejects_bad_inputs(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str, message: str
) -> None:
    _job_env(monkeypatch, repo, **{name: value})
    assert python_ci_main(["version"]) == 1
    assert message in capsys.readouterr().err


def test_a_newline_in_a_dotenv_value_fails(tmp_path: Path) -> None:
    info = dict.fromkeys(("service", *version.DOTENV), "x")
    info["git_branch"] = "a\nB=1"
    with pytest.raises(JobError, match="newline"):
        version.write_outputs(info, tmp_path / "pkg", tmp_path / "build.env")
