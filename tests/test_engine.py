"""The harness itself: a component runs, its status, artifacts and dotenv are read back, bad input is refused."""

import stat
from pathlib import Path

from scripts.localci import VARIABLES_FILE, engine_command, hide_secrets
from tests.engine import include, make_repo, run_pipeline

PROBE = """\
spec:
  inputs:
    word:
      description: A lower-case word.
      regex: ^[a-z]+$
---
probe:
  script:
    - echo "$[[ inputs.word ]]" > word.txt
    - echo "WORD=$[[ inputs.word ]]" > probe.env
    - test "$[[ inputs.word ]]" != fail
  artifacts:
    when: always
    paths: [word.txt]
    reports:
      dotenv: probe.env
"""


def _repo(tmp_path: Path, word: str) -> Path:
    ci = include([("probe", {"word": word})])
    return make_repo(tmp_path, ci_yaml=ci, with_templates=False, files={"templates/probe.yml": PROBE})


def test_pass_reads_artifacts_and_dotenv(tmp_path: Path) -> None:
    run = run_pipeline(_repo(tmp_path, "hello"))
    assert run.returncode == 0, run.output
    assert run.statuses == {"probe": "PASS"}
    assert (run.artifacts("probe") / "word.txt").read_text() == "hello\n"
    dotenv = run.artifacts("probe") / ".gitlab-ci-reports" / "dotenv" / "probe.env"
    assert dotenv.read_text().strip() == "WORD=hello"


def test_failing_job_is_reported_and_keeps_artifacts(tmp_path: Path) -> None:
    run = run_pipeline(_repo(tmp_path, "fail"))
    assert run.returncode == 1
    assert run.statuses == {"probe": "FAIL"}
    assert (run.artifacts("probe") / "word.txt").exists()


def test_regex_mismatch_is_refused_before_any_job(tmp_path: Path) -> None:
    run = run_pipeline(_repo(tmp_path, "hello"), inputs={"word": '"a; touch x"'})
    assert run.returncode != 0
    assert "does not match required regex" in run.output
    assert run.statuses == {}


def test_credentials_reach_the_job_but_not_the_engines_command_line(tmp_path: Path) -> None:
    variables = {"CI_REGISTRY_USER": "ci", "CI_REGISTRY_PASSWORD": "s3cret-pw", "MIRROR_TOKEN": "t0ken", "TAG": "x"}
    unit = tmp_path / "unit"
    unit.mkdir()
    rest = hide_secrets(unit, variables)
    assert rest == {"CI_REGISTRY_USER": "ci", "TAG": "x"}
    assert not [arg for arg in engine_command(variables=rest) if "s3cret-pw" in arg or "t0ken" in arg]
    assert stat.S_IMODE((unit / VARIABLES_FILE).stat().st_mode) == 0o600
    # The engine reads the file: the job sees every variable, and the file stays out of the job's copy.
    ci = """check:
  script:
    - test "$CI_REGISTRY_PASSWORD" = s3cret-pw
    - test "$MIRROR_TOKEN" = t0ken
    - test "$CI_REGISTRY_USER" = ci
"""
    repo = make_repo(tmp_path / "repo", ci_yaml=ci, with_templates=False)
    run = run_pipeline(repo, variables=variables)
    assert run.statuses == {"check": "PASS"}, run.output
    copy = repo / ".gitlab-ci-local" / "builds" / "check"
    assert (copy / ".gitlab-ci.yml").is_file()
    assert not (copy / VARIABLES_FILE).exists()
