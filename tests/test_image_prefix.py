"""Every default image can come from a mirror or GitLab's dependency proxy through one variable,
`PYTHON_CI_IMAGE_PREFIX`, written in front of each component's default `image` (empty when unset).

The image names are what gitlab-ci-local's own expansion resolves when it starts each job with its image (the
`<job> starting <image>` line): the jobs run with a container executor whose Docker daemon does not exist, so they
stop right after naming the image and pull nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.localci import engine_env, strip_ansi
from tests.engine import ROOT, include, make_repo

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(shutil.which("docker") is None, reason="gitlab-ci-local names a job's image only with docker"),
]

# Each default job's default image, after the prefix: every component's job (python-service only includes them).
UV_SLIM = "astral/uv:0.13.9-python3.12-trixie-slim"
DEFAULT_IMAGES = {
    "ruff": UV_SLIM,
    "mypy": UV_SLIM,
    "pyright": UV_SLIM,
    "pytest: [3.12]": UV_SLIM,
    "sast": UV_SLIM,
    "sbom": UV_SLIM,
    "hadolint": UV_SLIM,
    "dependency-audit": UV_SLIM,
    "wheelhouse": UV_SLIM,
    "ci-lint": "astral/uv:0.13.9-python3.12-trixie",
    "version": "python:3.12",
    "image-build": "quay.io/buildah/stable:v1.41.5",
    "image-push": "quay.io/skopeo/stable:v1.20.0",
}
COMPONENTS = sorted(p.stem for p in (ROOT / "templates").glob("*.yml") if p.stem != "python-service")
_STARTING = re.compile(r"^(?P<job>\S.*?)\s+starting (?P<image>\S+) \(")


def started_images(repo: Path, *variables: str) -> dict[str, str]:
    """Job name -> the image gitlab-ci-local resolved for it (`variables` as `K=V`)."""
    cmd = ["gitlab-ci-local", "--json-schema-validation=false", "--no-artifacts-to-source", "--color=false"]
    for pair in variables:
        cmd += ["--variable", pair]
    env = engine_env({"DOCKER_HOST": f"unix://{repo}/no-docker.sock"})
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False)
    found: dict[str, str] = {}
    for line in strip_ansi(done.stdout + done.stderr).splitlines():
        match = _STARTING.match(line)
        if match:
            found[match.group("job")] = match.group("image")
    return found


def _repo(tmp_path: Path, extra: str = "") -> Path:
    required = {"version": {"output_dir": "pkg"}, "ci-lint": {"catalog_path": "group/catalog"}}
    inputs = {name: required.get(name, {}) for name in COMPONENTS}
    return make_repo(tmp_path, ci_yaml=include(inputs.items()) + extra)


def test_unset_the_defaults_are_the_public_images(tmp_path: Path) -> None:
    assert started_images(_repo(tmp_path)) == DEFAULT_IMAGES


def test_a_mirror_prefix_reaches_every_default_image(tmp_path: Path) -> None:
    prefix = "mirror.internal:5000/hub/"
    images = started_images(_repo(tmp_path), f"PYTHON_CI_IMAGE_PREFIX={prefix}")
    assert images == {job: prefix + image for job, image in DEFAULT_IMAGES.items()}


def test_the_dependency_proxy_set_once_in_the_pipelines_variables(tmp_path: Path) -> None:
    extra = "variables:\n  PYTHON_CI_IMAGE_PREFIX: ${CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX}/\n"
    images = started_images(_repo(tmp_path, extra))
    proxy = "gitlab.example.com:443/python-ci/dependency_proxy/containers/"  # gitlab-ci-local's predefined value
    assert images["ruff"] == proxy + UV_SLIM
    assert images == {job: proxy + image for job, image in DEFAULT_IMAGES.items()}


def test_an_image_input_still_wins(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, ci_yaml=include([("ruff", {"image": "registry.internal/py/python:3.12"})]))
    assert started_images(repo, "PYTHON_CI_IMAGE_PREFIX=mirror.internal/") == {
        "ruff": "registry.internal/py/python:3.12"
    }
