"""python_ci/image_sbom.py, the SBOM image_build.sh makes with the built image's own python3: run here with a real
venv's interpreter (packages installed from the index with uv), its output checked against the CycloneDX 1.5
schema cyclonedx-python-lib ships and against what `uv pip list` says that venv holds; its parts called in-process
on dist-info folders written for the test."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib.metadata import PathDistribution
from pathlib import Path
from typing import Any

import pytest

from python_ci import image_sbom
from tests.engine import ROOT
from tests.supply_chain import UV, cyclonedx_errors, tool_env

SCRIPT = ROOT / "python_ci" / "image_sbom.py"
PINS = ["idna==3.7", "iniconfig==2.0.0", "typing_extensions==4.12.2"]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("image-sbom") / "venv"
    subprocess.run([UV, "venv", "--quiet", "--python", "3.11", str(root)], check=True, env=tool_env())
    python = str(root / "bin" / "python")
    subprocess.run([UV, "pip", "install", "--quiet", "--python", python, *PINS], check=True, env=tool_env())
    return root


def _run(python: Path, cwd: Path, **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), str(SCRIPT), "registry.example:5000/team/svc", "1.0.0"],
        capture_output=True, text=True, check=True, cwd=cwd, env={"PATH": "/usr/bin:/bin", **env},
    )  # fmt: skip
    bom: dict[str, Any] = json.loads(done.stdout)
    (cwd / "bom.json").write_text(done.stdout)
    return bom


def _dist_info(site: Path, name: str, version: str, *headers: str) -> Path:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}", *headers]
    (folder / "METADATA").write_text("\n".join(lines) + "\n\n")
    return folder


def test_the_venv_interpreter_lists_what_uv_lists_and_the_bom_is_valid(venv: Path, tmp_path: Path) -> None:
    bom = _run(venv / "bin" / "python", tmp_path)
    assert cyclonedx_errors(tmp_path / "bom.json") == ""
    listed = subprocess.run(
        [UV, "pip", "list", "--format", "json", "--python", str(venv / "bin" / "python")],
        capture_output=True, text=True, check=True, env=tool_env(),
    )  # fmt: skip
    # uv lists names as PEP 503 normalizes them; the SBOM keeps each distribution's own spelling.
    expected = {(item["name"], item["version"]) for item in json.loads(listed.stdout)}
    found = {(image_sbom.normalized(component["name"]), component["version"]) for component in bom["components"]}
    assert found == expected
    assert {"idna", "iniconfig", "typing-extensions"} <= {name for name, _ in found}
    by_name = {component["name"].lower(): component for component in bom["components"]}
    assert by_name["typing_extensions"]["purl"] == "pkg:pypi/typing-extensions@4.12.2"
    assert by_name["idna"]["licenses"] == [{"license": {"name": "BSD License"}}]
    image = bom["metadata"]["component"]
    assert (image["type"], image["name"], image["version"]) == ("container", "registry.example:5000/team/svc", "1.0.0")
    assert image["purl"] == "pkg:oci/svc?repository_url=registry.example:5000/team/svc&tag=1.0.0"
    assert bom["metadata"]["tools"]["components"][0]["name"] == "python-ci"
    properties = {item["name"]: item["value"] for item in bom["metadata"]["properties"]}
    assert properties["python-ci:interpreter"] == str(venv / "bin" / "python")


def test_the_first_of_two_copies_on_the_path_wins(venv: Path, tmp_path: Path) -> None:
    # PYTHONPATH comes before the venv's site-packages: its IDNA 9.9 is the one `import idna` would load.
    site = tmp_path / "first"
    _dist_info(site, "IDNA", "9.9", "License-Expression: MIT OR Apache-2.0")
    bom = _run(venv / "bin" / "python", tmp_path, PYTHONPATH=str(site))
    idna = [component for component in bom["components"] if component["name"].lower() == "idna"]
    assert idna == [
        {
            "type": "library",
            "bom-ref": "pkg:pypi/idna@9.9",
            "name": "IDNA",
            "version": "9.9",
            "licenses": [{"expression": "MIT OR Apache-2.0"}],
            "purl": "pkg:pypi/idna@9.9",
        }
    ]
    assert cyclonedx_errors(tmp_path / "bom.json") == ""


def test_licence_sources_in_order(tmp_path: Path) -> None:
    site = tmp_path / "site"
    cases = {
        "expression": ("License-Expression: Apache-2.0", "License :: OSI Approved :: MIT License"),
        "classifier": ("Classifier: License :: OSI Approved", "Classifier: License :: OSI Approved :: MIT License"),
        "field": ("License: BSD-3-Clause",),
        "text": ("License: Copyright (c) someone\n        Permission is hereby granted",),
        "unknown": ("License: UNKNOWN",),
    }
    found = {
        name: image_sbom.licenses(PathDistribution(_dist_info(site, name, "1.0", *headers)).metadata)
        for name, headers in cases.items()
    }
    assert found == {
        "expression": [{"expression": "Apache-2.0"}],
        "classifier": [{"license": {"name": "MIT License"}}],
        "field": [{"license": {"name": "BSD-3-Clause"}}],
        "text": [],
        "unknown": [],
    }


def test_components_skip_broken_metadata_and_sort_by_name(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _dist_info(first, "Zeta_Pkg", "2.0+local.1")
    _dist_info(second, "zeta.pkg", "1.0")  # the same project by PEP 503: shadowed by the first
    _dist_info(second, "alpha", "")
    _dist_info(second, "Beta", "3")
    assert [(c["name"], c["purl"]) for c in image_sbom.components([str(first), str(second)])] == [
        ("Beta", "pkg:pypi/beta@3"),
        ("Zeta_Pkg", "pkg:pypi/zeta-pkg@2.0%2Blocal.1"),
    ]


def test_main_writes_the_bom_and_refuses_a_wrong_call(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert image_sbom.main(["only-one"]) == 2
    assert "usage: image_sbom.py IMAGE_NAME TAG [OUTPUT]" in capsys.readouterr().err
    assert image_sbom.main(["r.example/x", "t", str(tmp_path / "out.json")]) == 0
    assert capsys.readouterr().out == ""
    bom = json.loads((tmp_path / "out.json").read_text())
    assert bom["specVersion"] == "1.5"
    assert "pytest" in {component["name"] for component in bom["components"]}
    assert bom["metadata"]["properties"][1]["value"] == ".".join(map(str, sys.version_info[:3]))


def test_the_script_parses_as_python_3_7() -> None:
    # It runs on the image's python3, not the job's: 3.7 must reach main()'s version check (no newer syntax), and
    # only this host's 3.11 is here to run it. ast's feature_version checks the grammar of that version.
    ast.parse(SCRIPT.read_text(), feature_version=(3, 7))
