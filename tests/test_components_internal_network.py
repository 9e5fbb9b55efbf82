"""Components on an internal network: the only package source is an index with basic auth and a certificate from a
private CA (pypiserver, tests/index_server.py), and the public index is unreachable (everything, the index and
gitlab-ci-local with its jobs, runs in a network namespace that has only a loopback interface).

The user's side is what the README's "On an internal network" section says: `PYTHON_CI_INDEX_URL` and
`PYTHON_CI_INDEX_USERNAME` as variables, `PYTHON_CI_INDEX_PASSWORD` as a (masked) variable and `PYTHON_CI_CA_BUNDLE`
as a File-type variable, here in gitlab-ci-local's variables file.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from python_ci.index import apply, read_index
from scripts.localci import VARIABLES_FILE, engine_command, engine_env, strip_ansi
from tests.engine import PipelineRun, include, make_repo
from tests.index_server import (
    IndexServer,
    in_namespace,
    loopback_namespace,
    namespaces_work,
    running_index,
    server_python,
)

RUFF = "0.17.6"  # the ruff component's default, so the job asks the index for exactly this wheel
POETRY = "2.5.1"  # the components' default poetry_version
# What the index holds: the jobs' tools and the fixtures' dependencies (pytest's own for Python 3.10, which the
# fixtures allow, named: pip evaluates markers for the running Python only).
REQUIREMENTS = [
    f"ruff=={RUFF}",
    f"poetry=={POETRY}",
    "attrs==25.3.0",
    "pytest==8.4.2",
    "colorama==0.4.6",
    "tomli==2.2.1",
    "exceptiongroup==1.3.0",
    "mypy==2.4.1",  # the mypy component's default
    "pytest-cov==7.1.0",  # the pytest component's default
    "pyright[nodejs]==1.1.414",  # the pyright component's default (Node from a wheel: nothing else to fetch)
    "uv==0.13.9",  # the components' default uv_version, for jobs that install their own uv
]
FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.skipif(bool(namespaces_work()), reason=str(namespaces_work()))


@pytest.fixture(scope="module")
def namespace() -> Iterator[str]:
    with loopback_namespace() as name:
        yield name


@pytest.fixture(scope="module")
def server(namespace: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    directory = tmp_path_factory.mktemp("internal-index")
    password = secrets.token_urlsafe(18)
    with running_index(
        directory, password=password, requirements=REQUIREMENTS, python_versions=["3.11", "3.12"], namespace=namespace
    ) as running:
        yield running


def _job_environment() -> dict[str, str]:
    """This machine's own package configuration switched off, as on a runner of an internal network: no pip config
    (find-links, extra indexes), no shared uv cache (the job's own `.cache/uv` is searched for the password)."""
    env = engine_env({"PIP_CONFIG_FILE": os.devnull})
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "UV_CACHE_DIR", "UV_DEFAULT_INDEX"):
        env.pop(name, None)
    return env


def run_inside(namespace: str, repo: Path, server: IndexServer, *args: str, **overrides: str) -> PipelineRun:
    """Run gitlab-ci-local in `repo` inside `namespace` with the index variables (`overrides` replace them; an empty
    value leaves one out). The password and the CA go through the engine's variables file, the CA as a File-type
    variable (a file path and its content in the job, as GitLab gives it)."""
    plain: Mapping[str, str] = {
        "PYTHON_CI_INDEX_URL": overrides.get("PYTHON_CI_INDEX_URL", server.url),
        "PYTHON_CI_INDEX_USERNAME": overrides.get("PYTHON_CI_INDEX_USERNAME", server.username),
    }
    secret: dict[str, object] = {
        "PYTHON_CI_INDEX_PASSWORD": overrides.get("PYTHON_CI_INDEX_PASSWORD", server.password),
        "PYTHON_CI_CA_BUNDLE": {"type": "file", "values": {"*": server.ca_file.read_text()}},
    }
    if overrides.get("PYTHON_CI_CA_BUNDLE") == "":
        del secret["PYTHON_CI_CA_BUNDLE"]
    path = repo / VARIABLES_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        json.dump(secret, stream)  # JSON is YAML
    cmd = in_namespace(namespace, engine_command(*args, variables=plain))
    done = subprocess.run(
        cmd,
        cwd=repo,
        env=_job_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return PipelineRun(repo=repo, returncode=done.returncode, output=strip_ansi(done.stdout + done.stderr))


def files_holding(root: Path, secret: str, *, skip: tuple[Path, ...] = ()) -> list[str]:
    """Every file under `root` (logs, artifacts, caches and their archives, the checkout) whose bytes hold `secret`."""
    needle = secret.encode()
    found: list[str] = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path not in skip and needle in path.read_bytes():
            found.append(str(path.relative_to(root)))
    return found


def _ruff_repo(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "repo",
        # uv's downloads kept by the `cache` input (as the README gives it): the test reads what came from where.
        ci_yaml=include(
            [("ruff", {"cache": [{"key": "$CI_JOB_NAME_SLUG", "paths": [".cache/uv"], "when": "always"}]})]
        ),
        files={"app/__init__.py": '"""An app."""\n', "app/main.py": 'def hello() -> str:\n    return "hi"\n'},
    )


def test_the_public_index_is_unreachable_in_the_namespace(namespace: str) -> None:
    probe = "import socket; socket.create_connection(('1.1.1.1', 443), timeout=5)"
    done = subprocess.run(
        in_namespace(namespace, ["python3", "-c", probe]), capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "Network is unreachable" in done.stderr


def test_ruff_installs_from_the_internal_index_and_leaks_no_password(
    namespace: str, server: IndexServer, tmp_path: Path
) -> None:
    repo = _ruff_repo(tmp_path)
    run = run_inside(namespace, repo, server)
    assert run.statuses == {"ruff": "PASS"}, run.output
    log = run.log("ruff")
    assert (
        f"python-ci index: installing from {server.url} as {server.username}, trusting the CA of PYTHON_CI_CA_BUNDLE"
        in log
    )
    assert json.loads((run.artifacts("ruff") / "ci-reports" / "ruff-codequality.json").read_text()) == []
    # The only reachable source was the internal index: the job's uv cache, kept by `cache`, holds ruff from it.
    assert list((repo / ".gitlab-ci-local" / "cache").rglob(f"ruff-{RUFF}.dist-info")), run.output
    assert server.password not in run.output
    assert files_holding(repo, server.password, skip=(repo / VARIABLES_FILE,)) == []


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"PYTHON_CI_INDEX_PASSWORD": "not-the-password"}, "refused the credentials of 'ci-reader' (HTTP 403)"),
        ({"PYTHON_CI_CA_BUNDLE": ""}, "presents a certificate that is not trusted"),
    ],
)
def test_a_wrong_password_or_unknown_ca_fails_with_one_line(
    namespace: str, server: IndexServer, tmp_path: Path, overrides: dict[str, str], line: str
) -> None:
    run = run_inside(namespace, _ruff_repo(tmp_path), server, **overrides)
    assert run.statuses == {"ruff": "FAIL"}, run.output
    log = run.log("ruff")
    assert f"python-ci ruff: the package index {server.url} {line}" in log
    # One line, before any installer ran: no resolver's retries.
    assert "uv tool run" not in log
    assert "error:" not in log.lower()


@pytest.fixture
def installer_env(server: IndexServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment a job's installers get from python_ci/index.py (netrc, CA bundle, index variables: its
    `apply`; the preflight, which runs outside the namespace here, is tested on its own), with the caches under
    `tmp_path` (searched for the password afterwards)."""
    env = _job_environment()
    env.update(
        PYTHON_CI_INDEX_URL=server.url,
        PYTHON_CI_INDEX_USERNAME=server.username,
        PYTHON_CI_INDEX_PASSWORD=server.password,
        PYTHON_CI_CA_BUNDLE=str(server.ca_file),
        UV_CACHE_DIR=str(tmp_path / "cache" / "uv"),
        POETRY_CACHE_DIR=str(tmp_path / "cache" / "poetry"),
        POETRY_VIRTUALENVS_IN_PROJECT="true",
    )
    index = read_index(env)
    assert index is not None
    private = Path(tempfile.mkdtemp(prefix="python-ci-index-"))  # outside the project and its caches, as in a job
    try:
        apply(index, env, private)
        yield env
    finally:
        shutil.rmtree(private)


def _inside(namespace: str, project: Path, env: Mapping[str, str], cmd: Sequence[str]) -> str:
    done = subprocess.run(
        in_namespace(namespace, cmd), cwd=project, env=dict(env), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{cmd}: {done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def _project(tmp_path: Path, fixture: str) -> Path:
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / fixture, project)
    return project


def test_uv_locks_against_the_internal_index_and_syncs_from_it(
    namespace: str, server: IndexServer, installer_env: dict[str, str], tmp_path: Path
) -> None:
    project = _project(tmp_path, "uv_project")
    _inside(namespace, project, installer_env, ["uv", "lock"])
    lock = (project / "uv.lock").read_text()
    assert f'source = {{ registry = "{server.url}" }}' in lock
    shutil.rmtree(tmp_path / "cache")  # the sync downloads again, from the lock's URLs
    _inside(namespace, project, installer_env, ["uv", "sync", "--locked"])
    assert list(project.glob(".venv/lib/python3.*/site-packages/attrs/__init__.py"))
    assert files_holding(tmp_path, server.password) == []


def test_hashed_requirements_install_with_pip_and_uv(
    namespace: str, server: IndexServer, installer_env: dict[str, str], tmp_path: Path
) -> None:
    project = _project(tmp_path, "uv_project")
    compile_cmd = ["uv", "pip", "compile", "pyproject.toml", "--generate-hashes", "-o", "requirements.txt"]
    _inside(namespace, project, installer_env, compile_cmd)
    pins = (project / "requirements.txt").read_text()
    assert "attrs==25.3.0" in pins
    assert "--hash=sha256:" in pins
    assert "127.0.0.1" not in pins  # no index URL (and so no credentials) in the pins
    pip = [str(server_python()), "-m", "pip", "install", "-q", "--require-hashes", "-r", "requirements.txt"]
    _inside(namespace, project, installer_env, [*pip, "--target", str(tmp_path / "pip-target")])
    assert (tmp_path / "pip-target" / "attrs" / "__init__.py").exists()
    uv = ["uv", "pip", "install", "-q", "--require-hashes", "-r", "requirements.txt"]
    _inside(namespace, project, installer_env, [*uv, "--target", str(tmp_path / "uv-target")])
    assert (tmp_path / "uv-target" / "attrs" / "__init__.py").exists()
    assert files_holding(tmp_path, server.password) == []


def test_poetry_locks_against_the_internal_source_and_installs_from_it(
    namespace: str, server: IndexServer, installer_env: dict[str, str], tmp_path: Path
) -> None:
    """A poetry project on an internal network names the index as its source; poetry (run by uv from the same index)
    gets the credentials from the netrc and the CA from REQUESTS_CA_BUNDLE."""
    project = _project(tmp_path, "poetry_project")
    with (project / "pyproject.toml").open("a") as stream:
        stream.write(f'\n[[tool.poetry.source]]\nname = "internal"\nurl = "{server.url}"\npriority = "primary"\n')
    poetry = ["uv", "tool", "run", "--from", f"poetry=={POETRY}", "poetry"]
    _inside(namespace, project, installer_env, [*poetry, "lock", "--no-interaction"])
    assert f'url = "{server.url.rstrip("/")}"' in (project / "poetry.lock").read_text()  # poetry drops the /
    shutil.rmtree(tmp_path / "cache" / "poetry", ignore_errors=True)
    out = _inside(namespace, project, installer_env, [*poetry, "install", "--no-interaction"])
    assert "Installing pytest (8.4.2)" in out
    assert list(project.glob(".venv/lib/python3.*/site-packages/attrs/__init__.py"))
    assert files_holding(tmp_path, server.password) == []


def _locked_projects(namespace: str, env: Mapping[str, str], work: Path, server: IndexServer) -> dict[str, str]:
    """The uv fixture with a uv.lock and the poetry fixture with a poetry.lock, both made against the internal index
    here (none is committed), and the uv fixture again with hashed requirements instead of a lock: {path: text}."""
    files: dict[str, str] = {}
    uv_project = _project(work / "uv", "uv_project")
    _inside(namespace, uv_project, env, ["uv", "lock"])
    hashed = _project(work / "req", "uv_project")
    compile_cmd = ["uv", "pip", "compile", "pyproject.toml", "--group", "dev", "--generate-hashes", "-o"]
    _inside(namespace, hashed, env, [*compile_cmd, "requirements.txt"])
    poetry_project = _project(work / "poetry", "poetry_project")
    with (poetry_project / "pyproject.toml").open("a") as stream:
        stream.write(f'\n[[tool.poetry.source]]\nname = "internal"\nurl = "{server.url}"\npriority = "primary"\n')
    poetry = ["uv", "tool", "run", "--from", f"poetry=={POETRY}", "poetry", "lock", "--no-interaction"]
    _inside(namespace, poetry_project, env, poetry)
    shutil.rmtree(poetry_project / ".venv", ignore_errors=True)
    for name, project in (("uv-svc", uv_project), ("req-svc", hashed), ("poetry-svc", poetry_project)):
        for path in project.rglob("*"):
            if path.is_file():
                files[f"services/{name}/{path.relative_to(project)}"] = path.read_text()
    return files


@pytest.mark.skipif(
    not (Path(__file__).parent.parent / "python_ci" / "environment.py").exists(),
    reason="mypy, pyright and pytest install through python_ci/environment.py (branch core), not yet merged here",
)
def test_mypy_pyright_and_pytest_install_uv_poetry_and_hashed_projects_from_the_internal_index(
    namespace: str, server: IndexServer, installer_env: dict[str, str], tmp_path: Path
) -> None:
    files = _locked_projects(namespace, installer_env, tmp_path / "work", server)
    assert "--hash=sha256:" in files["services/req-svc/requirements.txt"]
    components: list[tuple[str, Mapping[str, object]]] = []
    expected: dict[str, str] = {}
    for name in ("uv-svc", "poetry-svc", "req-svc"):
        directory = f"services/{name}"
        pytest_inputs: dict[str, object] = {"project_dir": directory, "job_name": f"pytest-{name}"}
        if name != "poetry-svc":
            # The uv fixture's tests import the build info the version job writes (it installs nothing).
            version = {"project_dir": directory, "output_dir": "svc", "service_name": name, "job_name": f"v-{name}"}
            components.append(("version", version))
            pytest_inputs["needs"] = [f"v-{name}"]
            expected[f"v-{name}"] = "PASS"
        components += [("mypy", {"project_dir": directory, "job_name": f"mypy-{name}"}), ("pytest", pytest_inputs)]
        expected |= {f"mypy-{name}": "PASS", f"pytest-{name}: [3.12]": "PASS"}
    components.append(("pyright", {"project_dir": "services/uv-svc", "job_name": "pyright-uv-svc"}))
    expected["pyright-uv-svc"] = "PASS"
    repo = make_repo(tmp_path / "repo", ci_yaml=include(components), files=files)
    run = run_inside(namespace, repo, server)
    assert run.statuses == expected, run.output
    assert "uv.lock -> uv sync --locked" in run.log("mypy-uv-svc")
    assert "poetry.lock -> poetry" in run.log("pytest-poetry-svc: [3.12]")
    assert "--require-hashes" in run.log("pytest-req-svc: [3.12]")
    for job in (job for job in expected if not job.startswith("v-")):
        assert f"python-ci index: installing from {server.url} as {server.username}" in run.log(job)
    assert server.password not in run.output
    assert files_holding(repo, server.password, skip=(repo / VARIABLES_FILE,)) == []


@pytest.mark.skipif(
    not (Path(__file__).parent.parent / "python_ci" / "wheelhouse.py").exists(),
    reason="the wheelhouse job's logic (python_ci/wheelhouse.py, branch wheelhouse) is not yet merged here",
)
def test_the_wheelhouse_is_packed_from_the_internal_index_without_the_password(
    namespace: str, server: IndexServer, installer_env: dict[str, str], tmp_path: Path
) -> None:
    project = _project(tmp_path / "work", "uv_project")
    _inside(namespace, project, installer_env, ["uv", "lock"])
    files = {f"svc/{p.relative_to(project)}": p.read_text() for p in project.rglob("*") if p.is_file()}
    repo = make_repo(tmp_path / "repo", ci_yaml=include([("wheelhouse", {"project_dir": "svc"})]), files=files)
    run = run_inside(namespace, repo, server)
    assert run.statuses == {"wheelhouse": "PASS"}, run.output
    assert f"python-ci index: installing from {server.url} as {server.username}" in run.log("wheelhouse")
    archives = list(run.artifacts("wheelhouse").rglob("*.tar.gz"))
    assert archives, run.output
    packed = b"".join(gzip.decompress(archive.read_bytes()) for archive in archives)
    assert b"attrs-25.3.0-py3-none-any.whl" in packed
    assert server.password.encode() not in packed
    assert server.password not in run.output
    assert files_holding(repo, server.password, skip=(repo / VARIABLES_FILE,)) == []
