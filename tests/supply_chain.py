"""Shared parts of the supply-chain tests: small projects made at test time (hashed pins, a uv.lock), the CycloneDX
validator of cyclonedx-python-lib, and an OSV-compatible vulnerability service on 127.0.0.1.

The OSV service is scripts/osv_mirror.py's (OSV's API, records in the OSV schema 1.6) serving the records of
tests/fixtures/osv/: one, written from the public advisory GHSA-jjg7-2v4v-x38h (idna before 3.7: quadratic-time
`idna.encode()` on crafted input, CVE-2024-3651, PYSEC-2024-60; moderate; fixed in 3.7), not copied from any
database.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

from scripts.osv_mirror import RECORDS, load_records, serving
from tests.engine import ROOT, SHARED_UV_CACHE

UV = str(ROOT / ".venv-bootstrap" / "bin" / "uv")
CYCLONEDX_LIB = "cyclonedx-python-lib[json-validation]==11.6.0"
VULNERABLE = "idna==3.6"
FIXED = "idna==3.7"
ADVISORY = "GHSA-jjg7-2v4v-x38h"
# Local pipeline runs serve the same folder (scripts/osv_mirror.py).
ADVISORIES = load_records(RECORDS)


def tool_env() -> dict[str, str]:
    """This process's environment with the tests' shared uv cache and no downloaded interpreters."""
    env = {**os.environ, "UV_CACHE_DIR": str(SHARED_UV_CACHE), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    return env


def hashed_pins(requirement: str, dest: Path) -> str:
    """`requirement` resolved for Python 3.11 with hashes (`uv pip compile --generate-hashes`), as text."""
    source = dest / "requirements.in"
    dest.mkdir(parents=True, exist_ok=True)
    source.write_text(requirement + "\n")
    out = subprocess.run(
        [UV, "pip", "compile", "--quiet", "--generate-hashes", "--no-header", "--python-version", "3.11", str(source)],
        capture_output=True,
        text=True,
        check=True,
        env=tool_env(),
    ).stdout
    source.unlink()
    return out


def uv_project(dest: Path, dependency: str, *, lock: bool = True) -> Path:
    """A uv project at `dest` depending on `dependency`, with a dev group the SBOM and audit must leave out, and
    (when `lock`) its uv.lock made now."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "pyproject.toml").write_text(
        f'[project]\nname = "svc"\nversion = "1.2.0"\nrequires-python = ">=3.11"\ndependencies = ["{dependency}"]\n'
        '\n[dependency-groups]\ndev = ["iniconfig==2.0.0"]\n'
    )
    if lock:
        subprocess.run([UV, "lock", "--quiet", "--python", "3.11"], cwd=dest, check=True, env=tool_env())
    return dest


def cyclonedx_errors(bom: Path) -> str:
    """The CycloneDX 1.5 JSON schema validator of cyclonedx-python-lib (it ships the schemas) on `bom`: '' when
    valid, else the error."""
    code = (
        "import sys\nfrom cyclonedx.schema import SchemaVersion\nfrom cyclonedx.validation.json import "
        "JsonStrictValidator\nerror = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\n"
        "print(error or '', end='')\n"
    )
    cmd = [UV, "run", "--quiet", "--no-project", "--python", "3.11", "--with", CYCLONEDX_LIB, "python", "-c", code]
    done = subprocess.run([*cmd, str(bom)], capture_output=True, text=True, env=tool_env(), check=True)
    return done.stdout


@contextmanager
def osv_service() -> Generator[tuple[str, list[str]]]:
    """Serve the OSV API on 127.0.0.1 (a free port) for the block, from the records of tests/fixtures/osv: yields
    its `/v1/query` URL (what pip-audit's `--osv-url` takes) and the list of requests it received
    ("POST /v1/query", ...). Stopped on exit."""
    with serving(ADVISORIES) as server:
        yield server.query_url, server.requests


def _object(required: dict[str, object]) -> dict[str, object]:
    return {"type": "object", "required": list(required), "properties": required}


_TEXT: dict[str, object] = {"type": "string", "minLength": 1}
_TOOL = _object({"id": _TEXT, "name": _TEXT, "version": _TEXT, "vendor": _object({"name": _TEXT})})
_DEPENDENCY = _object({"package": _object({"name": _TEXT}), "version": _TEXT})
_TIME: dict[str, object] = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"}


def _security_report(scan_type: str, vulnerability: dict[str, object], extra: dict[str, object]) -> dict[str, object]:
    """A GitLab security report (schema 15.0.x) of `scan_type`: the fields every such report requires, the
    vulnerability fields `vulnerability` adds to the common ones, and the report's `extra` top-level fields."""
    common: dict[str, object] = {
        "id": _TEXT,
        "name": _TEXT,
        "description": _TEXT,
        "severity": {"enum": ["Info", "Unknown", "Low", "Medium", "High", "Critical"]},
        "identifiers": {
            "type": "array",
            "minItems": 1,
            "items": _object({"type": _TEXT, "name": _TEXT, "value": _TEXT}),
        },
    }
    scan = _object(
        {
            "analyzer": _TOOL,
            "scanner": _TOOL,
            "type": {"const": scan_type},
            "start_time": _TIME,
            "end_time": _TIME,
            "status": {"enum": ["success", "failure"]},
        }
    )
    return _object(
        {
            "version": {"type": "string", "pattern": r"^15\.\d+\.\d+$"},
            "scan": scan,
            "vulnerabilities": {"type": "array", "items": _object({**common, **vulnerability})},
            **extra,
        }
    )


# The fields GitLab's documentation of the dependency-scanning and SAST reports (schema 15.0.x) lists as required,
# and the values it allows. Written from that documentation for these tests: GitLab's published schema files are
# not reachable offline, and are not copied here.
DS_REPORT_SCHEMA = _security_report(
    "dependency_scanning",
    {"solution": _TEXT, "location": _object({"file": _TEXT, "dependency": _DEPENDENCY})},
    {
        "dependency_files": {
            "type": "array",
            "items": _object(
                {"path": _TEXT, "package_manager": _TEXT, "dependencies": {"type": "array", "items": _DEPENDENCY}}
            ),
        }
    },
)
SAST_REPORT_SCHEMA = _security_report(
    "sast",
    {
        "location": _object(
            {"file": _TEXT, "start_line": {"type": "integer", "minimum": 1}, "end_line": {"type": "integer"}}
        )
    },
    {},
)
# A module with a shell command built from input (bandit B602, high) and an import bandit notes (B404, low).
SHELL_TRUE = "import subprocess\n\n\ndef run(cmd: str) -> None:\n    subprocess.run(cmd, shell=True, check=False)\n"
CLEAN = "import subprocess\n\n\ndef run(args: list[str]) -> None:\n    subprocess.run(args, check=False)\n"
