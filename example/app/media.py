"""What request bodies the service reads: JSON (RFC 8259) without a content coding; others get a 415."""

from typing import Final

NOT_JSON: Final = "the request body must be JSON: Content-Type application/json"
ENCODED: Final = "the request body must not have a content coding (Content-Encoding)"
# Methods whose requests carry content the service would read (RFC 9110 section 9.3).
WITH_CONTENT: Final = frozenset({"POST", "PUT", "PATCH"})


def is_json(content_type: bytes) -> bool:
    """True for application/json and any application/*+json (RFC 6839), parameters ignored, any case."""
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


def unsupported_content(headers: dict[bytes, bytes]) -> tuple[str, dict[str, str] | None] | None:
    """Why a request's content is refused with 415 (RFC 9110 section 15.5.16), and the headers to send.

    None when there is no content, or it is JSON without a content coding. Without this FastAPI parses
    content of any declared type as JSON, or blames the content itself with a 422, and reads a gzip body
    as if it were plain. A content coding gets `Accept-Encoding: identity` (RFC 9110 section 12.5.3).
    """
    if headers.get(b"content-length", b"0") == b"0" and b"transfer-encoding" not in headers:
        return None  # no content: nothing to refuse
    if not is_json(headers.get(b"content-type", b"")):
        return NOT_JSON, None
    if headers.get(b"content-encoding", b"identity").strip().lower() not in {b"", b"identity"}:
        return ENCODED, {"Accept-Encoding": "identity"}
    return None
