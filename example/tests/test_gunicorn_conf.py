"""Real gunicorn processes with gunicorn.conf.py: multi-worker logging, graceful drain, bad settings.

Every server listens on 127.0.0.1 on a free port, runs in its own temporary directory with ENV_FILE empty
(so no .env is read, unless the test says otherwise), and is stopped by the test that started it.
"""

import contextlib
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TOKEN

PROJECT_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0
# Every load test ends within this many seconds, answered or not.
LOAD_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "TMPDIR"}}
    env.update(
        HOST="127.0.0.1", PORT=str(free_port()), X_TOKEN=TOKEN, STATUS="dev", LOG_SAVE_PATH=str(tmp_path)
    )
    env.update(ENV_FILE="")
    env.update(settings)
    return env


class Gunicorn:
    def __init__(
        self,
        tmp_path: Path,
        env: dict[str, str],
        config: Path = PROJECT_DIR / "gunicorn.conf.py",
        port: int | None = None,
    ) -> None:
        self.port = port or int(env["PORT"])
        self.output_path = tmp_path / "gunicorn.out"
        self.output = self.output_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(config)],
            cwd=tmp_path,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            # Its own process group, so that cleanup can also reach workers if the master dies first.
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_text()
            try:
                if self.get("/readyz").status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"gunicorn not ready after {START_TIMEOUT}s:\n{self.log_text()}")

    def wait_workers_started(self, workers: int) -> None:
        """Until `workers` workers have run the app's startup (a booting one accepts nothing)."""
        deadline = time.monotonic() + START_TIMEOUT
        while self.log_text().count("Application startup complete") < workers:
            assert time.monotonic() < deadline, self.log_text()
            time.sleep(0.1)

    def get(self, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    def post_analyze(self, token: str) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        body = json.dumps({"text": "From the service's own .env."})
        headers = {"X-Token": token, "Content-Type": "application/json"}
        connection.request("POST", "/v1/analyze", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        return response

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self.output.close()

    def kill(self) -> None:
        """Whatever is left of this server's process group (nothing, after a clean stop)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.output.close()

    def log_text(self) -> str:
        return self.output_path.read_text()

    def worker_pids(self) -> list[int]:
        """The master's current workers (Linux /proc)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[type[Gunicorn]]:
    started: list[Gunicorn] = []

    class Tracked(Gunicorn):
        def __init__(self, tmp: Path, env: dict[str, str]) -> None:
            super().__init__(tmp, env)
            started.append(self)

    yield Tracked
    for server in started:
        server.kill()


def read_log_lines(root: Path) -> list[str]:
    lines: list[str] = []
    for path in sorted(root.rglob("*.log*")):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        lines += data.decode().splitlines()
    return lines


def access_lines(logs_dir: Path) -> list[dict[str, Any]]:
    """The access lines of API requests (not probes) in every log file, rotated and compressed ones too."""
    records = [json.loads(line) for line in read_log_lines(logs_dir)]
    return [r for r in records if r["message"].startswith(('access "GET /version ', 'access "POST /v1/'))]


def assert_one_line_per_answered_request(access: list[dict[str, Any]], answered: list[str]) -> None:
    counts = Counter(r["request_id"] for r in access)
    lost = set(answered) - set(counts)
    duplicated = {rid: n for rid, n in counts.items() if n > 1}
    assert not lost, f"{len(lost)} answered requests have no access line"
    assert not duplicated, f"duplicated access lines: {duplicated}"
    assert set(counts) == set(answered), "access lines of requests that were never answered"


def file_logging_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """JSON lines into files under tmp_path/logs, rotated every 8 KB and compressed."""
    logs_dir = str(tmp_path / "logs")
    options = {"SAVE": "true", "JSON_LOG": "true", "LOG_SAVE_PATH": logs_dir, "ROTATION": "8 KB"}
    return server_env(tmp_path, **options, RETENTION="10000", COMPRESSION="gz", **settings)


def test_every_access_line_exactly_once_across_workers_rotation_and_recycling(
    tmp_path: Path, start: type[Gunicorn]
) -> None:
    requests, clients, max_requests = 400, 8, 60
    server = start(tmp_path, file_logging_env(tmp_path, WORKERS="3", MAX_REQUESTS=str(max_requests)))
    server.wait_ready()
    failed: list[str] = []

    def call(number: int) -> str:
        # A new connection per request: a worker that stops must still answer what it has accepted.
        request_id = f"rot-{number:05d}"
        try:
            assert server.get("/version", {"X-Request-ID": request_id}).status == 200
        except OSError as error:
            failed.append(f"{request_id}: {error!r}")
        return request_id

    with ThreadPoolExecutor(max_workers=clients) as pool:
        answered = list(pool.map(call, range(requests)))
    assert server.stop() == 0
    assert not failed, failed

    access = access_lines(tmp_path / "logs")
    assert_one_line_per_answered_request(access, answered)
    assert len(access) == requests
    # The scenario really happened: files rotated and compressed, and every worker was recycled at its
    # limit (MAX_REQUESTS + up to 10 % jitter), give or take one last request per open connection.
    files = list((tmp_path / "logs").rglob("*.log*"))
    assert sum(path.suffix == ".gz" for path in files) >= 3
    per_worker = Counter(r["process"] for r in access)
    assert max(per_worker.values()) <= max_requests * 11 // 10 + clients, per_worker
    assert len(per_worker) >= requests // (max_requests * 11 // 10 + clients) + 1, per_worker
    print(f"{requests} requests, {len(per_worker)} workers, {len(files)} log files")


class KeepAliveLoad:
    """`clients` threads, each on its own keep-alive connection, sending GET /version and POST /v1/analyze.

    Each client sends until `total` requests are answered in all, `stop()` is called, or the server refuses
    to connect (it has stopped). A request that was sent and got no response (reset, closed, timed out) is
    `lost`; one that got a status other than 200 is `wrong`. A response with `Connection: close` makes the
    client reconnect.
    """

    def __init__(self, port: int, clients: int, total: int) -> None:
        self.port = port
        self.total = total
        self.answered: list[str] = []
        self.lost: list[str] = []
        self.wrong: list[str] = []
        self.closes = 0
        self.refused = 0
        self._stopped = False
        self._lock = threading.Lock()
        self._deadline = time.monotonic() + LOAD_TIMEOUT
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(clients)]
        for thread in self._threads:
            thread.start()

    def wait_answered(self, count: int) -> None:
        while len(self.answered) < count:
            assert time.monotonic() < self._deadline, f"only {len(self.answered)} requests answered"
            assert all(thread.is_alive() for thread in self._threads), "a client stopped early"
            time.sleep(0.01)

    def stop(self) -> None:
        self._stopped = True

    def join(self) -> None:
        for thread in self._threads:
            thread.join(max(0.0, self._deadline - time.monotonic()) + 1)
        assert not any(thread.is_alive() for thread in self._threads), "load did not finish in time"

    def _client(self, client: int) -> None:
        body = json.dumps({"text": "Keep-alive clients. 연결을 유지한다.", "top_k": 2})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        number = 0
        while len(self.answered) < self.total and not self._stopped and time.monotonic() < self._deadline:
            number += 1
            request_id = f"load-{client:02d}-{number:05d}"
            headers = {"X-Request-ID": request_id, "X-Token": TOKEN, "Content-Type": "application/json"}
            try:
                if number % 2:
                    connection.request("GET", "/version", headers=headers)
                else:
                    connection.request("POST", "/v1/analyze", body=body, headers=headers)
            except ConnectionRefusedError:
                with self._lock:
                    self.refused += 1
                break
            except OSError as error:  # the request did not go out whole on an open connection
                self._record(self.lost, f"{request_id}: {error!r}")
                connection.close()
                continue
            try:
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                self._record(self.lost, f"{request_id}: {error!r}")
                connection.close()
                continue
            if response.status != 200:
                self._record(self.wrong, f"{request_id}: {response.status}")
            else:
                self._record(self.answered, request_id)
            if response.will_close:
                with self._lock:
                    self.closes += 1
        connection.close()

    def _record(self, into: list[str], item: str) -> None:
        with self._lock:
            into.append(item)


@pytest.mark.parametrize("event", ["recycling", "hup", "sigterm"])
def test_no_request_lost_and_one_access_line_each_under_keep_alive_load(
    tmp_path: Path, start: type[Gunicorn], event: str
) -> None:
    total, clients = 400 if event == "recycling" else 5000, 8
    max_requests = "50" if event == "recycling" else "0"
    server = start(tmp_path, file_logging_env(tmp_path, WORKERS="2", MAX_REQUESTS=max_requests))
    server.wait_ready()
    # Both workers serve before the load starts: at SIGTERM, a worker still booting keeps the listening
    # socket open without accepting, and the connections queued in it are reset when it exits.
    server.wait_workers_started(2)
    first_workers = server.worker_pids()
    load = KeepAliveLoad(server.port, clients, total)
    if event == "hup":
        # Each reload while the old workers serve, then load on the new ones: requests are fast, new workers
        # take a while to boot, so the load is stopped by the test, not by a count.
        for started in (4, 6):
            load.wait_answered(len(load.answered) + 100)
            server.process.send_signal(signal.SIGHUP)
            server.wait_workers_started(started)
        load.wait_answered(len(load.answered) + 100)
        load.stop()
    elif event == "sigterm":
        load.wait_answered(150)
        server.process.send_signal(signal.SIGTERM)
    load.join()
    assert server.stop() == 0
    assert not load.lost, f"{len(load.lost)} requests lost: {load.lost[:5]}"
    assert not load.wrong, load.wrong[:5]
    if event == "sigterm":
        assert load.refused >= 1  # every client ran until the server was gone
        assert len(load.answered) >= 150
    else:
        assert load.refused == 0
        assert len(load.answered) >= (total if event == "recycling" else 300)

    access = access_lines(tmp_path / "logs")
    assert_one_line_per_answered_request(access, load.answered)
    writers = {r["process"] for r in access}
    # The event happened while the load ran: workers were replaced, or (SIGTERM) the connections closed.
    if event == "sigterm":
        assert load.closes >= 1
    else:
        assert writers - set(first_workers), "no new worker answered: nothing was recycled or reloaded"
        assert len(writers) > len(first_workers)
    print(
        f"{event}: {len(load.answered)} answered, {load.closes} closed by the server, "
        f"{load.refused} refused after the stop, {len(writers)} workers"
    )


def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path, start: type[Gunicorn]) -> None:
    server = start(tmp_path, server_env(tmp_path, WORKERS="2", GRACEFUL_TIMEOUT="20"))
    server.wait_ready()
    body = json.dumps({"text": "Requests in flight finish. 진행 중인 요청은 끝난다."}).encode()
    head = (
        f"POST /v1/analyze HTTP/1.1\r\nHost: t\r\nX-Token: {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    connections = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(6)]
    try:
        for connection in connections:
            connection.sendall(head + body[:10])  # the request is in flight: the app waits for the rest
        time.sleep(1.0)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert server.process.poll() is None, "gunicorn exited with requests in flight"
        replies: list[tuple[int, bytes]] = []
        for connection in connections:
            connection.sendall(body[10:])
            replies.append(read_http_response(connection))
    finally:
        for connection in connections:
            connection.close()
    assert [status for status, _ in replies] == [200] * len(connections)
    assert all(json.loads(payload)["sentences"] == 2 for _, payload in replies)
    assert server.stop() == 0
    assert server.log_text().count('access "POST /v1/analyze HTTP/1.1" 200') == len(connections)


def test_started_from_another_directory_reads_the_services_own_env_file(tmp_path: Path) -> None:
    service = tmp_path / "service"
    shutil.copytree(PROJECT_DIR / "app", service / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT_DIR / "gunicorn.conf.py", service)
    port = free_port()
    prod_token = "prod-token-from-the-env-file"
    (service / ".env").write_text(
        f"STATUS=prod\nX_TOKEN={prod_token}\nHOST=127.0.0.1\nPORT={port}\nWORKERS=1\nLEVEL=INFO\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("STATUS=dev\nPORT=1\n")  # the working directory's .env: ignored
    env = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG", "TMPDIR"}}
    server = Gunicorn(elsewhere, env, config=service / "gunicorn.conf.py", port=port)
    try:
        server.wait_ready()
        assert server.get("/docs").status == 404  # prod, from the service's .env
        assert server.post_analyze(prod_token).status == 200
        assert server.stop() == 0
    finally:
        server.kill()
    assert f"settings from the environment and {service / '.env'}" in server.log_text()


def test_oversized_body_413_reaches_clients_that_send_the_whole_body_first(
    tmp_path: Path, start: type[Gunicorn]
) -> None:
    server = start(tmp_path, server_env(tmp_path, WORKERS="1"))
    server.wait_ready()
    body = b'{"text": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    url = f"http://127.0.0.1:{server.port}/v1/analyze"
    headers = {"X-Token": TOKEN, "Content-Type": "application/json"}
    # urllib: sends `Connection: close` and the whole body, then reads.
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30)
    assert caught.value.code == 413
    assert json.loads(caught.value.read())["status"] == 413
    # A keep-alive client that writes everything before it reads (as requests does).
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        head = f"POST /v1/analyze HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n"
        raw.sendall(head.encode() + body)
        status, payload = read_http_response(raw)
        assert status == 413
        assert json.loads(payload)["detail"] == "request body is larger than 262144 bytes"
        assert raw.recv(1) == b""  # then the server closed the connection, cleanly
    assert server.stop() == 0


def test_head_and_options_on_the_wire(tmp_path: Path, start: type[Gunicorn]) -> None:
    server = start(tmp_path, server_env(tmp_path, WORKERS="1"))
    server.wait_ready()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as raw:
        # Both on one keep-alive connection: a HEAD response carries no content, so the next one parses.
        # (One request at a time: each HTTPResponse reads the socket through a buffer of its own.)
        raw.sendall(b"HEAD /version HTTP/1.1\r\nHost: t\r\n\r\n")
        head = http.client.HTTPResponse(raw, method="HEAD")
        head.begin()
        assert head.status == 200
        assert int(head.headers["content-length"]) > 0
        assert head.read() == b""
        raw.sendall(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")
        options = http.client.HTTPResponse(raw, method="OPTIONS")
        options.begin()
        assert options.status == 204
        assert options.headers["allow"] == "GET, HEAD, OPTIONS, POST"  # the server's, RFC 9110 9.3.7
    assert server.stop() == 0


def test_hup_with_a_bad_setting_keeps_serving_with_the_settings_read_before(
    tmp_path: Path, start: type[Gunicorn]
) -> None:
    env_file = tmp_path / "service.env"
    env_file.write_text("LEVEL=INFO\n")
    server = start(tmp_path, server_env(tmp_path, WORKERS="1", ENV_FILE=str(env_file)))
    server.wait_ready()
    env_file.write_text("LEVEL=loud\n")  # the environment sets STATUS and the rest: they would win
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + START_TIMEOUT
    while "keeping the ones read before" not in server.log_text():
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.1)
    time.sleep(1.0)  # the reload's new worker boots
    assert server.process.poll() is None
    assert server.get("/livez").status == 200
    assert server.stop() == 0


def read_http_response(connection: socket.socket) -> tuple[int, bytes]:
    response = http.client.HTTPResponse(connection)
    response.begin()
    return response.status, response.read()


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("STATUS", "staging", "invalid STATUS: Input should be 'dev' or 'prod' (got 'staging')"),
        ("COMPRESSION", "rar", "invalid COMPRESSION: Input should be 'gz', 'bz2', 'xz', 'lzma', 'tar', "),
    ],
)
def test_bad_setting_stops_gunicorn_with_one_line(
    tmp_path: Path, variable: str, value: str, line: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(PROJECT_DIR / "gunicorn.conf.py")],
        cwd=tmp_path,
        env=server_env(tmp_path, **{variable: value}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(line)


def test_prod_without_token_stops_uvicorn_with_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path, STATUS="prod", X_TOKEN="change-me", PYTHONPATH=str(PROJECT_DIR))
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", env["PORT"], "--host", "127.0.0.1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "invalid settings: X_TOKEN must be set to a real secret of at least 16 characters when STATUS=prod\n"
    )
    assert "change-me" not in result.stderr + result.stdout
