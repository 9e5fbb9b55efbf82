import httpx
import pytest
from fastapi import FastAPI

from app.methods import KNOWN_METHODS, SERVER_METHODS, allowed_methods
from app.problems import PROBLEM_JSON

pytestmark = pytest.mark.anyio


def test_known_methods_are_rfc_9110s_and_patch() -> None:
    assert {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"} == KNOWN_METHODS
    assert set(SERVER_METHODS) <= KNOWN_METHODS


async def test_allowed_methods_counts_every_route_of_a_path(app: FastAPI) -> None:
    async def read() -> None: ...

    app.add_api_route("/twice", read, methods=["GET"])
    app.add_api_route("/twice", read, methods=["DELETE"])
    scope = {"type": "http", "path": "/twice", "method": "PUT", "root_path": ""}
    assert allowed_methods(app.router.routes, scope) == ["DELETE", "GET", "HEAD", "OPTIONS"]
    assert allowed_methods(app.router.routes, scope | {"path": "/nowhere"}) == []


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/version"])
async def test_head_is_get_without_content(client: httpx.AsyncClient, path: str) -> None:
    get = await client.get(path)
    head = await client.head(path, headers={"X-Request-ID": "r-head"})
    assert head.status_code == get.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["x-request-id"] == "r-head"


async def test_head_of_an_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    response = await client.head("/nowhere")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/livez", "GET, HEAD, OPTIONS"),
        ("/v1/analyze", "OPTIONS, POST"),
    ],
)
async def test_options_answers_204_with_allow(client: httpx.AsyncClient, path: str, allow: str) -> None:
    response = await client.request("OPTIONS", path, headers={"X-Request-ID": "r-options"})
    assert response.status_code == 204  # RFC 9110 section 9.3.7
    assert response.headers["allow"] == allow
    assert response.content == b""
    assert response.headers["x-request-id"] == "r-options"


async def test_options_needs_no_token_and_grants_no_cors(client: httpx.AsyncClient) -> None:
    # A browser's CORS preflight: answered, but without Access-Control-Allow-*, so the browser refuses.
    preflight = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"}
    response = await client.request("OPTIONS", "/v1/analyze", headers=preflight)
    assert response.status_code == 204
    assert not any(name.startswith("access-control-") for name in response.headers)


async def test_options_of_an_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    response = await client.request("OPTIONS", "/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    ("method", "path"), [("PROPFIND", "/livez"), ("FOO", "/nowhere"), ("BREW", "/v1/analyze")]
)
async def test_unrecognised_method_is_a_501_problem(
    client: httpx.AsyncClient, logs: list[str], method: str, path: str
) -> None:
    response = await client.request(method, path, headers={"X-Request-ID": "r-501"})
    assert response.status_code == 501  # RFC 9110 section 9.1
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Implemented",
        "status": 501,
        "detail": f"the method {method} is not implemented by this server",
        "instance": path,
        "request_id": "r-501",
    }
    assert any(f'access "{method} {path} HTTP/1.1" 501' in line for line in logs)
