import httpx
import pytest
from fastapi import FastAPI

from app.build_info import UNKNOWN
from app.problems import PROBLEM_JSON
from app.readiness import Readiness

pytestmark = pytest.mark.anyio


async def test_livez(client: httpx.AsyncClient) -> None:
    response = await client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.parametrize(
    ("phase", "detail"), [("starting", "not ready: starting"), ("draining", "not ready: draining")]
)
async def test_readyz_is_503_problem_while_starting_or_draining(
    app: FastAPI, client: httpx.AsyncClient, phase: str, detail: str
) -> None:
    readiness: Readiness = app.state.readiness
    if phase == "starting":
        app.state.readiness = Readiness()
    else:
        readiness.drain()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["detail"] == detail


async def test_version_unstamped_reports_unknown(client: httpx.AsyncClient) -> None:
    response = await client.get("/version")
    assert response.status_code == 200
    assert response.json() == {
        "service": "text-analytics",
        "version": UNKNOWN,
        "git_branch": UNKNOWN,
        "git_revision": UNKNOWN,
        "git_short_revision": UNKNOWN,
        "build_date": UNKNOWN,
    }


async def test_probes_need_no_token(client: httpx.AsyncClient) -> None:
    for path in ("/livez", "/readyz", "/version"):
        assert (await client.get(path)).status_code == 200
