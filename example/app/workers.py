"""The gunicorn worker class: uvicorn's, without its access log, pausing before it closes idle connections."""

import asyncio
import socket
import sys
from typing import Any, Final

from gunicorn.arbiter import Arbiter
from uvicorn import Server
from uvicorn_worker import UvicornWorker  # pyright: ignore[reportMissingTypeStubs]

# How long a stopping worker lets just-accepted connections deliver their request before it closes the idle
# ones; it delays each worker's exit (max_requests recycling, SIGTERM) by this much.
SHUTDOWN_PAUSE: Final = 0.1


class DrainingServer(Server):
    """uvicorn's server, closing its listeners a moment before it closes connections that look idle.

    uvicorn's shutdown closes every connection without a request in progress at once. A connection accepted
    just before, whose request bytes the event loop has not read yet, looks idle too: it is closed with the
    request unread and the client sees a reset (seen in tests/test_gunicorn_conf.py at worker recycling).
    After the pause such a request is in progress, and uvicorn lets it finish.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        await asyncio.sleep(SHUTDOWN_PAUSE)
        await super().shutdown(sockets)


class Worker(UvicornWorker):
    # uvloop and httptools when installed ("auto"); no uvicorn access line, which would duplicate ours
    # without the request id and cost a logging call per request. Not a ClassVar: the base class
    # declares it as a plain class attribute.
    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": "auto", "access_log": False}  # noqa: RUF012

    async def _serve(self) -> None:
        # The base class's _serve, with DrainingServer in place of uvicorn's Server.
        self.config.app = self.wsgi
        server = DrainingServer(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
