"""Throughput and latency of the service under its shipped gunicorn config vs a ceiling and alternatives.

    .venv/bin/python scripts/benchmark.py [--duration 5] [--connections 32] [--workers 2] [--max-requests N]

Every server runs on 127.0.0.1 on a free port with the same number of workers and the same recycling
(`--max-requests`, default the shipped MAX_REQUESTS, + 10 % jitter; granian has no request-count recycling,
its row says so). Load comes from `wrk` when it is installed (Debian package `wrk`), else from a small
bounded Python generator (far slower than the servers: compare its ratios, not its absolute numbers). Each
measurement prints a line with its errors as it goes; then a Markdown table of medians, with throughput and
p99 as ratios to the bare app on the shipped stack measured in the same round, and the shipped service's
targets: >= 0.85 of the bare throughput on each endpoint, 0 errors, p99 <= 1.3 x the bare p99.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Generator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TOKEN = "benchmark-token-0123456789"  # noqa: S105 - a throwaway token for loopback servers
# ~500 bytes of mixed English and Korean text.
TEXT = (
    "FastAPI services on a small platform team answer many short requests. "
    "서울에서 열린 회의에서 팀은 새로운 서비스를 발표했다. "
    "The analyzer counts sentences, tokens and keywords without any model download. "
    "한국어와 영어가 섞인 문장도 잘 처리한다. "
    "Latency matters more than peak throughput for interactive clients. "
    "처리량과 지연 시간을 함께 측정한다."
)
BODY = json.dumps({"text": TEXT, "top_k": 5})


MIN_THROUGHPUT_RATIO = 0.85
MAX_P99_RATIO = 1.3
SHIPPED = "service, gunicorn + uvicorn-worker (shipped)"
ENDPOINTS = (("GET /livez", "/livez", False), ("POST /v1/analyze (500 B)", "/v1/analyze", True))


@dataclass(frozen=True)
class Server:
    name: str
    argv: list[str]
    ceiling: bool = False


@dataclass(frozen=True)
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_kinds: str = ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def servers(workers: int, port: int, max_requests: int) -> list[Server]:
    """The servers compared; gunicorn's recycling comes from MAX_REQUESTS in the environment (see main)."""
    bind = f"127.0.0.1:{port}"
    gunicorn = [str(BIN / "python"), "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", bind]
    gunicorn += ["--workers", str(workers)]
    common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    uvicorn_recycling = (
        ["--limit-max-requests", str(max_requests), "--limit-max-requests-jitter", str(max_requests // 10)]
        if max_requests
        else []
    )
    granian = "service, granian --interface asgi" + (" (no recycling: none by count)" if max_requests else "")
    return [
        Server(
            "bare app, gunicorn + uvicorn-worker (ceiling)",
            [*gunicorn, "--pythonpath", "scripts", "bare_app:app"],
            True,
        ),
        Server(SHIPPED, gunicorn),
        Server("service, gunicorn --worker-class asgi", [*gunicorn, "--worker-class", "asgi"]),
        Server(
            "service, uvicorn --workers",
            [
                *[str(BIN / "uvicorn"), "app.main:app", "--no-access-log", "--log-level", "warning"],
                *common,
                *uvicorn_recycling,
            ],
        ),
        Server(
            granian,
            [str(BIN / "granian"), "--interface", "asgi", "--log-level", "warning", *common, "app.main:app"],
        ),
    ]


@contextmanager
def running(server: Server, port: int, env: dict[str, str]) -> Generator[None]:
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            server.argv,
            cwd=PROJECT_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_up(port, process)
            yield
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def wait_until_up(port: int, process: "subprocess.Popen[bytes]", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/livez")
            if connection.getresponse().status == 200:
                connection.close()
                time.sleep(1.0)  # let the other workers finish booting too
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not come up")


def wrk(url: str, post: bool, duration: int, connections: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        headers = f'wrk.headers["X-Token"] = "{TOKEN}"\n'
        if post:
            headers += 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            headers += f"wrk.body = {json.dumps(BODY)}\n"
        script.write(headers)
    try:
        result = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, url],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration + 30,
        )
    finally:
        Path(script.name).unlink()
    return parse_wrk(result.stdout)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> Result:
    def latency(percent: str) -> float:
        match = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if match is None:
            raise ValueError(f"no {percent}% latency in wrk output:\n{output}")
        return float(match.group(1)) * _UNITS_MS[match.group(2)]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if rate is None:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    kinds = {kind: int(n) for kind, n in re.findall(r"(connect|read|write|timeout) (\d+)", output)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    kinds["non-2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    described = ", ".join(f"{kind} {n}" for kind, n in kinds.items() if n)
    return Result(float(rate.group(1)), latency("50"), latency("99"), sum(kinds.values()), described)


def python_load(port: int, path: str, post: bool, duration: float, connections: int) -> Result:
    """A bounded keep-alive load generator for machines without wrk (threads, one connection each)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"X-Token": TOKEN, "Content-Type": "application/json"}
        mine: list[float] = []
        failed = 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                connection.request(
                    "POST" if post else "GET", path, body=BODY if post else None, headers=headers
                )
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
            except OSError:
                failed += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                continue
            mine.append((time.perf_counter() - started) * 1000)
        connection.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=worker) for _ in range(min(connections, 16))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(latencies) < 2:
        return Result(0.0, 0.0, 0.0, errors)
    cuts = statistics.quantiles(latencies, n=100)
    return Result(len(latencies) / duration, cuts[49], cuts[98], errors)


def measure(port: int, path: str, post: bool, duration: int, connections: int) -> Result:
    if shutil.which("wrk"):
        return wrk(f"http://127.0.0.1:{port}{path}", post, duration, connections)
    return python_load(port, path, post, duration, connections)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=4, help="seconds per measurement (default 4)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians are shown (default 3)"
    )
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=Settings.model_fields["max_requests"].default,
        help="recycle every server's workers after this many requests, + 10 %% jitter; 0: never "
        "(default: the shipped MAX_REQUESTS)",
    )
    parser.add_argument("--only", action="append", default=[], help="run only servers whose name has this")
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for the service (e.g. LEVEL=WARNING)"
    )
    return parser.parse_args(argv)


Measurements = dict[tuple[str, str], list[tuple[Result, Result]]]


def run_rounds(args: argparse.Namespace, env: dict[str, str]) -> Measurements:
    """Every chosen server's result per (server, endpoint), each paired with the ceiling's of its round."""
    # All servers stay up (idle ones cost no CPU) and are measured in turn, round after round, so that the
    # machine's changing background load hits every server alike.
    measured: Measurements = {}
    with ExitStack() as stack:
        ports: dict[str, int] = {}
        chosen: list[Server] = []
        for index in range(len(servers(args.workers, 0, args.max_requests))):
            port = free_port()
            server = servers(args.workers, port, args.max_requests)[index]
            if args.only and not server.ceiling and not any(part in server.name for part in args.only):
                continue
            try:
                stack.enter_context(running(server, port, env | {"PORT": str(port)}))
            except RuntimeError as error:
                print(f"skipped {server.name}: {error}", file=sys.stderr)
                continue
            ports[server.name] = port
            chosen.append(server)
        ceiling = next(server.name for server in chosen if server.ceiling)
        for number in range(1, args.rounds + 1):
            for label, path, post in ENDPOINTS:
                this_round: dict[str, Result] = {}
                for server in chosen:
                    result = measure(ports[server.name], path, post, args.duration, args.connections)
                    this_round[server.name] = result
                    print(
                        f"round {number}, {label}, {server.name}: {result.requests_per_second:,.0f} req/s, "
                        f"p99 {result.p99_ms:.2f} ms, errors {result.errors} {result.error_kinds}".rstrip(),
                        file=sys.stderr,
                        flush=True,
                    )
                for name, result in this_round.items():
                    measured.setdefault((name, label), []).append((result, this_round[ceiling]))
    return measured


def report(measured: Measurements) -> list[str]:
    """Print the table of medians; return the shipped service's missed targets (none: all met)."""
    print("| server | endpoint | req/s | p50 ms | p99 ms | errors | vs ceiling | p99 vs ceiling |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    missed: list[str] = []
    for (name, label), pairs in measured.items():
        runs = [result for result, _ in pairs]
        rate = statistics.median(r.requests_per_second for r in runs)
        p50 = statistics.median(r.p50_ms for r in runs)
        p99 = statistics.median(r.p99_ms for r in runs)
        errors = sum(r.errors for r in runs)
        ratio = statistics.median(r.requests_per_second / bare.requests_per_second for r, bare in pairs)
        p99_ratio = statistics.median(r.p99_ms / bare.p99_ms for r, bare in pairs)
        print(
            f"| {name} | {label} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {ratio:.2f} "
            f"| {p99_ratio:.2f} |"
        )
        if name != SHIPPED:
            continue
        if ratio < MIN_THROUGHPUT_RATIO:
            missed.append(f"{label}: {ratio:.2f} x the bare throughput (target >= {MIN_THROUGHPUT_RATIO})")
        if errors:
            missed.append(f"{label}: {errors} errors (target 0)")
        if p99_ratio > MAX_P99_RATIO:
            missed.append(f"{label}: p99 {p99_ratio:.2f} x the bare p99 (target <= {MAX_P99_RATIO})")
    return missed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    # The shipped defaults (text logs on stderr, nothing saved) in prod mode; the output is discarded. No
    # .env of the developer's; the same recycling for every server.
    env.update(STATUS="prod", X_TOKEN=TOKEN, SAVE="false", JSON_LOG="false", PYTHONPATH=str(PROJECT_DIR))
    env.update(ENV_FILE="", MAX_REQUESTS=str(args.max_requests))
    env.update(item.split("=", 1) for item in args.env)
    tool = "wrk -t1" if shutil.which("wrk") else "python load generator"
    print(
        f"load: {tool}, {args.connections} connections, {args.duration} s per measurement, "
        f"{args.rounds} rounds; {args.workers} workers per server, recycled after "
        f"{args.max_requests or 'no'} requests; {os.cpu_count()} CPUs; "
        f"load average: {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    measured = run_rounds(args, env)
    print()
    missed = report(measured)
    print()
    print("shipped service targets: " + ("met" if not missed else "missed: " + "; ".join(missed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
