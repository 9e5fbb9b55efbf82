"""python_ci/image_build.sh run directly: real buildah against a registry on 127.0.0.1, and a recording buildah for
the command line it builds and the error texts it must classify (an unprivileged container's, which this host
cannot produce)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import local_registry as infra
from tests.engine import ROOT
from tests.python_ci.fault_proxy import FaultProxy
from tests.python_ci.shell_support import Result, calls, host_path, recorder, run_script, tool_dir
from tests.supply_chain import cyclonedx_errors

_REASON = infra.missing_requirements()
needs_registry = pytest.mark.skipif(_REASON is not None, reason=f"container tests: {_REASON}")

DOCKERFILE = "FROM scratch\nARG VERSION=none\nCOPY hello.txt /hello.txt\n"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def registry() -> Iterator[infra.Registry]:
    if _REASON is not None:
        pytest.skip(f"container tests: {_REASON}")
    with infra.running_registry() as running:
        yield running


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "hello.txt").write_text("hello\n")
    return folder


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Path]:
    conf = infra.write_storage_conf(tmp_path / "storage" / "storage.conf", tmp_path / "storage", driver="vfs")
    yield conf
    infra.release_storage(conf)


def _env(host: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": host_path(),
        "IMAGE_BUILD_IMAGE_NAME": f"{host}/python-ci/tiny",
        "IMAGE_BUILD_TAG": "abc123",
        "IMAGE_BUILD_TLS_VERIFY": "false",
        "IMAGE_BUILD_STORAGE_DRIVER": "vfs",
        "IMAGE_BUILD_ISOLATION": "chroot",
        "IMAGE_BUILD_RETRIES": "2",
        "IMAGE_BUILD_RETRY_DELAY": "0",
        "IMAGE_BUILD_DOCKERFILE": "Dockerfile",
        "IMAGE_BUILD_CONTEXT": ".",
        "IMAGE_BUILD_TARGET": "",
        "IMAGE_BUILD_LAYER_CACHE": "false",
        "IMAGE_BUILD_CA_BUNDLE": "",
        "IMAGE_BUILD_ARGS": "build_args=[]",
        "IMAGE_BUILD_SBOM": "true",
        "BUILDAH_FORMAT": "docker",
        "CI_COMMIT_SHORT_SHA": SHA[:8],
        "CI_COMMIT_SHA": SHA,
        "CI_PROJECT_URL": "https://gitlab.example.com/g/tiny",
        "CI_PROJECT_NAME": "tiny",
        **extra,
    }


def _real_env(registry: infra.Registry, storage: Path, host: str | None = None, **extra: str) -> dict[str, str]:
    base = {**registry.variables(), "CONTAINERS_STORAGE_CONF": str(storage)}
    return {**_env(host or registry.host), **base, **extra}


def _tags(registry: infra.Registry, repository: str) -> set[str]:
    done = subprocess.run(
        ["skopeo", "list-tags", "--authfile", str(registry.authfile), "--tls-verify=false",
         f"docker://{registry.host}/{repository}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return set(json.loads(done.stdout)["Tags"]) if done.returncode == 0 else set()


def _one_line(result: Result, text: str) -> str:
    mine = [line for line in result.lines("image-build") if text in line]
    assert len(mine) == 1, result.stderr
    return mine[0]


# --- real buildah, real registry -------------------------------------------------------------------------------


@needs_registry
def test_build_pushes_the_tag_and_reports_its_digest(registry: infra.Registry, project: Path, storage: Path) -> None:
    result = run_script("image_build", _real_env(registry, storage, IMAGE_BUILD_TAG="real-1"), project)
    assert result.returncode == 0, result.stderr
    dotenv = dict(line.split("=", 1) for line in (project / "image-build.env").read_text().splitlines())
    ref = f"{registry.host}/python-ci/tiny:real-1"
    assert dotenv["IMAGE_REF"] == ref and dotenv["IMAGE_TAG"] == "real-1"
    inspect = subprocess.run(
        ["skopeo", "inspect", "--authfile", str(registry.authfile), "--tls-verify=false", f"docker://{ref}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    image = json.loads(inspect.stdout)
    assert image["Digest"] == dotenv["IMAGE_DIGEST"]
    assert image["Labels"]["org.opencontainers.image.revision"] == SHA
    assert image["Labels"]["org.opencontainers.image.version"] == SHA[:8]
    assert registry.password not in result.stderr + result.stdout
    # FROM scratch: no python3, so no SBOM, said once as a warning; the push went ahead.
    _one_line(result, "warning: no python3 in the image: no image SBOM")
    assert dotenv["IMAGE_SBOM"] == ""
    assert not (project / "ci-reports").exists()


@needs_registry
def test_wrong_password_fails_at_once_and_pushes_nothing(
    registry: infra.Registry, project: Path, storage: Path
) -> None:
    env = _real_env(registry, storage, IMAGE_BUILD_TAG="wrong-password", CI_REGISTRY_PASSWORD="wrong")
    result = run_script("image_build", env, project)
    assert result.returncode == 1
    _one_line(result, "refused the credentials; nothing was pushed")
    assert "retrying" not in result.stderr
    assert "wrong-password" not in _tags(registry, "python-ci/tiny")


@needs_registry
def test_a_failing_push_is_retried_and_leaves_no_tag(registry: infra.Registry, project: Path, storage: Path) -> None:
    # The registry takes the layers but answers 503 to the manifest: the push breaks at its very last step.
    def manifest_put(method: str, path: str) -> bool:
        return method == "PUT" and "/manifests/" in path

    with FaultProxy(registry.host, manifest_put) as proxy:
        env = _real_env(registry, storage, host=proxy.host, IMAGE_BUILD_TAG="half", CI_REGISTRY=proxy.host)
        result = run_script("image_build", env, project)
    assert result.returncode == 1, result.stderr
    assert any(request.startswith("PATCH ") or request.startswith("PUT /v2/python-ci/tiny/blobs/")
               for request in proxy.requests), proxy.requests  # fmt: skip
    assert result.stderr.count("attempt 1 failed, retrying") == 1
    _one_line(result, "failed after 2 attempts (nothing was pushed)")
    assert "half" not in _tags(registry, "python-ci/tiny")
    assert not (project / "image-build.env").exists()


@needs_registry
def test_a_bad_dockerfile_fails_at_once_with_one_line(registry: infra.Registry, project: Path, storage: Path) -> None:
    (project / "Dockerfile").write_text("FORM scratch\n")
    result = run_script("image_build", _real_env(registry, storage, IMAGE_BUILD_TAG="bad"), project)
    assert result.returncode == 1
    _one_line(result, "buildah build failed, nothing was pushed")
    assert "retrying" not in result.stderr


@needs_registry
def test_a_missing_base_image_fails_with_one_line(registry: infra.Registry, project: Path, storage: Path) -> None:
    (project / "Dockerfile").write_text(f"FROM {registry.host}/base/nothing:1\nCOPY hello.txt /\n")
    result = run_script("image_build", _real_env(registry, storage, IMAGE_BUILD_TAG="no-base"), project)
    assert result.returncode == 1
    _one_line(result, "a base image named in FROM was not found")
    assert "no-base" not in _tags(registry, "python-ci/tiny")


# --- the image SBOM: real buildah with an image that has python3 (the tests' Debian base) --------------------------


@pytest.fixture(scope="module")
def overlay() -> Iterator[Path]:
    # One overlay store for these tests: the ~200 MB base is pulled once, and no layer is copied (vfs took ~2 min
    # a test on a busy 2-core machine).
    with tempfile.TemporaryDirectory(prefix="python-ci-sbom-", dir=infra.scratch_dir()) as root:
        conf = infra.write_storage_conf(Path(root) / "storage.conf", Path(root))
        yield conf
        infra.release_storage(conf)


def _overlay_env(registry: infra.Registry, overlay: Path, tag: str, **extra: str) -> dict[str, str]:
    return _real_env(registry, overlay, IMAGE_BUILD_TAG=tag, IMAGE_BUILD_STORAGE_DRIVER="overlay", **extra)


@pytest.fixture
def with_python(registry: infra.Registry, project: Path) -> Path:
    # A distribution of our own in Debian's site dir, which python3 (not a venv) has on its sys.path.
    base = infra.push_base_image(registry)
    info = project / "demo_pkg-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.4\nName: demo_pkg\nVersion: 1.2\nLicense-Expression: MIT\n\n")
    (project / "Dockerfile").write_text(
        f"FROM {base}\nCOPY demo_pkg-1.2.dist-info /usr/lib/python3/dist-packages/demo_pkg-1.2.dist-info\n"
        "USER 10001:10001\n"
    )
    return project


@needs_registry
def test_the_sbom_of_the_images_python_names_the_pushed_digest(
    registry: infra.Registry, with_python: Path, overlay: Path
) -> None:
    result = run_script("image_build", _overlay_env(registry, overlay, "sbom-1"), with_python)
    assert result.returncode == 0, result.stderr
    dotenv = dict(line.split("=", 1) for line in (with_python / "image-build.env").read_text().splitlines())
    assert dotenv["IMAGE_SBOM"] == "ci-reports/image-sbom.cdx.json"
    sbom = with_python / dotenv["IMAGE_SBOM"]
    assert cyclonedx_errors(sbom) == ""
    bom = json.loads(sbom.read_text())
    demo = [component for component in bom["components"] if component["name"] == "demo_pkg"]
    assert demo == [{"type": "library", "bom-ref": "pkg:pypi/demo-pkg@1.2", "name": "demo_pkg", "version": "1.2",
                     "licenses": [{"expression": "MIT"}], "purl": "pkg:pypi/demo-pkg@1.2"}]  # fmt: skip
    digest = dotenv["IMAGE_DIGEST"].replace(":", "%3A")
    image = bom["metadata"]["component"]
    assert image["purl"] == f"pkg:oci/tiny@{digest}?repository_url={registry.host}/python-ci/tiny&tag=sbom-1"
    assert image["bom-ref"] == image["purl"]
    _one_line(result, f"image SBOM: {len(bom['components'])} Python distributions")
    assert not _containers(overlay), "the working container was left behind"


@needs_registry
def test_a_failing_python3_fails_before_the_push(registry: infra.Registry, with_python: Path, overlay: Path) -> None:
    dockerfile = with_python / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "ENV PYTHONHOME=/nowhere\n")  # python3 cannot start
    result = run_script("image_build", _overlay_env(registry, overlay, "sbom-broken"), with_python)
    assert result.returncode == 1
    _one_line(result, "image SBOM: python3 in the image failed (exit 1)")
    assert "sbom-broken" not in _tags(registry, "python-ci/tiny")
    assert not (with_python / "image-build.env").exists()
    assert not _containers(overlay), "the working container was left behind"


@needs_registry
def test_image_sbom_false_makes_none(registry: infra.Registry, with_python: Path, overlay: Path) -> None:
    env = _overlay_env(registry, overlay, "no-sbom", IMAGE_BUILD_SBOM="false")
    result = run_script("image_build", env, with_python)
    assert result.returncode == 0, result.stderr
    assert "image SBOM" not in result.stderr
    assert not (with_python / "ci-reports").exists()


def _containers(storage: Path) -> list[str]:
    env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(storage)}
    done = subprocess.run(["buildah", "containers", "--quiet"], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()


# --- real buildah as an unprivileged container's root (tests/python_ci/unprivileged.py) -------------------------

UNPRIVILEGED = [sys.executable, "-m", "tests.python_ci.unprivileged"]


@needs_registry
def test_an_unprivileged_container_fails_at_once_saying_what_to_grant(
    registry: infra.Registry, project: Path, storage: Path
) -> None:
    # No CAP_SYS_ADMIN and a seccomp filter refusing new namespaces: Docker's and Kubernetes' default container.
    env = {**_real_env(registry, storage, IMAGE_BUILD_TAG="unprivileged"), "PYTHONPATH": str(ROOT)}
    result = run_script("image_build", env, project, wrapper=UNPRIVILEGED)
    assert result.returncode == 1
    assert "Error during unshare(CLONE_NEWUSER): Operation not permitted" in result.stderr  # buildah's own words
    line = _one_line(result, "unshare(CLONE_NEWUSER)")
    for grant in ("privileged = true", 'cap_add = ["SYS_ADMIN"]', "seccomp=unconfined"):
        assert grant in line
    assert len(result.lines("image-build")) == 1  # neither a login failure nor a retry
    assert "unprivileged" not in _tags(registry, "python-ci/tiny")


@needs_registry
def test_seccomp_unconfined_without_cap_sys_admin_builds_with_vfs(
    registry: infra.Registry, project: Path, storage: Path
) -> None:
    env = {**_real_env(registry, storage, IMAGE_BUILD_TAG="unconfined"), "PYTHONPATH": str(ROOT)}
    result = run_script("image_build", env, project, wrapper=[*UNPRIVILEGED, "--seccomp-unconfined"])
    assert result.returncode == 0, result.stderr
    assert "unconfined" in _tags(registry, "python-ci/tiny")


# --- a recording buildah: the command line, and errors this host cannot produce --------------------------------


def test_the_command_line_carries_every_input(tmp_path: Path, project: Path) -> None:
    log = tmp_path / "buildah.log"
    bin_dir = tmp_path / "bin"
    recorder(bin_dir, "buildah", log)
    ca = tmp_path / "ca.pem"
    ca.write_text("not a real CA\n")
    env = _env(
        "registry.example.com:5000",
        PATH=f"{bin_dir}:{host_path()}",
        IMAGE_BUILD_TARGET="runtime",
        IMAGE_BUILD_LAYER_CACHE="true",
        IMAGE_BUILD_CA_BUNDLE=str(ca),
        IMAGE_BUILD_ARGS='build_args=["BASE_IMAGE", "UNSET_ONE", "PIP_EXTRA=1"]',
        BASE_IMAGE="mirror.example/python:3.12-slim",
        BUILD_VERSION="1.2.3",
        CI_REGISTRY_USER="ci",
        CI_REGISTRY_PASSWORD="s3cret-value",
        IMAGE_BUILD_SBOM="false",  # the recorder makes no working container (the SBOM tests above use real ones)
    )
    result = run_script("image_build", env, project)
    assert result.returncode == 0, result.stderr
    info, login, build, push = calls(log)
    assert info == ["--storage-driver", "vfs", "info"]
    assert login == ["--storage-driver", "vfs", "login", "--tls-verify=false", "-u", "ci", "--password-stdin",
                     "registry.example.com:5000"]  # fmt: skip
    assert "s3cret-value" not in log.read_text()
    ref = "registry.example.com:5000/python-ci/tiny:abc123"
    pairs = set(itertools.pairwise(build))
    for pair in [
        ("--tag", ref),
        ("--target", "runtime"),
        ("--build-arg", "VERSION=1.2.3"),
        ("--build-arg", f"GIT_REVISION={SHA}"),
        ("--build-arg", "BASE_IMAGE=mirror.example/python:3.12-slim"),
        ("--build-arg", "PIP_EXTRA=1"),
        ("--cache-from", "registry.example.com:5000/python-ci/tiny/cache"),
        ("--volume", f"{ca}:/etc/ssl/certs/ca-certificates.crt:ro"),
        ("--label", "org.opencontainers.image.title=tiny"),
    ]:
        assert pair in pairs, (pair, build)
    assert "--isolation=chroot" in build and build[-1] == "."
    assert not [arg for arg in build if arg.startswith("UNSET_ONE")]
    assert push[-2:] == [ref, f"docker://{ref}"]
    assert (project / "image-build.env").read_text().startswith(f"IMAGE_REF={ref}\n")


def test_a_bare_exit_status_from_the_sbom_run_is_tried_once_more_then_fails(tmp_path: Path, project: Path) -> None:
    # What buildah 1.28's chroot `run` left of a failed run when it lost the process's own output (seen under load).
    log = tmp_path / "buildah.log"
    bare = "subprocess exited with status 1\nError: exit status 1"
    recorder(tmp_path / "bin", "buildah", log, {"from": (0, ""), "run": (1, bare)})
    result = run_script("image_build", _env("r.example", PATH=f"{tmp_path / 'bin'}:{host_path()}"), project)
    assert result.returncode == 1
    _one_line(result, "image SBOM: python3 in the image failed (exit 1): Error: exit status 1; nothing was pushed")
    # The recorder logs `--` as its separator: `run ... -- python3 ...` arrives in two parts; the buildah calls
    # are those starting with the storage driver.
    subcommands = [call[2] for call in calls(log) if call[0] == "--storage-driver"]
    assert subcommands == ["info", "build", "from", "run", "run", "rm"]
    assert not (project / "image-build.env").exists()


def test_the_unshare_error_is_recognised_in_the_probe_and_never_retried(tmp_path: Path, project: Path) -> None:
    # What buildah 1.28 prints as root without CAP_SYS_ADMIN under Docker's default seccomp profile.
    log = tmp_path / "buildah.log"
    unshare = "Error during unshare(CLONE_NEWUSER): Operation not permitted"
    recorder(tmp_path / "bin", "buildah", log, {"info": (125, unshare), "login": (125, unshare)})
    env = _env("r.example", PATH=f"{tmp_path / 'bin'}:{host_path()}", CI_REGISTRY_USER="u", CI_REGISTRY_PASSWORD="p")
    result = run_script("image_build", env, project)
    assert result.returncode == 1
    line = _one_line(result, "unshare(CLONE_NEWUSER)")
    for grant in ("privileged = true", 'cap_add = ["SYS_ADMIN"]', "seccomp=unconfined"):
        assert grant in line
    assert [call[2] for call in calls(log)] == ["info"]  # never a login, never retried
    assert "retrying" not in result.stderr and "credentials" not in result.stderr


def test_a_buildah_that_cannot_start_for_another_reason_says_why(tmp_path: Path, project: Path) -> None:
    recorder(tmp_path / "bin", "buildah", tmp_path / "log", {"info": (125, "Error: kernel does not support overlay")})
    result = run_script("image_build", _env("r.example", PATH=f"{tmp_path / 'bin'}:{host_path()}"), project)
    assert result.returncode == 1
    _one_line(result, "buildah cannot start: Error: kernel does not support overlay")


def test_an_image_without_buildah_is_named(tmp_path: Path, project: Path) -> None:
    result = run_script("image_build", _env("r.example", PATH=str(tool_dir(tmp_path / "bin"))), project)
    assert result.returncode == 1
    assert result.lines("image-build") == [
        "image-build: the job's image has no buildah; set the component's `image` input to an image that provides it"
    ]


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"IMAGE_BUILD_IMAGE_NAME": "Registry.example/App"}, "is not host[:port]/path in lower case"),
        ({"IMAGE_BUILD_TAG": "-flag"}, "is not a valid image tag"),
        ({"IMAGE_BUILD_RETRIES": "4; id"}, "must be whole numbers"),
        ({"IMAGE_BUILD_ARGS": 'build_args=["X=1", "$(id)"]'}, "is not NAME or NAME=VALUE"),
        ({"IMAGE_BUILD_CA_BUNDLE": "/etc/x:/y"}, "must not contain ':' or ','"),
        ({"IMAGE_BUILD_CA_BUNDLE": "/does/not/exist.pem"}, "is not a file"),
    ],
)
def test_bad_values_fail_before_any_build(tmp_path: Path, project: Path, variables: dict[str, str], says: str) -> None:
    log = tmp_path / "buildah.log"
    recorder(tmp_path / "bin", "buildah", log)
    result = run_script("image_build", {**_env("r.example", PATH=f"{tmp_path / 'bin'}:{host_path()}"), **variables},
                        project)  # fmt: skip
    assert result.returncode == 1
    _one_line(result, says)
    assert not [call for call in calls(log) if "build" in call]
