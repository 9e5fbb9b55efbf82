"""image-build and image-push, run for real in gitlab-ci-local against Debian's registry on 127.0.0.1.

One release pipeline (version stamp -> Buildah build + push -> skopeo promotion to two registries) is shared by the
module; the failure scenarios are small promote-only or build-only pipelines against the same registries.
Needs root and the --containers apt packages; otherwise every test here is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts import local_registry as infra
from tests.engine import ROOT, PipelineRun, git, include, make_repo, run_pipeline
from tests.supply_chain import cyclonedx_errors

_REASON = infra.missing_requirements()
pytestmark = [
    pytest.mark.container,
    pytest.mark.engine,
    pytest.mark.skipif(_REASON is not None, reason=f"container tests: {_REASON}"),
]

EXAMPLE = ROOT / "example"
PROJECT_DIR = "example"

# The version component stamps example/app/_build_info.* and hands BUILD_* to image-build by dotenv.
VERSION_INPUTS = {"project_dir": PROJECT_DIR, "output_dir": "app", "service_name": "text-analytics"}
# The example's build stage installs from the package index: behind this machine's TLS-intercepting proxy it
# needs the host's CA bundle, mounted over the image's own for RUN steps (ca_bundle), which pip and uv trust.
EXAMPLE_INPUTS: dict[str, object] = {"build_args": ["BASE_IMAGE"], "ca_bundle": "/etc/ssl/certs/ca-certificates.crt"}


@dataclass(frozen=True)
class Infra:
    registry: infra.Registry
    mirror: infra.Registry
    base_image: str
    storage_env: dict[str, str]  # keeps the jobs' buildah storage in a temp dir, never the host's


@pytest.fixture(scope="module")
def local() -> Iterator[Infra]:
    with contextlib.ExitStack() as stack:
        registry = stack.enter_context(infra.running_registry())
        mirror = stack.enter_context(infra.running_registry())
        base = infra.push_base_image(registry)
        scratch = infra.scratch_dir()
        storage = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="python-ci-storage-", dir=scratch)))
        conf = infra.write_storage_conf(storage / "storage.conf", storage)
        # The registry variables are set on purpose: silence gitlab-ci-local's WARN about overriding them.
        env = {"CONTAINERS_STORAGE_CONF": str(conf), "GCL_IGNORE_PREDEFINED_VARS": "CI_REGISTRY,CI_REGISTRY_IMAGE"}
        yield Infra(registry, mirror, base, env)
        infra.release_storage(conf)


def _variables(local: Infra, **extra: str) -> dict[str, str]:
    reg = local.registry
    return {
        **reg.variables(),
        "CI_REGISTRY_IMAGE": f"{reg.host}/python-ci/catalog",
        "BASE_IMAGE": local.base_image,
        "MIRROR_USER": local.mirror.user,
        "MIRROR_PASSWORD": local.mirror.password,
        **extra,
    }


def _build_inputs(**extra: object) -> dict[str, object]:
    return {
        "project_dir": PROJECT_DIR,
        "dockerfile": "product.Dockerfile",
        "tls_verify": False,
        "storage_driver": "overlay",
        **EXAMPLE_INPUTS,
        **extra,
    }


def _push_inputs(local: Infra, **extra: object) -> dict[str, object]:
    return {
        "tls_verify": False,
        "mirror_image": f"{local.mirror.host}/internal/catalog",
        "mirror_user_variable": "MIRROR_USER",
        "mirror_password_variable": "MIRROR_PASSWORD",
        "mirror_tls_verify": False,
        "retries": 3,
        "retry_delay": 1,
        **extra,
    }


def _repo(dest: Path, ci_yaml: str) -> Path:
    return make_repo(dest, ci_yaml=ci_yaml, project=EXAMPLE, project_dir=PROJECT_DIR)


def _skopeo(registry: infra.Registry, *args: str) -> str:
    cmd = ["skopeo", *args[:1], "--authfile", str(registry.authfile), "--tls-verify=false", *args[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def _digest(registry: infra.Registry, ref: str) -> str:
    raw = _skopeo(registry, "inspect", "--raw", f"docker://{ref}")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as manifest:
        manifest.write(raw)
        manifest.flush()
        return subprocess.run(["skopeo", "manifest-digest", manifest.name], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip


def _tags(registry: infra.Registry, repository: str) -> set[str]:
    done = subprocess.run(
        ["skopeo", "list-tags", "--authfile", str(registry.authfile), "--tls-verify=false",
         f"docker://{registry.host}/{repository}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        assert "name unknown" in done.stderr or "repository name not known" in done.stderr, done.stderr
        return set()
    return set(json.loads(done.stdout)["Tags"])


def _dotenv(run: PipelineRun, job: str) -> dict[str, str]:
    found = list((run.artifacts(job) / ".gitlab-ci-reports" / "dotenv").rglob("*.env"))
    assert len(found) == 1, found
    pairs = (line.split("=", 1) for line in found[0].read_text().splitlines() if "=" in line)
    return dict(pairs)


@dataclass(frozen=True)
class Release:
    run: PipelineRun
    image: dict[str, str]
    commit: str


@pytest.fixture(scope="module")
def release(local: Infra, tmp_path_factory: pytest.TempPathFactory) -> Release:
    ci = include([("version", VERSION_INPUTS),
                  ("image-build", _build_inputs(needs=["version"])),
                  ("image-push", _push_inputs(local, needs=["image-build"]))])  # fmt: skip
    repo = _repo(tmp_path_factory.mktemp("release"), ci)
    run = run_pipeline(repo, variables=_variables(local, CI_COMMIT_TAG="v1.2.3"), env=local.storage_env)
    assert run.statuses == {"version": "PASS", "image-build": "PASS", "image-push": "PASS"}, run.output
    return Release(run=run, image=_dotenv(run, "image-build"), commit=git(repo, "rev-parse", "HEAD"))


def test_build_pushes_one_tag_and_reports_its_digest(local: Infra, release: Release) -> None:
    image = release.image
    assert image["IMAGE_NAME"] == f"{local.registry.host}/python-ci/catalog"
    assert image["IMAGE_REF"] == f"{image['IMAGE_NAME']}:{release.commit[:8]}"
    assert _digest(local.registry, image["IMAGE_REF"]) == image["IMAGE_DIGEST"]
    assert {release.commit[:8], "1.2.3", "1.2", "1", "latest"} <= _tags(local.registry, "python-ci/catalog")
    assert _tags(local.registry, "python-ci/catalog/cache"), "the layer cache was not pushed to <image>/cache"


def test_labels_name_the_commit_and_the_version(local: Infra, release: Release) -> None:
    labels = json.loads(_skopeo(local.registry, "inspect", f"docker://{release.image['IMAGE_REF']}"))["Labels"]
    assert labels["org.opencontainers.image.revision"] == release.commit
    assert labels["org.opencontainers.image.version"] == "1.2.3"
    assert labels["org.opencontainers.image.created"] == _dotenv(release.run, "version")["BUILD_DATE"]
    assert labels["org.opencontainers.image.source"] == "https://gitlab.example.com/python-ci/catalog"
    assert labels["org.opencontainers.image.url"] == "https://gitlab.example.com/python-ci/catalog"
    assert labels["org.opencontainers.image.title"] == "catalog"


def test_promotion_copies_the_same_digest_to_every_tag_and_the_mirror(local: Infra, release: Release) -> None:
    digest = release.image["IMAGE_DIGEST"]
    name = release.image["IMAGE_NAME"]
    for tag in ("1.2.3", "1.2", "1", "latest"):
        assert _digest(local.registry, f"{name}:{tag}") == digest, tag
        assert _digest(local.mirror, f"{local.mirror.host}/internal/catalog:{tag}") == digest, tag
    promoted = _dotenv(release.run, "image-push")
    assert promoted["PROMOTED_DIGEST"] == digest
    assert len(promoted["PROMOTED_REFS"].split()) == 8


def test_a_new_runner_reuses_the_dependency_layers_from_the_registry_cache(
    local: Infra, release: Release, tmp_path: Path
) -> None:
    # A code-only change built with an empty image store, as on a fresh runner: only `<image>/cache` can help.
    repo = _repo(tmp_path / "repo", include([("image-build", _build_inputs())]))
    main = repo / PROJECT_DIR / "app" / "main.py"
    main.write_text(main.read_text() + "\n# a code-only change\n")
    git(repo, "commit", "-q", "-am", "code only")
    conf = infra.write_storage_conf(tmp_path / "storage" / "storage.conf", tmp_path / "storage")
    try:
        run = run_pipeline(
            repo, variables=_variables(local), env={**local.storage_env, "CONTAINERS_STORAGE_CONF": str(conf)}
        )
    finally:
        infra.release_storage(conf)
    assert run.statuses == {"image-build": "PASS"}, run.output
    log = run.log("image-build")
    # Every step up to the code is restored (pulled from the registry), the dependency install included.
    steps = {chunk.splitlines()[0]: "--> Using cache" in chunk for chunk in re.split(r"STEP \d+/\d+: ", log)[1:]}
    assert "Cache pulled from remote" in log
    assert [step for step, cached in steps.items() if cached and "uv pip sync" in step], steps
    assert steps["COPY --from=build /opt/venv /opt/venv"], steps
    assert not steps["COPY app/ /app/app/"], steps


def _pins(requirements: Path) -> dict[str, str]:
    """{PEP 503 name: version} of the `name==version` lines of a hashed requirements file."""
    found = (re.match(r"([A-Za-z0-9._-]+)==([^ ;\\]+)", line) for line in requirements.read_text().splitlines())
    return {re.sub(r"[-_.]+", "-", m[1]).lower(): m[2] for m in found if m}


def test_the_image_sbom_lists_the_python_distributions_of_the_image(release: Release) -> None:
    assert release.image["IMAGE_SBOM"] == "ci-reports/image-sbom.cdx.json"
    sbom = release.run.artifacts("image-build") / PROJECT_DIR / release.image["IMAGE_SBOM"]
    assert cyclonedx_errors(sbom) == ""
    bom = json.loads(sbom.read_text())
    found = {re.sub(r"[-_.]+", "-", c["name"]).lower(): c["version"] for c in bom["components"]}
    # The runtime image's venv was made --without-pip from the hash-pinned requirements: exactly those, no more.
    assert found == _pins(EXAMPLE / "requirements.txt")
    for name in ("fastapi", "uvicorn", "gunicorn", "pydantic-settings", "loguru"):
        assert name in found, name
    image = bom["metadata"]["component"]
    assert (image["name"], image["version"]) == (release.image["IMAGE_NAME"], release.image["IMAGE_TAG"])
    assert image["purl"].startswith(f"pkg:oci/catalog@{release.image['IMAGE_DIGEST'].replace(':', '%3A')}?")
    assert f"image-build: image SBOM: {len(found)} Python distributions" in release.run.log("image-build")


def test_an_image_without_python3_is_pushed_without_an_sbom(local: Infra, tmp_path: Path) -> None:
    files = {"Dockerfile": "FROM scratch\nCOPY hello.txt /hello.txt\n", "hello.txt": "hello\n"}
    inputs = {"tls_verify": False, "layer_cache": False, "storage_driver": "overlay", "tag": "no-python"}
    repo = make_repo(tmp_path, ci_yaml=include([("image-build", inputs)]), files=files)
    run = run_pipeline(repo, variables=_variables(local), env=local.storage_env)
    assert run.statuses == {"image-build": "PASS"}, run.output
    _one_line(run, "image-build", "warning: no python3 in the image: no image SBOM")
    assert "no-python" in _tags(local.registry, "python-ci/catalog")
    assert _dotenv(run, "image-build")["IMAGE_SBOM"] == ""
    assert not list(run.artifacts("image-build").rglob("image-sbom.cdx.json"))


def test_no_password_reaches_the_job_logs(local: Infra, release: Release) -> None:
    for job in ("image-build", "image-push"):
        log = release.run.log(job)
        assert local.registry.password not in log
        assert local.mirror.password not in log


def _promote(local: Infra, dest: Path, *, variables: dict[str, str], **inputs: object) -> PipelineRun:
    repo = make_repo(dest, ci_yaml=include([("image-push", _push_inputs(local, **inputs))]))
    return run_pipeline(repo, variables=_variables(local, **variables), env=local.storage_env)


def _source(release: Release) -> dict[str, str]:
    return {key: release.image[key] for key in ("IMAGE_REF", "IMAGE_NAME", "IMAGE_DIGEST")}


def _one_line(run: PipelineRun, job: str, text: str) -> None:
    lines = [line for line in run.log(job).splitlines() if line.startswith(f"{job}: ") and text in line]
    assert len(lines) == 1, run.log(job)


def test_default_branch_gets_its_tag(local: Infra, release: Release, tmp_path: Path) -> None:
    run = _promote(local, tmp_path, variables=_source(release), mirror_image="")  # branch main, no git tag
    assert run.statuses == {"image-push": "PASS"}, run.output
    assert _digest(local.registry, f"{release.image['IMAGE_NAME']}:edge") == release.image["IMAGE_DIGEST"]


def test_pre_release_gets_only_its_own_tag(local: Infra, release: Release, tmp_path: Path) -> None:
    run = _promote(local, tmp_path, variables={**_source(release), "CI_COMMIT_TAG": "v6.0.0-rc.1"}, mirror_image="")
    assert run.statuses == {"image-push": "PASS"}, run.output
    tags = _tags(local.registry, "python-ci/catalog")
    assert "6.0.0-rc.1" in tags
    assert not {"6", "6.0", "6.0.0"} & tags


# (git tag, image-push inputs, image tags made, image tags not made)
SCHEMES: list[tuple[str, dict[str, object], set[str], set[str]]] = [
    ("6.1.0rc1", {}, {"6.1.0rc1"}, {"6", "6.1", "6.1.0"}),  # a PEP 440 pre-release, as the version job reads it
    ("7.0.0", {"latest": False}, {"7.0.0", "7.0", "7"}, set()),  # the X.Y.Z scheme, without a `v`
    ("api/v8.0.0", {"tag_prefix": "api/v", "latest": False}, {"8.0.0", "8.0", "8"}, set()),
]


@pytest.mark.parametrize(("git_tag", "inputs", "promoted", "not_promoted"), SCHEMES)
def test_both_tag_schemes_are_promoted(
    local: Infra,
    release: Release,
    tmp_path: Path,
    git_tag: str,
    inputs: dict[str, object],
    promoted: set[str],
    not_promoted: set[str],
) -> None:
    variables = {**_source(release), "CI_COMMIT_TAG": git_tag}
    run = _promote(local, tmp_path, variables=variables, mirror_image="", **inputs)
    assert run.statuses == {"image-push": "PASS"}, run.output
    tags = _tags(local.registry, "python-ci/catalog")
    assert promoted <= tags
    assert not not_promoted & tags


def test_non_semver_git_tag_is_refused(local: Infra, release: Release, tmp_path: Path) -> None:
    run = _promote(local, tmp_path, variables={**_source(release), "CI_COMMIT_TAG": "release-7"}, mirror_image="")
    assert run.statuses == {"image-push": "FAIL"}
    _one_line(run, "image-push", "is not a release tag")


def test_wrong_password_fails_and_creates_no_tag(local: Infra, release: Release, tmp_path: Path) -> None:
    run = _promote(local, tmp_path, variables={**_source(release), "CI_COMMIT_TAG": "v2.0.0",
                                               "CI_REGISTRY_PASSWORD": "wrong"})  # fmt: skip
    assert run.statuses == {"image-push": "FAIL"}
    _one_line(run, "image-push", "refused the credentials")
    assert "2.0.0" not in _tags(local.registry, "python-ci/catalog")


def test_wrong_mirror_password_is_caught_before_any_copy(local: Infra, release: Release, tmp_path: Path) -> None:
    run = _promote(local, tmp_path, variables={**_source(release), "CI_COMMIT_TAG": "v3.0.0",
                                               "MIRROR_PASSWORD": "wrong"})  # fmt: skip
    assert run.statuses == {"image-push": "FAIL"}
    _one_line(run, "image-push", "refused the credentials")
    assert "3.0.0" not in _tags(local.registry, "python-ci/catalog")
    assert "3.0.0" not in _tags(local.mirror, "internal/catalog")


def test_promoting_a_missing_tag_fails(local: Infra, release: Release, tmp_path: Path) -> None:
    source = {**_source(release), "IMAGE_REF": f"{release.image['IMAGE_NAME']}:does-not-exist", "IMAGE_DIGEST": ""}
    run = _promote(local, tmp_path, variables={**source, "CI_COMMIT_TAG": "v4.0.0"})
    assert run.statuses == {"image-push": "FAIL"}
    _one_line(run, "image-push", "not found in the registry")
    assert "4.0.0" not in _tags(local.registry, "python-ci/catalog")


def test_registry_down_is_retried_then_fails(local: Infra, tmp_path: Path) -> None:
    down = f"127.0.0.1:{infra.free_port()}"
    source = {"IMAGE_REF": f"{down}/python-ci/catalog:abc", "IMAGE_NAME": f"{down}/python-ci/catalog",
              "IMAGE_DIGEST": ""}  # fmt: skip
    started = time.monotonic()
    run = _promote(local, tmp_path, variables={**source, "CI_COMMIT_TAG": "v5.0.0"}, mirror_image="")
    assert run.statuses == {"image-push": "FAIL"}
    log = run.log("image-push")
    assert log.count("retrying in") == 2, log  # retries: 3 -> two waits (1 s, 2 s)
    _one_line(run, "image-push", "failed after 3 attempts")
    assert time.monotonic() - started >= 3


def test_build_with_wrong_password_pushes_nothing(local: Infra, tmp_path: Path) -> None:
    repo = _repo(tmp_path, include([("image-build", _build_inputs(tag="wrong-password"))]))
    run = run_pipeline(repo, variables=_variables(local, CI_REGISTRY_PASSWORD="wrong"), env=local.storage_env)
    assert run.statuses == {"image-build": "FAIL"}
    _one_line(run, "image-build", "refused the credentials")
    assert "wrong-password" not in _tags(local.registry, "python-ci/catalog")


def test_missing_base_image_fails_with_one_line(local: Infra, tmp_path: Path) -> None:
    repo = _repo(tmp_path, include([("image-build", _build_inputs(tag="no-base"))]))
    missing = f"{local.registry.host}/base/python:does-not-exist"
    run = run_pipeline(repo, variables=_variables(local, BASE_IMAGE=missing), env=local.storage_env)
    assert run.statuses == {"image-build": "FAIL"}
    _one_line(run, "image-build", "base image named in FROM was not found")
    assert "no-base" not in _tags(local.registry, "python-ci/catalog")


# --- smoke run of the built image, without a container engine (local_registry.check_image) -----------------


def test_example_image_serves_livez_and_the_stamped_version(local: Infra, release: Release) -> None:
    ref = release.image["IMAGE_REF"]
    report = infra.check_image(ref, local.registry.authfile, release.commit, {"X_TOKEN": "t" * 40})
    assert report[0].startswith(f"labels: revision {release.commit}")
    assert "GET /livez" in report[1]
    version = json.loads(report[2].removeprefix("GET /version: "))
    assert version["git_revision"] == release.commit
    assert version["version"] == "1.2.3"


def test_check_refuses_an_image_of_another_commit(local: Infra, release: Release) -> None:
    with pytest.raises(infra.InfraError, match=r"org\.opencontainers\.image\.revision"):
        infra.check_image(release.image["IMAGE_REF"], local.registry.authfile, "0" * 40)


def test_local_registry_cli_up_and_down() -> None:
    up = subprocess.run([sys.executable, "-m", "scripts.local_registry", "up", "--no-base"], cwd=ROOT,
                        capture_output=True, text=True, check=True)  # fmt: skip
    values = dict(line.split("=", 1) for line in up.stdout.splitlines())
    workdir = Path(values["LOCAL_REGISTRY_DIR"])
    try:
        assert values["CI_REGISTRY"].startswith("127.0.0.1:")
        password = Path(values["CI_REGISTRY_PASSWORD_FILE"]).read_text()
        assert password not in up.stdout
        login = subprocess.run(
            ["skopeo", "login", "--tls-verify=false", "--authfile", str(workdir / "probe.json"), "-u",
             values["CI_REGISTRY_USER"], "--password-stdin", values["CI_REGISTRY"]],
            input=password, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
    finally:
        down = subprocess.run([sys.executable, "-m", "scripts.local_registry", "down", str(workdir)], cwd=ROOT,
                              capture_output=True, text=True, check=False)  # fmt: skip
    assert down.returncode == 0, down.stderr
    assert not workdir.exists()
    with pytest.raises(OSError):
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f"http://{values['CI_REGISTRY']}/v2/",
                                                                          timeout=2)  # fmt: skip


def test_base_image_is_cached_between_runs() -> None:
    first = infra.base_layout()
    mtime = (first / "index.json").stat().st_mtime
    assert infra.base_layout() == first
    assert (first / "index.json").stat().st_mtime == mtime
