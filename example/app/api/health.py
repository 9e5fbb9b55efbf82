"""Probes (`/livez`, `/readyz`) and the stamped build info (`/version`): no auth, for orchestrators."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from app.build_info import BuildInfo
from app.problems import Problem, instance_of, problem_response, request_id_of
from app.readiness import Readiness


class Status(BaseModel):
    status: str


async def get_readiness(request: Request) -> Readiness:
    readiness: Readiness = request.app.state.readiness
    return readiness


async def get_build_info(request: Request) -> BuildInfo:
    info: BuildInfo = request.app.state.build_info
    return info


# The hottest route (every few seconds per instance, from every prober): its constant body is encoded once.
_LIVE = b'{"status":"ok"}'


async def livez() -> Response:
    """The process answers: restart it if this fails."""
    return Response(_LIVE, media_type="application/json")


async def readyz(
    request: Request, readiness: Annotated[Readiness, Depends(get_readiness)]
) -> Status | JSONResponse:
    """Send traffic here only when this returns 200 (503 while starting or draining)."""
    if readiness.is_ready:
        return Status(status="ready")
    return problem_response(
        503,
        detail=f"not ready: {readiness.phase}",
        request_id=request_id_of(request),
        instance=instance_of(request.url.path),
    )


async def version(info: Annotated[BuildInfo, Depends(get_build_info)]) -> BuildInfo:
    """The build this process runs ("unknown" fields when the build was not stamped)."""
    return info


def build_router(overrides: object) -> APIRouter:
    """The probes' and /version's routes; `overrides` is the app (its `dependency_overrides` apply)."""
    router = APIRouter(tags=["health"], dependency_overrides_provider=overrides)
    router.add_api_route("/livez", livez, methods=["GET"], response_model=Status)
    router.add_api_route(
        "/readyz", readyz, methods=["GET"], response_model=Status, responses={503: {"model": Problem}}
    )
    router.add_api_route("/version", version, methods=["GET"])
    return router
