"""A fault-injecting HTTP proxy in front of a local registry: the way a test makes a real push fail half-way.

`FaultProxy(upstream, fails)` listens on 127.0.0.1 and forwards every request to `upstream` ("127.0.0.1:PORT"),
except those for which `fails(method, path)` is true: they are answered with HTTP 503 (a transient registry
error) and never reach the registry. Each request is recorded in `requests` as "METHOD PATH" with the status sent.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

# Hop-by-hop headers (RFC 9110 section 7.6.1) are the proxy's own business; the body is re-sent with a length.
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class FaultProxy:
    """A running proxy for the duration of a `with` block; `host` is what clients use as the registry."""

    def __init__(self, upstream: str, fails: Callable[[str, str], bool]) -> None:
        self.upstream = upstream
        self.fails = fails
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                del format, args

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in {b"\r\n", b"\n", b""}:
                        pass
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length", "0")))

            def _forward(self) -> None:
                body = self._body()
                if proxy.fails(self.command, self.path):
                    proxy.requests.append(f"{self.command} {self.path} 503")
                    message = b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the test"}]}'
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(message)))
                    self.end_headers()
                    self.wfile.write(message)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=60)
                try:
                    # Header by header: a client repeats some (Accept, once per manifest type it takes).
                    upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for key, value in self.headers.items():
                        if key.lower() not in _HOP and key.lower() != "content-length":
                            upstream.putheader(key, value)
                    upstream.putheader("Content-Length", str(len(body)))
                    upstream.endheaders(body)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                proxy.requests.append(f"{self.command} {self.path} {answer.status}")
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    # A HEAD answer's length is the resource's, which a registry client reads as the blob size.
                    if key.lower() not in _HOP and (key.lower() != "content-length" or self.command == "HEAD"):
                        self.send_header(key, value.replace(proxy.upstream, proxy.host))
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        return Handler
