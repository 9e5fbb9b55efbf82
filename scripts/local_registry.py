"""Local container infrastructure for the image components: a registry on 127.0.0.1 and an offline base image.

Nothing is installed here (scripts/setup.sh --containers does that); `missing_requirements()` says what is absent.

- `running_registry()`: Debian's `docker-registry` (CNCF distribution) on a free 127.0.0.1 port, htpasswd (bcrypt)
  auth, filesystem storage in a temporary directory; a context manager that stops it on exit.
- `push_base_image()`: a minimal Debian root filesystem made by mmdebstrap from the host's own apt sources (cached
  as a tar under ~/.cache/python-ci/, keyed by suite + package list), imported with buildah and pushed to the
  registry, to be given to builds as BASE_IMAGE.

CLI for the local self-test pipeline (the registry outlives the command until `down`):

    python -m scripts.local_registry up [--dir DIR] [--no-base]   # prints KEY=VALUE lines
    python -m scripts.local_registry down DIR
    python -m scripts.local_registry check DIR IMAGE_REF --revision SHA [--env KEY=VALUE]...   # labels + smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from scripts.processes import stop_pid

# Tool -> the Debian package that provides it (the same list as scripts/setup.sh --containers).
TOOLS = {
    "buildah": "buildah",
    "skopeo": "skopeo",
    "docker-registry": "docker-registry",
    "mmdebstrap": "mmdebstrap",
    "htpasswd": "apache2-utils",
}
BASE_SUITE = "bookworm"
# python-is-python3: Dockerfiles written for the official python images call `python`.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "python-is-python3")
BASE_REPOSITORY = "base/python"
REGISTRY_USER = "ci"


class InfraError(RuntimeError):
    """A step of the local infrastructure failed; the message is one line meant for a person."""


def missing_requirements() -> str | None:
    """Why the container tooling cannot run here (not root, missing tools), or None when it can."""
    if os.geteuid() != 0:
        return "needs root (buildah builds with chroot isolation and mmdebstrap needs root)"
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        return "missing apt packages: " + " ".join(missing) + " (run: bash scripts/setup.sh --containers)"
    return None


def scratch_dir() -> str | None:
    """Where short-lived image stores go: tmpfs when it has room (deleting ~20k layer files from a busy disk took
    ~50 s here), else the default temp dir."""
    shm = Path("/dev/shm")  # noqa: S108 - only a parent for mkdtemp, which makes a private dir
    return str(shm) if shm.is_dir() and shutil.disk_usage(shm).free > 4 << 30 else None


def write_storage_conf(conf: Path, root: Path, driver: str = "overlay") -> Path:
    """A containers `storage.conf` at `conf` that keeps buildah's images under `root`, never in the host's store
    (point CONTAINERS_STORAGE_CONF at it)."""
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(f'[storage]\ndriver = "{driver}"\ngraphroot = "{root}/graph"\nrunroot = "{root}/run"\n')
    return conf


def release_storage(conf: Path) -> None:
    """Remove the working containers of the store `conf` describes: layers may stay mounted after a failed build,
    and a mounted layer cannot be deleted with its folder."""
    env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf)}
    subprocess.run(["buildah", "rm", "--all"], env=env, capture_output=True, check=False)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "python-ci"


def free_port() -> int:
    """A port nothing listens on right now (the kernel picks it, so parallel runs do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(cmd: Sequence[str], *, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(list(cmd), input=stdin, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise InfraError(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''} failed: {last[0]}")
    return done.stdout


# --- the registry --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registry:
    """A running local registry and the credentials that open it."""

    host: str  # "127.0.0.1:PORT", the form CI_REGISTRY takes
    user: str
    password: str
    workdir: Path
    pid: int

    @property
    def password_file(self) -> Path:
        return self.workdir / "password"

    @property
    def authfile(self) -> Path:
        """A containers-auth.json for this registry, for skopeo/buildah run by tests and tools (not by jobs)."""
        return self.workdir / "auth.json"

    def variables(self) -> dict[str, str]:
        """The CI variables a pipeline needs to use this registry."""
        return {
            "CI_REGISTRY": self.host,
            "CI_REGISTRY_USER": self.user,
            "CI_REGISTRY_PASSWORD": self.password,
        }


def _write_config(workdir: Path, port: int) -> Path:
    storage = workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        "auth": {"htpasswd": {"realm": "python-ci", "path": str(workdir / "htpasswd")}},
    }
    path = workdir / "config.yml"
    path.write_text(json.dumps(config))  # JSON is YAML; no yaml dependency needed at runtime
    return path


def _wait_for_auth_challenge(host: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """Wait until GET /v2/ answers 401: listening, and refusing anonymous requests."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InfraError(f"docker-registry exited with status {proc.returncode} before answering")
        try:
            with opener.open(f"http://{host}/v2/", timeout=2):
                raise InfraError(f"registry at {host} answered /v2/ without credentials: auth is not on")
        except urllib.error.HTTPError as err:
            if err.code == 401:
                return
            last = f"HTTP {err.code}"
        except OSError as err:
            last = str(err)
        time.sleep(0.1)
    raise InfraError(f"registry at {host} did not answer /v2/ with 401 within {timeout:.0f}s ({last})")


def start_registry(workdir: Path, *, detach: bool = False) -> Registry:
    """Start a registry whose files all live in `workdir`; `detach` lets it outlive this process (for the CLI)."""
    workdir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    (workdir / "password").write_text(password)
    (workdir / "password").chmod(0o600)
    # -B bcrypt (the only scheme the registry accepts), -i reads the password from stdin: never on a command line.
    _run(["htpasswd", "-B", "-i", "-c", str(workdir / "htpasswd"), REGISTRY_USER], stdin=password)
    port = free_port()
    config = _write_config(workdir, port)
    log = (workdir / "registry.log").open("ab")
    proc = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=detach,
    )
    log.close()
    host = f"127.0.0.1:{port}"
    try:
        _wait_for_auth_challenge(host, proc)
    except InfraError:
        _stop_pid(proc.pid)
        raise
    (workdir / "registry.pid").write_text(str(proc.pid))
    registry = Registry(host=host, user=REGISTRY_USER, password=password, workdir=workdir, pid=proc.pid)
    _run(
        ["skopeo", "login", "--tls-verify=false", "--authfile", str(registry.authfile), "-u", registry.user,
         "--password-stdin", host],
        stdin=password,
    )  # fmt: skip
    if not detach:
        _CHILDREN[proc.pid] = proc
    return registry


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _stop_pid(pid: int, timeout: float = 10) -> None:
    proc = _CHILDREN.pop(pid, None)
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return
    stop_pid(pid, timeout)


def stop_registry(registry: Registry) -> None:
    _stop_pid(registry.pid)


@contextlib.contextmanager
def running_registry(workdir: Path | None = None) -> Generator[Registry]:
    """A registry for the duration of the `with` block; its temporary files are removed afterwards."""
    owned = workdir is None
    root = Path(tempfile.mkdtemp(prefix="python-ci-registry-")) if workdir is None else workdir
    registry = start_registry(root)
    try:
        yield registry
    finally:
        stop_registry(registry)
        if owned:
            shutil.rmtree(root, ignore_errors=True)


# --- the offline base image ----------------------------------------------------------------------------------


def base_key(suite: str = BASE_SUITE, packages: Sequence[str] = BASE_PACKAGES) -> str:
    text = "\n".join(["minbase", suite, *sorted(packages)])
    return f"{suite}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def base_rootfs(suite: str = BASE_SUITE, packages: Sequence[str] = BASE_PACKAGES) -> Path:
    """The cached root filesystem tar, made with mmdebstrap on first use (~50 s) from the host's apt sources."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"rootfs-{base_key(suite, packages)}.tar"
    with (directory / ".rootfs.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once build it once
        if target.exists():
            return target
        partial = target.with_suffix(".partial.tar")
        # No mirror argument: mmdebstrap then uses the host's own apt sources, so nothing new is named here.
        _run(["mmdebstrap", "--quiet", "--variant=minbase", "--include=" + ",".join(packages), "--format=tar",
              suite, str(partial)])  # fmt: skip
        partial.rename(target)
    return target


def buildah_storage_flags(root: Path) -> list[str]:
    """Global buildah flags that keep a tool's image storage in `root` (never the host's shared storage)."""
    return ["--root", str(root / "storage"), "--runroot", str(root / "run"), "--storage-driver", "vfs"]


def base_layout(suite: str = BASE_SUITE, packages: Sequence[str] = BASE_PACKAGES) -> Path:
    """The base image as a cached OCI layout (compressed once), imported from the rootfs tar with buildah."""
    rootfs = base_rootfs(suite, packages)
    target = rootfs.with_name(f"base-{base_key(suite, packages)}.oci")
    with (target.parent / ".base.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "index.json").exists():
            return target
        shutil.rmtree(target, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="python-ci-base-") as tmp:
            buildah = ["buildah", *buildah_storage_flags(Path(tmp))]
            container = _run([*buildah, "from", "scratch"]).strip()
            _run([*buildah, "add", container, str(rootfs), "/"])
            _run([*buildah, "config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "--env", "LANG=C.UTF-8", "--cmd", "python3",
                  "--label", f"org.opencontainers.image.title=debian-{suite}-python",
                  "--label", f"org.opencontainers.image.version={base_key(suite, packages)}", container])  # fmt: skip
            _run([*buildah, "commit", "--quiet", "--rm", container, "base"])
            partial = target.with_suffix(".partial")
            shutil.rmtree(partial, ignore_errors=True)
            _run([*buildah, "push", "--quiet", "base", f"oci:{partial}:{suite}"])
            partial.rename(target)
    return target


def push_base_image(registry: Registry, *, suite: str = BASE_SUITE, packages: Sequence[str] = BASE_PACKAGES) -> str:
    """Push the cached base image to `registry` (about a second once cached); returns the BASE_IMAGE reference."""
    layout = base_layout(suite, packages)
    ref = f"{registry.host}/{BASE_REPOSITORY}:{suite}"
    _run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-authfile", str(registry.authfile),
          f"oci:{layout}:{suite}", f"docker://{ref}"])  # fmt: skip
    return ref


# --- checking a pushed image: labels, and a smoke run without a container engine -----------------------------


def image_labels(authfile: Path, ref: str) -> dict[str, str]:
    """The labels of `ref` in a local (plain-HTTP) registry."""
    out = _run(["skopeo", "inspect", "--tls-verify=false", "--authfile", str(authfile), f"docker://{ref}"])
    labels: dict[str, str] = json.loads(out).get("Labels") or {}
    return labels


def _get_json(url: str, timeout: float) -> dict[str, object]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
    with opener.open(url, timeout=timeout) as answer:
        data: object = json.loads(answer.read())
    if not isinstance(data, dict):
        raise InfraError(f"GET {url}: not a JSON object")
    return cast("dict[str, object]", data)


@contextlib.contextmanager
def serving(ref: str, authfile: Path, env: dict[str, str] | None = None, *, timeout: float = 60) -> Generator[str]:
    """Run `ref`'s own command with `buildah from` + `buildah run` (chroot isolation, so it shares the host's
    network) with HOST=127.0.0.1 and a free PORT; yields the base URL once GET /livez answers."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="python-ci-smoke-", dir=scratch_dir()) as tmp:
        # Storage of its own: the smoke run never touches the host's shared image store.
        buildah = ["buildah", *buildah_storage_flags(Path(tmp))[:4], "--storage-driver", "overlay"]
        config = json.loads(_run(["skopeo", "inspect", "--config", "--tls-verify=false", "--authfile", str(authfile),
                                  f"docker://{ref}"]))  # fmt: skip
        command: list[str] = [*(config["config"].get("Entrypoint") or []), *(config["config"].get("Cmd") or [])]
        pulled = _run([*buildah, "from", "--quiet", "--tls-verify=false", "--authfile", str(authfile), ref])
        container = pulled.strip()
        envs = {"HOST": "127.0.0.1", "PORT": str(port), **(env or {})}
        flags = [item for key, value in envs.items() for item in ("--env", f"{key}={value}")]
        log = Path(tmp) / "server.log"
        with log.open("w") as out:
            server = subprocess.Popen(
                [*buildah, "run", "--isolation", "chroot", *flags, container, "--", *command],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    _get_json(f"{base}/livez", 2)
                    break
                except OSError as err:
                    if server.poll() is not None or time.monotonic() > deadline:
                        tail = log.read_text().strip().splitlines()[-5:]
                        raise InfraError(f"{ref} did not answer /livez ({err}): " + " / ".join(tail)) from err
                    time.sleep(0.3)
            yield base
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)  # buildah run and the server share this new session
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            _run([*buildah, "rm", container])


def check_image(ref: str, authfile: Path, revision: str, env: dict[str, str] | None = None) -> list[str]:
    """Labels name `revision`, and the running image's /version reports it. Returns the report lines."""
    lines: list[str] = []
    labels = image_labels(authfile, ref)
    found = labels.get("org.opencontainers.image.revision")
    if found != revision:
        raise InfraError(f"{ref}: label org.opencontainers.image.revision is {found!r}, not {revision!r}")
    lines.append(f"labels: revision {found}, version {labels.get('org.opencontainers.image.version')}")
    with serving(ref, authfile, env) as base:
        lines.append(f"GET /livez: {_get_json(base + '/livez', 5)}")
        version = _get_json(base + "/version", 5)
    stamped = version.get("git_revision")
    if stamped != revision:
        raise InfraError(f"{ref}: /version reports git_revision {stamped!r}, not {revision!r}")
    lines.append(f"GET /version: {json.dumps(version)}")
    return lines


# --- CLI ---------------------------------------------------------------------------------------------------


def _up(workdir: Path | None, with_base: bool) -> int:
    root = Path(tempfile.mkdtemp(prefix="python-ci-registry-")) if workdir is None else workdir
    registry = start_registry(root, detach=True)
    lines = {
        "LOCAL_REGISTRY_DIR": str(root),
        "CI_REGISTRY": registry.host,
        "CI_REGISTRY_USER": registry.user,
        "CI_REGISTRY_PASSWORD_FILE": str(registry.password_file),
        "REGISTRY_AUTH_FILE": str(registry.authfile),
    }
    try:
        if with_base:
            lines["BASE_IMAGE"] = push_base_image(registry)
    except InfraError:
        stop_registry(registry)
        raise
    for key, value in lines.items():
        print(f"{key}={value}")
    return 0


def _down(workdir: Path) -> int:
    pidfile = workdir / "registry.pid"
    if not pidfile.exists():
        raise InfraError(f"no registry.pid in {workdir}: nothing to stop")
    _stop_pid(int(pidfile.read_text()))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.local_registry", description="Local registry and offline base image."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a registry (and push the offline base image); print KEY=VALUE lines")
    up.add_argument("--dir", type=Path, help="directory for the registry's files (default: a new temp dir)")
    up.add_argument("--no-base", action="store_true", help="do not build/push the offline base image")
    down = sub.add_parser("down", help="stop the registry started by `up` and delete its directory")
    down.add_argument("dir", type=Path, help="the LOCAL_REGISTRY_DIR printed by `up`")
    check = sub.add_parser("check", help="labels name the commit; run the image, GET /livez and /version")
    check.add_argument("dir", type=Path, help="the LOCAL_REGISTRY_DIR printed by `up`")
    check.add_argument("image", help="the pushed image, e.g. the IMAGE_REF of image-build's dotenv")
    check.add_argument("--revision", required=True, help="the commit the labels and /version must name")
    check.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="environment for the run")
    args = parser.parse_args(argv)
    reason = missing_requirements()
    if args.command != "down" and reason:
        print(f"local_registry: cannot run: {reason}", file=sys.stderr)
        return 2
    try:
        if args.command == "up":
            return _up(args.dir, not args.no_base)
        if args.command == "check":
            env = dict(item.split("=", 1) for item in args.env)
            for line in check_image(args.image, args.dir / "auth.json", args.revision, env):
                print(f"local_registry: {line}")
            return 0
        return _down(args.dir)
    except InfraError as err:
        print(f"local_registry: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
