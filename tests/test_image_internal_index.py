"""image-build's RUN steps install from an internal index (pypiserver over TLS with a private CA and basic auth,
tests/index_server.py): the pipeline's PYTHON_CI_INDEX_* variables reach them as build args and a build secret,
and the pushed image holds no trace of the password. Needs root and the --containers apt packages, like
tests/test_image.py."""

from __future__ import annotations

import contextlib
import gzip
import json
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts import local_registry as infra
from tests.engine import PipelineRun, include, make_repo, run_pipeline
from tests.index_server import IndexServer, running_index

_REASON = infra.missing_requirements()
pytestmark = [
    pytest.mark.container,
    pytest.mark.engine,
    pytest.mark.skipif(_REASON is not None, reason=f"container tests: {_REASON}"),
]

RUFF = "0.17.6"
# pip in a venv trusts only its own roots unless told: PIP_CERT names the bundle image-build mounts for RUN steps.
# `{case}` keeps each test's RUN step out of the other's layer cache (a build secret is not part of the cache key).
DOCKERFILE = """ARG BASE_IMAGE
FROM $BASE_IMAGE
ARG PIP_INDEX_URL
RUN --mount=type=secret,id=netrc python -m venv /opt/tools \\
 && NETRC=/run/secrets/netrc PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    /opt/tools/bin/pip install --no-cache-dir --disable-pip-version-check ruff=={ruff} \\
 && /opt/tools/bin/ruff --version && echo {case}
"""


@dataclass(frozen=True)
class Setting:
    registry: infra.Registry
    base_image: str
    storage_env: dict[str, str]
    index: IndexServer


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setting]:
    with contextlib.ExitStack() as stack:
        registry = stack.enter_context(infra.running_registry())
        base = infra.push_base_image(registry)
        scratch = infra.scratch_dir()
        storage = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="python-ci-storage-", dir=scratch)))
        conf = infra.write_storage_conf(storage / "storage.conf", storage)
        index = stack.enter_context(
            running_index(
                tmp_path_factory.mktemp("index"),
                password=secrets.token_urlsafe(18),
                requirements=[f"ruff=={RUFF}"],
                python_versions=["3.11"],  # the base image's Debian python3
            )
        )
        env = {"CONTAINERS_STORAGE_CONF": str(conf), "GCL_IGNORE_PREDEFINED_VARS": "CI_REGISTRY,CI_REGISTRY_IMAGE"}
        yield Setting(registry, base, env, index)
        infra.release_storage(conf)


def _build(setting: Setting, repo: Path, case: str, **variables: str) -> PipelineRun:
    index = setting.index
    inputs = {
        "project_dir": "app",
        "tls_verify": False,
        "storage_driver": "overlay",
        "build_args": ["BASE_IMAGE"],
        "tag": "internal-index",
    }
    make_repo(
        repo,
        ci_yaml=include([("image-build", inputs)]),
        files={"app/Dockerfile": DOCKERFILE.format(ruff=RUFF, case=case)},
    )
    values = {
        **setting.registry.variables(),
        "CI_REGISTRY_IMAGE": f"{setting.registry.host}/python-ci/internal",
        "BASE_IMAGE": setting.base_image,
        "PYTHON_CI_INDEX_URL": index.url,
        "PYTHON_CI_INDEX_USERNAME": index.username,
        "PYTHON_CI_INDEX_PASSWORD": index.password,
        "PYTHON_CI_CA_BUNDLE": str(index.ca_file),
        **variables,
    }
    return run_pipeline(repo, variables=values, env=setting.storage_env)


def _image_bytes(registry: infra.Registry, ref: str, dest: Path) -> list[bytes]:
    """Every blob of the pushed image (config, manifest, layers decompressed)."""
    subprocess.run(
        ["skopeo", "copy", "--authfile", str(registry.authfile), "--src-tls-verify=false",
         f"docker://{ref}", f"dir:{dest}"],
        check=True, capture_output=True,
    )  # fmt: skip
    blobs: list[bytes] = []
    for path in dest.iterdir():
        data = path.read_bytes()
        blobs.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return blobs


def test_run_steps_install_from_the_internal_index_and_the_image_keeps_no_password(
    setting: Setting, tmp_path: Path
) -> None:
    run = _build(setting, tmp_path / "repo", "right")
    assert run.statuses == {"image-build": "PASS"}, run.output
    log = run.log("image-build")
    assert f"RUN steps get the package index {setting.index.url}" in log
    assert f"ruff {RUFF}" in log  # installed from the internal index inside the RUN step, then run
    assert setting.index.password not in run.output
    ref = f"{setting.registry.host}/python-ci/internal:internal-index"
    blobs = _image_bytes(setting.registry, ref, tmp_path / "image")
    assert any(b"ruff" in blob for blob in blobs)
    assert not any(setting.index.password.encode() in blob for blob in blobs)
    config = next(json.loads(blob) for blob in blobs if blob.startswith(b"{") and b'"history"' in blob)
    assert setting.index.password not in json.dumps(config)


def test_a_wrong_index_password_fails_the_run_step(setting: Setting, tmp_path: Path) -> None:
    run = _build(setting, tmp_path / "repo", "wrong", PYTHON_CI_INDEX_PASSWORD="not-the-password")
    assert run.statuses == {"image-build": "FAIL"}, run.output
    assert "not-the-password" not in run.output
    # One line naming the index, not the registry (a 401 used to read as refused registry credentials).
    last = [line for line in run.log("image-build").splitlines() if line.startswith("image-build:")][-1]
    assert "on the package index https://127.0.0.1:" in last, run.log("image-build")
    assert "found no version of ruff==" in last
