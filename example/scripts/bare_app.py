"""The benchmark's ceiling: a bare FastAPI app with the same two routes and no middleware, auth or logging."""

from fastapi import FastAPI
from pydantic import BaseModel

from app import analysis

app = FastAPI()


class Body(BaseModel):
    text: str
    top_k: int = 10


@app.get("/livez")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/v1/analyze")
def analyze(body: Body) -> dict[str, object]:
    result = analysis.analyze(body.text, body.top_k)
    return {
        "characters": result.characters,
        "sentences": result.sentences,
        "tokens": result.tokens,
        "keywords": [{"token": k.token, "count": k.count} for k in result.keywords],
    }
