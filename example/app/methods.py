"""Request methods (RFC 9110 section 9): which ones the service knows, and which ones a path allows."""

from collections.abc import Iterable
from typing import Final

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

# The methods RFC 9110 defines, and PATCH (RFC 5789). Any other is "unrecognized": 501 (section 9.1).
KNOWN_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
# What the server as a whole supports: the answer to `OPTIONS *` (section 9.3.7).
SERVER_METHODS: Final = ("GET", "HEAD", "OPTIONS", "POST")
# The methods a route of this app can declare; HEAD and OPTIONS are answered for every route.
_ROUTABLE: Final = ("DELETE", "GET", "PATCH", "POST", "PUT")


def allowed_methods(routes: Iterable[BaseRoute], scope: Scope) -> list[str]:
    """The methods the routes allow for the request's path, sorted, HEAD with GET and OPTIONS always added.

    Empty when no route has the path (a 404, not a 405). Each method that a route could serve is tried in
    turn through the routes' own matching (so included routers count and several routes may share a path;
    Starlette's own 405 names the first route's methods only).
    """
    methods = {
        method
        for method in _ROUTABLE
        if any(route.matches({**scope, "method": method})[0] is Match.FULL for route in routes)
    }
    if not methods:
        return []
    if "GET" in methods:
        methods.add("HEAD")  # RFC 9110 section 9.3.2: HEAD is GET without the content
    methods.add("OPTIONS")
    return sorted(methods)
