"""The wheelhouse component, run in gitlab-ci-local: it packs wheels for every (target, Python), the archive installs
with no index and no network and the service it holds answers, tampering is caught before anything is installed,
a missing wheel fails the job with every offender named, and hostile input never reaches a shell."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.engine import ROOT, PipelineRun, git, include, make_repo, run_pipeline
from tests.poetry_support import poetry_lock

pytestmark = pytest.mark.engine

FIXTURE = ROOT / "tests" / "fixtures" / "wheelhouse-app"
UV = ROOT / ".venv-bootstrap" / "bin" / "uv"
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER_PYTHON = "3.12" if HOST_PYTHON != "3.12" else "3.11"
TARGETS = ["manylinux_2_28_x86_64", "manylinux2014_aarch64"]
NAME = "app-offline"
JOB = "wheelhouse"
EXAMPLE_JOB = "example-wheelhouse"
GAPS_JOB = "gaps-wheelhouse"
POETRY_JOB = "poetry-wheelhouse"
POETRY_NAME = "poetry-offline"
WORKSPACE = ROOT / "tests" / "fixtures" / "wheelhouse-workspace"
SOURCE_APP = ROOT / "tests" / "fixtures" / "wheelhouse-source"
MEMBER_JOB = "member-wheelhouse"
NO_DEPS_JOB = "no-deps-wheelhouse"
SOURCE_JOB = "source-wheelhouse"


@dataclass(frozen=True)
class Wheelhouse:
    """What one job of the shared pipeline published."""

    run: PipelineRun
    job: str
    out: Path
    name: str

    @property
    def archive(self) -> Path:
        return self.out / f"{self.name}.tar.gz"

    @property
    def installer(self) -> Path:
        return self.out / "install.sh"

    def log(self) -> str:
        return self.run.log(self.job)

    def copy_to(self, dest: Path) -> Path:
        """A private copy of the published files (tests damage them); returns the archive's path there."""
        shutil.copytree(self.out, dest)
        return dest / self.archive.name


def _project_with_uv_lock(dest: Path) -> Path:
    """The fixture plus a uv.lock made now (lock files name the registry, so none is committed)."""
    shutil.copytree(FIXTURE, dest)
    subprocess.run([str(UV), "lock", "--quiet"], cwd=dest, check=True, env=_without_virtualenv())
    return dest


def _project_with_poetry_lock(dest: Path, cache: Path) -> Path:
    """The same fixture locked by poetry instead (made now, like the uv.lock)."""
    shutil.copytree(FIXTURE, dest)
    poetry_lock(dest, cache)
    assert not (dest / "uv.lock").exists()
    return dest


def _workspace_with_uv_lock(dest: Path) -> Path:
    """The workspace fixture with its uv.lock made now at the workspace root; its .python-version names 3.14, which
    this machine lacks, so the lock is made with this interpreter, named explicitly."""
    shutil.copytree(WORKSPACE, dest)
    env = _without_virtualenv() | {"UV_PYTHON_DOWNLOADS": "never"}
    subprocess.run([str(UV), "lock", "--quiet", "--python", sys.executable], cwd=dest, check=True, env=env)
    return dest


def _without_virtualenv() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}


def _path_without_uv(bin_dir: Path) -> str:
    """A PATH like a plain python image's: python3 with pip, no uv, so the job must install its pinned uv."""
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(Path(sys.base_prefix) / "bin" / "python3")
    system = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    path = os.pathsep.join([str(bin_dir), str(ROOT / "node_modules" / ".bin"), *system])
    assert shutil.which("uv", path=path) is None, "a uv on the system PATH hides the job's own install"
    return path


_ONE_TARGET = {"targets": ["manylinux_2_28_x86_64"], "python_versions": [HOST_PYTHON], "artifact_name": "house"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """One pipeline, seven wheelhouse jobs side by side (they run concurrently, which keeps the suite short):
    the fixture from a uv.lock for two targets and two Pythons; the fixture from a poetry.lock (found by lock: auto);
    example/ from its hash-pinned requirements.txt; the fixture from pins with holes, which must fail; two members
    of a uv workspace (one needs the other, one has no dependencies) whose .python-version names a Python this
    machine lacks; and an application folder with no dependencies and CI, container and editor files."""
    base = tmp_path_factory.mktemp("wheelhouse")
    project = _project_with_uv_lock(base / "project")
    poetry_project = _project_with_poetry_lock(base / "poetry-project", base / "poetry-cache")
    jobs: list[tuple[str, Mapping[str, object]]] = [
        (
            "wheelhouse",
            {
                "project_dir": "app",
                "targets": TARGETS,
                "python_versions": [HOST_PYTHON, OTHER_PYTHON],
                "extras": ["plain"],
                "artifact_name": NAME,
            },
        ),
        (
            "wheelhouse",
            {
                "job_name": EXAMPLE_JOB,
                "project_dir": "example",
                "targets": ["manylinux_2_28_x86_64"],
                "python_versions": [HOST_PYTHON],
                "artifact_name": "example-offline",
            },
        ),
        (
            "wheelhouse",
            {
                "job_name": POETRY_JOB,
                "project_dir": "papp",
                "targets": ["manylinux_2_28_x86_64"],
                "python_versions": [HOST_PYTHON],
                "extras": ["plain"],
                "artifact_name": POETRY_NAME,
            },
        ),
        (
            "wheelhouse",
            {
                "job_name": GAPS_JOB,
                "project_dir": "app",
                "lock": "requirements",
                "requirements_file": "requirements-gaps.txt",
                "targets": ["manylinux_2_28_x86_64", "manylinux2014_s390x"],
                "python_versions": ["3.12"],
                "artifact_name": "gaps",
            },
        ),
        ("wheelhouse", {"job_name": MEMBER_JOB, "project_dir": "ws/svc", **_ONE_TARGET}),
        ("wheelhouse", {"job_name": NO_DEPS_JOB, "project_dir": "ws/greet", **_ONE_TARGET}),
        ("wheelhouse", {"job_name": SOURCE_JOB, "project_dir": "srcapp", **_ONE_TARGET}),
    ]
    repo = make_repo(base / "repo", ci_yaml=include(jobs), project=project, project_dir="app")
    shutil.copytree(
        ROOT / "example", repo / "example", ignore=shutil.ignore_patterns(".venv", "__pycache__", "*_cache")
    )
    shutil.copytree(poetry_project, repo / "papp")
    _workspace_with_uv_lock(repo / "ws")
    shutil.copytree(SOURCE_APP, repo / "srcapp")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "example, poetry project, uv workspace, application folder")
    # a cache the tests inspect (tools' caches are otherwise ignored): the jobs must leave it empty
    (repo / "srcapp" / ".pytest_cache").mkdir()
    (repo / "srcapp" / ".pytest_cache" / "CACHEDIR.TAG").write_text("cache")
    pythons = base / "uv-pythons"
    pythons.mkdir()
    env = {"PATH": _path_without_uv(base / "bin"), "UV_PYTHON_INSTALL_DIR": str(pythons)}
    return run_pipeline(repo, env=env)


@pytest.fixture(scope="module")
def wheelhouse(pipeline: PipelineRun) -> Wheelhouse:
    assert pipeline.statuses.get(JOB) == "PASS", pipeline.output
    return Wheelhouse(pipeline, JOB, pipeline.artifacts(JOB) / "app" / "dist" / "wheelhouse", NAME)


@pytest.fixture(scope="module")
def example_house(pipeline: PipelineRun) -> Wheelhouse:
    assert pipeline.statuses.get(EXAMPLE_JOB) == "PASS", pipeline.output
    out = pipeline.artifacts(EXAMPLE_JOB) / "example" / "dist" / "wheelhouse"
    return Wheelhouse(pipeline, EXAMPLE_JOB, out, "example-offline")


@pytest.fixture(scope="module")
def poetry_house(pipeline: PipelineRun) -> Wheelhouse:
    assert pipeline.statuses.get(POETRY_JOB) == "PASS", pipeline.output
    return Wheelhouse(
        pipeline, POETRY_JOB, pipeline.artifacts(POETRY_JOB) / "papp" / "dist" / "wheelhouse", POETRY_NAME
    )


def _closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_port() -> int:
    return _closed_port()


def _netns_available() -> bool:
    """True when `unshare --net` can give a process a network with no way out (needs root or user namespaces)."""
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--net", "true"], capture_output=True, check=False).returncode == 0


def _offline(cmd: list[str], *, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """Run an installer with every index closed: pip variables point at a dead 127.0.0.1 port, proxies too, and
    where possible the process gets its own network namespace with no interface up."""
    dead = f"http://127.0.0.1:{_closed_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_")) and k != "VIRTUAL_ENV"}
    env |= {
        "PIP_INDEX_URL": f"{dead}/simple",
        "PIP_EXTRA_INDEX_URL": f"{dead}/extra",
        "UV_INDEX_URL": f"{dead}/simple",
        "http_proxy": dead,
        "https_proxy": dead,
        "PYTHON": python,
    }
    prefix = ["unshare", "--net"] if _netns_available() else []
    return subprocess.run([*prefix, *cmd], capture_output=True, text=True, env=env, check=False, timeout=300)


def _members(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return tar.getnames()


def test_pipeline_publishes_archive_checksum_installer_and_dotenv(wheelhouse: Wheelhouse) -> None:
    assert "uv not on PATH, installing uv==" in wheelhouse.log()
    digest = wheelhouse.archive.with_name(f"{NAME}.tar.gz.sha256").read_text().split()
    assert digest[1] == f"{NAME}.tar.gz"
    dotenv = wheelhouse.run.artifacts(JOB) / ".gitlab-ci-reports" / "dotenv" / "app" / "dist" / "wheelhouse.env"
    assert f"WHEELHOUSE_SHA256={digest[0]}" in dotenv.read_text().splitlines()
    assert os.access(wheelhouse.installer, os.X_OK)
    assert digest[0] in wheelhouse.log()


def test_archive_holds_one_compiled_wheel_per_target_and_python_and_no_sdist(wheelhouse: Wheelhouse) -> None:
    names = _members(wheelhouse.archive)
    wheels = [n.removeprefix(f"{NAME}/wheels/") for n in names if n.startswith(f"{NAME}/wheels/") and "." in n]
    assert all(w.endswith(".whl") for w in wheels), wheels
    for python in (HOST_PYTHON, OTHER_PYTHON):
        tag = "cp" + python.replace(".", "")
        for arch in ("x86_64", "aarch64"):
            assert [w for w in wheels if w.startswith("markupsafe-") and f"-{tag}-{tag}-" in w and arch in w], (
                tag,
                arch,
                wheels,
            )
    assert any(w.startswith("gunicorn-") and w.endswith("-py3-none-any.whl") for w in wheels)
    assert any(w.startswith("six-") for w in wheels), "the requested extra is missing"
    assert not any(w.startswith("docopt") for w in wheels), "the dev group leaked in"
    assert "wheelhouse_app-0.1.0-py3-none-any.whl" in wheels
    for member in ("install.sh", "requirements.txt", "SHA256SUMS", "wheelhouse.json"):
        assert f"{NAME}/{member}" in names


def test_sha256sums_covers_every_file_and_pins_carry_hashes(wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    with tarfile.open(wheelhouse.archive) as tar:
        tar.extractall(tmp_path, filter="data")
    root = tmp_path / NAME
    listed = {line.split("  ", 1)[1] for line in (root / "SHA256SUMS").read_text().splitlines()}
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert listed == present
    assert "--hash=sha256:" in (root / "requirements.txt").read_text()
    manifest = json.loads((root / "wheelhouse.json").read_text())
    assert manifest["targets"] == TARGETS
    assert manifest["lock"] == "uv.lock"


def test_offline_install_from_archive_then_the_service_answers(wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    if platform.machine() != "x86_64":
        pytest.skip("the wheelhouse is built for x86_64 and aarch64 manylinux; this host is neither")
    venv = tmp_path / "venv"
    done = _offline(["sh", str(wheelhouse.installer), "--archive", str(wheelhouse.archive), str(venv)])
    assert done.returncode == 0, done.stdout + done.stderr
    freeze = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    installed = {p["name"].lower() for p in json.loads(freeze.stdout)} - {"pip", "setuptools", "wheel"}
    assert installed == {"gunicorn", "markupsafe", "six", "wheelhouse-app"}

    # an empty working folder: the app can only come from the venv, not from a source tree
    (tmp_path / "run").mkdir()
    port = _free_port()
    gunicorn = [str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "wheelhouse_app:app"]
    with _Server(gunicorn, port=port, cwd=tmp_path / "run"):
        assert _get_livez(port) == {"status": "ok"}


class _Server:
    """A server command from an installed venv, on a free 127.0.0.1 port, stopped on exit; its output goes to a file
    (a pipe nobody reads could fill up and stall it)."""

    def __init__(self, cmd: list[str], *, port: int, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.port = port
        self.log = cwd.parent / f"server-{port}.log"
        with self.log.open("w") as sink:
            self.proc = subprocess.Popen(
                cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=sink, stderr=subprocess.STDOUT
            )

    def __enter__(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self.port
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"server did not listen within 60 s: {self.log.read_text()}")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _get_livez(port: int) -> object:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=10) as got:
        assert got.status == 200
        return json.loads(got.read())


def test_corrupted_archive_is_refused_before_anything_is_installed(wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    archive = wheelhouse.copy_to(tmp_path / "carried")
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    venv = tmp_path / "venv"
    done = _offline(["sh", str(archive.parent / "install.sh"), "--archive", str(archive), str(venv)])
    assert done.returncode != 0
    assert "checksum failure" in done.stderr
    assert not venv.exists()


def _unpacked(wheelhouse: Wheelhouse, dest: Path, name: str = NAME) -> Path:
    with tarfile.open(wheelhouse.archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / name


def test_tampered_wheel_is_refused_before_anything_is_installed(wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    root = _unpacked(wheelhouse, tmp_path)
    wheel = next((root / "wheels").glob("gunicorn-*.whl"))
    with wheel.open("ab") as handle:
        handle.write(b"\0")
    venv = tmp_path / "venv"
    done = _offline(["sh", str(root / "install.sh"), str(venv)])
    assert done.returncode != 0
    assert "checksum failure" in done.stderr
    assert f"wheels/{wheel.name}: FAILED" in done.stdout + done.stderr
    assert not venv.exists()


def test_unlisted_wheel_is_refused(wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    root = _unpacked(wheelhouse, tmp_path)
    six = next((root / "wheels").glob("six-*.whl"))
    shutil.copy2(six, root / "wheels" / "six-99.0.0-py2.py3-none-any.whl")
    venv = tmp_path / "venv"
    venv.mkdir()  # an empty target is allowed, and stays empty
    done = _offline(["sh", str(root / "install.sh"), str(venv)])
    assert done.returncode != 0
    assert "differs from SHA256SUMS" in done.stderr
    assert not venv.exists() or not any(venv.iterdir())


def _python_without_wheels() -> str | None:
    """An interpreter of a version the wheelhouse was not built for (pyenv's shims may name one that cannot run)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python3.{minor}") for minor in (13, 10)]
    candidates += [str(p) for p in sorted(pyenv.glob("3.1[03]*/bin/python3"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[1])"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and f"3.{probe.stdout.strip()}" not in (HOST_PYTHON, OTHER_PYTHON):
            return candidate
    return None


def test_python_without_wheels_is_refused(wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    other = _python_without_wheels()
    if other is None:
        pytest.skip("no second Python on this machine")
    root = _unpacked(wheelhouse, tmp_path)
    venv = tmp_path / "venv"
    done = _offline(["sh", str(root / "install.sh"), str(venv)], python=other)
    assert done.returncode != 0
    assert f"holds wheels for Python {HOST_PYTHON} {OTHER_PYTHON}" in done.stderr
    assert not venv.exists()


def test_missing_wheels_fail_the_job_listing_every_offender(pipeline: PipelineRun) -> None:
    assert pipeline.returncode != 0
    assert pipeline.statuses[GAPS_JOB] == "FAIL"
    log = pipeline.log(GAPS_JOB)
    rows = {tuple(line.split()[:3]) for line in log.splitlines() if line.startswith("  ") and line.endswith("no wheel")}
    assert rows == {
        ("docopt==0.6.2", "manylinux_2_28_x86_64", "cp3.12"),
        ("docopt==0.6.2", "manylinux2014_s390x", "cp3.12"),
        ("markupsafe==3.0.3", "manylinux2014_s390x", "cp3.12"),
    }, log
    assert "nothing was packed" in log
    assert not list(pipeline.artifacts(GAPS_JOB).rglob("*.tar.gz"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("artifact_name", "x; touch pwned"),
        ("project_dir", "../etc"),
        ("requirements_file", "req.txt $(touch pwned)"),
        ("image", "python:3.12`id`"),
    ],
)
def test_hostile_string_input_is_refused_before_any_job(tmp_path: Path, name: str, value: str) -> None:
    repo = make_repo(tmp_path, ci_yaml=include([("wheelhouse", {name: value})]), project=FIXTURE)
    run = run_pipeline(repo)
    assert run.returncode != 0
    assert "does not match required regex" in run.output
    assert run.statuses == {}


@pytest.mark.parametrize("name", ["targets", "groups"])
def test_hostile_array_item_is_refused_by_the_job_and_never_runs(tmp_path: Path, name: str) -> None:
    canary = tmp_path / "pwned"
    repo = make_repo(
        tmp_path / "repo",
        ci_yaml=include([("wheelhouse", {name: ["3.12", f"x$(touch {canary})", f"y';touch {canary};'"]})]),
        project=FIXTURE,
    )
    run = run_pipeline(repo)
    assert run.statuses == {JOB: "FAIL"}
    assert f"{name}: refused" in run.log(JOB)
    assert not canary.exists()


def test_example_installs_offline_and_gunicorn_serves_livez(example_house: Wheelhouse, tmp_path: Path) -> None:
    if platform.machine() != "x86_64":
        pytest.skip("the example's wheelhouse is built for x86_64")
    assert "the project goes in as source" in example_house.log()
    venv = tmp_path / "venv"
    done = _offline(["sh", str(example_house.installer), "--archive", str(example_house.archive), str(venv)])
    assert done.returncode == 0, done.stdout + done.stderr

    pinned = {
        line.split("==")[0].lower()
        for line in (ROOT / "example" / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    listing = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listing.stdout)} - {"pip", "setuptools"}
    assert installed == {name.replace("_", "-") for name in pinned}
    assert (venv / "project" / "gunicorn.conf.py").is_file()
    assert not (venv / "project" / ".env").exists()

    port = _free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port), "WORKERS": "1", "STATUS": "dev", "SAVE": "false"}
    # run as the docs say: from the installed project folder, with the venv's gunicorn and the project's config
    with _Server([str(venv / "bin" / "gunicorn"), "app.main:app"], port=port, cwd=venv / "project", env=env):
        assert _get_livez(port)


def test_a_non_empty_target_folder_is_refused_and_left_alone(wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    root = _unpacked(wheelhouse, tmp_path)
    target = tmp_path / "in-use"
    target.mkdir()
    (target / "keep.txt").write_text("running release")
    done = _offline(["sh", str(root / "install.sh"), str(target)])
    assert done.returncode != 0
    assert "exists and is not empty" in done.stderr
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_a_pip_failure_after_the_venv_exists_removes_it(wheelhouse: Wheelhouse, tmp_path: Path) -> None:
    """Checksums pass (they are rewritten to match), but a pin has no wheel: pip fails inside the new venv."""
    root = _unpacked(wheelhouse, tmp_path)
    with (root / "requirements.txt").open("a") as handle:
        handle.write("docopt==0.6.2\n")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    sums = subprocess.run(
        ["sha256sum", *(p.relative_to(root).as_posix() for p in files)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    (root / "SHA256SUMS").write_text(sums.stdout)
    venv = tmp_path / "venv"
    done = _offline(["sh", str(root / "install.sh"), str(venv)])
    assert done.returncode != 0
    assert "docopt" in done.stdout + done.stderr
    assert f"failed; removed {venv}" in done.stderr
    assert not venv.exists()


def test_a_poetry_lock_becomes_hashed_pins_that_install_offline(poetry_house: Wheelhouse, tmp_path: Path) -> None:
    """lock: auto found poetry.lock; poetry's export kept the lock's versions and hashes, took the main dependencies
    and the requested extra but not the dev group; the wheelhouse installs them, and only them, with no network."""
    if platform.machine() != "x86_64":
        pytest.skip("the poetry wheelhouse is built for x86_64")
    lock = tomllib.loads((poetry_house.run.repo / "papp" / "poetry.lock").read_text())
    locked = {p["name"]: (p["version"], {f["hash"] for f in p["files"]}) for p in lock["package"]}
    root = _unpacked(poetry_house, tmp_path, POETRY_NAME)
    assert json.loads((root / "wheelhouse.json").read_text())["lock"] == "poetry.lock"
    pins: dict[str, tuple[str, set[str]]] = {}
    for entry in (root / "requirements.txt").read_text().replace("\\\n", " ").splitlines():
        if "==" in entry and not entry.startswith("-"):
            spec = entry.split(";")[0].split()[0]
            name, version = spec.split("==")
            pins[name] = (version, {h.removeprefix("--hash=") for h in entry.split() if h.startswith("--hash=")})
    assert set(pins) == {"gunicorn", "markupsafe", "six"}, pins
    for name, (version, hashes) in pins.items():
        assert (version, hashes) == locked[name], name

    venv = tmp_path / "venv"
    done = _offline(["sh", str(root / "install.sh"), str(venv)])
    assert done.returncode == 0, done.stdout + done.stderr
    listing = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    installed = {
        p["name"].lower(): p["version"] for p in json.loads(listing.stdout) if p["name"] not in {"pip", "setuptools"}
    }
    assert installed == {**{name: version for name, (version, _) in pins.items()}, "wheelhouse-app": "0.1.0"}


def _house(pipeline: PipelineRun, job: str, project_dir: str) -> Wheelhouse:
    assert pipeline.statuses.get(job) == "PASS", pipeline.log(job) if job in pipeline.statuses else pipeline.output
    return Wheelhouse(pipeline, job, pipeline.artifacts(job) / project_dir / "dist" / "wheelhouse", "house")


def _import_in(venv: Path, code: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_a_uv_workspace_member_packs_from_the_workspace_lock_with_the_jobs_python(
    pipeline: PipelineRun, tmp_path: Path
) -> None:
    """project_dir is a member; uv.lock is at the workspace root, whose .python-version names 3.14: the job exports
    the member's locked pins with its own python3, downloads no interpreter, and packs the member it depends on."""
    house = _house(pipeline, MEMBER_JOB, "ws/svc")
    assert "pins from uv.lock (workspace ws, member svc)" in house.log()
    root = _unpacked(house, tmp_path, "house")
    manifest = json.loads((root / "wheelhouse.json").read_text())
    assert manifest["wheels"] == [
        "greet-0.2.0-py3-none-any.whl",
        "six-1.17.0-py2.py3-none-any.whl",
        "svc-0.3.0-py3-none-any.whl",
    ]
    locked = tomllib.loads((pipeline.repo / "ws" / "uv.lock").read_text())
    six = next(p for p in locked["package"] if p["name"] == "six")
    pinned = (root / "requirements.txt").read_text()
    assert pinned.startswith(f"six=={six['version']} --hash=")
    assert six["wheels"][0]["hash"] in pinned
    assert not any((pipeline.repo.parent / "uv-pythons").iterdir()), "uv downloaded an interpreter"

    venv = tmp_path / "venv"
    done = _offline(["sh", str(root / "install.sh"), str(venv)])
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "run").mkdir()
    assert _import_in(venv, "import svc; print(svc.banner())", tmp_path / "run") == "hello, svc"


def test_a_package_without_dependencies_packs_just_its_own_wheel(pipeline: PipelineRun, tmp_path: Path) -> None:
    house = _house(pipeline, NO_DEPS_JOB, "ws/greet")
    root = _unpacked(house, tmp_path, "house")
    assert [p.name for p in (root / "wheels").iterdir()] == ["greet-0.2.0-py3-none-any.whl"]
    assert (root / "requirements.txt").read_text() == ""
    venv = tmp_path / "venv"
    done = _offline(["sh", str(root / "install.sh"), str(venv)])
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "run").mkdir()
    assert _import_in(venv, "import greet; print(greet.hello('x'))", tmp_path / "run") == "hello, x"


def test_an_application_folder_ships_its_source_without_ci_container_or_cache_files(
    pipeline: PipelineRun, tmp_path: Path
) -> None:
    house = _house(pipeline, SOURCE_JOB, "srcapp")
    assert "the project goes in as source" in house.log()
    root = _unpacked(house, tmp_path, "house")
    shipped = sorted(p.relative_to(root / "project").as_posix() for p in (root / "project").rglob("*") if p.is_file())
    assert shipped == [
        "app/__init__.py",
        "app/main.py",
        "gunicorn.conf.py",
        "pyproject.toml",
        "requirements.txt",
        "tests/test_main.py",
    ]
    venv = tmp_path / "venv"
    done = _offline(["sh", str(root / "install.sh"), str(venv)])
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / "run").mkdir()
    where = _import_in(venv, "from app.main import where; print(where())", tmp_path / "run")
    assert where == str(venv / "project" / "app")
