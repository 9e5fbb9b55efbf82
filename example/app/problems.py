"""RFC 9457 problem details (`application/problem+json`) for every 4xx and 5xx the service sends."""

from http import HTTPStatus
from typing import Any, Final
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.methods import allowed_methods

PROBLEM_JSON: Final = "application/problem+json"
VALIDATION_TYPE: Final = "urn:problem-type:validation-error"
ABOUT_BLANK: Final = "about:blank"


class FieldError(BaseModel):
    """One failed check of a request; the offending input is never echoed back."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, with the request id as an extension member."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(ABOUT_BLANK, description="URI reference identifying the problem type")
    title: str = Field(description="short summary of the problem type")
    status: int = Field(description="the HTTP status code")
    detail: str | None = Field(None, description="explanation specific to this occurrence")
    instance: str | None = Field(None, description="the request path")
    request_id: str | None = Field(None, description="the X-Request-ID of the request")
    errors: list[FieldError] | None = Field(None, description="the failed checks of a 422")


def instance_of(path: str) -> str:
    """The request path as the `instance` URI reference (RFC 9457 section 3.1.5): percent-encoded again."""
    return quote(path, safe="/:@!$&'()*+,;=-._~")


def status_phrase(status: int) -> str:
    """The standard reason phrase, or a generic one for a code outside the standard (e.g. 499)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Client Error" if status < 500 else "Server Error"


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    request_id: str | None = None,
    instance: str | None = None,
    type_: str = ABOUT_BLANK,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": title or status_phrase(status),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    if request_id is not None:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = [error.model_dump() for error in errors]
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def request_id_of(request: Request) -> str | None:
    value = getattr(request.state, "request_id", None)
    return value if isinstance(value, str) else None


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # Starlette's own detail for a bare HTTPException is the status phrase; saying it twice adds nothing.
    detail = None if exc.detail == status_phrase(exc.status_code) else str(exc.detail)
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        # RFC 9110 section 15.5.6: Allow lists every method of the path, HEAD and OPTIONS included.
        headers["Allow"] = ", ".join(allowed_methods(request.app.router.routes, request.scope))
    return problem_response(
        exc.status_code,
        detail=detail,
        request_id=request_id_of(request),
        instance=instance_of(request.url.path),
        headers=headers or None,
    )


async def validation_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(loc=list(error["loc"]), msg=error["msg"], type=error["type"]) for error in exc.errors()
    ]
    return problem_response(
        422,
        type_=VALIDATION_TYPE,
        title="Request validation failed",
        detail=f"{len(errors)} check(s) failed; see errors",
        request_id=request_id_of(request),
        instance=instance_of(request.url.path),
        errors=errors,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Errors raised inside the app become problem+json; unhandled ones are the middleware's (500)."""
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
