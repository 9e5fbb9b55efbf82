"""scripts/osv_mirror.py: the OSV-compatible service that local pipeline runs and the tests point pip-audit at."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from scripts.osv_mirror import RECORDS, affects, load_records
from tests.engine import ROOT

RANGES: dict[str, Any] = {
    "id": "TEST-1",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "Some_Package"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2"}]},
                {"type": "ECOSYSTEM", "events": [{"introduced": "2.0rc1"}, {"last_affected": "2.1.post1"}]},
            ],
            "versions": ["1.5"],
        },
        {"package": {"ecosystem": "npm", "name": "other"}, "ranges": []},
    ],
}


@pytest.mark.parametrize(
    ("name", "version", "affected"),
    [
        ("some-package", "1.1.9", True),
        ("SOME.package", "0.1", True),  # any spelling of the name (PEP 503)
        ("some-package", "1.2", False),  # fixed: excluded
        ("some-package", "1.5", True),  # listed in `versions`
        ("some-package", "1.6", False),
        ("some-package", "2.0rc1", True),  # PEP 440 order, pre-releases included
        ("some-package", "2.1.post1", True),  # last_affected: included
        ("some-package", "2.1.post2", False),
        ("some-package", "not a version", False),
        ("other", "1.0", False),  # another ecosystem's package
    ],
)
def test_a_record_affects_the_versions_its_ranges_and_list_name(name: str, version: str, affected: bool) -> None:
    assert affects(RANGES, name, version) is affected


def test_a_file_that_is_not_a_record_is_named(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(ValueError, match=r"x\.json: not an OSV record"):
        load_records(tmp_path)


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_up_serves_the_records_detached_and_down_stops_it_by_pid(tmp_path: Path) -> None:
    state = tmp_path / "state"
    cli = [sys.executable, "-m", "scripts.osv_mirror"]
    done = subprocess.run([*cli, "up", "--dir", str(state)], cwd=ROOT, capture_output=True, text=True, check=True)
    name, _, url = done.stdout.strip().partition("=")
    assert name == "PIP_AUDIT_OSV_URL"
    pid = int((state / "osv-mirror.pid").read_text())
    try:
        (record,) = load_records(RECORDS)
        found = _post(url, {"package": {"name": "idna", "ecosystem": "PyPI"}, "version": "3.6"})
        assert [v["id"] for v in found["vulns"]] == [record["id"]]
        assert _post(url, {"package": {"name": "idna", "ecosystem": "PyPI"}, "version": "3.7"}) == {}
        batch = _post(
            url.replace("/query", "/querybatch"), {"queries": [{"package": {"name": "idna"}, "version": "3.6"}]}
        )
        assert batch == {"results": [{"vulns": [{"id": record["id"], "modified": record["modified"]}]}]}
        with urllib.request.urlopen(url.replace("/query", f"/vulns/{record['id']}"), timeout=10) as response:
            assert json.load(response) == record
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(url.replace("/query", "/vulns/NOPE-1"), timeout=10)
    finally:
        subprocess.run([*cli, "down", str(state)], cwd=ROOT, check=True)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not state.exists()
