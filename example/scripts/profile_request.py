"""CPU per POST /v1/analyze of the shipped app vs the bare app, in-process: no server, no sockets.

    .venv/bin/python scripts/profile_request.py [--requests 1500] [--repeat 5] [--callgrind]

Each app runs in a child process with the benchmark's settings (prod, X-Token, text logs to stderr, no file)
and is called as an ASGI app with a minimal scope, the benchmark's 500-byte body and its token; a server's
own cost is the same for both apps, so it is left out. Rows: microseconds of CPU per request
(`time.process_time`, every thread, best of `--repeat` runs after a warm-up) and, with `--callgrind`,
instructions per request under valgrind's callgrind (only the requests count, not the imports or
the warm-up), which the machine's load does not change. Printed: bare, service,
service / bare. The service's log lines go to /dev/null (stderr), as cheap a sink as a pipe to a collector.
"""

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.benchmark import BODY, PROJECT_DIR, TOKEN

APPS = {"bare": "scripts.bare_app", "service": "app.main"}
WARM_UP = 200
BODY_BYTES = BODY.encode("utf-8")
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/v1/analyze",
    "raw_path": b"/v1/analyze",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY_BYTES)).encode("ascii")),
        (b"x-token", TOKEN.encode("ascii")),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}
Requests = Callable[[int], Coroutine[Any, Any, None]]


def child_env() -> dict[str, str]:
    """The benchmark's settings for the service (scripts/benchmark.py main), and a fixed hash seed."""
    env = dict(os.environ)
    env.update(STATUS="prod", X_TOKEN=TOKEN, SAVE="false", JSON_LOG="false", ENV_FILE="", PYTHONHASHSEED="0")
    return env


def requests_for(module: str) -> Requests:
    """An async function that sends `n` POST /v1/analyze to the app in `module`; RuntimeError unless 200."""
    app = __import__(module, fromlist=["app"]).app

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY_BYTES, "more_body": False}

    async def run(n: int) -> None:
        statuses: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        for _ in range(n):
            # A new scope per request, as a server makes one: middleware may add keys to it.
            await app({**SCOPE, "headers": list(SCOPE["headers"])}, receive, send)
        if statuses != [200] * n:
            raise RuntimeError(f"{module}: statuses other than 200: {sorted(set(statuses))}")

    return run


def child(name: str, requests: int, repeat: int) -> None:
    """Run in the child: warm up, then print the best CPU microseconds per request over `repeat` runs.

    Each timed run is bracketed by `os.getppid()` calls: callgrind's `--dump-before=getppid` writes the
    instructions of exactly that stretch into a dump of its own.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    run = requests_for(APPS[name])
    with asyncio.Runner() as runner:
        runner.run(run(WARM_UP))
        best = float("inf")
        for _ in range(repeat):
            os.getppid()
            started = time.process_time()
            runner.run(run(requests))
            best = min(best, (time.process_time() - started) / requests * 1e6)
            os.getppid()
    print(f"{best:.1f}")


def cpu_us(name: str, requests: int, repeat: int) -> float:
    """CPU microseconds per request of one app, measured in a child process."""
    argv = [sys.executable, __file__, "--child", name, "--requests", str(requests), "--repeat", str(repeat)]
    done = subprocess.run(argv, env=child_env(), capture_output=True, text=True, check=True, cwd=PROJECT_DIR)
    return float(done.stdout.split()[-1])


def instructions_per_request(requests: int) -> dict[str, float]:
    """Instructions per request of each app: one child per app under callgrind, both at once.

    Only the timed stretch counts (the dump between the two `getppid` calls); imports and warm-up do not.
    """
    with tempfile.TemporaryDirectory() as tmp:
        children: dict[str, subprocess.Popen[bytes]] = {}
        for name in APPS:
            argv = ["valgrind", "--tool=callgrind", "--dump-before=getppid"]
            argv += [f"--callgrind-out-file={tmp}/{name}.out", sys.executable, __file__]
            argv += ["--child", name, "--requests", str(requests), "--repeat", "1"]
            children[name] = subprocess.Popen(
                argv, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=PROJECT_DIR
            )
        per_request: dict[str, float] = {}
        for name, process in children.items():
            if process.wait() != 0:
                raise RuntimeError(f"callgrind run of the {name} app failed")
            dump = (Path(tmp) / f"{name}.out.2").read_text()
            totals = re.search(r"^(?:summary|totals): (\d+)", dump, re.MULTILINE)
            if totals is None:
                raise RuntimeError("no instruction total in callgrind's output")
            per_request[name] = int(totals.group(1)) / requests
    return per_request


def row(label: str, bare: float, service: float, unit: str) -> str:
    ratio = service / bare
    return f"{label:<30} bare {bare:>10,.1f} {unit}  service {service:>10,.1f} {unit}  ratio {ratio:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="CPU per POST /v1/analyze, bare app vs service, in-process")
    parser.add_argument("--requests", type=int, default=1500, help="requests per timed run")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per app; the best counts")
    parser.add_argument("--callgrind", action="store_true", help="also count instructions under valgrind")
    parser.add_argument("--callgrind-requests", type=int, default=200, help="requests per callgrind run")
    parser.add_argument("--child", choices=APPS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.requests, args.repeat)
        return 0
    print(f"POST /v1/analyze ({len(BODY_BYTES)} B), in-process, no server")
    bare, service = (cpu_us(name, args.requests, args.repeat) for name in APPS)
    print(row(f"CPU us/request (best of {args.repeat})", bare, service, "us"), flush=True)
    if args.callgrind:
        if shutil.which("valgrind") is None:
            print("valgrind is not installed (Debian package valgrind)", file=sys.stderr)
            return 1
        counted = instructions_per_request(args.callgrind_requests)
        label = f"k instructions/request ({args.callgrind_requests})"
        print(row(label, counted["bare"] / 1000, counted["service"] / 1000, "k"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
