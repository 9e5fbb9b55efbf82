"""The harness itself: a component runs, its status, artifacts and dotenv are read back, bad input is refused."""

from pathlib import Path

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
