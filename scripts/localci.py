"""What running a pipeline locally with gitlab-ci-local needs, shared by the runner (`scripts.pipeline`), the
benchmark and the tests (`tests/engine.py`).

Components are included as `$CI_SERVER_FQDN/$CI_PROJECT_PATH/<name>@$CI_COMMIT_SHA`; gitlab-ci-local resolves such
an include from the repository it runs in when that repository's `origin` names the catalogue's project path and the
ref is HEAD. So every local run happens in a throw-away git repository whose origin is `CATALOG_REMOTE`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scripts.containers import DOCKER, HELPER_IMAGE

ROOT = Path(__file__).resolve().parent.parent
CATALOG_REMOTE = "git@gitlab.example.com:python-ci/catalog.git"
CATALOG_PATH = "python-ci/catalog"

COMMON_FLAGS = ("--no-artifacts-to-source", "--color=false", "--max-job-name-padding=0")
# Shell executor: jobs run on this host's shell, each in its own copy of the repository, with real artifacts and
# caches; a job's `image:` is ignored.
ENGINE_FLAGS = ("--force-shell-executor", "--shell-isolation", *COMMON_FLAGS)
# The host's CA store: this machine reaches the package registries through a TLS-intercepting proxy.
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class Executor:
    """How gitlab-ci-local runs jobs: `shell` (on this host) or `docker` (each job in its `image:`, on the engine
    at `docker_host`, as a GitLab runner's docker executor does). `privileged` is a privileged runner's
    `--privileged` (what buildah's image build needs in a container); `volumes` are a runner's `volumes` setting,
    `docker run --volume` specs given to every job."""

    kind: Literal["shell", "docker"] = "shell"
    docker_host: str = ""
    privileged: bool = False
    volumes: tuple[str, ...] = ()

    def flags(self) -> tuple[str, ...]:
        """gitlab-ci-local's options for this executor."""
        if self.kind == "shell":
            return ENGINE_FLAGS
        flags = [
            f"--container-executable={DOCKER}",
            f"--helper-image={HELPER_IMAGE}",
            # Host network: jobs reach the package registries and services on 127.0.0.1 (the local registry).
            "--network=host",
            "--pull-policy=if-not-present",
        ]
        if Path(HOST_CA_BUNDLE).is_file():
            flags.append(f"--ca-file={HOST_CA_BUNDLE}")  # mounted over the image's bundle, SSL_CERT_FILE set
        if self.privileged:
            flags.append("--privileged")
        flags += [f"--volume={volume}" for volume in self.volumes]
        return (*flags, *COMMON_FLAGS)

    def variables(self) -> dict[str, str]:
        """What a runner's own environment gives every job here: pip 23 reads PIP_CERT, not SSL_CERT_FILE."""
        if self.kind == "docker" and Path(HOST_CA_BUNDLE).is_file():
            return {"PIP_CERT": HOST_CA_BUNDLE}
        return {}

    def env(self) -> dict[str, str]:
        """Environment for gitlab-ci-local itself: which engine its docker client talks to."""
        return {"DOCKER_HOST": self.docker_host} if self.kind == "docker" else {}


SHELL = Executor()

# gitlab-ci-local prints this WARN line when a run sets a predefined variable: it is not a job.
_PREDEFINED_WARNING = "Avoid overriding predefined variables"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The closing summary: ` PASS  <job>` with ` <n>% coverage` appended for jobs with a `coverage:` regex.
_STATUS_LINE = re.compile(r"^\s*(PASS|FAIL|WARN)\s+(.+?)(?:\s+(\d+(?:\.\d+)?)% coverage)?\s*$")
_TIMESTAMP = r"(?:\[[\d:]+\s+[^\]]*\]\s)?"  # `--timestamps` prefix: [HH:MM:SS elapsed]
# A job's own output (`<job> > text`) or command (`<job> $ cmd`) may contain "finished in": those are not ends.
_JOB = r"(?P<job>(?:(?! > | \$ ).)+?)"
_FINISHED = re.compile(rf"^{_TIMESTAMP}{_JOB} finished in (?P<num>[\d.]+) (?P<unit>h|min|s|ms|μs|ns)\b")
_UNITS = {"h": 3600.0, "min": 60.0, "s": 1.0, "ms": 1e-3, "μs": 1e-6, "ns": 1e-9}
_MAX_FILENAME = 238  # gitlab-ci-local's limit for the names of its per-job folders


def _pyenv_versions() -> str | None:
    """All pyenv interpreters, the current one first: the shell executor ignores a job's image, so a Python
    matrix (`uv venv --python 3.X`) is real here only when every version is reachable."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    listed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout.split()
    current = subprocess.run([pyenv, "version-name"], capture_output=True, text=True, check=False).stdout.strip()
    first = [v for v in current.split(":") if v]
    return ":".join(first + [v for v in listed if v not in first]) or None


def engine_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment gitlab-ci-local and its shell jobs run with: the pinned engine and uv on PATH, every pyenv
    interpreter reachable, and uv never downloading a Python."""
    env = dict(os.environ)
    path = [str(ROOT / "node_modules" / ".bin"), str(ROOT / ".venv-bootstrap" / "bin"), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    env.pop("VIRTUAL_ENV", None)
    versions = _pyenv_versions()
    if versions and "PYENV_VERSION" not in env:
        env["PYENV_VERSION"] = versions
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    env.update(extra or {})
    return env


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` with a fixed identity and return its stdout."""
    cmd = ["git", "-c", "user.name=python-ci local", "-c", "user.email=local@python-ci.invalid", *args]
    done = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def worktree_files(root: Path) -> list[str]:
    """The files a commit of `root` would hold if everything were added: tracked plus untracked-not-ignored."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (root / f).is_file()})


def copy_worktree(root: Path, dest: Path) -> int:
    """Copy the working tree of `root` (see `worktree_files`) into `dest`; returns the number of files."""
    files = worktree_files(root)
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target, follow_symlinks=False)
    return len(files)


def init_repo(dest: Path, *, remote: str = CATALOG_REMOTE, message: str = "local pipeline") -> str:
    """Make `dest` a git repository with everything committed on `main`, `origin` = `remote`; returns the SHA."""
    git(dest, "init", "-q", "-b", "main")
    git(dest, "remote", "add", "origin", remote)
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "--no-verify", "-m", message)
    return _as_main(dest)


def is_clean(root: Path) -> bool:
    """Whether `root`'s working tree is exactly its HEAD commit (no change, no untracked file that is not ignored)."""
    return git(root, "status", "--porcelain", "--untracked-files=normal") == ""


def clone_repo(root: Path, dest: Path, *, remote: str = CATALOG_REMOTE) -> str:
    """Clone `root`'s HEAD commit (only that one) into `dest` on `main`, `origin` = `remote`; returns the SHA."""
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{root}", str(dest)], check=True)
    git(dest, "remote", "set-url", "origin", remote)
    git(dest, "checkout", "-q", "-B", "main")
    return _as_main(dest)


def _as_main(dest: Path) -> str:
    # origin/HEAD lets gitlab-ci-local find the default branch (CI_DEFAULT_BRANCH) without a network call.
    git(dest, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(dest, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return git(dest, "rev-parse", "HEAD")


# Variables that hold credentials reach the engine through its variables file (mode 0600), never its command line,
# where any local user could read them with `ps`.
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET")
VARIABLES_FILE = ".gitlab-ci-local-variables.yml"


def hide_secrets(repo: Path, variables: Mapping[str, str]) -> dict[str, str]:
    """Write the credentials among `variables` to `repo`'s engine variables file; return the other variables."""
    secrets = {key: value for key, value in variables.items() if SECRET_NAME.search(key)}
    if secrets:
        path = repo / VARIABLES_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(secrets, stream)  # JSON is YAML
    return {key: value for key, value in variables.items() if key not in secrets}


def engine_command(
    *args: str,
    variables: Mapping[str, str] | None = None,
    inputs: Mapping[str, str] | None = None,
    timestamps: bool = False,
    executor: Executor = SHELL,
) -> list[str]:
    """The gitlab-ci-local command line; `inputs` values are JSON as its `--input` expects (strings quoted)."""
    cmd = ["gitlab-ci-local", *executor.flags()]
    if timestamps:
        cmd.append("--timestamps")
    for flag, pairs in (("--variable", {**executor.variables(), **(variables or {})}), ("--input", inputs)):
        for key, value in (pairs or {}).items():
            cmd += [flag, f"{key}={value}"]
    return [*cmd, *args]


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def parse_statuses(output: str) -> dict[str, str]:
    """Job name -> PASS, FAIL or WARN, from the run's closing summary."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        match = _STATUS_LINE.match(line)
        if match and _PREDEFINED_WARNING not in line:
            found[match.group(2)] = match.group(1)
    return found


def parse_coverage(output: str) -> dict[str, float]:
    """Job name -> coverage percent, for the jobs whose `coverage:` regex matched their log."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        match = _STATUS_LINE.match(line)
        if match and match.group(3):
            found[match.group(2)] = float(match.group(3))
    return found


def parse_durations(output: str) -> dict[str, float]:
    """Job name -> seconds, from the engine's `<job> finished in <time>` lines."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        match = _FINISHED.match(line)
        if match:
            found[match.group("job")] = float(match.group("num")) * _UNITS[match.group("unit")]
    return found


def safe_job_name(name: str) -> str:
    """The folder name gitlab-ci-local uses for a job (artifacts, builds, output): every run of characters other
    than letters, digits, `_` and `-` becomes its unpadded base64, and very long names end in a hash."""

    def encode(match: re.Match[str]) -> str:
        return base64.urlsafe_b64encode(match.group().encode()).decode().rstrip("=")

    safe = re.sub(r"[^A-Za-z0-9_-]+", encode, name)
    if len(safe) <= _MAX_FILENAME:
        return safe
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{safe[: _MAX_FILENAME - 1 - len(digest)]}-{digest}"


def slug(name: str) -> str:
    """A readable folder name for a job (`pytest: [3.12]` -> `pytest-3.12`)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "job"
