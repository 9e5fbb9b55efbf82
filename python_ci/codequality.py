"""mypy's and pyright's JSON output -> a GitLab code-quality report (and one readable line per issue in the log).

The report format is GitLab's Code Climate subset (GitLab docs, "Code Quality" > "Code Quality report format"):
a JSON array of objects with `description`, `check_name`, `fingerprint`, `severity` and
`location.path` / `location.lines.begin` (a path relative to the repository's root).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The tools' severities -> GitLab's (info, minor, major, critical, blocker); anything unknown counts as major.
SEVERITIES = {"error": "major", "warning": "minor", "note": "info", "information": "info"}


@dataclass(frozen=True)
class Finding:
    """One diagnostic: `file` as the tool printed it (absolute, or relative to the directory it ran in), 1-based
    `first`/`last` lines, the tool's severity, the check (rule or error code) and the message."""

    file: str
    first: int
    last: int
    severity: str
    check: str
    message: str


def mypy_findings(text: str) -> tuple[list[Finding], list[str]]:
    """Parse `mypy --output json` (one JSON object per line): the findings, and the other lines (kept for the log)."""
    findings: list[Finding] = []
    other: list[str] = []
    for raw in text.splitlines():
        if not raw.startswith("{"):
            other.append(raw)
            continue
        item: dict[str, Any] = json.loads(raw)
        message = str(item["message"]) + (f" ({item['hint']})" if item.get("hint") else "")
        first = int(item.get("line") or 1)
        last = int(item.get("end_line") or first)
        check = str(item.get("code") or "mypy")
        findings.append(Finding(str(item["file"]), first, last, str(item["severity"]), check, message))
    return findings, other


def pyright_findings(text: str) -> tuple[list[Finding], list[str]]:
    """Parse `pyright --outputjson` (one JSON document; `range` lines are 0-based): the findings, and the whole
    text as the other lines when it is not JSON (pyright printed an error instead)."""
    try:
        document: dict[str, Any] = json.loads(text)
    except ValueError:
        return [], text.splitlines()
    findings: list[Finding] = []
    for item in document.get("generalDiagnostics", []):
        span = item.get("range", {})
        first = int(span.get("start", {}).get("line", 0)) + 1
        last = int(span.get("end", {}).get("line", first - 1)) + 1
        check = str(item.get("rule", "pyright"))
        findings.append(
            Finding(str(item["file"]), first, last, str(item.get("severity", "error")), check, item["message"])
        )
    return findings, []


def issues(tool: str, findings: list[Finding], root: Path, cwd: Path) -> list[dict[str, Any]]:
    """GitLab code-quality issues for `findings`, paths made relative to `root` (relative files are taken from
    `cwd`). The fingerprint hashes tool, check, path and message, plus a counter so that equal findings stay
    distinct issues."""
    seen: dict[str, int] = {}
    out: list[dict[str, Any]] = []
    for finding in findings:
        path = os.path.relpath(cwd / finding.file, root)
        key = f"{tool}:{finding.check}:{path}:{finding.message}"
        seen[key] = seen.get(key, 0) + 1
        out.append(
            {
                "description": f"{finding.check}: {finding.message}",
                "check_name": f"{tool}:{finding.check}",
                "fingerprint": hashlib.sha256(f"{key}:{seen[key]}".encode()).hexdigest(),
                "severity": SEVERITIES.get(finding.severity, "major"),
                "location": {"path": path, "lines": {"begin": finding.first, "end": max(finding.first, finding.last)}},
            }
        )
    return out


def write_report(tool: str, output: Path, report: Path, root: Path, cwd: Path) -> int:
    """Convert `tool`'s output file into the report file `report`; print the tool's other lines and one
    `path:line: severity: message [check]` line per issue. Returns the number of issues."""
    text = output.read_text(encoding="utf-8")
    findings, other = pyright_findings(text) if tool == "pyright" else mypy_findings(text)
    for line in other:
        print(line)
    found = issues(tool, findings, root, cwd)
    for finding, issue in zip(findings, found, strict=True):
        print(f"{issue['location']['path']}:{finding.first}: {finding.severity}: {finding.message} [{finding.check}]")
    report.write_text(json.dumps(found, indent=2), encoding="utf-8")
    print(f"python-ci {tool}: {len(found)} {tool} issue(s) in {os.path.relpath(report, root)}", flush=True)
    return len(found)
