"""The sbom job run in-process: a CycloneDX 1.5 SBOM of exactly the locked main dependencies, valid against the
schema cyclonedx-python-lib ships, for a uv.lock and for hashed requirements; a project with nothing locked fails
with one line."""

import json
from pathlib import Path
from typing import Any

import pytest

from python_ci import sbom
from python_ci.job import JobError
from tests.supply_chain import FIXED, cyclonedx_errors, hashed_pins, uv_project

VARIABLES = {"PYCI_CYCLONEDX_BOM_VERSION": "7.5.0", "PYCI_POETRY_VERSION": "2.5.1"}


def _bom(root: Path) -> dict[str, object]:
    bom: dict[str, object] = json.loads((root / "ci-reports" / sbom.REPORT).read_text())
    return bom


def test_uv_lock_main_dependencies_only(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in VARIABLES.items():
        monkeypatch.setenv(name, value)
    uv_project(checkout, FIXED)
    assert sbom.main([]) == 0
    bom = _bom(checkout)
    assert bom["specVersion"] == "1.5"
    # The dev group's iniconfig is not shipped with the service: it stays out.
    assert sbom.components(checkout / "ci-reports" / sbom.REPORT) == [FIXED]
    component = bom["metadata"]["component"]  # type: ignore[index]
    assert (component["name"], component["version"]) == ("svc", "1.2.0")
    assert cyclonedx_errors(checkout / "ci-reports" / sbom.REPORT) == ""


def test_hashed_requirements_in_a_subfolder(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**VARIABLES, "PYCI_PROJECT_DIR": "svc"}.items():
        monkeypatch.setenv(name, value)
    (checkout / "svc").mkdir()
    (checkout / "svc" / "requirements.txt").write_text(hashed_pins(FIXED, checkout / "scratch"))
    assert sbom.main([]) == 0
    components: list[dict[str, Any]] = _bom(checkout)["components"]  # type: ignore[assignment]
    [component] = components
    assert component["purl"] == "pkg:pypi/idna@3.7"
    assert component["externalReferences"][0]["hashes"]  # the pins' hashes are kept
    assert cyclonedx_errors(checkout / "ci-reports" / sbom.REPORT) == ""


def test_nothing_locked_is_one_clear_error(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in VARIABLES.items():
        monkeypatch.setenv(name, value)
    uv_project(checkout, FIXED, lock=False)
    with pytest.raises(JobError, match="nothing is locked"):
        sbom.main([])


def test_a_stale_lock_is_refused(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in VARIABLES.items():
        monkeypatch.setenv(name, value)
    uv_project(checkout, FIXED)
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(FIXED, "idna==3.6"))
    with pytest.raises(JobError, match="export failed"):
        sbom.main([])
