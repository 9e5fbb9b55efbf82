import httpx
import pytest

from app.media import ENCODED, NOT_JSON, is_json
from app.problems import PROBLEM_JSON

pytestmark = pytest.mark.anyio

BODY = b'{"text": "hello"}'


@pytest.mark.parametrize(
    ("content_type", "json"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/merge-patch+json", True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("text/json+x", False),
        ("", False),
    ],
)
def test_is_json(content_type: str, json: bool) -> None:
    assert is_json(content_type.encode()) is json


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_body_not_declared_json_is_415(
    client: httpx.AsyncClient, auth: dict[str, str], content_type: str | None
) -> None:
    headers = auth | ({"Content-Type": content_type} if content_type else {})
    response = await client.post("/v1/analyze", content=BODY, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["detail"] == NOT_JSON


async def test_a_compressed_body_is_415_with_accept_encoding(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    headers = auth | {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = await client.post("/v1/analyze", content=BODY, headers=headers)
    assert response.status_code == 415
    assert response.headers["accept-encoding"] == "identity"
    assert response.json()["detail"] == ENCODED


@pytest.mark.parametrize("encoding", [None, "identity"])
async def test_a_plain_json_body_is_read(
    client: httpx.AsyncClient, auth: dict[str, str], encoding: str | None
) -> None:
    headers = auth | {"Content-Type": "application/json; charset=utf-8"}
    if encoding:
        headers["Content-Encoding"] = encoding
    response = await client.post("/v1/analyze", content=BODY, headers=headers)
    assert response.status_code == 200


async def test_content_is_checked_before_routing_and_the_token(client: httpx.AsyncClient) -> None:
    # Every route of the service reads JSON: content it cannot read is refused before anything else.
    for path in ("/v1/analyze", "/nowhere"):
        response = await client.post(path, content=BODY, headers={"Content-Type": "text/plain"})
        assert response.status_code == 415


async def test_requests_without_content_are_not_refused(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    assert (await client.get("/version")).status_code == 200
    assert (await client.put("/livez")).status_code == 405
    response = await client.post("/v1/analyze", headers=auth)
    assert response.status_code == 422  # the body is missing, not of the wrong type
