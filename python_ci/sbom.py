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
from pathlib import Path

from python_ci.job import JobError, as_dict, as_list, checkout_root, project_dir, reports_dir, run, say, variable
from python_ci.locked_pins import export_pins
from python_ci.uv import ensure_uv

REPORT = "sbom.cdx.json"
SPEC_VERSION = "1.5"


def cyclonedx_command(uv: str, version: str, pins: Path, out: Path, project: Path) -> list[str]:
    """`cyclonedx-py requirements` on `pins` writing JSON of CycloneDX `SPEC_VERSION` to `out`; the root component
    from `project`'s pyproject.toml when it has one; the job's package index (PIP_INDEX_URL, set by
    python_ci/index.py for an internal index) as the dependencies' distribution URL."""
    cmd = [uv, "tool", "run", "--from", f"cyclonedx-bom=={version}", "cyclonedx-py", "requirements"]
    cmd += ["--sv", SPEC_VERSION, "--of", "JSON", "--mc-type", "application", "-o", str(out)]
    if (project / "pyproject.toml").is_file():
        cmd += ["--pyproject", str(project / "pyproject.toml")]
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
    status = run(cyclonedx_command(ensure_uv(root), version, pins.path, report, project), cwd=project)
    if status != 0:
        raise JobError(f"cyclonedx-py failed (exit {status}); see the lines above")
    found = components(report)
    say("sbom", f"{len(found)} components in ci-reports/{REPORT}")
    return 0
