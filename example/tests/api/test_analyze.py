import httpx
import pytest

from app.api.analyze import MAX_TEXT_CHARS, MAX_TOP_K, AnalyzeResponse
from app.main import MAX_BODY_BYTES
from app.problems import PROBLEM_JSON, VALIDATION_TYPE

pytestmark = pytest.mark.anyio


async def test_analyze_mixed_korean_and_english(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    body = {"text": "FastAPI를 배웠다. FastAPI is fast! 서울에서 서울로.", "top_k": 2}
    response = await client.post("/v1/analyze", json=body, headers=auth)
    assert response.status_code == 200
    assert response.json() == {
        "characters": 40,
        "sentences": 3,
        "tokens": 7,
        "unique_tokens": 5,
        "scripts": {"hangul": 3, "letters": 4},
        "keywords": [{"token": "fastapi", "count": 2}, {"token": "서울", "count": 2}],
    }


async def test_analyze_body_is_exactly_the_documented_model(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    # The route writes its JSON without the model (app/api/analyze.py): the body must still be the model's
    # serialisation byte for byte, fields in the model's order, nothing more.
    body = {"text": "FastAPI를 배웠다. 2026년 漢字 and café!", "top_k": 3}
    response = await client.post("/v1/analyze", json=body, headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    model = AnalyzeResponse.model_validate_json(response.content, strict=True)
    assert model.model_dump_json().encode() == response.content
    assert list(response.json()) == list(AnalyzeResponse.model_fields)


async def test_analyze_default_top_k_is_10(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    text = " ".join(f"word{chr(97 + i)}" for i in range(15))
    response = await client.post("/v1/analyze", json={"text": text}, headers=auth)
    assert len(response.json()["keywords"]) == 10


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        ({"text": ""}, ["body", "text"], "string_too_short"),
        ({"text": "x" * (MAX_TEXT_CHARS + 1)}, ["body", "text"], "string_too_long"),
        ({"text": "ok", "top_k": 0}, ["body", "top_k"], "greater_than_equal"),
        ({"text": "ok", "top_k": MAX_TOP_K + 1}, ["body", "top_k"], "less_than_equal"),
        ({"text": "ok", "extra": 1}, ["body", "extra"], "extra_forbidden"),
        ({}, ["body", "text"], "missing"),
    ],
)
async def test_analyze_validation_is_a_422_problem(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, object], loc: list[str], error_type: str
) -> None:
    response = await client.post("/v1/analyze", json=body, headers=auth)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["type"] == VALIDATION_TYPE
    assert problem["status"] == 422
    assert problem["instance"] == "/v1/analyze"
    assert problem["request_id"] == response.headers["x-request-id"]
    assert [(e["loc"], e["type"]) for e in problem["errors"]] == [(loc, error_type)]
    assert "input" not in problem["errors"][0]


async def test_analyze_malformed_json_is_a_422_problem(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    headers = auth | {"content-type": "application/json"}
    response = await client.post("/v1/analyze", content=b'{"text": ', headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_analyze_oversized_body_is_a_413_problem(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post("/v1/analyze", json={"text": "x" * MAX_BODY_BYTES}, headers=auth)
    assert response.status_code == 413
    assert response.headers["connection"] == "close"  # RFC 9110 section 15.5.14
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["detail"] == f"request body is larger than {MAX_BODY_BYTES} bytes"


async def test_analyze_largest_allowed_hangul_text_fits_the_body_limit(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    response = await client.post("/v1/analyze", json={"text": "한" * MAX_TEXT_CHARS}, headers=auth)
    assert response.status_code == 200
    assert response.json()["characters"] == MAX_TEXT_CHARS
