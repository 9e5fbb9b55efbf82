"""A catalogue release runs only when every other job of the tag pipeline passed, with the notes of its tag.

The jobs of a tag pipeline are the ones gitlab-ci-local creates from .gitlab-ci.yml with GitLab's tag variables
(rules evaluated, `parallel: matrix` expanded): `release-catalog` must need each of them. The release notes job runs
for real on a copy of this repository whose CHANGELOG.md has (or lacks) the tag's section."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.localci import engine_command, engine_env, init_repo, worktree_files
from scripts.pipeline import prepare_repo, run_local_pipeline, tag_variables
from scripts.release_notes import notes
from scripts.validate import ROOT

RELEASE = "release-catalog"


def _tag_pipeline_jobs(tmp_path: Path, extra: dict[str, str]) -> list[dict[str, Any]]:
    repo = tmp_path / "repo"
    prepare_repo(ROOT, repo, "1.2.3")
    cmd = engine_command("--list-json", variables={**tag_variables("1.2.3"), **extra})
    done = subprocess.run(cmd, cwd=repo, env=engine_env(), capture_output=True, text=True, check=True)
    listed: list[dict[str, Any]] = json.loads(done.stdout[done.stdout.index("[\n") :])  # after the warnings
    return listed


def _base(name: str) -> str:
    return name.split(": [", 1)[0]


def test_release_needs_every_job_of_the_tag_pipeline(tmp_path: Path) -> None:
    jobs = _tag_pipeline_jobs(tmp_path, {})
    created = {_base(j["name"]) for j in jobs if j["when"] != "never"}
    assert RELEASE in created
    assert {"catalog-tests", "validate-components", "compat-check", "release-notes", "pytest"} <= created
    config: dict[str, Any] = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    entries: list[dict[str, Any]] = config[RELEASE]["needs"]
    assert sorted(str(n["job"]) for n in entries) == sorted(created - {RELEASE})
    # Optional needs would let a release through without the job: none is.
    assert not [n for n in entries if n.get("optional")]


def test_a_local_run_has_no_release_job(tmp_path: Path) -> None:
    jobs = _tag_pipeline_jobs(tmp_path, {"PYTHON_CI_LOCAL": "1"})
    when = {j["name"]: j["when"] for j in jobs}
    assert when["catalog-tests"] == "never"
    assert when[RELEASE] == "never"


@pytest.fixture(scope="module")
def catalog_with_notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository's files with CHANGELOG.md released as 1.2.3."""
    root = tmp_path_factory.mktemp("gate") / "catalog"
    for rel in worktree_files(ROOT):
        if (ROOT / rel).is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, root / rel)
    changelog = root / "CHANGELOG.md"
    text = changelog.read_text()
    # The release step itself: the [Unreleased] entries move under the new version's heading.
    changelog.write_text(text.replace("## [Unreleased]\n", "## [Unreleased]\n\n## [1.2.3] - 2026-11-30\n", 1))
    init_repo(root, message="catalog with notes")
    return root


@pytest.mark.parametrize(
    ("tag", "status", "words"),
    [
        ("1.2.3", "PASS", "release notes: 1.2.3: "),
        ("1.2.4", "FAIL", "CHANGELOG.md has no `## [1.2.4] - YYYY-MM-DD` section"),
        ("v1.2.3", "FAIL", "tag 'v1.2.3' is not a semantic version X.Y.Z (no 'v')"),
    ],
)
def test_release_notes_job(catalog_with_notes: Path, tmp_path: Path, tag: str, status: str, words: str) -> None:
    reports = tmp_path / "r"
    result = run_local_pipeline(
        catalog_with_notes, tag=tag, jobs=["release-notes"], workdir=tmp_path / "repo", reports_dir=reports, echo=False
    )
    assert [(j.name, j.status) for j in result.jobs] == [("release-notes", status)]
    assert words in (reports / "release-notes" / "job.log").read_text()
    if status == "PASS":
        changelog = (catalog_with_notes / "CHANGELOG.md").read_text()
        written = (reports / "release-notes" / "release-notes.md").read_text()
        assert written == notes(changelog, "1.2.3")
        assert written.startswith("### Added\n- Components `version`")
