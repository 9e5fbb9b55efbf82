"""A local Docker engine and offline stand-ins for the images the components name, for gitlab-ci-local's docker
executor (the way a GitLab runner runs jobs: each in its `image:`).

    python -m scripts.containers up       # start the engine (idempotent); prints DOCKER_HOST=unix://...
    python -m scripts.containers images   # build the missing stand-in images (idempotent, cached)
    python -m scripts.containers status   # engine state and each image: present, stale or missing
    python -m scripts.containers down     # stop the engine by its PID

The engine is Debian's `dockerd` (package docker.io, installed by `scripts/setup.sh --containers` as root) with all
of its state in one directory of ours (`--data-root`, `--exec-root`, a unix socket, `--pidfile`; default
`~/.cache/python-ci/engine`, or `$PYTHON_CI_ENGINE_DIR`): one engine per machine, shared by every checkout. No
bridge network and no iptables rules (`--bridge=none --iptables=false`): jobs use the host's network, other
containers only loopback; nothing listens on TCP.
Containers run through `scripts/bounded_runc.py`, which cuts `--privileged` containers' capabilities to the
sandbox's bounding set (see there; a real runner's host needs none of it).

No image registry is reachable here, so each default image is imitated from Debian packages (the host's own apt
sources, through mmdebstrap) and the pyenv CPython builds of this machine, and tagged with the exact name the
components use (`python:3.12-slim`, ...): gitlab-ci-local's default pull policy (if-not-present) then finds it.
README.md ("Running the pipeline in containers") lists how each differs from the official image. Root file
systems are cached as tar files in `~/.cache/python-ci/rootfs/` (keyed by suite, variant, packages and dpkg
options); each image carries a label with the hash of everything it was made from, so `images` rebuilds only what
changed. Errors are one line (`EngineError`); exit code 2 means "cannot run on this machine" (not root, no
dockerd, no mmdebstrap).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from scripts.local_registry import cache_dir
from scripts.processes import stop_pid
from scripts.validate import as_map

ROOT = Path(__file__).resolve().parent.parent
DOCKER = "/usr/bin/docker"  # the client of the same package as the engine (a newer one may sit first on PATH)
DOCKERD = "/usr/sbin/dockerd"
RUNTIME_NAME = "python-ci"
SUITE = "bookworm"
# Python versions the tests and the self-test pipeline run (pyenv builds of this machine); more with --python.
PYTHON_VERSIONS = ("3.11", "3.12")
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))) / "versions"
RECIPE_LABEL = "io.python-ci.recipe"
# Bump when the way images are made changes without any listed input changing.
RECIPE_VERSION = "1"
HELPER_IMAGE = "python-ci/gitlab-ci-local-helper:local"
# Astral's images with uv (Docker Hub's `astral/uv`, also `ghcr.io/astral-sh/uv`): the Python jobs' default.
UV_IMAGE = "astral/uv"
UV_IMAGE_DEBIAN = "trixie"

# The slim images' dpkg excludes (documentation, manuals, translations; copyright files stay).
SLIM_DPKG = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/groff/*",
    "path-exclude=/usr/share/lintian/*",
)
# What CPython's extension modules link against (ldd of the pyenv builds' lib-dynload) plus the slim images'
# ca-certificates, netbase and tzdata.
PYTHON_RUNTIME = (
    "ca-certificates", "netbase", "tzdata", "libssl3", "libsqlite3-0", "libffi8", "libuuid1", "libbz2-1.0",
    "liblzma5", "libreadline8", "libncursesw6", "libexpat1", "zlib1g", "libtirpc3", "libcrypt1",
)  # fmt: skip
# The full images are buildpack-deps: version control, download tools, compilers and common -dev headers.
BUILDPACK = (
    "git", "curl", "wget", "gnupg", "dirmngr", "openssh-client", "procps", "gcc", "g++", "make", "libc6-dev",
    "patch", "file", "xz-utils", "bzip2", "unzip", "pkg-config", "libssl-dev", "libffi-dev", "zlib1g-dev",
    "libsqlite3-dev", "libbz2-dev", "liblzma-dev", "libreadline-dev", "libncurses-dev", "uuid-dev",
)  # fmt: skip


class EngineError(RuntimeError):
    """A step failed; the message is one line meant for a person."""


class CannotRun(EngineError):
    """This machine cannot run the engine (not root, a tool missing)."""


def _run(cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float | None = None) -> str:
    done = subprocess.run(list(cmd), capture_output=True, text=True, check=False, env=env, timeout=timeout)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise EngineError(f"{Path(cmd[0]).name} {cmd[1] if len(cmd) > 1 else ''} failed: {last[0]}")
    return done.stdout


# --- the engine ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """Where one engine keeps everything: `dir/{data,run,docker.sock,dockerd.pid,dockerd.log,bounded-runc}`."""

    dir: Path

    @property
    def socket(self) -> Path:
        return self.dir / "docker.sock"

    @property
    def host(self) -> str:
        """The DOCKER_HOST value that reaches this engine."""
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.dir / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.dir / "dockerd.log"

    def env(self) -> dict[str, str]:
        """os.environ with DOCKER_HOST set to this engine (and no other context)."""
        env = {**os.environ, "DOCKER_HOST": self.host}
        env.pop("DOCKER_CONTEXT", None)
        return env

    def docker(self, *args: str, timeout: float | None = None) -> str:
        """Run the docker client against this engine; its stdout, or EngineError with its last error line."""
        return _run([DOCKER, *args], env=self.env(), timeout=timeout)

    def pid(self) -> int | None:
        """The engine's PID when its pidfile names a live dockerd, else None."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        return pid if cmdline and Path(cmdline[0].decode()).name == "dockerd" else None

    def answers(self) -> bool:
        """Whether the engine answers on its socket (within 30 s: a dockerd still starting may hold the call)."""
        try:
            done = subprocess.run(
                [DOCKER, "version", "--format", "{{.Server.Version}}"],
                env=self.env(), capture_output=True, text=True, check=False, timeout=30,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0


def default_engine() -> Engine:
    return Engine(Path(os.environ.get("PYTHON_CI_ENGINE_DIR") or cache_dir() / "engine"))


def cannot_run() -> str | None:
    """Why the engine cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (dockerd)"
    missing = [name for name in (DOCKERD, DOCKER, "/usr/sbin/runc") if not Path(name).exists()]
    if missing:
        return f"missing {', '.join(missing)} (as root: bash scripts/setup.sh --containers installs docker.io)"
    return None


def up(engine: Engine, timeout: float = 60) -> Engine:
    """Start `engine` unless it already answers; return it once `docker version` answers. Idempotent."""
    reason = cannot_run()
    if reason:
        raise CannotRun(reason)
    engine.dir.mkdir(parents=True, exist_ok=True)
    with _locked(engine.dir / ".lock"):
        if engine.pid() is not None and engine.answers():
            return engine
        runtime = engine.dir / "bounded-runc"
        shutil.copyfile(ROOT / "scripts" / "bounded_runc.py", runtime)
        runtime.chmod(0o755)
        engine.socket.unlink(missing_ok=True)
        cmd = [
            DOCKERD,
            f"--data-root={engine.dir / 'data'}",
            f"--exec-root={engine.dir / 'run'}",
            f"--host={engine.host}",
            f"--pidfile={engine.pidfile}",
            f"--add-runtime={RUNTIME_NAME}={runtime}",
            f"--default-runtime={RUNTIME_NAME}",
            # No docker0 bridge and no iptables rules: nothing outside the state directory changes. Jobs use the
            # host's network (gitlab-ci-local --network=host); other containers get only loopback.
            "--bridge=none",
            "--iptables=false",
        ]
        with engine.log.open("ab") as log:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not engine.answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = engine.log.read_text(errors="replace").strip().splitlines()[-1:]
                stop_pid(proc.pid, timeout=30)
                _unmount_below(engine.dir)  # a dockerd that failed half-way may leave its data root mounted
                raise EngineError(f"dockerd did not answer within {timeout:.0f} s: {' '.join(tail)}")
            time.sleep(0.2)
    return engine


def down(engine: Engine) -> bool:
    """Stop the engine by the PID in its pidfile; False when none was running."""
    pid = engine.pid()
    if pid is None:
        return False
    stop_pid(pid, timeout=30)  # dockerd stops its containers and its containerd itself
    _unmount_below(engine.dir)
    return True


@contextlib.contextmanager
def stopped_after(engine: Engine | None = None) -> Generator[None, None, None]:
    """Run the body, then stop `engine` (default: `default_engine()`) by its PID if it was not running before: the
    process that started the engine stops it, and one that found it running (a developer's `up`, another run)
    leaves it as it was."""
    engine = engine or default_engine()
    was_running = engine.pid() is not None
    try:
        yield
    finally:
        if not was_running and engine.pid() is not None:
            down(engine)


def _unmount_below(folder: Path) -> None:
    """Unmount what the engine left mounted in its directory (its network namespace, its data root's private
    bind mount), deepest first, so the directory can be deleted."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()]
    below = [m for m in mounts if m == str(folder) or m.startswith(f"{folder}/")]
    for mount in sorted(below, key=len, reverse=True):
        subprocess.run(["umount", mount], capture_output=True, check=False)


@contextlib.contextmanager
def _locked(path: Path) -> Generator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# --- root file systems ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rootfs:
    """A Debian root file system made by mmdebstrap from the host's apt sources."""

    packages: tuple[str, ...]
    dpkg: tuple[str, ...] = ()
    variant: str = "minbase"

    @property
    def key(self) -> str:
        text = "\n".join([SUITE, self.variant, *sorted(self.packages), "--", *self.dpkg])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def tar(self) -> Path:
        """The cached tar (made on first use: ~30 s for a slim one, 1-4 min with compilers)."""
        directory = cache_dir() / "rootfs"
        target = directory / f"{SUITE}-{self.key}.tar"
        with _locked(directory / ".lock"):
            if target.exists():
                return target
            partial = target.with_suffix(".partial")
            # No mirror argument: mmdebstrap uses the host's apt sources. The merged-usr hook sets the /usr merge
            # up itself instead of installing usrmerge (which would pull perl into minbase).
            cmd = ["mmdebstrap", "--quiet", f"--variant={self.variant}", "--format=tar",
                   "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr"]  # fmt: skip
            if self.packages:
                cmd.append("--include=" + ",".join(self.packages))
            cmd += [f"--dpkgopt={option}" for option in self.dpkg]
            _run([*cmd, SUITE, str(partial)], timeout=1200)
            partial.rename(target)
        return target


# --- images --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSpec:
    """One stand-in image: a root file system, optionally a CPython in /usr/local, and Dockerfile lines."""

    tags: tuple[str, ...]
    rootfs: Rootfs
    python: Path | None = None  # a pyenv build, copied to /usr/local
    steps: tuple[str, ...] = ()  # Dockerfile instructions after the copy
    uv: str | None = None  # a uv version whose `uv` and `uvx` go to /usr/local/bin (`uv_binaries`)
    base: ImageSpec | None = None  # built FROM this stand-in (then `rootfs` and `python` are unused)

    def recipe(self) -> str:
        """A hash of everything the image is made from."""
        parts = [RECIPE_VERSION, self.rootfs.key, *self.steps]
        if self.base is not None:
            parts.append(f"base:{self.base.recipe()}")
        elif self.python is not None:
            parts.append(f"{self.python.name}:{_tree_stamp(self.python)}")
        if self.uv is not None:
            parts.append(f"uv:{self.uv}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _tree_stamp(python: Path) -> str:
    """Identifies a pyenv build without reading it all: the interpreter's size and modification time."""
    exe = next(iter(sorted((python / "bin").glob("python3.*[0-9]"))), python / "bin" / "python3")
    stat = exe.stat()
    return f"{stat.st_size}-{int(stat.st_mtime)}"


def pyenv_build(version: str) -> Path | None:
    """The newest pyenv build of `version` (`3.12` -> ~/.pyenv/versions/3.12.1), or None."""
    found = [p for p in PYENV_VERSIONS.glob(f"{version}.*") if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)]
    return max(found, key=lambda p: int(p.name.rsplit(".", 1)[1]), default=None)


def template_default(template: str, name: str) -> str:
    """The default of input `name` in `templates/<template>.yml` (its spec header), e.g. the image-build image, as a
    runner without a mirror reads it: `${PYTHON_CI_IMAGE_PREFIX}` unset expands to nothing."""
    header = (ROOT / "templates" / f"{template}.yml").read_text(encoding="utf-8").split("\n---", 1)[0]
    match = re.search(rf"^    {re.escape(name)}:\n(?:      .*\n)*?      default: (\S+)", header, re.MULTILINE)
    if not match:
        raise EngineError(f"templates/{template}.yml: no default for input {name}")
    return match.group(1).strip("'\"").replace("${PYTHON_CI_IMAGE_PREFIX}", "")


def expand_image(image: str, python: str, uv: str) -> str:
    """An `image:` as a runner without a mirror starts it: `${PYTHON_CI_IMAGE_PREFIX}` unset, the job variables
    `${PYTHON_VERSION}` = `python` (e.g. `3.12`) and `${PYCI_UV_VERSION}` = `uv` (the `uv_version` input)."""
    for variable, value in (("PYTHON_CI_IMAGE_PREFIX", ""), ("PYTHON_VERSION", python), ("PYCI_UV_VERSION", uv)):
        image = image.replace(f"${{{variable}}}", value)
    return image


def default_image(template: str, python: str) -> str:
    """The image a component's job starts in by default for Python `python` (`expand_image` of its `image` input's
    default; `uv_version` is read only from a template whose image names it)."""
    image = template_default(template, "image")
    uv = template_default(template, "uv_version") if "${PYCI_UV_VERSION}" in image else ""
    return expand_image(image, python, uv)


def uv_image(uv: str, python: str, *, slim: bool = True) -> str:
    """Astral's image name with uv `uv` on Python `python` (`astral/uv:0.13.9-python3.12-trixie-slim`)."""
    return f"{UV_IMAGE}:{uv}-python{python}-{UV_IMAGE_DEBIAN}{'-slim' if slim else ''}"


def uv_binaries(version: str) -> Path:
    """A folder with the `uv` and `uvx` executables of uv `version`, taken from its wheel on the package index
    (the tools' default index) once and cached in `~/.cache/python-ci/uv/<version>/bin`.

    Raises EngineError when no uv is at hand to install it with or the install fails."""
    folder = cache_dir() / "uv" / version
    binaries = folder / "bin"
    if (binaries / "uv").is_file() and (binaries / "uvx").is_file():
        return binaries
    bootstrap = ROOT / ".venv-bootstrap" / "bin" / "uv"  # scripts/setup.sh's pinned uv
    installer = str(bootstrap) if bootstrap.is_file() else shutil.which("uv")
    if installer is None:
        raise EngineError("no uv to fetch the uv binaries with: run scripts/setup.sh first")
    with _locked(cache_dir() / "uv" / ".lock"):
        partial = folder.with_name(f"{version}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        # The host's python3 only selects the wheel's platform: uv's wheel holds static executables.
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        _run([installer, "pip", "install", "--quiet", "--no-deps", "--target", str(partial), "--python", "python3",
              f"uv=={version}"], env=env, timeout=600)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return binaries


def own_job_image(job: str) -> str:
    """The `image:` of a job the repository's own .gitlab-ci.yml defines (not a component's)."""
    config = as_map(yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8")))
    image = as_map(config.get(job)).get("image")
    if not isinstance(image, str):
        raise EngineError(f".gitlab-ci.yml: job {job} has no image name")
    return image


def _python_steps(version: str, full_version: str) -> tuple[str, ...]:
    return (
        "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "
        f"PYTHON_VERSION={full_version}",
        # ldconfig: the pyenv builds are --enable-shared; ensurepip installs the bundled pip offline, as the
        # official images' pip; the unversioned names are the official images' symlinks.
        "RUN ldconfig && python3 -m ensurepip --default-pip >/dev/null && rm -rf /root/.cache "
        "&& for n in idle pydoc python python-config; do "
        '[ -e /usr/local/bin/"$n"3 ] && ln -sf "$n"3 /usr/local/bin/"$n"; done; pip --version',
        'CMD ["python3"]',
    )


def image_specs(versions: Sequence[str] = PYTHON_VERSIONS) -> tuple[list[ImageSpec], list[str]]:
    """The images to build, and a note per Python version whose pyenv build is missing (skipped)."""
    slim = Rootfs(PYTHON_RUNTIME, SLIM_DPKG)
    full = Rootfs((*PYTHON_RUNTIME, *BUILDPACK))
    specs: list[ImageSpec] = []
    skipped: list[str] = []
    uv = template_default("mypy", "uv_version")
    for version in versions:
        build = pyenv_build(version)
        if build is None:
            skipped.append(f"python:{version}: no pyenv build under {PYENV_VERSIONS}, image not made")
            continue
        steps = _python_steps(version, build.name)
        slim_image = ImageSpec((f"python:{version}-slim", f"python:{version}-slim-{SUITE}"), slim, build, steps)
        full_image = ImageSpec((f"python:{version}", f"python:{version}-{SUITE}"), full, build, steps)
        specs += [slim_image, full_image]
        # Astral's derived images: FROM the python image, uv and uvx in /usr/local/bin, the tool bin dir there.
        with_uv = ("ENV UV_TOOL_BIN_DIR=/usr/local/bin", 'CMD ["/usr/local/bin/uv"]')
        for base, is_slim in ((slim_image, True), (full_image, False)):
            tag = uv_image(uv, version, slim=is_slim)
            specs.append(ImageSpec((tag,), base.rootfs, steps=with_uv, uv=uv, base=base))
    specs.append(
        ImageSpec(
            (template_default("image-build", "image"),),
            Rootfs(("buildah", "fuse-overlayfs", "ca-certificates"), SLIM_DPKG),
            steps=("ENV BUILDAH_ISOLATION=chroot",),
        )
    )
    specs.append(
        ImageSpec((template_default("image-push", "image"),), Rootfs(("skopeo", "ca-certificates"), SLIM_DPKG))
    )
    helper = Rootfs(("rsync",), SLIM_DPKG)
    specs.append(ImageSpec((HELPER_IMAGE,), helper))
    # The catalogue's own release job (a tag pipeline) runs only POSIX sh in its image; the same minimal root.
    specs.append(ImageSpec((own_job_image("release-catalog"),), helper))
    return specs, skipped


def _stage_python(build: Path, dest: Path) -> None:
    """Copy a pyenv build to `dest` laid out for /usr/local: no site-packages (ensurepip adds pip), no test
    suites (the official images delete them too), the build prefix replaced by /usr/local in scripts and in the
    sysconfig data (what python3-config and extension builds read)."""
    prefix = str(build)
    lib = next(iter(sorted((build / "lib").glob("python3.*"))))

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        skip = {n for n in names if n in {"test", "tests", "idle_test", "__pycache__"}}
        if here == lib:
            skip.add("site-packages")
        if here == build / "bin":
            skip |= {n for n in names if not re.fullmatch(r"(python|pydoc|idle|2to3)[0-9.-]*(-config)?", n)}
        return skip

    shutil.copytree(build, dest, symlinks=True, ignore=ignore)
    (dest / "lib" / lib.name / "site-packages").mkdir()
    candidates = [*(dest / "bin").iterdir(), *(dest / "lib" / lib.name).glob("_sysconfigdata*.py")]
    candidates += [*(dest / "lib" / lib.name).glob("config-*/Makefile"), *(dest / "lib" / "pkgconfig").glob("*.pc")]
    for path in candidates:
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        if prefix.encode() in data[: 1 << 20] and b"\0" not in data[:1024]:
            path.write_bytes(data.replace(prefix.encode(), b"/usr/local"))


def _base_image(engine: Engine, rootfs: Rootfs) -> str:
    """The rootfs imported as `python-ci/rootfs:<key>` (once)."""
    tag = f"python-ci/rootfs:{rootfs.key}"
    if not _image_label(engine, tag, "io.python-ci.rootfs"):
        tar = rootfs.tar()
        engine.docker("import", "--change", f"LABEL io.python-ci.rootfs={rootfs.key}", "--change",
                      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                      "--change", 'CMD ["bash"]', str(tar), tag, timeout=900)  # fmt: skip
    return tag


def _image_label(engine: Engine, tag: str, label: str) -> str | None:
    done = subprocess.run(
        [DOCKER, "image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', tag],
        env=engine.env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    value = done.stdout.strip()
    return value if done.returncode == 0 and value and value != "<no value>" else None


def image_state(engine: Engine, spec: ImageSpec) -> str:
    """`present`, `stale` (made from other inputs) or `missing`, for the spec's first tag."""
    found = _image_label(engine, spec.tags[0], RECIPE_LABEL)
    if found is None:
        return "missing"
    return "present" if found == spec.recipe() else "stale"


def build_image(engine: Engine, spec: ImageSpec) -> None:
    """Build `spec` with the engine's builder (offline: FROM the imported rootfs) and tag it with every name."""
    base = spec.base.tags[0] if spec.base is not None else _base_image(engine, spec.rootfs)
    with tempfile.TemporaryDirectory(prefix="python-ci-image-") as tmp:
        context = Path(tmp)
        lines = [f"FROM {base}"]
        if spec.python is not None:
            _stage_python(spec.python, context / "python")
            lines.append("COPY python/ /usr/local/")
        if spec.uv is not None:
            shutil.copytree(uv_binaries(spec.uv), context / "uv")
            lines.append("COPY uv/uv uv/uvx /usr/local/bin/")
        lines += [*spec.steps, f"LABEL {RECIPE_LABEL}={spec.recipe()}"]
        (context / "Dockerfile").write_text("\n".join(lines) + "\n", encoding="utf-8")
        tags = [item for tag in spec.tags for item in ("--tag", tag)]
        env = {**engine.env(), "DOCKER_BUILDKIT": "0"}
        _run([DOCKER, "build", "--quiet", "--network=none", *tags, str(context)], env=env, timeout=1800)


def ensure_images(engine: Engine, versions: Sequence[str] = PYTHON_VERSIONS, *, echo: bool = True) -> list[str]:
    """Build each missing or stale stand-in image; returns the notes on skipped Python versions. Idempotent."""
    specs, skipped = image_specs(versions)
    for note in skipped:
        print(f"containers: {note}", file=sys.stderr)
    with _locked(engine.dir / ".images.lock"):
        built = False
        for spec in specs:
            state = image_state(engine, spec)
            if state == "present":
                continue
            built = True
            start = time.monotonic()
            if echo:
                print(f"containers: building {', '.join(spec.tags)} ({state}) ...", file=sys.stderr, flush=True)
            build_image(engine, spec)
            if echo:
                print(f"containers: built {spec.tags[0]} in {time.monotonic() - start:.0f} s", file=sys.stderr)
        if built:
            # A rebuilt stale image leaves its old one untagged: nothing uses it any more.
            engine.docker("image", "prune", "--force", timeout=300)
    return skipped


def ready(engine: Engine | None = None, versions: Sequence[str] = PYTHON_VERSIONS) -> tuple[Engine | None, str]:
    """Start the engine and build the images if this machine can; (engine, "") or (None, why not)."""
    engine = engine or default_engine()
    try:
        up(engine)
        ensure_images(engine, versions)
    except EngineError as err:
        return None, str(err)
    return engine, ""


# --- CLI -----------------------------------------------------------------------------------------------------


def _status(engine: Engine, versions: Sequence[str]) -> int:
    pid = engine.pid()
    running = pid is not None and engine.answers()
    print(f"engine: {'running, PID ' + str(pid) if running else 'stopped'} ({engine.dir})")
    if not running:
        return 0 if pid is None else 1
    specs, skipped = image_specs(versions)
    for spec in specs:
        print(f"{image_state(engine, spec):8} {' '.join(spec.tags)}")
    for note in skipped:
        print(f"skipped  {note}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.containers", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("command", choices=("up", "down", "images", "status"))
    parser.add_argument("--dir", type=Path, help="the engine's state directory (default ~/.cache/python-ci/engine)")
    parser.add_argument(
        "--python", action="append", default=[], metavar="X.Y", help=f"Python versions (default {PYTHON_VERSIONS})"
    )
    args = parser.parse_args(argv)
    engine = Engine(args.dir) if args.dir else default_engine()
    versions = tuple(args.python) or PYTHON_VERSIONS
    try:
        if args.command == "down":
            print("containers: engine stopped" if down(engine) else "containers: no engine was running")
            return 0
        if args.command == "status":
            return _status(engine, versions)
        start = time.monotonic()
        up(engine)
        if args.command == "images":
            ensure_images(engine, versions)
            print(f"containers: images ready in {time.monotonic() - start:.1f} s", file=sys.stderr)
        print(f"DOCKER_HOST={engine.host}")
        return 0
    except CannotRun as err:
        print(f"containers: cannot run: {err}", file=sys.stderr)
        return 2
    except EngineError as err:
        print(f"containers: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
