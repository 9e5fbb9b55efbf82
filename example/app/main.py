"""The application factory and the ASGI app that gunicorn, uvicorn or granian serve (`app.main:app`)."""

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from loguru import logger

from app.api import analyze, health
from app.build_info import load_build_info
from app.logs import ensure_logging
from app.middleware import RequestContextMiddleware
from app.problems import install_problem_handlers
from app.readiness import Readiness
from app.security import TokenDep
from app.settings import Settings, load_settings_or_exit

# 20,000 characters of Hangul are 60 kB of UTF-8; JSON \u escapes can double that.
MAX_BODY_BYTES = 256 * 1024
PROBE_PATHS = frozenset({"/livez", "/readyz"})


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; without `settings`, read them from the environment (bad ones exit, one line each)."""
    settings = settings or load_settings_or_exit()
    ensure_logging(settings)
    readiness = Readiness()
    build_info = load_build_info(settings.service_name)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncGenerator[None]:
        if settings.x_token is None:
            logger.warning("X_TOKEN is not set: every {} request is refused with 401", settings.api_prefix)
        logger.info(
            "{} {} starting ({}; settings from the {})",
            build_info.service,
            build_info.version,
            settings.status.value,
            settings.env_file_description,
        )
        readiness.ready()
        yield
        readiness.drain()
        logger.info("{} draining and stopping", build_info.service)

    docs = not settings.is_prod
    app = FastAPI(
        title=settings.service_name,
        version=build_info.version,
        summary="Text analytics (English, Korean and mixed text) behind X-Token auth.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.readiness = readiness
    app.state.build_info = build_info
    install_problem_handlers(app)
    quiet: frozenset[str] = frozenset() if settings.log_probes else PROBE_PATHS
    app.add_middleware(
        RequestContextMiddleware, max_body_bytes=MAX_BODY_BYTES, routes=app.router.routes, quiet_paths=quiet
    )
    # The routers' routes go into the app's own list instead of through `include_router`: FastAPI matches
    # an included router's routes through a lazy layer of its own on every request (~85k instructions, ~3 %
    # of a POST). These routers have no lifespan or event handlers, which only `include_router` would merge.
    app.router.routes.extend(health.build_router(app).routes)
    # Authenticated as built: every domain route gets the token check.
    app.router.routes.extend(analyze.build_router(settings.api_prefix, [TokenDep], app).routes)
    return app


app = create_app()
