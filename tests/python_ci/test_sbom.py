"""The sbom job run in-process: a CycloneDX 1.5 SBOM of exactly the locked main dependencies, valid against the
schema cyclonedx-python-lib ships, for a uv.lock and for hashed requirements; a project with nothing locked fails
with one line."""

import json
from pathlib import Path
from typing import Any

import pytest

from python_ci import sbom
from python_ci.job import JobError
from tests.poetry_support import poetry_lock
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


def test_poetry_lock_main_dependencies_only(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**VARIABLES, "PYCI_POETRY_PLUGIN_EXPORT_VERSION": "1.10.1"}.items():
        monkeypatch.setenv(name, value)
    (checkout / "pyproject.toml").write_text(
        '[project]\nname = "svc"\nversion = "1.2.0"\nrequires-python = ">=3.11"\ndependencies = ["idna==3.7"]\n'
        '\n[tool.poetry.group.dev.dependencies]\niniconfig = "2.0.0"\n'
    )
    poetry_lock(checkout, checkout.parent / "poetry-cache")
    assert sbom.main([]) == 0
    assert sbom.components(checkout / "ci-reports" / sbom.REPORT) == [FIXED]
    assert _bom(checkout)["metadata"]["component"]["name"] == "svc"  # type: ignore[index]
    assert cyclonedx_errors(checkout / "ci-reports" / sbom.REPORT) == ""


def test_the_internal_index_names_the_distributions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.internal.example/simple")
    assert sbom.root_component(tmp_path, tmp_path) is None
    cmd = sbom.cyclonedx_command("uv", "7.5.0", tmp_path / "pins.txt", tmp_path / "bom.json", None)
    assert cmd[cmd.index("--index-url") + 1] == "https://pypi.internal.example/simple"
    assert "--pyproject" not in cmd  # no pyproject.toml: cyclonedx-py names no root component


def test_a_report_that_is_not_cyclonedx_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bom.json").write_text('{"bomFormat": "SPDX"}')
    with pytest.raises(JobError, match="not a CycloneDX document"):
        sbom.components(tmp_path / "bom.json")
    with pytest.raises(JobError, match="wrote no SBOM"):
        sbom.components(tmp_path / "missing.json")
