"""CPU per POST /v1/analyze of the shipped app vs the bare app, in-process: no server, no sockets.

    .venv/bin/python scripts/profile_request.py [--requests 1500] [--repeat 5] [--callgrind]

Both apps run in one child process with the benchmark's settings (prod, X-Token, text logs to stderr, no
file) and are called as ASGI apps with a minimal scope, the benchmark's body (~500 characters of text) and
its token; a server's own cost is the same for both apps, so it is left out. Rows: microseconds of CPU per
request (`time.process_time`, every thread, best of `--repeat` runs per app, the apps taking turns after a
warm-up) and, with `--callgrind`, instructions per request under valgrind's callgrind (only the timed
requests count, not the imports or the warm-up), which the machine's load does not change. Printed: bare,
service, service / bare. The service's log lines go to /dev/null through its stderr sink.
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


def child(requests: int, repeat: int) -> None:
    """Run in the child: warm both apps up, then time them in turn; print each one's best CPU us/request.

    Both apps live in this one process and take turns, so that a change in the machine's load or in this
    process's memory layout hits both. Each timed run is bracketed by `os.getppid()` calls: callgrind's
    `--dump-before=getppid` writes the instructions of exactly that stretch into a dump of its own.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    runs = {name: requests_for(module) for name, module in APPS.items()}
    best = dict.fromkeys(APPS, float("inf"))
    with asyncio.Runner() as runner:
        for run in runs.values():
            runner.run(run(WARM_UP))
        for _ in range(repeat):
            for name, run in runs.items():
                os.getppid()
                started = time.process_time()
                runner.run(run(requests))
                best[name] = min(best[name], (time.process_time() - started) / requests * 1e6)
                os.getppid()
    print(" ".join(f"{best[name]:.1f}" for name in APPS))


def child_argv(requests: int, repeat: int) -> list[str]:
    return [sys.executable, __file__, "--child", "--requests", str(requests), "--repeat", str(repeat)]


def cpu_us(requests: int, repeat: int) -> dict[str, float]:
    """CPU microseconds per request of each app, measured in one child process."""
    done = subprocess.run(
        child_argv(requests, repeat),
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_DIR,
    )
    return dict(zip(APPS, map(float, done.stdout.split()), strict=True))


def instructions_per_request(requests: int) -> dict[str, float]:
    """Instructions per request of each app: one child under callgrind, one timed run of each app.

    Only the timed runs count (the dumps between their `getppid` calls: 2 for the first app, 4 for the
    second); imports and warm-up do not.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        argv = ["valgrind", "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={out}"]
        subprocess.run(
            argv + child_argv(requests, 1), env=child_env(), capture_output=True, check=True, cwd=PROJECT_DIR
        )
        per_request: dict[str, float] = {}
        for index, name in enumerate(APPS):
            dump = out.with_name(f"{out.name}.{2 * index + 2}").read_text()
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
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.requests, args.repeat)
        return 0
    print(f"POST /v1/analyze ({len(BODY_BYTES)} B), in-process, no server")
    cpu = cpu_us(args.requests, args.repeat)
    print(row(f"CPU us/request (best of {args.repeat})", cpu["bare"], cpu["service"], "us"), flush=True)
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
