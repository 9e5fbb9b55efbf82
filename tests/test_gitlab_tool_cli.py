"""The installed entry points, as a user runs them: real processes, a real local HTTP server, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

import pytest

from scripts.gitlab_tool.errors import ExitCode
from tests.gitlab_api import TOKEN, closed_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "process-level-secret-value"


class _Recorded(BaseHTTPRequestHandler):
    """Answers every request with the status and GitLab error body the test set on the server."""

    def do_GET(self) -> None:
        status, body = cast(_Server, self.server).answer
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the tool's output, not the server's."""


class _Server(ThreadingHTTPServer):
    answer: tuple[int, dict[str, str]] = (200, {})


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def tool(*argv: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GITLAB_URL": url, "GITLAB_TOKEN": TOKEN, "X_TOKEN": SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "scripts.gitlab_tool", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    for secret in (SECRET, TOKEN):
        assert secret not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


def test_wrapper_help_lists_commands_and_exit_codes(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "gitlab-tool"), "--help"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    for text in ("bootstrap", "lint", "new", "GITLAB_URL + GITLAB_TOKEN", "4  authentication failed (401)"):
        assert text in done.stdout


@pytest.mark.parametrize(
    ("status", "body", "code", "line"),
    [
        (401, {"message": "401 Unauthorized"}, ExitCode.AUTH, "error: authentication failed (401) while reading"),
        (403, {"message": "403 Forbidden"}, ExitCode.PERMISSION, "error: permission denied (403) while reading"),
        (404, {"message": "404 Project Not Found"}, ExitCode.NOT_FOUND, "error: not found (404) while reading"),
    ],
)
def test_http_errors_are_one_line_and_an_exit_code(
    server: _Server, status: int, body: dict[str, str], code: int, line: str
) -> None:
    server.answer = (status, body)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    done = tool("bootstrap", "acme/billing", "--secret", "X_TOKEN", url=url)
    assert done.returncode == code
    assert done.stdout == ""
    [only] = done.stderr.splitlines()
    assert only.startswith(line)


def test_unreachable_gitlab_is_one_line() -> None:
    port = closed_port()
    done = tool("lint", str(ROOT / "pyproject.toml"), "--project", "acme/billing", url=f"http://127.0.0.1:{port}")
    assert done.returncode == ExitCode.NETWORK
    assert done.stderr.splitlines() == [
        f"error: cannot reach http://127.0.0.1:{port} while linting through acme/billing: connection refused"
    ]
