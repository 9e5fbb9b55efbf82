"""Properties every component keeps."""

import re
from pathlib import Path

import pytest
import yaml

from scripts.render import library_files, library_key
from scripts.validate import GLOBAL_KEYWORDS, GitLabLoader
from tests.engine import ROOT, include, make_repo, run_pipeline

TEMPLATES = {p.stem: p.read_text() for p in sorted((ROOT / "templates").glob("*.yml"))}


def _body(text: str) -> dict[str, dict[str, object]]:
    body = text.split("\n---\n", 1)[1].replace("$[[ inputs.job_name ]]", "job")
    loaded: dict[str, dict[str, object]] = yaml.load(re.sub(r"\$\[\[ inputs\.\w+ \]\]", "X", body), Loader=GitLabLoader)
    return loaded


def test_catalogue_has_every_component() -> None:
    expected = {
        "ruff",
        "mypy",
        "pyright",
        "pytest",
        "version",
        "image-build",
        "image-push",
        "wheelhouse",
        "ci-lint",
        "sbom",
        "hadolint",
        "sast",
        "dependency-audit",
    }
    assert set(TEMPLATES) == expected | set(COMPOSITES)


# Components made of the others (nested component includes, no job of their own): tested in test_python_service.py.
COMPOSITES = ("python-service",)


def test_a_composite_only_includes_this_catalogues_components_at_its_own_version() -> None:
    for name in COMPOSITES:
        body = yaml.load(TEMPLATES[name].split("\n---\n", 1)[1], Loader=GitLabLoader)
        assert list(body) == ["include"]
        parts = [entry["component"] for entry in body["include"]]
        prefix = "$CI_SERVER_FQDN/$[[ inputs.catalog_path ]]/"
        assert all(p.startswith(prefix) and p.endswith("@$[[ inputs.catalog_version ]]") for p in parts), parts
        assert {p[len(prefix) :].split("@")[0] for p in parts} <= set(TEMPLATES) - set(COMPOSITES)


@pytest.mark.parametrize("name", sorted(set(TEMPLATES) - set(COMPOSITES)))
def test_one_job_no_global_keywords_and_inputs_never_inside_scripts(name: str) -> None:
    body = _body(TEMPLATES[name])
    # One job; the job library of this version rides along as a hidden key when the job calls it.
    assert [key for key in body if key != library_key(library_files())] == ["job"]
    assert not set(GLOBAL_KEYWORDS) & set(body)
    job = body["job"]
    assert isinstance(job, dict)
    # Inputs are interpolated as text: inside a script they would be code. They go through `variables:` instead.
    raw_job = TEMPLATES[name].split("\n---\n", 1)[1]
    script = raw_job.split("  script:\n", 1)[1].split("\n  artifacts:", 1)[0]
    assert "$[[" not in script
    for key in ("stage", "needs", "rules", "allow_failure", "image", "variables"):
        assert key in job, key
    artifacts = job["artifacts"]
    assert isinstance(artifacts, dict)
    # Test and quality reports matter most when the job fails; a dotenv for later jobs only on success.
    reports = artifacts.get("reports", {})
    assert isinstance(reports, dict)
    if set(reports) - {"dotenv"}:
        assert artifacts["when"] == "always"


@pytest.mark.parametrize(
    ("variables", "runs"),
    [
        ({"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "7"}, True),
        ({"CI_OPEN_MERGE_REQUESTS": "acme/service!7"}, False),
        ({}, True),
    ],
)
def test_default_rules_avoid_duplicate_branch_and_mr_pipelines(
    tmp_path: Path, variables: dict[str, str], runs: bool
) -> None:
    repo = make_repo(tmp_path, ci_yaml=include([("version", {"output_dir": "pkg"})]), files={"pkg/__init__.py": ""})
    run = run_pipeline(repo, "--json-schema-validation=false", variables=variables)
    assert run.statuses == ({"version": "PASS"} if runs else {}), run.output
