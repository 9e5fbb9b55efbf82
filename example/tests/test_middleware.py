import json

import httpx
import pytest
from fastapi import FastAPI
from loguru import logger
from starlette.responses import StreamingResponse

from app.logs import configure_logging, json_format
from app.main import MAX_BODY_BYTES, create_app
from app.middleware import pick_request_id
from app.problems import PROBLEM_JSON
from app.settings import Settings
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.anyio


async def test_request_id_is_kept_from_the_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/livez", headers={"X-Request-ID": "abc-123.x:y_z"})
    assert response.headers["x-request-id"] == "abc-123.x:y_z"


@pytest.mark.parametrize("given", [None, "", "has space", "new\nline", "x" * 129, "ünï"])
async def test_request_id_is_generated_when_missing_or_unsafe(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers: dict[bytes, bytes] = {} if given is None else {b"X-Request-ID": given.encode()}
    response = await client.get("/livez", headers=headers)
    generated = response.headers["x-request-id"]
    assert generated != given
    assert len(generated) == 32
    int(generated, 16)


def test_pick_request_id_generates_unique_ids() -> None:
    assert len({pick_request_id(None) for _ in range(100)}) == 100


async def test_request_id_on_every_log_line_of_the_request(
    app: FastAPI, client: httpx.AsyncClient, logs: list[str]
) -> None:
    async def chatty() -> dict[str, str]:
        logger.info("inside the handler")
        return {}

    app.add_api_route("/chatty", chatty)
    await client.get("/chatty", headers={"X-Request-ID": "req-42"})
    mine = [line for line in logs if "req-42" in line]
    assert len(mine) == 2
    assert "inside the handler" in mine[0]
    assert 'access "GET /chatty HTTP/1.1" 200' in mine[1]


@pytest.fixture
def json_settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(json_log=True)


async def test_unhandled_error_is_500_problem_with_request_id_and_logged(
    make_settings: SettingsFactory, logs: list[str]
) -> None:
    app = create_app(make_settings())

    async def boom() -> None:
        raise RuntimeError("kaput")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/boom", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500"
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "an unexpected error occurred",
        "instance": "/boom",
        "request_id": "req-500",
    }
    assert "kaput" not in response.text
    error_lines = [line for line in logs if "unhandled error in GET /boom" in line]
    assert len(error_lines) == 1
    assert "req-500" in error_lines[0]
    assert "RuntimeError: kaput" in error_lines[0]
    assert any('access "GET /boom HTTP/1.1" 500' in line for line in logs)


async def test_error_after_response_started_is_reraised(app: FastAPI, logs: list[str]) -> None:
    async def chunks() -> object:
        yield b"first"
        raise RuntimeError("mid-stream")

    async def streaming() -> StreamingResponse:
        return StreamingResponse(chunks())  # type: ignore[arg-type]

    app.add_api_route("/stream", streaming)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        with pytest.raises(RuntimeError, match="mid-stream"):
            await http.get("/stream")
    assert any('access "GET /stream HTTP/1.1" 200' in line for line in logs)


async def test_streamed_body_over_the_limit_is_413(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    async def body() -> object:
        # No content-length: the limit must be enforced while reading.
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024

    headers = auth | {"Content-Type": "application/json"}
    response = await client.post("/v1/analyze", content=body(), headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["detail"] == f"request body is larger than {MAX_BODY_BYTES} bytes"


async def test_json_log_line_shape(json_settings: Settings) -> None:
    configure_logging(json_settings)
    logger.remove()
    lines: list[str] = []
    logger.add(lines.append, format=json_format)
    app = create_app(json_settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        await http.get("/version", headers={"X-Request-ID": "req-json"})
    records = [json.loads(line) for line in lines]
    access = [r for r in records if r["request_id"] == "req-json"]
    assert len(access) == 1
    assert set(access[0]) == {
        "time", "level", "message", "request_id", "service", "logger", "function", "line", "process"
    }  # fmt: skip
    assert access[0]["message"].startswith('access "GET /version HTTP/1.1" 200 ')
    assert access[0]["service"] == "text-analytics"
    assert access[0]["level"] == "INFO"


async def test_successful_probes_get_no_access_line_by_default(
    app: FastAPI, client: httpx.AsyncClient, logs: list[str]
) -> None:
    app.state.readiness.drain()
    await client.get("/livez")
    await client.get("/readyz")  # 503 while draining: failures are logged
    await client.get("/version")
    access = [line.split('access "')[1].split(" HTTP")[0] for line in logs if 'access "' in line]
    assert access == ["GET /readyz", "GET /version"]


async def test_log_probes_setting_logs_them(make_settings: SettingsFactory, logs: list[str]) -> None:
    app = create_app(make_settings(log_probes=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        await http.get("/livez")
    assert any('access "GET /livez HTTP/1.1" 200' in line for line in logs)
