"""The gunicorn worker class: uvicorn's, stopping without losing a request (recycling, HUP reload, SIGTERM).

uvicorn alone loses requests when a worker stops: it checks `max_requests` only on its 0.1 s tick (a busy
worker overshoots the limit by whatever it serves in between, so recycling is late or, in a short burst, never
happens), and at shutdown it closes every connection without a request in progress at once. A keep-alive
client that has just sent its next request on such a connection (or a client whose request bytes the event
loop has not read yet) gets a reset for a request the app never saw, and a POST is not resent.

Here a stopping worker drains instead (RFC 9112 section 9.6, "Tear-down"): it stops accepting, answers the
next request on every open connection with `Connection: close` and closes it after the response, and closes a
connection that stays idle only after the keep-alive timeout, as it would anyway. The request limit is counted
as requests arrive, so recycling starts at exactly the request that reaches it.

A connection closed while its request body is still arriving (a 413, or an answer before the body was read)
is closed the way nginx's lingering close does it: send the response and a FIN, read and discard what the
client still sends (up to `LINGER_SECONDS` and `LINGER_MAX_BYTES`), then close. Closing a socket with unread
data makes the kernel send a reset, and a client that sends its whole body before reading (urllib, requests)
would get that reset instead of the response.
"""

import asyncio
import functools
import socket
import sys
from collections.abc import Callable
from typing import Any, Final, cast

from gunicorn.arbiter import Arbiter
from loguru import logger
from uvicorn import Config, Server
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState
from uvicorn_worker import UvicornWorker  # pyright: ignore[reportMissingTypeStubs]

# At most this many queued connections are taken over per listening socket when a worker starts draining.
MAX_QUEUED_ACCEPTS: Final = 1024
LINGER_SECONDS: Final = 5.0
LINGER_MAX_BYTES: Final = 64 * 1024 * 1024


class LingeringTransport:
    """A connection's transport as uvicorn sees it: `close()` asks the protocol, which may linger first."""

    def __init__(self, transport: asyncio.Transport, protocol: "DrainingProtocol") -> None:
        self._transport = transport
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    # The calls made for every request, defined here rather than looked up through __getattr__.
    def write(self, data: bytes) -> None:
        self._transport.write(data)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def close(self) -> None:
        self._protocol.close_connection()

    def is_closing(self) -> bool:
        return self._protocol.lingering or self._transport.is_closing()


class DrainState(ServerState):
    """uvicorn's per-process server state, plus the request budget and whether the worker is draining."""

    def __init__(self, request_limit: int | None, begin_drain: Callable[[], None]) -> None:
        super().__init__()
        self.request_limit = request_limit
        self.started_requests = 0
        self.draining = False
        self.begin_drain = begin_drain

    def request_started(self) -> bool:
        """Count a request that has arrived; True when its connection must close after the response."""
        self.started_requests += 1
        limit = self.request_limit
        if not self.draining and limit is not None and self.started_requests >= limit:
            logger.info("recycling this worker after {} requests (MAX_REQUESTS)", self.started_requests)
            self.begin_drain()
        return self.draining


class DrainingProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that closes a connection only after answering, when the worker stops."""

    server_state: DrainState

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.raw_transport = transport
        self.lingering = False
        self.discarded = 0
        super().connection_made(cast("asyncio.Transport", LingeringTransport(transport, self)))
        if self.server_state.draining:
            self._close_when_idle()

    def data_received(self, data: bytes) -> None:
        if not self.lingering:
            super().data_received(data)
            return
        self.discarded += len(data)
        if self.discarded > LINGER_MAX_BYTES:
            self.raw_transport.close()

    def close_connection(self) -> None:
        """Close now, or (request body still arriving) send a FIN, discard the rest, and close after it."""
        cycle = cast("RequestResponseCycle | None", self.cycle)
        if self.lingering:
            return
        if cycle is None or not cycle.more_body or self.raw_transport.is_closing():
            self.raw_transport.close()
            return
        self.lingering = True
        self.raw_transport.write_eof()  # after the response: the client reads it, then EOF
        self.raw_transport.resume_reading()
        # The client's own close ends it sooner: eof_received lets asyncio close the transport.
        self.loop.call_later(LINGER_SECONDS, self.raw_transport.close)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # uvicorn types the cycle as always set; it is None until the connection's first request.
        cycle = cast("RequestResponseCycle | None", self.cycle)
        # An upgrade request returns before making a cycle for itself; only a new cycle is this request's.
        if cycle is not None and cycle.scope is self.scope and self.server_state.request_started():
            cycle.keep_alive = False

    def shutdown(self) -> None:
        """Called by the server when it stops: never close a connection a request may be arriving on."""
        cycle = cast("RequestResponseCycle | None", self.cycle)
        if cycle is None or cycle.response_complete:
            # Idle: the next request (perhaps already on its way) is answered with `Connection: close`.
            self._close_when_idle()
        elif not cycle.response_started:
            cycle.keep_alive = False
        # Otherwise the headers already promised keep-alive: the connection's next request gets the close.

    def _close_when_idle(self) -> None:
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )


class DrainingServer(Server):
    """uvicorn's server that drains (see the module docstring) and recycles at exactly `request_limit`."""

    def __init__(self, config: Config, request_limit: int | None = None) -> None:
        super().__init__(config)
        self.drain_state = DrainState(request_limit, self.begin_drain)
        self.server_state = self.drain_state
        self.listeners: list[socket.socket] = []
        self.accepting: set[asyncio.Task[Any]] = set()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.listeners = sockets or []
        await super().startup(sockets)

    def begin_drain(self) -> None:
        """Stop accepting (gunicorn's master and the other workers keep the socket) and start stopping.

        The connections already waiting in the listening socket's queue are accepted and served first: when
        the last process closes the socket (SIGTERM), the kernel resets every one still queued, after the
        client may have sent its request.
        """
        if self.drain_state.draining:
            return
        self.drain_state.draining = True
        self.accept_queued()
        for server in getattr(self, "servers", ()):
            server.close()
        self.should_exit = True

    def accept_queued(self) -> None:
        loop = asyncio.get_running_loop()
        protocol_class: Any = self.config.http_protocol_class  # typed as asyncio.Protocol by uvicorn
        protocol = functools.partial(
            protocol_class,
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
        )
        for listener in self.listeners:
            for _ in range(MAX_QUEUED_ACCEPTS):
                try:
                    connection, _address = listener.accept()
                except OSError:  # BlockingIOError: the queue is empty
                    break
                connection.setblocking(False)
                task = loop.create_task(loop.connect_accepted_socket(protocol, connection))
                self.accepting.add(task)
                task.add_done_callback(self.accepting.discard)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.begin_drain()
        await super().shutdown(sockets)


class Worker(UvicornWorker):
    # uvloop (when installed) and the draining httptools protocol; no uvicorn access line, which would
    # duplicate ours without the request id and cost a logging call per request. Not a ClassVar: the base
    # class declares it as a plain class attribute.
    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": DrainingProtocol, "access_log": False}  # noqa: RUF012

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # gunicorn's max_requests (with its jitter) is counted per arriving request by DrainState, not on
        # uvicorn's tick; gunicorn means "never" by sys.maxsize.
        limit: int = self.config.limit_max_requests or sys.maxsize
        self.request_limit = None if limit >= sys.maxsize else limit
        self.config.limit_max_requests = None

    async def _serve(self) -> None:
        # The base class's _serve, with DrainingServer in place of uvicorn's Server.
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config, request_limit=self.request_limit)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
