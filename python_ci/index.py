"""The package index every Python job installs from: one set of CI/CD variables, translated for uv, pip and poetry.

A user on an internal network sets (project, group or instance CI/CD variables, or the pipeline's `variables:`):
- `PYTHON_CI_INDEX_URL`: the index's simple API (PEP 503), e.g. a Nexus/Artifactory/devpi repository or GitLab's
  PyPI package registry `$CI_API_V4_URL/projects/<id>/packages/pypi/simple`. It replaces the public index.
- `PYTHON_CI_INDEX_USERNAME`, `PYTHON_CI_INDEX_PASSWORD` (masked): its credentials. Unset, and the index is on the
  GitLab server itself: `gitlab-ci-token` and the job's `CI_JOB_TOKEN` (GitLab docs, "PyPI packages in the package
  registry", authenticate with a CI job token). Credentials written into the URL are taken out of it the same way.
- `PYTHON_CI_CA_BUNDLE`: the CA that signed the index's certificate (PEM): a File-type variable (its value is the
  file's path) or the PEM text itself. Unset, and the index is on the GitLab server: `CI_SERVER_TLS_CA_FILE`.

`configured()` (called by `python_ci/__main__.py` around every command) translates them, for the command's child
processes only, into what each installer reads:
- the index: `UV_DEFAULT_INDEX` (uv; the deprecated `UV_INDEX_URL` is dropped, uv rejects both at once) and
  `PIP_INDEX_URL` (pip). Poetry reads its sources from the project's pyproject.toml only: a poetry project on an
  internal network declares the index there (it then gets the credentials and CA below like every tool);
- the credentials: a netrc file (`NETRC`, mode 0600) in a private temporary directory outside the checkout, removed
  when the command ends. uv, pip and requests (poetry) all read `NETRC`; nothing puts a password on a command line,
  in a URL, a log line, a report or a cache. `PYTHON_CI_INDEX_PASSWORD` itself is removed from the children's
  environment (the project's own tests run in it);
- the CA: one bundle (the system's roots plus the given CA, so public hosts still verify) named by `SSL_CERT_FILE`
  (uv, Python's ssl), `PIP_CERT` (pip), `REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE` (requests: poetry),
  `GIT_SSL_CAINFO` (git dependencies) and `NODE_EXTRA_CA_CERTS` (pyright's Node).
Before the command runs, one request to the index's simple API with the same credentials and CA turns a wrong
password, an untrusted certificate or an unreachable host into one line naming the index, instead of an installer's
retries.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Generator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from python_ci.job import JobError, say

URL = "PYTHON_CI_INDEX_URL"
USERNAME = "PYTHON_CI_INDEX_USERNAME"
PASSWORD = "PYTHON_CI_INDEX_PASSWORD"  # noqa: S105 (a variable's name, not a password)
CA_BUNDLE = "PYTHON_CI_CA_BUNDLE"
# GitLab's name for the job token's user in package registry URLs (GitLab docs, "Authenticate with a CI job token").
JOB_TOKEN_USER = "gitlab-ci-token"  # noqa: S105 (a user name)
CA_VARIABLES = (
    "SSL_CERT_FILE",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
)
# A netrc token ends at whitespace and quotes change its meaning; GitLab's masked variables cannot hold these anyway
# (GitLab docs, "Mask a CI/CD variable": Base64 alphabet plus `@ : . ~`).
_NETRC_UNSAFE = set(" \t\r\n\"'\\")
PREFLIGHT_TIMEOUT = 30.0  # seconds


@dataclass(frozen=True)
class Index:
    """The package index of this job: its URL (never with credentials), who logs in, and the CA to trust."""

    url: str
    username: str | None
    password: str | None
    ca_pem: str | None  # the CA's PEM text
    ca_source: str | None  # where the CA came from, for the log

    @property
    def host(self) -> str:
        """The index's host name, as netrc files name a machine (no port)."""
        return urllib.parse.urlsplit(self.url).hostname or ""


def shown(url: str) -> str:
    """`url` without any user or password: the only form of an index URL the job ever prints."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _on_gitlab(url: str, environ: MutableMapping[str, str]) -> bool:
    """Whether `url` is on the GitLab server running the job (`CI_SERVER_HOST`, a predefined variable)."""
    host = urllib.parse.urlsplit(url).hostname
    return bool(host) and host == environ.get("CI_SERVER_HOST", "").lower()


def _read_ca(value: str) -> str:
    """The PEM text of a CA variable: the text itself, or the file it names (a File-type variable's value).

    Raises JobError when neither holds a PEM certificate."""
    if "-----BEGIN CERTIFICATE-----" in value:
        return value
    try:
        text = Path(value).read_text(encoding="utf-8")
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise JobError(f"{CA_BUNDLE} is neither a PEM certificate nor a readable file: {error}") from error
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise JobError(f"{CA_BUNDLE} names {value}, which holds no PEM certificate")
    return text


def read_index(environ: MutableMapping[str, str]) -> Index | None:
    """The index the `PYTHON_CI_*` variables of `environ` describe; None when `PYTHON_CI_INDEX_URL` is unset/empty.

    Raises JobError for a URL that is not http(s), a username without a password (or the reverse), credentials a
    netrc file cannot hold, or an unreadable CA."""
    raw = environ.get(URL, "").strip()
    if not raw:
        return None
    parts = urllib.parse.urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise JobError(f"{URL} must be an http(s) URL of a simple index, not {shown(raw)!r}")
    url = shown(raw)
    username = environ.get(USERNAME) or (urllib.parse.unquote(parts.username) if parts.username else None)
    password = environ.get(PASSWORD) or (urllib.parse.unquote(parts.password) if parts.password else None)
    if username is None and password is None and _on_gitlab(url, environ) and environ.get("CI_JOB_TOKEN"):
        username, password = JOB_TOKEN_USER, environ["CI_JOB_TOKEN"]
    if (username is None) != (password is None):
        missing = PASSWORD if password is None else USERNAME
        raise JobError(f"{missing} is not set: the index {url} needs both a username and a password")
    for name, value in ((USERNAME, username), (PASSWORD, password)):
        if value is not None and (not value or _NETRC_UNSAFE & set(value)):
            raise JobError(f"{name} is empty or holds whitespace, a quote or a backslash, which a netrc file cannot")
    ca_pem: str | None = None
    ca_source: str | None = None
    if environ.get(CA_BUNDLE, "").strip():
        ca_pem, ca_source = _read_ca(environ[CA_BUNDLE].strip()), CA_BUNDLE
    elif _on_gitlab(url, environ) and environ.get("CI_SERVER_TLS_CA_FILE"):
        ca_pem, ca_source = _read_ca(environ["CI_SERVER_TLS_CA_FILE"]), "CI_SERVER_TLS_CA_FILE"
    return Index(url=url, username=username, password=password, ca_pem=ca_pem, ca_source=ca_source)


def _private_file(path: Path, text: str) -> None:
    """Write `text` to a new file `path` readable by its owner only (mode 0600 from the start, never wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(text)


def system_roots() -> str:
    """The PEM text of the interpreter's default trust store (OpenSSL's CA file), or "" when it has none."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text(encoding="utf-8", errors="replace")
    return ""


def apply(index: Index, environ: MutableMapping[str, str], workdir: Path) -> None:
    """Point every installer of `environ` at `index`, writing its netrc and CA bundle into `workdir` (a private
    directory the caller removes). Removes `PYTHON_CI_INDEX_PASSWORD` from `environ`."""
    environ.pop("UV_INDEX_URL", None)
    environ["UV_DEFAULT_INDEX"] = index.url
    environ["PIP_INDEX_URL"] = index.url
    if index.username is not None and index.password is not None:
        netrc = workdir / "netrc"
        _private_file(netrc, f"machine {index.host}\nlogin {index.username}\npassword {index.password}\n")
        environ["NETRC"] = str(netrc)
    environ.pop(PASSWORD, None)
    if index.ca_pem is not None:
        bundle = workdir / "ca-bundle.pem"
        _private_file(bundle, f"{system_roots().rstrip()}\n{index.ca_pem.strip()}\n".lstrip())
        for name in CA_VARIABLES:
            environ[name] = str(bundle)


def preflight(index: Index, *, timeout: float = PREFLIGHT_TIMEOUT) -> None:
    """Ask the index's simple API (`GET <url>/`, PEP 503's project list) once, as the installers will, with the
    same credentials and CA. Only the status line is read.

    Raises JobError, one line naming the index, when it refuses the credentials (HTTP 401/403, or 404 to GitLab's
    job token), its certificate is not trusted, or it cannot be reached. Other answers (e.g. 404 from an index that
    lists no projects at its root) are said and left to the installers."""
    request = urllib.request.Request(index.url.rstrip("/") + "/", method="GET")  # noqa: S310 (read_index: http(s))
    if index.username is not None and index.password is not None:
        token = base64.b64encode(f"{index.username}:{index.password}".encode()).decode("ascii")
        request.add_unredirected_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context()
    if index.ca_pem is not None:
        context.load_verify_locations(cadata=index.ca_pem)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context):  # noqa: S310 (as above)
            return
    except urllib.error.HTTPError as error:
        error.close()
        if error.code in {401, 403}:
            who = f"the credentials of {index.username!r}" if index.username else "anonymous access"
            fix = f"check {USERNAME} and {PASSWORD}" if index.username else f"set {USERNAME} and {PASSWORD}"
            raise JobError(f"the package index {index.url} refused {who} (HTTP {error.code}): {fix}") from None
        if error.code == 404 and index.username == JOB_TOKEN_USER:
            # GitLab answers 404, not 403, when the job token may not read the registry's project (GitLab docs,
            # "CI/CD job token": the allowlist of the project that holds the packages).
            raise JobError(
                f"the package index {index.url} answered HTTP 404 to the job token: is the project or group id right, "
                "and does the registry's project allow this project's job token?"
            ) from None
        say("index", f"the package index {index.url} answered HTTP {error.code} to its project list; going on")
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            fix = (
                f"is {index.ca_source} the CA that signed it?"
                if index.ca_source
                else f"set {CA_BUNDLE} to the CA that signed it"
            )
            raise JobError(
                f"the package index {index.url} presents a certificate that is not trusted "
                f"({reason.verify_message}): {fix}"
            ) from None
        raise JobError(f"cannot reach the package index {index.url}: {reason}") from None
    except (TimeoutError, ssl.SSLError, OSError) as error:
        raise JobError(f"cannot reach the package index {index.url}: {error}") from None


def terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM (a cancelled job) unwinds like an error, so the private directory is still removed."""
    del frame
    raise SystemExit(128 + signum)


@contextmanager
def configured(environ: MutableMapping[str, str] | None = None) -> Generator[Index | None]:
    """Within the block, `environ` (default `os.environ`) points every installer at the index the `PYTHON_CI_*`
    variables name (see the module's docstring), checked by `preflight`; yields it, or None when none is set
    (then nothing changes). Afterwards the private directory is removed and `environ` restored.

    Raises JobError as `read_index` and `preflight` do."""
    env = os.environ if environ is None else environ
    index = read_index(env)
    if index is None:
        yield None
        return
    saved = dict(env)
    workdir = Path(tempfile.mkdtemp(prefix="python-ci-index-"))
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        apply(index, env, workdir)
        login = f" as {index.username}" if index.username else ""
        trust = f", trusting the CA of {index.ca_source}" if index.ca_source else ""
        say("index", f"installing from {index.url}{login}{trust}")
        preflight(index)
        yield index
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(workdir, ignore_errors=True)
        env.clear()
        env.update(saved)
