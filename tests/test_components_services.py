"""A service whose tests need PostgreSQL and a migration: the user adds `services:` and a `DATABASE_URL` to the
included job in their own .gitlab-ci.yml and names the migration in `setup_commands`; the job's script is not
touched. A real PostgreSQL, started here (127.0.0.1, a temporary data folder, stopped by its PID), stands for the
service container: gitlab-ci-local's shell executor runs no containers, so the job reaches the database the test
started, while the `services:` entry shows the user's configuration is accepted as written.

Two jobs in one pipeline, each on its own database: with the migration the tests pass; without it the table is
missing and they fail, so it is the set-up step that made the difference."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine import ROOT, PipelineRun, include, make_repo, run_pipeline, shared_cache_env

FIXTURE = ROOT / "tests" / "fixtures" / "db_service"
BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)
pytestmark = pytest.mark.skipif(BIN is None, reason="PostgreSQL's server binaries are not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def postgres() -> Iterator[int]:
    """A PostgreSQL server on 127.0.0.1 with the databases `migrated` and `bare`; yields its port."""
    assert BIN is not None
    state = Path(tempfile.mkdtemp(prefix="python-ci-postgres-"))
    # PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user.
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        shutil.chown(state, user, user)
    initdb = [str(BIN / "initdb"), "-D", str(state / "data"), "-A", "trust", "-U", "postgres"]
    subprocess.run(initdb, check=True, capture_output=True, user=user, group=user)
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "postgres"), "-D", str(state / "data"), "-h", "127.0.0.1", "-p", str(port), "-k", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=user,
        group=user,
    )
    try:
        for _ in range(100):
            ready = [str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)]
            if subprocess.run(ready, check=False, capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        for name in ("migrated", "bare"):
            createdb = [str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name]
            subprocess.run(createdb, check=True)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(state, ignore_errors=True)


def _psql(port: int, database: str, sql: str) -> str:
    assert BIN is not None
    cmd = [str(BIN / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database, "-tAc", sql]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def run(postgres: int, tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    url = f"postgresql+pg8000://postgres@127.0.0.1:{postgres}"
    ci = include(
        [
            ("pytest", {"project_dir": "svc", "python_versions": ["3.11"], "setup_commands": ["alembic upgrade head"]}),
            ("pytest", {"project_dir": "svc", "python_versions": ["3.11"], "job_name": "pytest-unmigrated"}),
        ]
    )
    # What a user writes next to the include: the service and its address, merged into the included job.
    service = "  services:\n    - name: postgres:17\n      alias: db\n"
    user = f"""
pytest:
{service}  variables:
    DATABASE_URL: {url}/migrated

pytest-unmigrated:
  variables:
    DATABASE_URL: {url}/bare
"""
    work = tmp_path_factory.mktemp("services")
    # gitlab-ci-local starts service containers only with Docker: the user's file is checked as GitLab merges it
    # (--preview), and run without the `services:` entry, the database the test started standing in for it.
    preview = make_repo(work / "preview", ci_yaml=ci + user, project=FIXTURE, project_dir="svc")
    merged = run_pipeline(preview, "--preview")
    assert merged.returncode == 0, merged.output
    assert "postgres:17" in merged.output and "alembic upgrade head" in merged.output
    repo = make_repo(work / "run", ci_yaml=ci + user.replace(service, ""), project=FIXTURE, project_dir="svc")
    return run_pipeline(repo, env=shared_cache_env())


def test_the_setup_command_migrates_then_the_tests_pass(run: PipelineRun, postgres: int) -> None:
    assert run.statuses["pytest: [3.11]"] == "PASS", run.output
    log = run.log("pytest: [3.11]")
    assert "python-ci environment: set-up: alembic upgrade head" in log
    suite = ET.parse(run.artifacts("pytest: [3.11]") / "ci-reports" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("1", "0")
    assert _psql(postgres, "migrated", "SELECT version_num FROM alembic_version") == "0001"
    assert _psql(postgres, "migrated", "SELECT count(*) FROM items") == "2"


def test_without_the_setup_command_the_table_is_missing(run: PipelineRun, postgres: int) -> None:
    assert run.statuses["pytest-unmigrated: [3.11]"] == "FAIL", run.output
    assert 'relation "items" does not exist' in run.log("pytest-unmigrated: [3.11]")
    assert _psql(postgres, "bare", "SELECT count(*) FROM pg_tables WHERE tablename = 'items'") == "0"
