"""Inputs of image-build and image-push that could inject shell are refused when the pipeline is created.

No registry or root needed: gitlab-ci-local checks the inputs' regexes before any job runs.
"""

from pathlib import Path

import pytest

from tests.engine import include, make_repo, run_pipeline

pytestmark = pytest.mark.engine

FAST = "--json-schema-validation=false"  # the regex check is what is under test, not GitLab's schema


def _run(tmp_path: Path, component: str, inputs: dict[str, object]) -> None:
    repo = make_repo(tmp_path, ci_yaml=include([(component, inputs)]))
    run = run_pipeline(repo, FAST)
    assert run.returncode != 0
    assert "does not match required regex" in run.output, run.output
    assert run.statuses == {}
    assert not (repo / "pwned").exists()


@pytest.mark.parametrize("value", ["x; touch pwned", "$(touch pwned)", "registry.example.com/app:tag"])
def test_image_name_injection_is_refused(tmp_path: Path, value: str) -> None:
    _run(tmp_path, "image-build", {"image_name": value})


@pytest.mark.parametrize("value", ["`touch pwned`", "v1;id", "-flag"])
def test_tag_injection_is_refused(tmp_path: Path, value: str) -> None:
    _run(tmp_path, "image-build", {"tag": value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("source", "127.0.0.1:5000/app:1; id"),
        ("target_image", "$(id)"),
        ("mirror_image", "internal.example/app;id"),
        ("mirror_password_variable", "X}; id; ${Y"),
        ("source_digest", "sha256:abc"),
    ],
)
def test_image_push_injection_is_refused(tmp_path: Path, name: str, value: str) -> None:
    _run(tmp_path, "image-push", {name: value})


def test_valid_names_and_tags_are_accepted(tmp_path: Path) -> None:
    inputs = {"image_name": "registry.example.com:5000/g/app", "tag": "$CI_COMMIT_SHORT_SHA-$CI_PIPELINE_IID"}
    repo = make_repo(tmp_path, ci_yaml=include([("image-build", inputs)]))
    run = run_pipeline(repo, "--preview", FAST)
    assert run.returncode == 0, run.output
