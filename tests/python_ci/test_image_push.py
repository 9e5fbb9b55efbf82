"""python_ci/image_push.sh run directly: real skopeo promoting a real image between two registries on 127.0.0.1,
with a fault-injecting proxy for failing pushes, and a recording skopeo for the tag rules."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts import local_registry as infra
from tests.python_ci.fault_proxy import FaultProxy
from tests.python_ci.shell_support import Result, calls, host_path, recorder, run_script, tool_dir

_REASON = infra.missing_requirements()
needs_registry = pytest.mark.skipif(_REASON is not None, reason=f"container tests: {_REASON}")
RELEASE = {"1.2.3", "1.2", "1", "latest"}


@dataclass(frozen=True)
class Registries:
    main: infra.Registry
    mirror: infra.Registry
    source: str  # host/path:tag of a small image in `main`
    digest: str


def _skopeo(registry: infra.Registry, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["skopeo", args[0], "--authfile", str(registry.authfile), "--tls-verify=false", *args[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def _digest(registry: infra.Registry, ref: str) -> str:
    image: dict[str, str] = json.loads(_skopeo(registry, "inspect", f"docker://{ref}").stdout)
    return image["Digest"]


def _tags(registry: infra.Registry, repository: str) -> set[str]:
    done = _skopeo(registry, "list-tags", f"docker://{registry.host}/{repository}", check=False)
    return set(json.loads(done.stdout)["Tags"]) if done.returncode == 0 else set()


@pytest.fixture(scope="module")
def registries() -> Iterator[Registries]:
    if _REASON is not None:
        pytest.skip(f"container tests: {_REASON}")
    with infra.running_registry() as main, infra.running_registry() as mirror, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
        (folder / "hello.txt").write_text("hello\n")
        conf = infra.write_storage_conf(folder / "storage" / "storage.conf", folder / "storage", driver="vfs")
        env = {"PATH": host_path(), "CONTAINERS_STORAGE_CONF": str(conf), "REGISTRY_AUTH_FILE": str(main.authfile)}
        source = f"{main.host}/python-ci/source:abc123"
        for cmd in (["buildah", "build", "--isolation=chroot", "--tag", source, str(folder)],
                    ["buildah", "push", "--tls-verify=false", source, f"docker://{source}"]):  # fmt: skip
            subprocess.run(cmd, env=env, capture_output=True, check=True)
        infra.release_storage(conf)
        yield Registries(main, mirror, source, _digest(main, source))


def _env(reg: Registries, target: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": host_path(),
        **reg.main.variables(),
        "IMAGE_PUSH_SOURCE": reg.source,
        "IMAGE_PUSH_SOURCE_DIGEST": reg.digest,
        "IMAGE_PUSH_TARGET_IMAGE": f"{reg.main.host}/{target}",
        "IMAGE_PUSH_MIRROR_IMAGE": f"{reg.mirror.host}/{target}",
        "IMAGE_PUSH_MIRROR_USER_VARIABLE": "MIRROR_USER",
        "IMAGE_PUSH_MIRROR_PASSWORD_VARIABLE": "MIRROR_PASSWORD",
        "MIRROR_USER": reg.mirror.user,
        "MIRROR_PASSWORD": reg.mirror.password,
        "IMAGE_PUSH_TLS_VERIFY": "false",
        "IMAGE_PUSH_MIRROR_TLS_VERIFY": "false",
        "IMAGE_PUSH_LATEST": "true",
        "IMAGE_PUSH_DEFAULT_BRANCH_TAG": "edge",
        "IMAGE_PUSH_TAG_PREFIX": "v?",
        "IMAGE_PUSH_RETRIES": "2",
        "IMAGE_PUSH_RETRY_DELAY": "0",
        "CI_COMMIT_TAG": "v1.2.3",
        **extra,
    }


def _one_line(result: Result, text: str) -> str:
    mine = [line for line in result.lines("image-push") if text in line]
    assert len(mine) == 1, result.stderr
    return mine[0]


@needs_registry
def test_a_release_tag_promotes_one_digest_everywhere(registries: Registries, tmp_path: Path) -> None:
    result = run_script("image_push", _env(registries, "app/release"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert _tags(registries.main, "app/release") == RELEASE
    assert _tags(registries.mirror, "app/release") == RELEASE
    for tag in RELEASE:
        assert _digest(registries.main, f"{registries.main.host}/app/release:{tag}") == registries.digest
        assert _digest(registries.mirror, f"{registries.mirror.host}/app/release:{tag}") == registries.digest
    dotenv = dict(line.split("=", 1) for line in (tmp_path / "image-push.env").read_text().splitlines())
    assert dotenv["PROMOTED_DIGEST"] == registries.digest
    assert len(dotenv["PROMOTED_REFS"].split()) == 8
    assert registries.main.password not in result.stderr and registries.mirror.password not in result.stderr


@needs_registry
def test_a_failing_push_to_the_mirror_moves_no_tag_anywhere(registries: Registries, tmp_path: Path) -> None:
    # The mirror answers reads but 503 to every write: the image never gets there, so no tag may move, not even
    # in the main registry, whose copy would have succeeded.
    def writes(method: str, path: str) -> bool:
        return method in {"POST", "PUT", "PATCH"}

    with FaultProxy(registries.mirror.host, writes) as proxy:
        env = _env(registries, "app/half", IMAGE_PUSH_MIRROR_IMAGE=f"{proxy.host}/app/half")
        result = run_script("image_push", env, tmp_path)
    assert result.returncode == 1
    assert any(request.endswith(" 503") for request in proxy.requests), proxy.requests
    _one_line(result, "failed after 2 attempts (no tag was created or moved)")
    assert _tags(registries.main, "app/half") == set()
    assert _tags(registries.mirror, "app/half") == set()
    assert not (tmp_path / "image-push.env").exists()


@needs_registry
def test_a_failure_while_tagging_says_which_tags_moved(registries: Registries, tmp_path: Path) -> None:
    def tag_one(method: str, path: str) -> bool:
        return method == "PUT" and path.endswith("/manifests/1")

    with FaultProxy(registries.main.host, tag_one) as proxy:
        env = _env(
            registries, "app/partial", IMAGE_PUSH_MIRROR_IMAGE="", IMAGE_PUSH_TARGET_IMAGE=f"{proxy.host}/app/partial"
        )
        result = run_script("image_push", env, tmp_path)
    assert result.returncode == 1
    line = _one_line(result, "failed after 2 attempts")
    assert f"moved so far: {proxy.host}/app/partial:1.2.3 {proxy.host}/app/partial:1.2 (re-run the job" in line
    assert _tags(registries.main, "app/partial") == {"1.2.3", "1.2"}


@needs_registry
def test_a_missing_source_fails_at_once(registries: Registries, tmp_path: Path) -> None:
    missing = registries.source.replace(":abc123", ":nope")
    result = run_script("image_push", _env(registries, "app/missing", IMAGE_PUSH_SOURCE=missing,
                                           IMAGE_PUSH_SOURCE_DIGEST=""), tmp_path)  # fmt: skip
    assert result.returncode == 1
    _one_line(result, "not found in the registry; no tag was created or moved")
    assert "retrying" not in result.stderr


@needs_registry
def test_a_wrong_mirror_password_is_refused_before_any_copy(registries: Registries, tmp_path: Path) -> None:
    result = run_script("image_push", _env(registries, "app/refused", MIRROR_PASSWORD="wrong"), tmp_path)
    assert result.returncode == 1
    _one_line(result, "refused the credentials; no tag was created or moved")
    assert "retrying" not in result.stderr
    assert _tags(registries.main, "app/refused") == set()


@needs_registry
def test_a_moved_source_tag_is_not_promoted(registries: Registries, tmp_path: Path) -> None:
    other = "sha256:" + "0" * 64
    result = run_script("image_push", _env(registries, "app/moved", IMAGE_PUSH_SOURCE_DIGEST=other), tmp_path)
    assert result.returncode == 1
    _one_line(result, f"not the built {other}; nothing was promoted")


# --- a recording skopeo: which tags a ref gets ------------------------------------------------------------------

DIGEST = "sha256:" + "a" * 64


def _recorded(tmp_path: Path, **extra: str) -> tuple[Result, list[list[str]]]:
    log = tmp_path / "skopeo.log"
    recorder(tmp_path / "bin", "skopeo", log)
    # `skopeo manifest-digest` answers the one digest every inspect is meant to find.
    script = (
        (tmp_path / "bin" / "skopeo")
        .read_text()
        .replace('case "$sub" in\n', f'case "$sub" in\n  manifest-digest) echo {DIGEST}; exit 0 ;;\n', 1)
    )
    (tmp_path / "bin" / "skopeo").write_text(script)
    env = {
        "PATH": f"{tmp_path / 'bin'}:{host_path()}",
        "IMAGE_PUSH_SOURCE": "r.example/app:abc",
        "IMAGE_PUSH_SOURCE_DIGEST": "",
        "IMAGE_PUSH_TARGET_IMAGE": "r.example/app",
        "IMAGE_PUSH_MIRROR_IMAGE": "",
        "IMAGE_PUSH_MIRROR_USER_VARIABLE": "MIRROR_USER",
        "IMAGE_PUSH_MIRROR_PASSWORD_VARIABLE": "MIRROR_PASSWORD",
        "IMAGE_PUSH_TLS_VERIFY": "true",
        "IMAGE_PUSH_MIRROR_TLS_VERIFY": "true",
        "IMAGE_PUSH_LATEST": "true",
        "IMAGE_PUSH_DEFAULT_BRANCH_TAG": "edge",
        "IMAGE_PUSH_TAG_PREFIX": "v?",
        "IMAGE_PUSH_RETRIES": "2",
        "IMAGE_PUSH_RETRY_DELAY": "0",
        **extra,
    }
    result = run_script("image_push", env, tmp_path)
    return result, calls(log)


def _tagged(found: list[list[str]]) -> list[str]:
    prefix = "docker://r.example/app:"
    return [call[-1].removeprefix(prefix) for call in found if call[0] == "copy" and call[-1].startswith(prefix)]


@pytest.mark.parametrize(
    ("variables", "tags"),
    [
        ({"CI_COMMIT_TAG": "v2.5.0"}, ["2.5.0", "2.5", "2", "latest"]),
        ({"CI_COMMIT_TAG": "2.5.0", "IMAGE_PUSH_LATEST": "false"}, ["2.5.0", "2.5", "2"]),
        ({"CI_COMMIT_TAG": "v3.0.0-rc.1"}, ["3.0.0-rc.1"]),
        ({"CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}, ["edge"]),
        ({"CI_COMMIT_BRANCH": "feature", "CI_DEFAULT_BRANCH": "main"}, []),
    ],
)
def test_which_tags_a_ref_gets(tmp_path: Path, variables: dict[str, str], tags: list[str]) -> None:
    result, found = _recorded(tmp_path, **variables)
    assert result.returncode == 0, result.stderr
    assert _tagged(found) == tags
    if tags:  # staged by digest before the first tag moves
        first_copy = next(call for call in found if call[0] == "copy")
        assert first_copy[-1] == f"docker://r.example/app@{DIGEST}"


def test_a_git_tag_that_is_not_semver_is_refused(tmp_path: Path) -> None:
    result, found = _recorded(tmp_path, CI_COMMIT_TAG="release-7")
    assert result.returncode == 1
    _one_line(result, "is not a release tag")
    assert found == []


def test_an_image_without_skopeo_is_named(tmp_path: Path) -> None:
    env = {"PATH": str(tool_dir(tmp_path / "bin")), "IMAGE_PUSH_RETRIES": "1", "IMAGE_PUSH_RETRY_DELAY": "0"}
    result = run_script("image_push", env, tmp_path)
    assert result.returncode == 1
    _one_line(result, "the job's image has no skopeo")
