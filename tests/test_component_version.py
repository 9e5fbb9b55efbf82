"""The version component through gitlab-ci-local: release tags in both schemes, PEP 440 dev versions after the highest
reachable release, build info files and dotenv; and what the job does without git or with a shallow clone.

"Without git" is an image without it (python:3.X-slim): the shell executor runs the job with a PATH that has every
program of the host but git."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from tests.engine import CATALOG_REMOTE, PipelineRun, engine_env, git, include, make_repo, run_pipeline

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
    ("tag", "expected"),
    [
        ("v1.2.3", "1.2.3"),
        ("2.1.0", "2.1.0"),
        ("v2.0.0-rc.1", "2.0.0rc1"),
        ("2.0.0rc1", "2.0.0rc1"),
        ("v0.4.0-beta2", "0.4.0b2"),
        ("1.5.0-beta", "1.5.0b0"),
    ],
)
def test_release_tag_gives_its_version(repo: Path, tag: str, expected: str) -> None:
    run = run_pipeline(repo, "version", variables={"CI_COMMIT_TAG": tag})
    assert run.statuses == {"version": "PASS"}, run.output
    assert _module(run)["VERSION"] == expected
    assert str(Version(expected)) == expected
    assert _dotenv(run)["BUILD_VERSION"] == expected


@pytest.mark.parametrize("tag", ["v01.2.3", "v1", "release-7", "v1.2.3-rc.1; touch x"])
def test_a_tag_that_is_not_a_release_fails(repo: Path, tag: str) -> None:
    run = run_pipeline(repo, "version", variables={"CI_COMMIT_TAG": tag})
    assert run.statuses == {"version": "FAIL"}
    assert f"python-ci version: tag '{tag}' is not a release tag under tag_prefix 'v?'" in run.log("version")
    assert not (repo / ".gitlab-ci-local" / "builds" / "version" / "svc" / "x").exists()


def _history(path: Path, tags: list[str], inputs: dict[str, object] | None = None) -> Path:
    """A project whose history holds `tags`, each on its own commit and followed by one more commit."""
    ci = include([("version", {"output_dir": "pkg", **(inputs or {})})])
    repo = make_repo(path, ci_yaml=ci, files={"pkg/__init__.py": ""})
    for tag in tags:
        git(repo, "tag", "-a", "-m", f"release {tag}", tag)
        git(repo, "commit", "-q", "--allow-empty", "-m", f"after {tag}")
    return repo


# The histories: X.Y.Z tags after an old vX.Y.Z, a beta after a release, one commit after an rc, floating tags.
@pytest.mark.parametrize(
    ("tags", "inputs", "next_release", "source"),
    [
        (["v1.4.2"], {}, "1.4.3", "v1.4.2"),
        (["v0.4.1", "2.1.0"], {}, "2.1.1", "2.1.0"),
        (["v1.4.2", "v1.5.0-beta"], {}, "1.5.0b1", "v1.5.0-beta"),
        (["v1.4.2", "v1.5.0-beta"], {"prereleases": False}, "1.4.3", "v1.4.2"),
        (["v2.0.0-rc.1"], {}, "2.0.0rc2", "v2.0.0-rc.1"),
        (["v1.4.2", "v1", "v1.4", "release-7"], {}, "1.4.3", "v1.4.2"),
        (["v3.0.0", "1.0.0"], {"tag_prefix": ""}, "1.0.1", "1.0.0"),
    ],
)
def test_dev_version_counts_from_the_highest_release_tag(
    tmp_path: Path, tags: list[str], inputs: dict[str, object], next_release: str, source: str
) -> None:
    repo = _history(tmp_path, tags, inputs)
    run = run_pipeline(repo, "version")
    assert run.statuses == {"version": "PASS"}, run.output
    got = _module(run, "pkg")["VERSION"]
    version = Version(got)
    short = git(repo, "rev-parse", "HEAD")[:8]
    assert got == f"{next_release}.dev{version.dev}+g{short}" == str(version)
    assert Version(source) < version < Version(next_release)  # packaging reads `v1.4.2`, `v2.0.0-rc.1` too
    assert f"python-ci version: {got} counts from tag {source}, the highest release tag reachable from HEAD" in run.log(
        "version"
    )


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


# --- what the job needs: git and the whole history ------------------------------------------------------------------


@pytest.fixture(scope="module")
def path_without_git(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PATH with every program the engine's jobs see except git: an image without git, in the shell executor."""
    bin_dir = tmp_path_factory.mktemp("bin-without-git")
    for folder in engine_env()["PATH"].split(os.pathsep):
        if not Path(folder).is_dir():
            continue
        for program in Path(folder).iterdir():
            target = bin_dir / program.name
            if not program.name.startswith("git") and not os.path.lexists(target):
                target.symlink_to(program)
    assert shutil.which("git", path=str(bin_dir)) is None
    assert shutil.which("python3", path=str(bin_dir)) is not None
    return str(bin_dir)


def test_without_git_a_tag_pipeline_reads_the_tag(tmp_path: Path, path_without_git: str) -> None:
    repo = _history(tmp_path, ["v1.4.2"])
    run = run_pipeline(repo, "version", variables={"CI_COMMIT_TAG": "v2.0.0-rc.1", "PATH": path_without_git})
    assert run.statuses == {"version": "PASS"}, run.output
    assert _module(run, "pkg")["VERSION"] == "2.0.0rc1"
    assert "warning" not in run.log("version")


def test_without_git_a_branch_pipeline_warns_in_one_line_or_fails_when_strict(
    tmp_path: Path, path_without_git: str
) -> None:
    repo = _history(tmp_path, ["v1.4.2"])
    run = run_pipeline(repo, "version", variables={"PATH": path_without_git})
    assert run.statuses == {"version": "PASS"}, run.output
    got = _module(run, "pkg")["VERSION"]
    assert got.startswith("0.1.0.dev")
    warnings = [line for line in run.log("version").splitlines() if "warning" in line]
    assert warnings == [
        f"python-ci version: warning: the job's image has no git (a -slim image?); so {got} counts from"
        " initial_version 0.1.0"
    ]
    strict = _history(tmp_path / "strict", ["v1.4.2"], {"strict": True})
    run = run_pipeline(strict, "version", variables={"PATH": path_without_git})
    assert run.statuses == {"version": "FAIL"}, run.output
    assert "python-ci version: the job's image has no git (a -slim image?); strict is set" in run.log("version")


def _shallow_project(tmp_path: Path, inputs: dict[str, object] | None = None) -> Path:
    """A depth-1 clone of a project with a release tag three commits back, as a runner makes with GIT_DEPTH=1;
    its origin is the catalogue's remote name (for the include), which `_origin_config` maps to the full project."""
    full = _history(tmp_path / "remote" / "python-ci" / "catalog.git", ["v1.4.2"], inputs)
    git(full, "commit", "-q", "--allow-empty", "-m", "two")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{full}", str(clone)], check=True)
    git(clone, "remote", "set-url", "origin", CATALOG_REMOTE)
    assert git(clone, "rev-parse", "--is-shallow-repository") == "true"
    assert git(clone, "tag", "--merged", "HEAD") == ""
    return clone


def _origin_config(tmp_path: Path, remote: Path) -> dict[str, str]:
    """A GIT_CONFIG_GLOBAL that sends the catalogue's remote to `remote`/ (file://), as the runner's origin would."""
    config = tmp_path / "gitconfig"
    config.write_text(
        f'[url "file://{remote}/"]\n    insteadOf = git@gitlab.example.com:\n[protocol "file"]\n    allow = always\n'
    )
    return {"GIT_CONFIG_GLOBAL": str(config)}


def test_a_shallow_clone_is_deepened_for_the_release_tags(tmp_path: Path) -> None:
    clone = _shallow_project(tmp_path, {"strict": True})
    # GIT_DEPTH=1 as a project variable would set it: it overrides the job's GIT_DEPTH: 0.
    env = _origin_config(tmp_path, tmp_path / "remote")
    run = run_pipeline(clone, "version", variables={"GIT_DEPTH": "1"}, env=env)
    assert run.statuses == {"version": "PASS"}, run.output
    got = _module(run, "pkg")["VERSION"]
    assert got.startswith("1.4.3.dev"), got
    log = run.log("version")
    assert "python-ci version: the clone was shallow (GIT_DEPTH='1'): fetched the whole history and its tags" in log
    assert f"python-ci version: {got} counts from tag v1.4.2" in log


def test_a_shallow_clone_that_cannot_be_deepened_warns_or_fails_when_strict(tmp_path: Path) -> None:
    clone = _shallow_project(tmp_path)
    env = _origin_config(tmp_path, tmp_path / "nowhere")
    run = run_pipeline(clone, "version", variables={"GIT_DEPTH": "1"}, env=env)
    assert run.statuses == {"version": "PASS"}, run.output
    got = _module(run, "pkg")["VERSION"]
    warnings = [line for line in run.log("version").splitlines() if "warning" in line]
    assert len(warnings) == 1, run.log("version")
    assert warnings[0].startswith("python-ci version: warning: the clone is shallow (GIT_DEPTH='1', a project or")
    assert warnings[0].endswith(f"; so {got} counts from initial_version 0.1.0")
    run = run_pipeline(clone, "version", variables={"GIT_DEPTH": "1", "PYCI_STRICT": "true"}, env=env)
    assert run.statuses == {"version": "FAIL"}, run.output
    assert "strict is set, so no version without the release tags" in run.log("version")


# --- in containers: the default image (git) and a slim one (none), on the local engine ------------------------------


@pytest.mark.docker
def test_in_the_default_image_the_dev_version_counts_from_the_release_tag(tmp_path: Path) -> None:
    repo = _history(tmp_path, ["v1.4.2", "v1.5.0-beta"])
    run = run_pipeline(repo, "version", executor="docker")
    assert run.statuses == {"version": "PASS"}, run.output
    got = _module(run, "pkg")["VERSION"]
    assert got.startswith("1.5.0b1.dev"), got
    assert "warning" not in run.log("version")


@pytest.mark.docker
def test_in_a_slim_image_a_tag_pipeline_reads_the_tag(tmp_path: Path) -> None:
    repo = _history(tmp_path, ["v1.4.2"], {"image": "python:3.12-slim"})
    run = run_pipeline(repo, "version", variables={"CI_COMMIT_TAG": "2.0.0rc1"}, executor="docker")
    assert run.statuses == {"version": "PASS"}, run.output
    assert _module(run, "pkg")["VERSION"] == "2.0.0rc1"
    assert "warning" not in run.log("version")


@pytest.mark.docker
def test_in_a_slim_image_a_branch_pipeline_warns_or_fails_when_strict(tmp_path: Path) -> None:
    repo = _history(tmp_path, ["v1.4.2"], {"image": "python:3.12-slim"})
    run = run_pipeline(repo, "version", executor="docker")
    assert run.statuses == {"version": "PASS"}, run.output
    got = _module(run, "pkg")["VERSION"]
    warnings = [line for line in run.log("version").splitlines() if "warning" in line]
    assert warnings == [
        f"python-ci version: warning: the job's image has no git (a -slim image?); so {got} counts from"
        " initial_version 0.1.0"
    ]
    run = run_pipeline(repo, "version", variables={"PYCI_STRICT": "true"}, executor="docker")
    assert run.statuses == {"version": "FAIL"}, run.output
    assert "the job's image has no git (a -slim image?); strict is set" in run.log("version")
