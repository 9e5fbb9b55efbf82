"""The sbom job: a CycloneDX SBOM (JSON, spec 1.5) of the project's locked dependencies, for GitLab's
`artifacts:reports:cyclonedx` (GitLab docs, "CycloneDX report": JSON, CycloneDX 1.4 to 1.6).

One path for every kind of project: the lock is exported to pinned requirements (python_ci/locked_pins.py), and
cyclonedx-bom's `cyclonedx-py requirements` (OWASP CycloneDX's own generator, run by `uv tool run`) describes those
pins, hashes included, with the project's pyproject.toml as the root component. uv's own `uv export --format
cyclonedx1.5` is left aside: uv marks it experimental ("may change without warning") and it covers uv.lock only.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

from python_ci.job import JobError, as_dict, as_list, checkout_root, project_dir, reports_dir, run, say, variable
from python_ci.locked_pins import export_pins
from python_ci.uv import ensure_uv

REPORT = "sbom.cdx.json"
SPEC_VERSION = "1.5"


def root_component(project: Path, scratch: Path) -> Path | None:
    """A pyproject.toml in `scratch` holding only the project's name, version and description (`[project]`, else
    poetry's `[tool.poetry]`), for cyclonedx-py's root component; None without a named project.

    cyclonedx-py reads `[tool.poetry]` too when the file has one and fails on a poetry table without a name (a
    PEP 621 poetry project declaring only its sources there): it gets the PEP 621 view alone."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return None
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    poetry = as_dict(as_dict(data.get("tool")).get("poetry"))
    meta = as_dict(data.get("project")) or poetry
    if not isinstance(meta.get("name"), str):
        return None
    # JSON strings are valid TOML basic strings.
    fields = {key: meta[key] for key in ("name", "version", "description") if isinstance(meta.get(key), str)}
    out = scratch / "pyproject.toml"
    out.write_text("[project]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items()), encoding="utf-8")
    return out


def cyclonedx_command(uv: str, version: str, pins: Path, out: Path, root_pyproject: Path | None) -> list[str]:
    """`cyclonedx-py requirements` on `pins` writing JSON of CycloneDX `SPEC_VERSION` to `out`; the root component
    from `root_pyproject` when given; the job's package index (PIP_INDEX_URL, set by python_ci/index.py for an
    internal index) as the dependencies' distribution URL."""
    cmd = [uv, "tool", "run", "--from", f"cyclonedx-bom=={version}", "cyclonedx-py", "requirements"]
    cmd += ["--sv", SPEC_VERSION, "--of", "JSON", "--mc-type", "application", "-o", str(out)]
    if root_pyproject is not None:
        cmd += ["--pyproject", str(root_pyproject)]
    if os.environ.get("PIP_INDEX_URL"):
        cmd += ["--index-url", os.environ["PIP_INDEX_URL"]]
    return [*cmd, str(pins)]


def components(report: Path) -> list[str]:
    """The `name==version` of every component of the SBOM at `report`.

    Raises JobError when it is not a CycloneDX JSON document."""
    try:
        bom = as_dict(json.loads(report.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise JobError(f"cyclonedx-py wrote no SBOM: {error}") from error
    if bom.get("bomFormat") != "CycloneDX":
        raise JobError(f"{report.name} is not a CycloneDX document")
    return [f"{as_dict(c).get('name')}=={as_dict(c).get('version')}" for c in as_list(bom.get("components"))]


def main(argv: list[str]) -> int:
    """Write `ci-reports/sbom.cdx.json` for `project_dir`'s locked dependencies; 0 when written.

    Raises JobError when nothing is locked, the lock is stale or cyclonedx-py fails."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    report = reports_dir(root) / REPORT
    scratch = root / ".cache" / "python-ci-sbom"
    pins = export_pins(project, root, scratch)
    version = variable("PYCI_CYCLONEDX_BOM_VERSION")
    say("sbom", f"describing the pins of {', '.join(pins.files)} with cyclonedx-bom {version}")
    command = cyclonedx_command(ensure_uv(root), version, pins.path, report, root_component(project, scratch))
    status = run(command, cwd=project)
    if status != 0:
        raise JobError(f"cyclonedx-py failed (exit {status}); see the lines above")
    found = components(report)
    say("sbom", f"{len(found)} components in ci-reports/{REPORT}")
    return 0
