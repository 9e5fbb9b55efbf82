"""image-build and image-push in containers, as a GitLab runner's docker executor runs them (gitlab-ci-local's docker
executor on the local engine, the stand-in buildah and skopeo images): the image build's privileges, unprivileged
and privileged, and a job image taken from a mirror through a CI/CD variable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import containers
from scripts import local_registry as infra
from tests.engine import container_marks, include, make_repo, run_pipeline

pytestmark = container_marks()

FILES = {"Dockerfile": "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": "hello\n"}
# Hosts the GitLab variables would name; set on purpose, so gitlab-ci-local's WARN about them is silenced.
QUIET = {"GCL_IGNORE_PREDEFINED_VARS": "CI_REGISTRY,CI_REGISTRY_IMAGE"}


@pytest.fixture(scope="module")
def registry() -> Iterator[infra.Registry]:
    with infra.running_registry() as running:
        yield running


def _build(tmp_path: Path, registry: infra.Registry, *, privileged: bool, tag: str) -> tuple[str, str]:
    inputs = {"tls_verify": False, "layer_cache": False, "tag": tag, "retries": 4, "retry_delay": 2}
    repo = make_repo(tmp_path, ci_yaml=include([("image-build", inputs)]), files=FILES)
    variables = {**registry.variables(), "CI_REGISTRY_IMAGE": f"{registry.host}/python-ci/docker"}
    run = run_pipeline(repo, variables=variables, env=QUIET, executor="docker", privileged=privileged)
    return run.statuses.get("image-build", "missing"), run.log("image-build") if run.statuses else run.output


def test_unprivileged_image_build_fails_at_once_saying_what_to_grant(tmp_path: Path, registry: infra.Registry) -> None:
    status, log = _build(tmp_path, registry, privileged=False, tag="unprivileged")
    assert status == "FAIL", log
    assert "Error during unshare(CLONE_NEWUSER): Operation not permitted" in log  # buildah's own words
    mine = [line for line in log.splitlines() if line.startswith("image-build: ")]
    assert len(mine) == 1, log
    for grant in ("privileged = true", 'cap_add = ["SYS_ADMIN"]', "seccomp=unconfined"):
        assert grant in mine[0]
    assert "retrying" not in log and "credentials" not in log


def test_privileged_image_build_pushes(tmp_path: Path, registry: infra.Registry) -> None:
    status, log = _build(tmp_path, registry, privileged=True, tag="privileged")
    assert status == "PASS", log
    assert f"image-build: pushed {registry.host}/python-ci/docker:privileged (sha256:" in log
    # FROM scratch has no python3: the image SBOM step says so once and the push goes ahead.
    assert log.count("image-build: warning: no python3 in the image: no image SBOM") == 1, log


def test_a_job_image_named_through_a_variable_is_pulled_from_the_mirror(tmp_path: Path) -> None:
    # Only the mirrored name exists besides the default: the job runs only if GitLab's variable expansion in
    # `image:` happened (gitlab-ci-local does it as a runner does).
    engine = containers.default_engine()
    default = containers.template_default("image-push", "image")
    engine.docker("tag", default, f"mirror.invalid/cache/{default}")
    image = "$MIRROR/" + default
    # Runs on this branch, which is not the default one: no tag to promote, so no registry is needed.
    inputs = {"image": image, "rules": [{"when": "always"}]}
    repo = make_repo(tmp_path, ci_yaml=include([("image-push", inputs)]), files=FILES)
    source = {"IMAGE_REF": "registry.invalid/app:abc", "IMAGE_NAME": "registry.invalid/app"}
    variables = {"MIRROR": "mirror.invalid/cache", "CI_DEFAULT_BRANCH": "release", **source}
    run = run_pipeline(repo, variables=variables, env={"GCL_IGNORE_PREDEFINED_VARS": "CI_DEFAULT_BRANCH"},
                       executor="docker")  # fmt: skip
    assert run.statuses == {"image-push": "PASS"}, run.output
    assert f"mirror.invalid/cache/{default}" in run.output
    assert "image-push: no release tag for this ref; nothing to promote" in run.log("image-push")
