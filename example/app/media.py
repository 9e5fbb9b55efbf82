"""What request bodies the API reads: JSON (RFC 8259) without a content coding; others get a 415."""

from typing import Final

from fastapi import Depends, HTTPException, Request

NOT_JSON: Final = "the request body must be JSON: Content-Type application/json"
ENCODED: Final = "the request body must not have a content coding (Content-Encoding)"


def is_json(content_type: str) -> bool:
    """True for application/json and any application/*+json (RFC 6839), parameters ignored, any case."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def require_json_body(request: Request) -> None:
    """415 (RFC 9110 section 15.5.16) unless the body is declared JSON and not compressed.

    Without this FastAPI parses a body of any declared type as JSON, or rejects it with a 422 that blames the
    content, and reads a gzip body as if it were plain. A content coding gets `Accept-Encoding: identity`
    (RFC 9110 section 12.5.3). `async` although it awaits nothing: no thread-pool hop per request.
    """
    if not is_json(request.headers.get("content-type", "")):
        raise HTTPException(415, detail=NOT_JSON)
    if request.headers.get("content-encoding", "identity").strip().lower() not in {"", "identity"}:
        raise HTTPException(415, detail=ENCODED, headers={"Accept-Encoding": "identity"})


JsonBodyDep = Depends(require_json_body)
