"""The domain API: text analytics."""

from collections.abc import Sequence

from fastapi import APIRouter, params
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from app import analysis
from app.problems import Problem

MAX_TEXT_CHARS = 20_000
MAX_TOP_K = 50

RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"model": Problem},
    413: {"model": Problem},
    415: {"model": Problem},
    422: {"model": Problem},
}


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="UTF-8 text in any language")
    top_k: int = Field(10, ge=1, le=MAX_TOP_K, description="how many keywords to return")


class KeywordOut(BaseModel):
    token: str
    count: int


class AnalyzeResponse(BaseModel):
    characters: int = Field(description="length of the text in Unicode code points")
    sentences: int
    tokens: int
    unique_tokens: int
    scripts: dict[str, int] = Field(description="token count per script: hangul, han, letters, number")
    keywords: list[KeywordOut] = Field(description="most frequent content words, ties in order of appearance")


def analyze_text(body: AnalyzeRequest) -> Response:
    """Sentence, token and script counts and the top keywords of a text (English, Korean, mixed, ...)."""
    # A plain `def`: the work is CPU-bound, so FastAPI runs it in the thread pool, off the event loop.
    # The fields of AnalyzeResponse (response_model documents it) go straight to JSON: the analysis is
    # typed already, so validating them again as a model (or FastAPI's check of a returned model) would
    # only cost time (~6 us, and ~75 us for FastAPI's). tests/api/test_analyze.py holds them to the model.
    result = analysis.analyze(body.text, body.top_k)
    return Response(
        to_json(
            {
                "characters": result.characters,
                "sentences": result.sentences,
                "tokens": result.tokens,
                "unique_tokens": result.unique_tokens,
                "scripts": result.scripts,
                "keywords": [{"token": k.token, "count": k.count} for k in result.keywords],
            }
        ),
        media_type="application/json",
    )


def build_router(prefix: str, dependencies: Sequence[params.Depends], overrides: object) -> APIRouter:
    """The domain routes under `prefix` ("/v1"), each with `dependencies` (the token check).

    `overrides` is the app (its `dependency_overrides` apply). The routes are complete as built, so the app
    takes them into its own route list (see app.main).
    """
    router = APIRouter(
        prefix=prefix,
        tags=["analysis"],
        dependencies=dependencies,
        responses=RESPONSES,
        dependency_overrides_provider=overrides,
    )
    router.add_api_route("/analyze", analyze_text, methods=["POST"], response_model=AnalyzeResponse)
    return router
