"""The local pipeline runner: working-tree copy, service hooks, statuses, durations, reports, tags, exit code."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from scripts.local_registry import missing_requirements
from scripts.localci import CATALOG_REMOTE, ROOT, git, safe_job_name
from scripts.pipeline import (
    PipelineResult,
    prepare_repo,
    registry_variables,
    run_local_pipeline,
    services,
    smoke_check,
    summary,
)

PIPELINE = """\
stages: [build, test]
build-job:
  stage: build
  script:
    - mkdir -p out
    - echo '<testsuite name="t" tests="0"/>' > out/junit.xml
    - echo "svc=$PROBE_SERVICE" > out/svc.txt
  artifacts:
    paths: [out/svc.txt]
    reports:
      junit: out/junit.xml
matrix-job:
  stage: test
  parallel:
    matrix:
      - V: ["a", "b"]
  coverage: '/^COV (\\d+)%$/'
  script:
    - echo "COV 50%"
    - test "$V" = a
local-only-skip:
  rules:
    - if: $PYTHON_CI_LOCAL
      when: never
    - when: on_success
  script: [exit 1]
# Mentions .../image-build@ so the local_registry hook (the service-hook test below) is started.
tag-only:
  rules:
    - if: $CI_COMMIT_TAG
  script:
    - echo "tag=$CI_COMMIT_TAG branch=[$CI_COMMIT_BRANCH]"
worktree:
  script:
    - test -f untracked.txt
    - test ! -f ignored.txt
"""

# The service-hook contract of scripts/local_registry.py: `up --dir DIR` prints NAME=VALUE lines, `down DIR` stops.
HOOK = """\
import sys
from pathlib import Path

if sys.argv[1] == "up":
    state = Path(sys.argv[3])
    state.mkdir(parents=True)
    (state / "up").write_text("done")
    print("PROBE_SERVICE=up")
    print("not a variable line")
else:
    (Path(sys.argv[2]) / "down").write_text("done")
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / ".gitlab-ci.yml").write_text(PIPELINE)
    (root / ".gitignore").write_text("ignored.txt\nreports/\n")
    (root / "scripts").mkdir()
    (root / "scripts" / "local_registry.py").write_text(HOOK)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fixture")
    (root / "untracked.txt").write_text("not committed, not ignored: a local run must see it\n")
    (root / "ignored.txt").write_text("git-ignored: must not reach the jobs\n")
    return root


@pytest.fixture(scope="module")
def branch_run(project: Path, tmp_path_factory: pytest.TempPathFactory) -> PipelineResult:
    workdir = tmp_path_factory.mktemp("run") / "repo"
    return run_local_pipeline(project, workdir=workdir, echo=False)


def test_statuses_and_rules(branch_run: PipelineResult) -> None:
    statuses = {job.name: job.status for job in branch_run.jobs}
    assert statuses == {
        "build-job": "PASS",
        "matrix-job: [a]": "PASS",
        "matrix-job: [b]": "FAIL",
        "worktree": "PASS",
    }  # local-only-skip: never in a local run; tag-only: not a tag pipeline
    assert not branch_run.ok


def test_durations_coverage_and_reports(project: Path, branch_run: PipelineResult) -> None:
    jobs = {job.name: job for job in branch_run.jobs}
    assert all(job.seconds is not None and 0 < job.seconds < 120 for job in jobs.values())
    assert jobs["matrix-job: [a]"].coverage == 50
    build = jobs["build-job"]
    assert build.folder is not None
    assert build.folder == project / "reports" / "build-job"
    assert build.reports == ["out/junit.xml"]  # a report outside `paths`, fetched from the job's build folder
    assert (build.folder / "out" / "junit.xml").read_text().startswith("<testsuite")
    assert (build.folder / "out" / "svc.txt").read_text() == "svc=up\n"  # the hook's variable reached the job
    failed = jobs["matrix-job: [b]"].folder
    assert failed is not None
    assert failed == project / "reports" / "matrix-job-b"
    assert 'test "$V" = a' in (failed / "job.log").read_text()


def test_service_hook_started_and_stopped(branch_run: PipelineResult) -> None:
    state = branch_run.repo.parent / f"{branch_run.repo.name}-services" / "local_registry"
    assert (state / "up").exists()
    assert (state / "down").exists()


def test_summary_table(branch_run: PipelineResult, project: Path) -> None:
    text = summary(branch_run, project)
    lines = text.splitlines()
    assert lines[0].split() == ["Job", "Status", "Duration", "Reports"]
    row = next(line for line in lines if line.startswith("build-job "))
    assert "PASS" in row
    assert "reports/build-job/ (out/junit.xml)" in row
    assert any(line.startswith("matrix-job: [a]") and "PASS 50%" in line for line in lines)
    assert lines[-1].startswith("pipeline FAILED (gitlab-ci-local exit 1): 4 job(s) in ")
    assert "executor: shell; shell executor requested" in lines  # run_local_pipeline's default


def test_job_folder_names_match_the_engine(branch_run: PipelineResult) -> None:
    outputs = {p.name for p in (branch_run.repo / ".gitlab-ci-local" / "output").iterdir()}
    assert {f"{safe_job_name(job.name)}.log" for job in branch_run.jobs} <= outputs


def test_tag_pipeline_and_job_selection(project: Path, tmp_path: Path) -> None:
    result = run_local_pipeline(
        project, tag="1.2.3", jobs=["tag-only"], workdir=tmp_path / "repo", reports_dir=tmp_path / "r", echo=False
    )
    assert [(j.name, j.status) for j in result.jobs] == [("tag-only", "PASS")]
    assert result.ok
    assert "tag=1.2.3 branch=[]" in (tmp_path / "r" / "tag-only" / "job.log").read_text()
    assert git(result.repo, "tag", "--points-at", "HEAD") == "1.2.3"


def test_catalogue_checks_pass_in_the_real_pipeline(tmp_path: Path) -> None:
    """The repository's own .gitlab-ci.yml, run by the CLI: the validator and docs jobs pass (exit 0)."""
    jobs = ["--job", "validate-components", "--job", "docs-check"]
    done = subprocess.run(
        [sys.executable, "-m", "scripts.pipeline", "--quiet", "--reports-dir", str(tmp_path), *jobs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "validate-components" in done.stdout
    assert "pipeline passed: 2 job(s)" in done.stdout
    assert (tmp_path / "validate-components" / "job.log").is_file()


@pytest.mark.docker
def test_catalogue_checks_pass_in_containers(tmp_path: Path) -> None:
    """The CLI's docker executor: the catalogue's jobs in their own image (Astral's Python 3.11 image, with uv), and
    the summary names the executor."""
    jobs = ["--job", "validate-components", "--job", "docs-check"]
    done = subprocess.run(
        [sys.executable, "-m", "scripts.pipeline", "--docker", "--quiet", "--reports-dir", str(tmp_path), *jobs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pipeline passed: 2 job(s)" in done.stdout
    assert "executor: docker (each job in its image); engine unix://" in done.stdout
    log = (tmp_path / "validate-components" / "job.log").read_text()
    assert "Using CPython 3.11" in log  # the image's uv made the tools' environment with the image's Python
    assert "problem(s)" in log


def test_service_hook_not_started_when_the_pipeline_does_not_need_it(project: Path, tmp_path: Path) -> None:
    pipeline = 'only:\n  script:\n    - echo "svc=[$PROBE_SERVICE]"\n'
    result = run_local_pipeline(
        project, pipeline=pipeline, workdir=tmp_path / "repo", reports_dir=tmp_path / "r", echo=False
    )
    assert [(j.name, j.status) for j in result.jobs] == [("only", "PASS")]
    assert "svc=[]" in (tmp_path / "r" / "only" / "job.log").read_text()
    assert not (tmp_path / "repo-services" / "local_registry").exists()


# A hook that cannot run here (exit 2 with its reason, as local_registry does without root or buildah).
HOOK_CANNOT_RUN = """\
import sys

if sys.argv[1] == "up":
    print("local_registry: cannot run: needs root (probe)", file=sys.stderr)
    sys.exit(2)
"""

# The image jobs' rules as in the root .gitlab-ci.yml; the comment names the component so the hook is wanted.
SKIP_PIPELINE = """\
# $CI_SERVER_FQDN/$CI_PROJECT_PATH/image-build@$CI_COMMIT_SHA
image-build:
  rules:
    - if: $PYTHON_CI_NO_CONTAINERS
      when: never
    - when: on_success
  script: [exit 1]
other:
  script:
    - echo "reason=[$PYTHON_CI_NO_CONTAINERS]"
"""


def test_image_jobs_reported_skipped_when_the_registry_cannot_run(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "local_registry.py").write_text(HOOK_CANNOT_RUN)
    (root / ".gitlab-ci.yml").write_text(SKIP_PIPELINE)
    git(root, "init", "-q", "-b", "main")
    result = run_local_pipeline(root, workdir=tmp_path / "repo", reports_dir=tmp_path / "r", echo=False)
    assert [(j.name, j.status) for j in result.jobs] == [("other", "PASS")]
    assert result.skipped == {"image-build": "needs root (probe)"}
    assert "reason=[needs root (probe)]" in (tmp_path / "r" / "other" / "job.log").read_text()
    assert "image-build: SKIPPED, not run here: needs root (probe)" in summary(result, root)
    assert result.ok
    off = run_local_pipeline(
        root, workdir=tmp_path / "off", reports_dir=tmp_path / "r2", echo=False, with_services=False
    )
    assert [(j.name, j.status) for j in off.jobs] == [("other", "PASS")]
    assert off.skipped == {"image-build": "helper services disabled (--no-services): no local registry"}


@pytest.mark.skipif(missing_requirements() is not None, reason=f"local registry: {missing_requirements()}")
def test_registry_variables_and_a_failing_smoke_check(tmp_path: Path) -> None:
    """The real `local_registry up` output becomes the pipeline's registry variables; a check of an image that was
    never pushed fails, and the summary and verdict say so (the passing check is test_image.py's build, and the
    main command's)."""
    state = tmp_path / "registry"
    up = subprocess.run(
        [sys.executable, "-m", "scripts.local_registry", "up", "--no-base", "--dir", str(state)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    try:
        printed = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
        variables = registry_variables(printed)
        host = printed["CI_REGISTRY"]
        assert host.startswith("127.0.0.1:")
        assert variables["CI_REGISTRY_IMAGE"] == f"{host}/python-ci/example"
        assert variables["CI_REGISTRY_PASSWORD"] == Path(printed["CI_REGISTRY_PASSWORD_FILE"]).read_text().strip()
        assert variables["IMAGE_BUILD_TLS_VERIFY"] == variables["IMAGE_PUSH_TLS_VERIFY"] == "false"
        assert "BASE_IMAGE" not in variables  # --no-base: the Dockerfile's default stays
        pushed = {"IMAGE_REF": f"{host}/python-ci/example:never-pushed", "IMAGE_DIGEST": "sha256:" + "0" * 64}
        check = smoke_check(ROOT, str(state), pushed, revision="0" * 40, env={})
        assert not check.ok
        assert check.lines
        result = PipelineResult(0, [], "", 1.0, tmp_path, smoke=check)
        assert not result.ok
        text = summary(result, tmp_path)
        assert f"image: {host}/python-ci/example:never-pushed (sha256:{'0' * 64})" in text
        assert "smoke check: FAILED" in text
    finally:
        subprocess.run([sys.executable, "-m", "scripts.local_registry", "down", str(state)], cwd=ROOT, check=False)


def test_a_clean_tree_runs_as_its_own_commit_and_a_dirty_one_as_a_snapshot(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    git(src, "init", "-q", "-b", "feature")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "source commit")
    head = git(src, "rev-parse", "HEAD")
    clean = tmp_path / "clean"
    # The image's revision label and /version name this SHA: the source's own commit.
    assert prepare_repo(src, clean) == head
    assert git(clean, "remote", "get-url", "origin") == CATALOG_REMOTE
    assert git(clean, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(clean, "rev-parse", "origin/HEAD") == head
    (src / "b.txt").write_text("uncommitted\n")
    dirty = tmp_path / "dirty"
    assert prepare_repo(src, dirty) != head
    assert (dirty / "b.txt").read_text() == "uncommitted\n"


def test_a_job_selection_starts_only_the_services_its_jobs_need(tmp_path: Path) -> None:
    """`--job dependency-audit` starts the OSV stand-in (and passes its URL as PIP_AUDIT_OSV_URL), not the
    registry the image jobs of the same file would need; both stop when the block ends."""
    text = (
        "include:\n  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/image-build@$CI_COMMIT_SHA\n"
        "  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/dependency-audit@$CI_COMMIT_SHA\n"
    )
    with services(ROOT, tmp_path, text, jobs=["dependency-audit"]) as started:
        assert list(started.printed) == ["osv_mirror"]
        url = started.variables["PIP_AUDIT_OSV_URL"]
        query = json.dumps({"package": {"name": "idna", "ecosystem": "PyPI"}, "version": "3.6"}).encode()
        with urllib.request.urlopen(urllib.request.Request(url, query), timeout=10) as response:
            assert json.load(response)["vulns"][0]["id"] == "GHSA-jjg7-2v4v-x38h"
    assert not (tmp_path / "osv_mirror").exists()
