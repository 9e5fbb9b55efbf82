"""Shared fixtures: settings without .env, an app with its lifespan running, an async client, logs."""

import os

# Importing app.main builds the module-level app from the environment: keep a developer's shell or .env
# from turning it into prod or file logging during tests.
os.environ.update({"STATUS": "dev", "SAVE": "false", "JSON_LOG": "false", "ENV_FILE": ""})

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from loguru import logger

from app.logs import configure_logging, json_format, text_format
from app.main import create_app
from app.settings import Settings

TOKEN = "test-token-0123456789abcdef"

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def make_settings() -> SettingsFactory:
    """Settings from keyword arguments only: no .env file, the test token unless given."""

    def make(**values: Any) -> Settings:
        values.setdefault("x_token", TOKEN)
        return Settings(_env_file=None, **values)  # pyright: ignore[reportCallIssue]

    return make


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
def logs(settings: Settings) -> Iterator[list[str]]:
    """Every log line the test produces, formatted exactly as `settings` make the real sinks format them."""
    configure_logging(settings)
    logger.remove()
    lines: list[str] = []
    fmt = json_format if settings.json_log else text_format(settings.loguru_format)
    sink_id = logger.add(lines.append, format=fmt, level="TRACE")
    yield lines
    logger.remove(sink_id)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def auth() -> dict[str, str]:
    return {"X-Token": TOKEN}
