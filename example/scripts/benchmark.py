"""Throughput and latency of the service under its shipped gunicorn config vs a ceiling and alternatives.

    .venv/bin/python scripts/benchmark.py [--duration 5] [--connections 32] [--workers 2]

Every server runs on 127.0.0.1 on a free port with the same number of workers and is stopped before the next
starts. Load comes from `wrk` when it is installed (Debian package `wrk`), else from a small bounded Python
generator (far slower than the servers: compare its ratios, not its absolute numbers). Prints a Markdown
table; ratios are against the bare app on the shipped stack, measured in the same run.
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def servers(workers: int, port: int) -> list[Server]:
    bind = f"127.0.0.1:{port}"
    gunicorn = [str(BIN / "python"), "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", bind]
    gunicorn += ["--workers", str(workers)]
    common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return [
        Server(
            "bare app, gunicorn + uvicorn-worker (ceiling)",
            [*gunicorn, "--pythonpath", "scripts", "bare_app:app"],
            True,
        ),
        Server("service, gunicorn + uvicorn-worker (shipped)", gunicorn),
        Server("service, gunicorn --worker-class asgi", [*gunicorn, "--worker-class", "asgi"]),
        Server(
            "service, uvicorn --workers",
            [str(BIN / "uvicorn"), "app.main:app", "--no-access-log", "--log-level", "warning", *common],
        ),
        Server(
            "service, granian --interface asgi",
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
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Result(float(rate.group(1)), latency("50"), latency("99"), errors)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=4, help="seconds per measurement (default 4)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians are shown (default 3)"
    )
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (default 2)")
    parser.add_argument("--only", action="append", default=[], help="run only servers whose name has this")
    parser.add_argument(
        "--env", action="append", default=[], help="KEY=VALUE for the service (e.g. LEVEL=WARNING)"
    )
    args = parser.parse_args(argv)

    base_env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    # The shipped defaults (text logs on stderr, nothing saved) in prod mode; the output is discarded.
    base_env.update(STATUS="prod", X_TOKEN=TOKEN, SAVE="false", JSON_LOG="false", PYTHONPATH=str(PROJECT_DIR))
    base_env.update(item.split("=", 1) for item in args.env)
    endpoints = [("GET /livez", "/livez", False), ("POST /v1/analyze (500 B)", "/v1/analyze", True)]
    tool = "wrk -t1" if shutil.which("wrk") else "python load generator"
    print(
        f"load: {tool}, {args.connections} connections, {args.duration} s per measurement, "
        f"{args.rounds} rounds; {args.workers} workers per server; {os.cpu_count()} CPUs; "
        f"load average: {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    # All servers stay up (idle ones cost no CPU) and are measured in turn, round after round, so that the
    # machine's changing background load hits every server alike; the table shows medians.
    results: dict[tuple[str, str], list[Result]] = {}
    ratios: dict[tuple[str, str], list[float]] = {}
    with ExitStack() as stack:
        ports: dict[str, int] = {}
        chosen: list[Server] = []
        for index in range(len(servers(args.workers, 0))):
            port = free_port()
            server = servers(args.workers, port)[index]
            if args.only and not server.ceiling and not any(part in server.name for part in args.only):
                continue
            try:
                stack.enter_context(running(server, port, base_env | {"PORT": str(port)}))
            except RuntimeError as error:
                print(f"skipped {server.name}: {error}", file=sys.stderr)
                continue
            ports[server.name] = port
            chosen.append(server)
        ceiling = next(server.name for server in chosen if server.ceiling)
        for _ in range(args.rounds):
            for label, path, post in endpoints:
                this_round: dict[str, Result] = {}
                for server in chosen:
                    result = measure(ports[server.name], path, post, args.duration, args.connections)
                    this_round[server.name] = result
                    results.setdefault((server.name, label), []).append(result)
                for name, result in this_round.items():
                    ratio = result.requests_per_second / this_round[ceiling].requests_per_second
                    ratios.setdefault((name, label), []).append(ratio)

    print()
    print("| server | endpoint | req/s | p50 ms | p99 ms | errors | vs ceiling |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (name, label), runs in results.items():
        rate = statistics.median(r.requests_per_second for r in runs)
        p50 = statistics.median(r.p50_ms for r in runs)
        p99 = statistics.median(r.p99_ms for r in runs)
        errors = sum(r.errors for r in runs)
        ratio = statistics.median(ratios[name, label])
        print(f"| {name} | {label} | {rate:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
