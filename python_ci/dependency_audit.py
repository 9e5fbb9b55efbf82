"""The dependency-audit job: pip-audit on the project's locked dependencies, as GitLab's dependency-scanning report.

The pins come from python_ci/locked_pins.py (the lock the installing jobs use, exported with hashes); pip-audit
checks them as they are (`--no-deps --disable-pip -r`: no resolution, no pip, nothing installed) against an OSV
service: the public one, or a mirror on an internal network (`osv_url` input or `PIP_AUDIT_OSV_URL`, the URL of its
`/v1/query`). pip-audit's JSON has no severity, so each advisory's OSV record (`GET <base>/v1/vulns/<id>`, same
service) gives it: `database_specific.severity` of GitHub's advisories (LOW, MODERATE, HIGH, CRITICAL), else
Unknown. The report follows GitLab's dependency-scanning format, schema 15.0.x (GitLab docs, "Dependency Scanning
report format"; fields listed in DS_REPORT_FIELDS of the tests).

Allow-list items read `<advisory id> until <YYYY-MM-DD>`: the advisory (matched by its id or any alias) stays out
of the report and of the verdict through that day; after it the entry says it expired and suppresses nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

from python_ci.job import (
    JobError,
    array,
    as_dict,
    as_list,
    checkout_root,
    project_dir,
    reports_dir,
    run,
    say,
    variable,
)
from python_ci.locked_pins import Pins, export_pins
from python_ci.uv import ensure_uv

REPORT = "gl-dependency-scanning-report.json"
SCHEMA_VERSION = "15.0.7"
DEFAULT_OSV_URL = "https://api.osv.dev/v1/query"
# GitLab's severities (report schema) in rising order; Unknown is not ranked: it always fails the threshold.
SEVERITIES = ("Info", "Low", "Medium", "High", "Critical")
# GitHub advisory database severities -> GitLab's.
GHSA_SEVERITY = {"LOW": "Low", "MODERATE": "Medium", "MEDIUM": "Medium", "HIGH": "High", "CRITICAL": "Critical"}
ALLOW_ITEM = re.compile(r"(?P<id>[A-Za-z0-9][A-Za-z0-9._:-]*) until (?P<date>\d{4}-\d{2}-\d{2})")
# Where a person reads an advisory, by its id's prefix (the identifier's `url` in the report).
ADVISORY_URLS = {
    "CVE": ("cve", "https://nvd.nist.gov/vuln/detail/{}"),
    "GHSA": ("ghsa", "https://github.com/advisories/{}"),
    "PYSEC": ("pysec", "https://osv.dev/vulnerability/{}"),
}


@dataclass(frozen=True)
class Allowed:
    """An allow-list entry: advisory `id`, suppressing through `until` (inclusive)."""

    id: str
    until: dt.date


def allow_list(items: list[str]) -> list[Allowed]:
    """Parse the `allow` input's items (`GHSA-xxxx-xxxx-xxxx until 2027-01-31`).

    Raises JobError for an item of another shape or an impossible date."""
    entries: list[Allowed] = []
    for item in items:
        match = ALLOW_ITEM.fullmatch(item.strip())
        if match is None:
            raise JobError(f"allow item {item!r} is not '<advisory id> until <YYYY-MM-DD>'")
        try:
            entries.append(Allowed(match["id"], dt.date.fromisoformat(match["date"])))
        except ValueError as error:
            raise JobError(f"allow item {item!r}: {error}") from error
    return entries


def suppressed_by(ids: list[str], entries: list[Allowed], today: dt.date) -> Allowed | None:
    """The unexpired entry naming any of `ids` (an advisory and its aliases), else None; expired ones are said."""
    for entry in entries:
        if entry.id not in ids:
            continue
        if today <= entry.until:
            return entry
        say("dependency-audit", f"allow-list entry {entry.id} expired on {entry.until}: it no longer suppresses")
    return None


def osv_base(query_url: str) -> str:
    """The OSV API root of a `/v1/query` URL (`https://host/v1/query` -> `https://host/v1`)."""
    return query_url.removesuffix("/").removesuffix("/query")


def osv_severity(base: str, ids: list[str], timeout: float = 10.0) -> str:
    """GitLab's severity for an advisory known by `ids`, from the first OSV record (GitHub's advisories first: they
    carry `database_specific.severity`) that has one; Unknown when none does or the service cannot be read."""
    for advisory in sorted(ids, key=lambda name: not name.startswith("GHSA-")):
        try:
            with urllib.request.urlopen(f"{base}/vulns/{advisory}", timeout=timeout) as response:  # noqa: S310
                record = as_dict(json.loads(response.read()))
        except (urllib.error.URLError, OSError, ValueError):
            continue
        severity = GHSA_SEVERITY.get(str(as_dict(record.get("database_specific")).get("severity", "")).upper())
        if severity:
            return severity
    return "Unknown"


def identifiers(ids: list[str]) -> list[dict[str, str]]:
    """The report's `identifiers` for an advisory's ids (type by prefix: cve, ghsa, pysec, else osv)."""
    found: list[dict[str, str]] = []
    for advisory in ids:
        kind, url = ADVISORY_URLS.get(advisory.split("-", 1)[0], ("osv", "https://osv.dev/vulnerability/{}"))
        found.append({"type": kind, "name": advisory, "value": advisory, "url": url.format(advisory)})
    return found


def fails(severity: str, threshold: str) -> bool:
    """Whether a finding of `severity` fails the job at `threshold` (a GitLab severity); Unknown always does."""
    return severity not in SEVERITIES or SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


def scan(started: dt.datetime, finished: dt.datetime, pip_audit: str) -> dict[str, object]:
    """The report's `scan` object: this job as analyzer, pip-audit as scanner, times in UTC without zone."""
    stamp = "%Y-%m-%dT%H:%M:%S"
    return {
        "analyzer": {
            "id": "python-ci-dependency-audit",
            "name": "python-ci dependency-audit",
            "version": "1",
            "vendor": {"name": "python-ci"},
        },
        "scanner": {"id": "pip-audit", "name": "pip-audit", "version": pip_audit, "vendor": {"name": "PyPA"}},
        "type": "dependency_scanning",
        "start_time": started.strftime(stamp),
        "end_time": finished.strftime(stamp),
        "status": "success",
    }


def convert(
    audit: dict[str, object], pins: Pins, base: str, entries: list[Allowed], today: dt.date
) -> list[dict[str, object]]:
    """pip-audit's JSON (`{"dependencies": [{"name", "version", "vulns": [{"id", "aliases", "fix_versions",
    "description"}]}]}`) -> the report's `vulnerabilities`, allow-listed advisories left out."""
    found: list[dict[str, object]] = []
    for dependency in (as_dict(d) for d in as_list(audit.get("dependencies"))):
        name, version = str(dependency.get("name")), str(dependency.get("version"))
        for vuln in (as_dict(v) for v in as_list(dependency.get("vulns"))):
            ids = [str(vuln.get("id")), *(str(alias) for alias in as_list(vuln.get("aliases")))]
            entry = suppressed_by(ids, entries, today)
            if entry is not None:
                say("dependency-audit", f"{ids[0]} in {name} {version} allowed until {entry.until}")
                continue
            fixes = [str(fix) for fix in as_list(vuln.get("fix_versions"))]
            description = str(vuln.get("description") or ids[0])
            found.append(
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pypi/{name}/{version}/{ids[0]}")),
                    "name": f"{ids[0]} in {name} {version}",
                    "description": description,
                    "severity": osv_severity(base, ids),
                    "solution": f"Upgrade {name} to {' or '.join(fixes)}." if fixes else "No fixed version is known.",
                    "identifiers": identifiers(ids),
                    "location": {"file": pins.files[0], "dependency": {"package": {"name": name}, "version": version}},
                }
            )
    return found


def report(
    audit: dict[str, object], pins: Pins, vulnerabilities: list[dict[str, object]], meta: dict[str, object]
) -> dict[str, object]:
    """The whole dependency-scanning report: `version`, `scan` (`meta`), `vulnerabilities`, `dependency_files`."""
    dependencies = [
        {"package": {"name": str(as_dict(d).get("name"))}, "version": str(as_dict(d).get("version"))}
        for d in as_list(audit.get("dependencies"))
    ]
    manager = "poetry" if pins.source.kind == "poetry.lock" else "pip"
    files = [{"path": pins.files[0], "package_manager": manager, "dependencies": dependencies}]
    return {"version": SCHEMA_VERSION, "scan": meta, "vulnerabilities": vulnerabilities, "dependency_files": files}


def main(argv: list[str]) -> int:
    """Audit `project_dir`'s locked dependencies; write `ci-reports/gl-dependency-scanning-report.json`; 1 when a
    finding not allow-listed reaches `severity_threshold` (Unknown counts).

    Raises JobError when nothing is locked, the allow-list is malformed or pip-audit cannot run."""
    del argv
    started = dt.datetime.now(dt.UTC)
    root = checkout_root()
    project = project_dir(root)
    threshold = variable("PYCI_SEVERITY_THRESHOLD", "Low").capitalize()
    if threshold not in SEVERITIES:
        raise JobError(f"severity_threshold must be one of {', '.join(s.lower() for s in SEVERITIES)}")
    entries = allow_list(array("PYCI_ALLOW"))
    osv_url = variable("PYCI_OSV_URL", "") or os.environ.get("PIP_AUDIT_OSV_URL", "") or DEFAULT_OSV_URL
    scratch = root / ".cache" / "python-ci-audit"
    pins = export_pins(project, root, scratch)
    version = variable("PYCI_PIP_AUDIT_VERSION")
    raw = scratch / "pip-audit.json"
    cmd = [ensure_uv(root), "tool", "run", "--from", f"pip-audit=={version}", "pip-audit", "--no-deps", "--disable-pip"]
    cmd += ["-r", str(pins.path), "--vulnerability-service", "osv", "--osv-url", osv_url, "--format", "json"]
    cmd += ["--desc", "on", "--aliases", "on", "--progress-spinner", "off", "--cache-dir", str(scratch / "cache")]
    say("dependency-audit", f"auditing the pins of {', '.join(pins.files)} with pip-audit {version} at {osv_url}")
    # pip-audit exits 1 when it found something: the verdict is this job's, from the severity threshold.
    status = run([*cmd, "--output", str(raw)], cwd=project)
    if status not in {0, 1} or not raw.is_file():
        raise JobError(f"pip-audit could not audit (exit {status}); see the lines above")
    audit = as_dict(json.loads(raw.read_text(encoding="utf-8")))
    vulnerabilities = convert(audit, pins, osv_base(osv_url), entries, started.date())
    meta = scan(started, dt.datetime.now(dt.UTC), version)
    out = reports_dir(root) / REPORT
    out.write_text(json.dumps(report(audit, pins, vulnerabilities, meta), indent=2), encoding="utf-8")
    failing = [v for v in vulnerabilities if fails(str(v["severity"]), threshold)]
    for vuln in vulnerabilities:
        say("dependency-audit", f"{vuln['severity']}: {vuln['name']}. {vuln['solution']}")
    say("dependency-audit", f"{len(vulnerabilities)} findings, {len(failing)} at or above {threshold} (or Unknown)")
    return 1 if failing else 0
