"""The supply-chain components run in gitlab-ci-local on small projects made at test time: the SBOM of a uv.lock
(valid CycloneDX 1.5, main dependencies only) and the dependency audit against an OSV service on 127.0.0.1."""

import json
from pathlib import Path

from tests.engine import include, make_repo, run_pipeline, shared_cache_env
from tests.supply_chain import FIXED, cyclonedx_errors, uv_project


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
