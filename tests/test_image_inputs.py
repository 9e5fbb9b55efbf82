"""Inputs of image-build and image-push that could inject shell are refused when the pipeline is created, and every
component's `image` input takes a CI/CD variable reference (a mirror, the dependency proxy).

No registry or root needed: gitlab-ci-local and scripts/validate.py check the inputs before any job runs.
"""

import re
import shutil
from pathlib import Path

import pytest
import yaml

from scripts.validate import validate_path
from tests.engine import ROOT, include, make_repo, run_pipeline

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


# --- image inputs from a mirror ------------------------------------------------------------------------------------

SPECS = {p.stem: next(yaml.safe_load_all(p.read_text()))["spec"]["inputs"] for p in (ROOT / "templates").glob("*.yml")}
# The job's image (python-service's `image` is the switch for its image jobs, a boolean).
IMAGED = sorted(name for name, spec in SPECS.items() if spec.get("image", {}).get("type", "string") == "string")
# Values for the inputs without a default, so a component can be included with nothing but its image.
MANDATORY: dict[str, dict[str, object]] = {"version": {"output_dir": "app"}, "ci-lint": {"catalog_path": "g/python-ci"}}
MIRRORED = [
    "$MIRROR/quay.io/buildah/stable:v1.38",
    "${CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX}/python:3.12-slim",
    "$CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX/python:${PYTHON_VERSION}-slim",
]


def test_every_component_has_an_image_input() -> None:
    assert {"image-build", "image-push", "mypy", "pyright", "pytest", "ruff", "version", "wheelhouse"} <= set(IMAGED)
    for name in IMAGED:
        assert {key for key, item in SPECS[name].items() if "default" not in item} == set(MANDATORY.get(name, {}))


def _inputs(name: str, image: str) -> dict[str, object]:
    return {**MANDATORY.get(name, {}), "image": image}


@pytest.mark.parametrize("component", IMAGED)
@pytest.mark.parametrize("image", MIRRORED)
def test_the_validator_accepts_a_variable_reference_as_image(tmp_path: Path, component: str, image: str) -> None:
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    (tmp_path / ".gitlab-ci.yml").write_text(include([(component, _inputs(component, image))]))
    assert validate_path(tmp_path / ".gitlab-ci.yml") == []


def test_gitlab_ci_local_creates_the_pipeline_with_every_image_from_a_mirror(tmp_path: Path) -> None:
    image = "$MIRROR/{}"
    # Every job present in the preview whatever its default rules (some run only in tag pipelines).
    always = [{"when": "always"}]
    ci = include([(name, {**_inputs(name, image.format(name)), "rules": always}) for name in IMAGED])
    repo = make_repo(tmp_path, ci_yaml="variables:\n  MIRROR: mirror.example:5000/cache\n" + ci)
    run = run_pipeline(repo, "--preview", FAST)
    assert run.returncode == 0, run.output
    # The preview document starts at a line of its own `---` (the job library's code may hold that text too).
    start = re.search(r"^---$", run.output, re.MULTILINE)
    assert start is not None, run.output
    text = run.output[start.start() :]
    preview = yaml.safe_load(text.split("\nparsing and downloads finished", 1)[0])
    for name in IMAGED:
        job = next((job for key, job in preview.items() if key.startswith(name)), None)
        assert job is not None, (name, sorted(preview))
        found = job["image"]["name"] if isinstance(job["image"], dict) else job["image"]
        assert found == image.format(name), (name, job["image"])


@pytest.mark.parametrize("value", ["$(id)/python:3.12", "python:3.12;id", "python:3.12 -v /:/host", "`id`"])
def test_an_image_that_is_not_a_name_is_refused(tmp_path: Path, value: str) -> None:
    _run(tmp_path, "image-build", {"image": value})
