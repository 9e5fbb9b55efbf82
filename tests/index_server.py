"""An internal package index for tests: pypiserver (from PyPI, pinned in requirements/index-server.txt) behind TLS
with a CA made by the test and HTTP basic auth, on 127.0.0.1, optionally inside a network namespace that has only
a loopback interface (so the public index is unreachable for everything started in it).

The server is pypiserver's own WSGI application (authenticating `list` and `download`, no fallback to a public
index) served by the standard library's threading WSGI server with an `ssl` socket: pypiserver has no TLS option.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scripts.localci import ROOT

SERVER_REQUIREMENTS = ROOT / "requirements" / "index-server.txt"
SERVER_VENV = ROOT / ".cache" / "index-server" / "venv"
# Wheels fetched for the index, kept between sessions (pip's own cache does not fill on these machines).
WHEELS = ROOT / ".cache" / "index-server" / "wheels"
USERNAME = "ci-reader"

_SERVE = """
import socketserver, ssl, sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
import pypiserver

class Handler(WSGIRequestHandler):
    def log_message(self, *args):
        pass

    def get_environ(self):
        environ = super().get_environ()
        environ["HTTPS"] = "on"  # pypiserver's redirects say https
        return environ

class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True

packages, htpasswd, cert, key, port_file = sys.argv[1:6]
app = pypiserver.app(roots=[packages], password_file=htpasswd, authenticate=["list", "download"],
                     disable_fallback=True, hash_algo="sha256")
server = make_server("127.0.0.1", 0, app, server_class=Server, handler_class=Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as stream:
    stream.write(str(server.server_port))
import os; os.replace(port_file + ".tmp", port_file)
server.serve_forever()
"""

_HTPASSWD = """
import sys
from passlib.apache import HtpasswdFile
path, user = sys.argv[1:3]
entries = HtpasswdFile(path, new=True, default_scheme="apr_md5_crypt")
entries.set_password(user, sys.stdin.read())
entries.save()
"""


@dataclass(frozen=True)
class IndexServer:
    """A running index: its simple API URL, login, the CA (PEM file) that signed its certificate, its packages."""

    url: str
    username: str
    password: str
    ca_file: Path
    packages: Path


def server_python() -> Path:
    """The interpreter of a venv holding pypiserver and passlib, made from the hash-pinned requirements once."""
    python = SERVER_VENV / "bin" / "python"
    stamp = SERVER_VENV / ".requirements"
    wanted = SERVER_REQUIREMENTS.read_text()
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        uv = shutil.which("uv") or "uv"
        subprocess.run([uv, "venv", "-q", "--allow-existing", "--python", sys.executable, str(SERVER_VENV)], check=True)
        sync = [uv, "pip", "sync", "-q", "--python", str(python), "--require-hashes", str(SERVER_REQUIREMENTS)]
        subprocess.run(sync, check=True)
        stamp.write_text(wanted)
    return python


def _openssl(args: Sequence[str | Path]) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_certificates(directory: Path, *, name: str = "python-ci test CA") -> tuple[Path, Path, Path]:
    """A new CA and a server certificate it signed for 127.0.0.1 and localhost (openssl CLI); returns the CA's
    certificate, the server's certificate and the server's key (PEM files in `directory`)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    ext = directory / "server.ext"
    ext.write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    _openssl(
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_cert, "-days", "2",
         "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    )  # fmt: skip
    _openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
    _openssl(
        ["x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "2", "-extfile", ext],
    )  # fmt: skip
    return ca_cert, cert, key


def download_wheels(packages: Path, requirements: Sequence[str], *, python_versions: Sequence[str] = ()) -> None:
    """Put the wheels of `requirements` (PEP 508, with their dependencies) for each of `python_versions` (default
    this interpreter's) into `packages`. pip fetches them from the machine's configured index once; they are kept
    in `.cache/index-server/wheels` (pip's own cache does not fill on these machines), and every wheel kept there is
    served (more packages than a test needs harm nothing)."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    packages.mkdir(parents=True, exist_ok=True)
    # pip comes with pypiserver (one of its dependencies).
    pip = [str(server_python()), "-m", "pip", "download", "-q", "--only-binary=:all:", "-d", str(WHEELS)]
    targets = [["--python-version", version] for version in python_versions] or [[]]
    for target in targets:
        if requirements:
            kept = subprocess.run(
                [*pip, *target, "--no-index", "--find-links", str(WHEELS), *requirements],
                capture_output=True,
                check=False,
            )
            if kept.returncode != 0:
                subprocess.run([*pip, *target, *requirements], check=True)
    for wheel in WHEELS.glob("*.whl"):
        shutil.copy2(wheel, packages / wheel.name)


@contextmanager
def loopback_namespace() -> Generator[str]:
    """A network namespace with only a loopback interface (up): nothing outside this machine is reachable from
    it. Yields its name for `ip netns exec`; deleted afterwards. Needs root (CAP_SYS_ADMIN) and iproute2."""
    name = f"pyci-{uuid.uuid4().hex[:10]}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def namespaces_work() -> str | None:
    """None when `loopback_namespace` works here, else why not (for a skip reason)."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "network namespaces need root and iproute2"
    try:
        with loopback_namespace() as name:
            subprocess.run(["ip", "netns", "exec", name, "true"], check=True, capture_output=True)
    except (subprocess.CalledProcessError, OSError) as error:
        return f"cannot make a network namespace here: {error}"
    return None


def in_namespace(namespace: str | None, cmd: Sequence[str]) -> list[str]:
    """`cmd` run inside `namespace` (or as is for None)."""
    return ["ip", "netns", "exec", namespace, *cmd] if namespace else list(cmd)


@contextmanager
def running_index(
    directory: Path,
    *,
    password: str,
    username: str = USERNAME,
    requirements: Sequence[str] = (),
    python_versions: Sequence[str] = (),
    namespace: str | None = None,
) -> Generator[IndexServer]:
    """Serve an index over TLS with basic auth (`username`/`password`) from `directory`, holding the wheels of
    `requirements` (for `python_versions`), inside `namespace` when given; stopped (by its PID) afterwards."""
    python = server_python()
    ca_cert, cert, key = make_certificates(directory / "tls")
    packages = directory / "packages"
    download_wheels(packages, requirements, python_versions=python_versions)
    htpasswd = directory / "htpasswd"
    subprocess.run([python, "-c", _HTPASSWD, htpasswd, username], input=password, text=True, check=True)
    port_file = directory / "port"
    log = (directory / "server.log").open("wb")
    cmd = in_namespace(namespace, [str(python), "-c", _SERVE, str(packages), str(htpasswd), str(cert), str(key),
                                   str(port_file)])  # fmt: skip
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the index server did not start: {(directory / 'server.log').read_text()}")
            time.sleep(0.05)
        port = int(port_file.read_text())
        yield IndexServer(
            url=f"https://127.0.0.1:{port}/simple/",
            username=username,
            password=password,
            ca_file=ca_cert,
            packages=packages,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (for an unreachable index)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
