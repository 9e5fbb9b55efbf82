"""X-Token header auth for the domain routes."""

import secrets
from typing import Final

from fastapi import Depends, HTTPException
from fastapi.security import APIKeyHeader
from starlette.requests import HTTPConnection

TOKEN_HEADER: Final = "X-Token"  # noqa: S105 - a header name, not a secret
UNAUTHORIZED_DETAIL: Final = "missing or invalid X-Token header"


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, on bytes so that non-ASCII input cannot raise."""
    return secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class TokenHeader(APIKeyHeader):
    """The X-Token scheme and its check in one dependency.

    One dependency instead of a check that depends on `APIKeyHeader`: FastAPI resolves each level of
    dependencies anew on every request. As an `APIKeyHeader` it still documents the scheme in OpenAPI.
    """

    async def __call__(self, request: HTTPConnection) -> None:
        """401 with `WWW-Authenticate` unless the X-Token header equals the configured X_TOKEN.

        A missing and a wrong token get the same answer. `async` although it awaits nothing: a plain
        `def` dependency would cost a thread-pool hop per request.
        """
        token = request.headers.get(TOKEN_HEADER)
        expected = request.app.state.settings.x_token
        if token is None or expected is None or not token_matches(token, expected.get_secret_value()):
            raise HTTPException(
                status_code=401, detail=UNAUTHORIZED_DETAIL, headers={"WWW-Authenticate": "APIKey"}
            )


# The scheme keeps the name OpenAPI has always shown for it.
require_token = TokenHeader(
    name=TOKEN_HEADER, scheme_name="APIKeyHeader", auto_error=False, description="the service's API token"
)
TokenDep = Depends(require_token)
