"""X-Token header auth for the domain routes."""

import secrets
from typing import Annotated, Final

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

TOKEN_HEADER: Final = "X-Token"  # noqa: S105 - a header name, not a secret
UNAUTHORIZED_DETAIL: Final = "missing or invalid X-Token header"

# auto_error=False: a missing and a wrong token must get the same answer, raised below.
api_key_header = APIKeyHeader(name=TOKEN_HEADER, auto_error=False, description="the service's API token")


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison, on bytes so that non-ASCII input cannot raise."""
    return secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


async def require_token(request: Request, token: Annotated[str | None, Security(api_key_header)]) -> None:
    """401 with `WWW-Authenticate` unless the X-Token header equals the configured X_TOKEN.

    `async` although it awaits nothing: a plain `def` dependency would cost a thread-pool hop per request.
    """
    expected = request.app.state.settings.x_token
    if token is None or expected is None or not token_matches(token, expected.get_secret_value()):
        raise HTTPException(
            status_code=401, detail=UNAUTHORIZED_DETAIL, headers={"WWW-Authenticate": "APIKey"}
        )


TokenDep = Depends(require_token)
