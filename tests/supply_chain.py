"""Shared parts of the supply-chain tests: small projects made at test time (hashed pins, a uv.lock), the CycloneDX
validator of cyclonedx-python-lib, and an OSV-compatible vulnerability service on 127.0.0.1.

The OSV service answers `POST /v1/query` ({"package": {"name", "ecosystem"}, "version"} -> {"vulns": [...]}),
`POST /v1/querybatch` and `GET /v1/vulns/<id>` the way OSV's API does (OSV API docs; records in the OSV schema
1.6), from the records in ADVISORIES, matching versions against their ECOSYSTEM ranges. The record is written
from the public advisory GHSA-jjg7-2v4v-x38h (idna before 3.7: quadratic-time `idna.encode()` on crafted input,
CVE-2024-3651, PYSEC-2024-60; moderate; fixed in 3.7), not copied from any database.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Generator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from tests.engine import ROOT, SHARED_UV_CACHE

UV = str(ROOT / ".venv-bootstrap" / "bin" / "uv")
CYCLONEDX_LIB = "cyclonedx-python-lib[json-validation]==11.6.0"
VULNERABLE = "idna==3.6"
FIXED = "idna==3.7"
ADVISORY = "GHSA-jjg7-2v4v-x38h"
ADVISORIES: list[dict[str, Any]] = [
    {
        "schema_version": "1.6.0",
        "id": ADVISORY,
        "modified": "2024-07-15T00:00:00Z",
        "published": "2024-04-12T00:00:00Z",
        "aliases": ["CVE-2024-3651", "PYSEC-2024-60"],
        "summary": "Internationalized Domain Names in Applications (IDNA) vulnerable to denial of service from "
        "specially crafted inputs to idna.encode",
        "details": "A crafted argument to idna.encode() takes quadratic time to reject. Upgrade to 3.7, which "
        "refuses such input early.",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "idna", "purl": "pkg:pypi/idna"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.7"}]}],
            }
        ],
        "references": [
            {"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2024-3651"},
            {"type": "PACKAGE", "url": "https://github.com/kjd/idna"},
        ],
        "database_specific": {"severity": "MODERATE", "cwe_ids": ["CWE-400"], "github_reviewed": True},
    }
]


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


def _version(text: str) -> tuple[int, ...]:
    # The fixtures' versions are plain release numbers; PEP 440's full ordering is not needed here.
    return tuple(int(part) for part in text.split("."))


def affects(record: dict[str, Any], name: str, version: str) -> bool:
    """Whether OSV `record` lists PyPI `name` at `version` as affected (its ECOSYSTEM ranges: introduced/fixed)."""
    affected: dict[str, Any]
    for affected in record["affected"]:
        if affected["package"]["ecosystem"] != "PyPI" or affected["package"]["name"] != name.lower():
            continue
        ranges: list[dict[str, Any]] = affected["ranges"]
        for events in (cast("list[dict[str, str]]", r["events"]) for r in ranges if r["type"] == "ECOSYSTEM"):
            introduced = next(e["introduced"] for e in events if "introduced" in e)
            fixed = next((e["fixed"] for e in events if "fixed" in e), None)
            low = (0,) if introduced == "0" else _version(introduced)
            if low <= _version(version) and (fixed is None or _version(version) < _version(fixed)):
                return True
    return False


class _OSV(BaseHTTPRequestHandler):
    requests: list[str]

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    @staticmethod
    def _matches(query: dict[str, Any]) -> list[dict[str, Any]]:
        package: dict[str, Any] = query.get("package") or {}
        name = str(package.get("name", ""))
        version = str(query.get("version", ""))
        return [record for record in ADVISORIES if affects(record, name, version)]

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        self.server.requests.append(f"POST {self.path}")  # type: ignore[attr-defined]
        if self.path == "/v1/query":
            found = self._matches(query)
            self._send(200, {"vulns": found} if found else {})
        elif self.path == "/v1/querybatch":
            results = [
                {"vulns": [{"id": r["id"], "modified": r["modified"]} for r in self._matches(q)]}
                for q in query["queries"]
            ]
            self._send(200, {"results": results})
        else:
            self._send(404, {"code": 5, "message": "Not Found"})

    def do_GET(self) -> None:
        self.server.requests.append(f"GET {self.path}")  # type: ignore[attr-defined]
        found = [r for r in ADVISORIES if self.path == f"/v1/vulns/{r['id']}"]
        if found:
            self._send(200, found[0])
        else:
            self._send(404, {"code": 5, "message": "Bug not found."})

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@contextmanager
def osv_service() -> Generator[tuple[str, list[str]]]:
    """Serve the OSV API on 127.0.0.1 (a free port) for the block: yields its `/v1/query` URL (what pip-audit's
    `--osv-url` takes) and the list of requests it received ("POST /v1/query", ...). Stopped on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OSV)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", server.requests  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


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
