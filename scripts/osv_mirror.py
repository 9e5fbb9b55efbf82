"""An OSV-compatible vulnerability service on 127.0.0.1, serving the OSV records of a folder: what an internal
network's OSV mirror is to the `dependency-audit` component, for local pipeline runs and the tests (no internet).

It answers the part of OSV's API that pip-audit uses (OSV API docs, https://google.github.io/osv.dev/api/):
`POST /v1/query` ({"package": {"name", "ecosystem"}, "version"} -> {"vulns": [...]}, or {} when none),
`POST /v1/querybatch` and `GET /v1/vulns/<id>`. A record (OSV schema 1.6, one JSON file each) affects a PyPI
version listed in its `versions` or inside one of its `ECOSYSTEM` ranges (`introduced`/`fixed`/`last_affected`
events, compared as PEP 440 versions).

    python -m scripts.osv_mirror up --dir DIR [--records FOLDER]   # start; prints PIP_AUDIT_OSV_URL=...
    python -m scripts.osv_mirror down DIR                           # stop it by its PID, delete DIR

The records shipped for local runs (`tests/fixtures/osv/`) are few and written from public advisories: a run
against them is an offline stand-in for the public service, not an audit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterable, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from scripts.processes import stop_pid

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "tests" / "fixtures" / "osv"
PIDFILE = "osv-mirror.pid"
PORTFILE = "osv-mirror.port"

Record = dict[str, Any]


def load_records(folder: Path) -> list[Record]:
    """The OSV records (`*.json`, one record each) of `folder`, by file name. Raises ValueError naming a file
    that is not a JSON object with an `id`."""
    records: list[Record] = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or not isinstance(cast("Record", record).get("id"), str):
            raise ValueError(f"{path}: not an OSV record (a JSON object with an id)")
        records.append(cast("Record", record))
    return records


def _in_range(version: Version, events: Iterable[dict[str, str]]) -> bool:
    """Whether `version` falls in one OSV ECOSYSTEM range: the events in order open (`introduced`) and close
    (`fixed`: excluded, `last_affected`: included) intervals (OSV schema, "affected[].ranges[].events")."""
    affected = False
    for event in sorted(events, key=_event_version):
        kind = next(iter(event))
        bound = _event_version(event)
        if kind == "introduced" and version >= bound:
            affected = True
        elif (kind == "fixed" and version >= bound) or (kind == "last_affected" and version > bound):
            affected = False
    return affected


def _event_version(event: dict[str, str]) -> Version:
    value = next(iter(event.values()))
    return Version("0") if value == "0" else Version(value)


def affects(record: Record, name: str, version: str) -> bool:
    """Whether OSV `record` lists PyPI package `name` (any spelling, PEP 503) at `version` as affected."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    for affected in cast("list[Record]", record.get("affected", [])):
        package = cast("dict[str, str]", affected.get("package", {}))
        if package.get("ecosystem") != "PyPI" or canonicalize_name(package.get("name", "")) != canonicalize_name(name):
            continue
        if version in cast("list[str]", affected.get("versions", [])):
            return True
        for span in cast("list[Record]", affected.get("ranges", [])):
            if span.get("type") == "ECOSYSTEM" and _in_range(parsed, cast("list[dict[str, str]]", span["events"])):
                return True
    return False


class _Handler(BaseHTTPRequestHandler):
    @property
    def osv(self) -> OSVServer:
        return cast("OSVServer", self.server)

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _matches(self, query: Record) -> list[Record]:
        package = cast("dict[str, str]", query.get("package") or {})
        name, version = str(package.get("name", "")), str(query.get("version", ""))
        return [r for r in self.osv.records if affects(r, name, version)]

    def do_POST(self) -> None:
        query = cast("Record", json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}"))
        self.osv.requests.append(f"POST {self.path}")
        if self.path == "/v1/query":
            found = self._matches(query)
            self._send(200, {"vulns": found} if found else {})
        elif self.path == "/v1/querybatch":
            queries = cast("list[Record]", query.get("queries", []))
            results = [
                {"vulns": [{"id": r["id"], "modified": r["modified"]} for r in self._matches(q)]} for q in queries
            ]
            self._send(200, {"results": results})
        else:
            self._send(404, {"code": 5, "message": "Not Found"})

    def do_GET(self) -> None:
        self.osv.requests.append(f"GET {self.path}")
        found = [r for r in self.osv.records if self.path == f"/v1/vulns/{r['id']}"]
        self._send(200, found[0]) if found else self._send(404, {"code": 5, "message": "Bug not found."})

    def log_message(self, format: str, *args: object) -> None:
        del format, args  # the requests are kept in `server.requests`


class OSVServer(ThreadingHTTPServer):
    """The service on 127.0.0.1:`port` (0: a free one) for `records`; `requests` lists what it answered
    ("POST /v1/query", ...); `query_url` is what pip-audit's `--osv-url` (and PIP_AUDIT_OSV_URL) takes."""

    def __init__(self, records: list[Record], port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.records = records
        self.requests: list[str] = []

    @property
    def query_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/query"


@contextmanager
def serving(records: list[Record]) -> Generator[OSVServer]:
    """Serve `records` in a thread of this process for the block; stopped on exit."""
    server = OSVServer(records)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- CLI: a detached server for local pipeline runs (scripts/pipeline.py's service hook) ---------------------


def _serve(records: Path, portfile: Path) -> int:
    server = OSVServer(load_records(records))

    def stop(signum: int, frame: object) -> None:
        del signum, frame
        # shutdown() waits for serve_forever() to return: from another thread, never the one serving.
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    portfile.write_text(str(server.server_address[1]), encoding="utf-8")
    server.serve_forever()
    server.server_close()
    return 0


def _up(workdir: Path, records: Path, timeout: float = 20) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    portfile = workdir / PORTFILE
    portfile.unlink(missing_ok=True)
    with (workdir / "osv-mirror.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.osv_mirror", "serve", str(records), str(portfile)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    (workdir / PIDFILE).write_text(str(proc.pid), encoding="utf-8")
    deadline = time.monotonic() + timeout
    while not portfile.is_file() or not portfile.read_text(encoding="utf-8"):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_pid(proc.pid)
            tail = (workdir / "osv-mirror.log").read_text(errors="replace").strip().splitlines()[-1:]
            print(f"osv_mirror: did not start: {' '.join(tail)}", file=sys.stderr)
            return 1
        time.sleep(0.05)
    print(f"PIP_AUDIT_OSV_URL=http://127.0.0.1:{portfile.read_text(encoding='utf-8')}/v1/query")
    return 0


def _down(workdir: Path) -> int:
    pidfile = workdir / PIDFILE
    if not pidfile.is_file():
        print(f"osv_mirror: no {PIDFILE} in {workdir}: nothing to stop", file=sys.stderr)
        return 1
    stop_pid(int(pidfile.read_text(encoding="utf-8")))
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.osv_mirror", description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the service detached; print PIP_AUDIT_OSV_URL=...")
    up.add_argument("--dir", type=Path, required=True, help="the service's state folder (pidfile, port, log)")
    up.add_argument("--records", type=Path, default=RECORDS, help=f"folder of OSV records (default {RECORDS})")
    down = sub.add_parser("down", help="stop the service of DIR by its PID and delete DIR")
    down.add_argument("dir", type=Path)
    serve = sub.add_parser("serve", help="serve in the foreground (what `up` starts)")
    serve.add_argument("records", type=Path)
    serve.add_argument("portfile", type=Path)
    args = parser.parse_args(argv)
    if args.command == "up":
        return _up(args.dir, args.records)
    if args.command == "serve":
        return _serve(args.records, args.portfile)
    return _down(args.dir)


if __name__ == "__main__":
    sys.exit(main())
