import httpx
import pytest
from fastapi import FastAPI, HTTPException

from app.problems import PROBLEM_JSON, status_phrase

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("status", "phrase"), [(404, "Not Found"), (499, "Client Error"), (599, "Server Error")]
)
def test_status_phrase(status: int, phrase: str) -> None:
    assert status_phrase(status) == phrase


async def test_routing_404_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here", headers={"X-Request-ID": "r-404"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "instance": "/v1/nothing-here",
        "request_id": "r-404",
    }


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/livez", "GET, HEAD, OPTIONS"),
        ("DELETE", "/version", "GET, HEAD, OPTIONS"),
        ("GET", "/v1/analyze", "OPTIONS, POST"),
        ("HEAD", "/v1/analyze", "OPTIONS, POST"),
        ("TRACE", "/livez", "GET, HEAD, OPTIONS"),
        ("CONNECT", "/livez", "GET, HEAD, OPTIONS"),
    ],
)
async def test_405_lists_every_allowed_method(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow  # RFC 9110 section 15.5.6: MUST
    assert response.headers["content-type"] == PROBLEM_JSON
    if method != "HEAD":
        assert response.json()["title"] == "Method Not Allowed"


async def test_instance_is_a_valid_uri_reference(client: httpx.AsyncClient) -> None:
    response = await client.get("/no%20such/p%C3%A4th")
    assert response.status_code == 404
    assert response.json()["instance"] == "/no%20such/p%C3%A4th"  # RFC 9457 section 3.1.5


async def test_raised_http_exception_keeps_detail_headers_and_odd_status(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def teapot() -> None:
        raise HTTPException(499, detail="client went away", headers={"Retry-After": "1"})

    app.add_api_route("/odd", teapot)
    response = await client.get("/odd")
    assert response.status_code == 499
    assert response.headers["retry-after"] == "1"
    assert response.json()["title"] == "Client Error"
    assert response.json()["detail"] == "client went away"
