"""The supply-chain components run in gitlab-ci-local on small projects made at test time: the SBOM of a uv.lock
(valid CycloneDX 1.5, main dependencies only) and the dependency audit against an OSV service on 127.0.0.1."""

import json
from pathlib import Path

import jsonschema

from tests.engine import ROOT, include, make_repo, run_pipeline, shared_cache_env
from tests.supply_chain import (
    ADVISORY,
    DS_REPORT_SCHEMA,
    FIXED,
    SAST_REPORT_SCHEMA,
    SHELL_TRUE,
    VULNERABLE,
    cyclonedx_errors,
    hashed_pins,
    osv_service,
    uv_project,
)


def test_sbom_of_a_uv_lock_in_a_subfolder(tmp_path: Path) -> None:
    project = uv_project(tmp_path / "project", FIXED)
    repo = make_repo(
        tmp_path / "repo",
        ci_yaml=include([("sbom", {"project_dir": "svc", "python_version": "3.11"})]),
        project=project,
        project_dir="svc",
    )
    assert (repo / "svc" / "uv.lock").is_file()  # made at test time, never committed
    result = run_pipeline(repo, env=shared_cache_env())
    assert result.statuses == {"sbom": "PASS"}, result.output
    bom_path = result.artifacts("sbom") / "ci-reports" / "sbom.cdx.json"
    bom = json.loads(bom_path.read_text())
    assert [(c["name"], c["version"]) for c in bom["components"]] == [("idna", "3.7")]
    assert cyclonedx_errors(bom_path) == ""


def test_dependency_audit_against_an_osv_mirror(tmp_path: Path) -> None:
    """One pipeline: the vulnerable pin fails with the advisory in the report, allow-listed it passes, the fixed one
    passes; the
    OSV mirror is given as the `osv_url` input, as a user on an internal network would."""
    vulnerable = tmp_path / "src" / "vulnerable"
    vulnerable.mkdir(parents=True)
    (vulnerable / "requirements.txt").write_text(hashed_pins(VULNERABLE, tmp_path / "scratch"))
    uv_project(tmp_path / "src" / "fixed", FIXED)
    with osv_service() as (url, requests):
        jobs: list[tuple[str, dict[str, object]]] = [
            ("dependency-audit", {"job_name": "audit-vulnerable", "project_dir": "vulnerable", "osv_url": url}),
            ("dependency-audit", {"job_name": "audit-fixed", "project_dir": "fixed", "osv_url": url}),
            # The advisory accepted through the array input, by its CVE alias.
            (
                "dependency-audit",
                {
                    "job_name": "audit-allowed",
                    "project_dir": "vulnerable",
                    "osv_url": url,
                    "allow": ["CVE-2024-3651 until 2999-12-31"],
                },
            ),
        ]
        repo = make_repo(tmp_path / "repo", ci_yaml=include(jobs), project=tmp_path / "src")
        result = run_pipeline(repo, env=shared_cache_env())
    assert result.statuses == {"audit-vulnerable": "FAIL", "audit-fixed": "PASS", "audit-allowed": "PASS"}, (
        result.output
    )
    assert "POST /v1/query" in requests
    reports = {
        job: result.artifacts(job) / "ci-reports" / "gl-dependency-scanning-report.json" for job in result.statuses
    }
    vulnerable_report = json.loads(reports["audit-vulnerable"].read_text())
    jsonschema.validate(vulnerable_report, DS_REPORT_SCHEMA)
    [finding] = vulnerable_report["vulnerabilities"]
    assert (finding["severity"], finding["location"]["file"]) == ("Medium", "vulnerable/requirements.txt")
    assert ADVISORY in {identifier["value"] for identifier in finding["identifiers"]}
    fixed_report = json.loads(reports["audit-fixed"].read_text())
    jsonschema.validate(fixed_report, DS_REPORT_SCHEMA)
    assert fixed_report["vulnerabilities"] == []
    assert "Medium: PYSEC-2024-60 in idna 3.6" in result.log("audit-vulnerable")
    assert json.loads(reports["audit-allowed"].read_text())["vulnerabilities"] == []
    assert "allowed until 2999-12-31" in result.log("audit-allowed")


def test_hadolint_on_a_broken_dockerfile_and_the_examples(tmp_path: Path) -> None:
    """A Dockerfile with `:latest` and an unpinned pip install fails with a code-quality report naming the rules;
    the example's Dockerfiles (with their own folder as project_dir) pass with an empty one."""
    files = {
        "broken/Dockerfile": "FROM python:latest\nADD http://example.com/t.tgz /opt/\nRUN pip install flask\n",
        # The project's own configuration: DL3042 (pip's cache) is accepted here.
        "broken/.hadolint.yaml": "ignored:\n  - DL3042\n",
    }
    jobs: list[tuple[str, dict[str, object]]] = [
        ("hadolint", {"job_name": "hadolint-broken", "project_dir": "broken"}),
        ("hadolint", {"job_name": "hadolint-example", "project_dir": "example"}),
    ]
    repo = make_repo(
        tmp_path / "repo", ci_yaml=include(jobs), project=ROOT / "example", project_dir="example", files=files
    )
    result = run_pipeline(repo, env=shared_cache_env())
    assert result.statuses == {"hadolint-broken": "FAIL", "hadolint-example": "PASS"}, result.output
    report = "ci-reports/hadolint-codequality.json"
    broken = json.loads((result.artifacts("hadolint-broken") / report).read_text())
    assert sorted(issue["check_name"] for issue in broken) == ["DL3007", "DL3013"]
    assert {issue["location"]["path"] for issue in broken} == {"broken/Dockerfile"}
    assert json.loads((result.artifacts("hadolint-example") / report).read_text()) == []
    assert "example/Dockerfile example/product.Dockerfile" in result.log("hadolint-example")


def test_sast_on_shell_true_and_on_the_example(tmp_path: Path) -> None:
    """`subprocess.run(..., shell=True)` fails the sast job with B602 in a valid SAST report; the example service
    passes at the default threshold."""
    jobs: list[tuple[str, dict[str, object]]] = [
        ("sast", {"job_name": "sast-broken", "project_dir": "broken"}),
        # The code the service ships; its tests are not shipped (they open URLs of a test server, B310).
        ("sast", {"job_name": "sast-example", "project_dir": "example", "paths": ["app", "gunicorn.conf.py"]}),
    ]
    repo = make_repo(
        tmp_path / "repo",
        ci_yaml=include(jobs),
        project=ROOT / "example",
        project_dir="example",
        files={"broken/app/run.py": SHELL_TRUE},
    )
    result = run_pipeline(repo, env=shared_cache_env())
    assert result.statuses == {"sast-broken": "FAIL", "sast-example": "PASS"}, result.output
    report = "ci-reports/gl-sast-report.json"
    broken = json.loads((result.artifacts("sast-broken") / report).read_text())
    jsonschema.validate(broken, SAST_REPORT_SCHEMA)
    high = [f for f in broken["vulnerabilities"] if f["severity"] == "High"]
    assert [(f["identifiers"][0]["value"], f["location"]["file"]) for f in high] == [("B602", "broken/app/run.py")]
    example = json.loads((result.artifacts("sast-example") / report).read_text())
    jsonschema.validate(example, SAST_REPORT_SCHEMA)
    assert all(f["severity"] == "Low" for f in example["vulnerabilities"])
