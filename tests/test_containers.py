"""The local engine and the stand-in images (scripts/containers.py, scripts/bounded_runc.py).

The first tests need nothing; those marked `docker` start the engine and build the images once per session
(minutes the first time on a machine, ~1 s afterwards) and skip, saying why, where the engine cannot run.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from scripts import bounded_runc, containers
from scripts.localci import HOST_CA_BUNDLE, SHELL, Executor, engine_command
from scripts.validate import as_map, is_list
from tests.engine import ROOT, include, make_repo, run_pipeline

# --- no engine needed ----------------------------------------------------------------------------------------


def test_bounding_set_reads_the_mask_of_proc_status() -> None:
    # Every capability but CAP_SYS_RESOURCE (bit 24), as in this sandbox.
    mask = ((1 << 41) - 1) & ~(1 << 24)
    allowed = bounded_runc.bounding_set(f"Name:\tx\nCapBnd:\t{mask:016x}\n")
    assert "CAP_SYS_ADMIN" in allowed
    assert "CAP_CHECKPOINT_RESTORE" in allowed
    assert "CAP_SYS_RESOURCE" not in allowed


def test_bound_process_drops_only_what_the_bounding_set_lacks() -> None:
    process: dict[str, object] = {
        "capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_SYS_RESOURCE"],
            "effective": ["CAP_SYS_RESOURCE"],
            "permitted": ["CAP_CHOWN"],
        }
    }
    assert bounded_runc.bound_process(process, {"CAP_CHOWN"})
    assert process["capabilities"] == {"bounding": ["CAP_CHOWN"], "effective": [], "permitted": ["CAP_CHOWN"]}
    assert not bounded_runc.bound_process(process, {"CAP_CHOWN"})


def test_spec_file_finds_the_bundle_or_process_runc_reads(tmp_path: Path) -> None:
    create = ["--root", "/r", "--log", "l.json", "create", "--bundle", str(tmp_path), "--pid-file", "p", "id"]
    assert bounded_runc.spec_file(create) == tmp_path / "config.json"
    assert bounded_runc.spec_file(["exec", "--process", "/x/p.json", "id"]) == Path("/x/p.json")
    assert bounded_runc.spec_file(["--root", "/r", "delete", "id"]) is None


def test_image_specs_name_the_templates_defaults_and_skip_missing_pythons() -> None:
    specs, skipped = containers.image_specs(("3.11", "3.99"))
    tags = {tag for spec in specs for tag in spec.tags}
    build = containers.template_default("image-build", "image")
    push = containers.template_default("image-push", "image")
    assert build.startswith("quay.io/buildah/")
    assert push.startswith("quay.io/skopeo/")
    assert {build, push, containers.HELPER_IMAGE} <= tags
    if containers.pyenv_build("3.11") is not None:
        assert {"python:3.11-slim", "python:3.11"} <= tags
    assert not any("3.99" in tag for tag in tags)
    assert skipped == [f"python:3.99: no pyenv build under {containers.PYENV_VERSIONS}, image not made"]
    # A changed package list changes the recipe, so `images` rebuilds it.
    slim = next(spec for spec in specs if spec.tags[0] == build)
    other = containers.ImageSpec(slim.tags, containers.Rootfs((*slim.rootfs.packages, "git")), steps=slim.steps)
    assert other.recipe() != slim.recipe()


def _pipeline_images() -> set[str]:
    """Every image the self-test pipeline names (its jobs' and its includes' `image`), as strings."""
    config = as_map(yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8")))
    entries = [as_map(job) for job in config.values()]
    includes = config["include"]
    entries += [as_map(as_map(entry).get("inputs")) for entry in (includes if is_list(includes) else [])]
    return {str(entry["image"]) for entry in entries if isinstance(entry.get("image"), str)}


def test_every_image_a_component_or_the_self_test_names_has_a_stand_in() -> None:
    """Each component's default image for each Python version the tests use, and each image of the self-test
    pipeline, variables expanded as a runner without a mirror expands them: a job never needs a pull."""
    specs, skipped = containers.image_specs()
    if skipped:
        pytest.skip("; ".join(skipped))
    tags = {tag for spec in specs for tag in spec.tags}
    templates = [p.stem for p in (ROOT / "templates").glob("*.yml") if p.stem != "python-service"]
    wanted = {containers.default_image(name, v) for name in templates for v in containers.PYTHON_VERSIONS}
    uv = containers.template_default("mypy", "uv_version")
    wanted |= {containers.expand_image(i, v, uv) for i in _pipeline_images() for v in containers.PYTHON_VERSIONS}
    assert "astral/uv:" + uv + "-python3.11-trixie-slim" in wanted
    assert not wanted - tags


def test_stage_python_lays_a_pyenv_build_out_for_usr_local(tmp_path: Path) -> None:
    build = tmp_path / "versions" / "3.11.7"
    lib = build / "lib" / "python3.11"
    for folder in ("bin", "site-packages", "test", "json/tests", "config-3.11-x86_64-linux-gnu"):
        (lib / folder if folder != "bin" else build / "bin").mkdir(parents=True)
    (build / "bin" / "python3.11").write_bytes(b"\x7fELF\0\0binary")
    (build / "bin" / "python3.11-config").write_text(f"#!/bin/sh\nprefix_real={build}\n")
    (build / "bin" / "flask").write_text(f"#!{build}/bin/python3.11\n")
    (lib / "_sysconfigdata__linux_x86_64-linux-gnu.py").write_text(f"build_time_vars = {{'prefix': '{build}'}}\n")
    (lib / "config-3.11-x86_64-linux-gnu" / "Makefile").write_text(f"prefix=\t\t{build}\n")
    (lib / "os.py").write_text("# stdlib\n")
    (lib / "site-packages" / "numpy.py").write_text("")
    (lib / "test" / "test_os.py").write_text("")
    (lib / "json" / "tests" / "test_json.py").write_text("")
    dest = tmp_path / "staged"
    containers._stage_python(build, dest)  # pyright: ignore[reportPrivateUsage]
    staged = dest / "lib" / "python3.11"
    assert sorted(p.name for p in (dest / "bin").iterdir()) == ["python3.11", "python3.11-config"]
    assert "prefix_real=/usr/local" in (dest / "bin" / "python3.11-config").read_text()
    assert "'prefix': '/usr/local'" in (staged / "_sysconfigdata__linux_x86_64-linux-gnu.py").read_text()
    assert (staged / "config-3.11-x86_64-linux-gnu" / "Makefile").read_text() == "prefix=\t\t/usr/local\n"
    assert (staged / "os.py").is_file()
    assert list((staged / "site-packages").iterdir()) == []
    assert not (staged / "test").exists()
    assert not (staged / "json" / "tests").exists()


def test_executor_flags_shell_and_docker() -> None:
    assert SHELL.flags()[:2] == ("--force-shell-executor", "--shell-isolation")
    assert SHELL.variables() == {}
    assert SHELL.env() == {}
    runner = Executor("docker", "unix:///x/docker.sock", privileged=True, volumes=("/var/lib/containers",))
    flags = runner.flags()
    assert "--force-shell-executor" not in flags
    assert f"--container-executable={containers.DOCKER}" in flags
    assert f"--helper-image={containers.HELPER_IMAGE}" in flags
    assert {"--network=host", "--privileged", "--volume=/var/lib/containers"} <= set(flags)
    assert runner.env() == {"DOCKER_HOST": "unix:///x/docker.sock"}
    assert "--privileged" not in Executor("docker", "unix:///x").flags()
    command = engine_command("job", variables={"A": "1"}, executor=runner)
    if Path(HOST_CA_BUNDLE).is_file():
        assert f"--ca-file={HOST_CA_BUNDLE}" in command
        assert f"PIP_CERT={HOST_CA_BUNDLE}" in command
    assert command[-1] == "job"


# --- on the engine -------------------------------------------------------------------------------------------


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    engine = containers.default_engine()
    return subprocess.run([containers.DOCKER, *args], env=engine.env(), capture_output=True, text=True, check=False)


def _in(image: str, script: str, *flags: str) -> str:
    done = _docker("run", "--rm", "--network=none", *flags, "--entrypoint", "sh", image, "-c", script)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.docker
def test_engine_up_is_idempotent_and_status_lists_every_image_present() -> None:
    engine = containers.default_engine()
    pid = engine.pid()
    assert pid is not None
    assert containers.up(engine).pid() == pid  # a second `up` reuses the running engine
    assert engine.dir.is_dir()
    assert engine.host == f"unix://{engine.dir}/docker.sock"
    specs, _ = containers.image_specs()
    assert {containers.image_state(engine, spec) for spec in specs} == {"present"}


@pytest.mark.docker
def test_python_slim_and_full_images_have_what_the_official_ones_have() -> None:
    for version in containers.PYTHON_VERSIONS:
        if containers.pyenv_build(version) is None:
            continue
        slim = _in(
            f"python:{version}-slim",
            "python --version; pip --version; python -c 'import ssl, sqlite3, ctypes, lzma, bz2, uuid, readline'; "
            "for tool in git curl gcc uv; do command -v $tool || echo no-$tool; done",
        )
        assert f"Python {version}." in slim
        assert f"/usr/local/lib/python{version}/site-packages/pip" in slim
        assert {"no-git", "no-curl", "no-gcc", "no-uv"} <= set(slim.split())
        full = _in(f"python:{version}", "python3 --version; git --version; curl --version; gcc --version")
        assert f"Python {version}." in full
        assert "git version" in full
        assert "curl" in full
        assert "gcc" in full


@pytest.mark.docker
def test_uv_images_are_the_python_images_with_the_pinned_uv() -> None:
    uv = containers.template_default("mypy", "uv_version")
    for version in containers.PYTHON_VERSIONS:
        if containers.pyenv_build(version) is None:
            continue
        script = "uv --version; uvx --version; python --version; echo tool-bin=$UV_TOOL_BIN_DIR; command -v git || :"
        slim = _in(containers.uv_image(uv, version), script)
        assert f"uv {uv} " in slim
        assert f"uvx {uv} " in slim
        assert f"Python {version}." in slim
        assert "tool-bin=/usr/local/bin" in slim
        assert "/git" not in slim
        assert "/usr/bin/git" in _in(containers.uv_image(uv, version, slim=False), script)


@pytest.mark.docker
def test_image_tool_and_helper_images() -> None:
    buildah = _in(containers.template_default("image-build", "image"), "buildah --version; echo $BUILDAH_ISOLATION")
    assert "buildah version" in buildah
    assert "chroot" in buildah
    assert "skopeo version" in _in(containers.template_default("image-push", "image"), "skopeo --version")
    assert "rsync" in _in(containers.HELPER_IMAGE, "bash --version >/dev/null && rsync --version")


@pytest.mark.docker
def test_privileged_containers_start_with_the_sandboxs_capabilities() -> None:
    # Without scripts/bounded_runc.py runc refuses: "unable to apply caps: operation not permitted".
    status = _in("python:3.12-slim", "grep CapEff /proc/self/status", "--privileged")
    effective = int(status.split()[1], 16)
    assert effective & (1 << 21)  # CAP_SYS_ADMIN, which buildah needs for its user namespace


@pytest.mark.docker
def test_a_component_runs_in_its_default_image_with_the_docker_executor(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    files = {
        "pyproject.toml": '[project]\nname = "tiny"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n',
        "tiny.py": '"""A module."""\n\nVALUE = 1\n',
    }
    make_repo(project, ci_yaml=include([("ruff", {"python_version": "3.12"})]), files=files)
    run = run_pipeline(project, executor="docker")
    assert run.statuses == {"ruff": "PASS"}, run.output[-3000:]
    # gitlab-ci-local names the image a job starts in ("shell" for the shell executor), and copies the checkout
    # into the job's container volume.
    image = containers.default_image("ruff", "3.12")
    assert image.startswith("astral/uv:")
    assert f"ruff starting {image} (test)" in run.output
    assert "the image has no uv" not in run.log("ruff")
    assert "ruff copied to /usr/bin/docker volumes" in run.output
    assert "All checks passed!" in run.log("ruff")


@pytest.mark.docker
def test_an_engine_is_stopped_by_whoever_started_it_and_left_running_otherwise() -> None:
    """The main command, the benchmark and the test session wrap their work in `stopped_after`: an engine they
    started stops (by its PID) when they end; one they found running stays up."""
    # A short path: containerd's sockets under it must fit a socket address (108 bytes).
    engine = containers.Engine(Path(tempfile.mkdtemp(prefix="engine-", dir="/tmp")))
    try:
        with containers.stopped_after(engine):
            pid = containers.up(engine).pid()
            assert pid is not None
        assert engine.pid() is None
        assert not Path(f"/proc/{pid}").exists()
    finally:
        containers.down(engine)
        shutil.rmtree(engine.dir, ignore_errors=True)
    running = containers.default_engine()
    before = running.pid()
    assert before is not None  # the `docker` marker started it for this session
    with containers.stopped_after(running):
        pass
    assert running.pid() == before
