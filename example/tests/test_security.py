import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.problems import PROBLEM_JSON
from app.security import UNAUTHORIZED_DETAIL, require_token, token_matches
from tests.conftest import TOKEN, SettingsFactory

pytestmark = pytest.mark.anyio
BODY = {"text": "hello"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {b"X-Token": b"wrong"},
        {b"X-Token": (TOKEN + "x").encode()},
        {b"X-Token": b""},
        {b"X-Token": "토큰".encode()},
    ],
)
async def test_missing_or_wrong_token_is_401_problem_with_www_authenticate(
    client: httpx.AsyncClient, headers: dict[bytes, bytes]
) -> None:
    # The UTF-8 header arrives as latin-1 text: the byte comparison must not raise on it.
    response = await client.post("/v1/analyze", json=BODY, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "APIKey"
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": UNAUTHORIZED_DETAIL,
        "instance": "/v1/analyze",
        "request_id": response.headers["x-request-id"],
    }


async def test_right_token_passes(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    assert (await client.post("/v1/analyze", json=BODY, headers=auth)).status_code == 200


async def test_unset_token_refuses_everyone(make_settings: SettingsFactory, logs: list[str]) -> None:
    app = create_app(make_settings(x_token=None))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            for headers in ({}, {"X-Token": ""}, {"X-Token": "anything"}):
                assert (await http.post("/v1/analyze", json=BODY, headers=headers)).status_code == 401
    assert any("X_TOKEN is not set" in line for line in logs)


async def test_token_never_in_logs_or_responses(
    client: httpx.AsyncClient, auth: dict[str, str], logs: list[str]
) -> None:
    responses = [
        await client.post("/v1/analyze", json=BODY, headers=auth),
        await client.post("/v1/analyze", json={"text": ""}, headers=auth),
        await client.post("/v1/analyze", json=BODY, headers={"X-Token": TOKEN[:-1]}),
        await client.get("/nowhere", headers=auth),
    ]
    assert [r.status_code for r in responses] == [200, 422, 401, 404]
    for response in responses:
        assert TOKEN not in response.text
        assert TOKEN not in str(response.headers)
    assert logs
    assert not [line for line in logs if TOKEN in line or TOKEN[:-1] in line]


async def test_docs_in_dev(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    schema = (await client.get("/openapi.json")).json()
    assert "/v1/analyze" in schema["paths"]
    assert schema["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Token",
        "description": "the service's API token",
    }


async def test_docs_absent_in_prod(make_settings: SettingsFactory) -> None:
    app = create_app(make_settings(status="prod"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    ("given", "expected", "match"),
    [("abc", "abc", True), ("abc", "abd", False), ("ab", "abc", False), ("é", "e", False)],
)
def test_token_matches(given: str, expected: str, match: bool) -> None:
    assert token_matches(given, expected) is match


async def test_dependency_overrides_reach_the_routes(app: FastAPI, client: httpx.AsyncClient) -> None:
    # The routes are built into the app's own list (app/main.py), not included: the app's
    # dependency_overrides (how a test or a consumer swaps the token check) must still apply to them.
    async def allow() -> None:
        return None

    assert (await client.post("/v1/analyze", json=BODY)).status_code == 401
    app.dependency_overrides[require_token] = allow
    assert (await client.post("/v1/analyze", json=BODY)).status_code == 200
