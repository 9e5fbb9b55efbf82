"""One pure-ASGI middleware for what every request needs: request id, methods, body limit, access line, 500s.

Pure ASGI instead of `BaseHTTPMiddleware`: no extra task and memory stream per request, and it sits
outside Starlette's exception handling, so it also stamps the request id on the 500 it produces for an
unhandled error.
"""

import os
import re
import time
from typing import Final

from loguru import logger
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.media import WITH_CONTENT, unsupported_content
from app.methods import KNOWN_METHODS, SERVER_METHODS, allowed_methods
from app.problems import instance_of, problem_response

REQUEST_ID_HEADER: Final = b"x-request-id"
# A 413 closes the connection (RFC 9110 section 15.5.14): the rest of an oversized body is not worth reading
# to keep the connection; the server discards what still arrives before it closes (app/workers.py).
CLOSE: Final = {"Connection": "close"}
# An incoming id is kept only if it is short and plain, so a client cannot inject text into log lines.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def pick_request_id(raw: bytes | None) -> str:
    if raw is not None:
        candidate = raw.decode("latin-1")
        if _VALID_REQUEST_ID.match(candidate):
            return candidate
    # 128 random bits as 32 hex digits, the same as uuid4().hex without building a UUID object.
    return os.urandom(16).hex()


class RequestContextMiddleware:
    """Request id in, out and on every log line; 413 over `max_body_bytes`; one access line; problem 500s.

    And the methods every route shares (RFC 9110 section 9): HEAD is answered as GET without the content
    (the server drops it), OPTIONS with 204 and `Allow` (`OPTIONS *`: the server's methods), and a method
    outside RFC 9110 and RFC 5789 with a 501 problem.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        routes: list[BaseRoute],
        quiet_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # The app's routes (the list itself, so routes included later count), for OPTIONS.
        self.routes = routes
        # Successful requests to these paths (the probes) get no access line: an orchestrator calls them
        # every few seconds per instance, and their lines would drown the rest. Failures are still logged.
        self.quiet_paths = quiet_paths
        self.too_large = f"request body is larger than {max_body_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = pick_request_id(headers.get(REQUEST_ID_HEADER))
        id_header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        status = 500
        started = time.perf_counter()
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                # The app never sets this header itself, so it is appended, not searched for and replaced.
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # An HTTPException, because FastAPI turns any other error while reading the body into
                    # a 400; the app's handler makes it a problem+json 413.
                    raise HTTPException(413, detail=self.too_large, headers=CLOSE)
            return message

        method: str = scope["method"]
        with logger.contextualize(request_id=request_id):
            try:
                early = self.answer_before_the_app(scope, headers, request_id)
                if early is not None:
                    await early(scope, receive, send_with_id)
                else:
                    # The routes declare GET; the server sends HEAD's headers and drops the content.
                    app_scope = {**scope, "method": "GET"} if method == "HEAD" else scope
                    await self.app(app_scope, receive_limited, send_with_id)
            except Exception:
                logger.exception("unhandled error in {} {}", scope["method"], path)
                if response_started:
                    raise
                response = problem_response(
                    500,
                    detail="an unexpected error occurred",
                    request_id=request_id,
                    instance=instance_of(path),
                )
                await response(scope, receive, send_with_id)
            finally:
                if status >= 400 or path not in self.quiet_paths:
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    version = scope.get("http_version", "1.1")
                    # Formatted here, with no arguments for loguru: it then skips its own `str.format`
                    # of the message, and braces in the path stay text.
                    logger.info(f'access "{method} {path} HTTP/{version}" {status} {elapsed_ms:.1f}ms')

    def answer_before_the_app(
        self, scope: Scope, headers: dict[bytes, bytes], request_id: str
    ) -> Response | None:
        """The response for what the app never sees: unknown methods, OPTIONS, content it cannot read.

        The content checks (413 by `Content-Length`, 415 unless JSON) come before routing, so a POST to an
        unknown path with such content gets them rather than a 404: every route of the service reads JSON.
        """
        method: str = scope["method"]

        def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
            instance = instance_of(scope["path"])
            return problem_response(
                status, detail=detail, request_id=request_id, instance=instance, headers=headers
            )

        if method in {"GET", "POST"}:  # the hot path: only the content checks apply
            pass
        elif method not in KNOWN_METHODS:
            return problem(501, f"the method {method} is not implemented by this server")
        elif method == "OPTIONS" and (allow := self.allow(scope)):
            return Response(status_code=204, headers={"Allow": allow})
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            # Refused before the app reads a byte of it.
            return problem(413, self.too_large, CLOSE)
        if method in WITH_CONTENT and (refusal := unsupported_content(headers)):
            return problem(415, *refusal)
        return None

    def allow(self, scope: Scope) -> str:
        """The `Allow` value for an OPTIONS request; empty when no route has its path (then a 404)."""
        methods = SERVER_METHODS if scope["path"] == "*" else allowed_methods(self.routes, scope)
        return ", ".join(methods)
