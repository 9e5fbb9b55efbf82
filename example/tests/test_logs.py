import datetime as dt
import gzip
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from gunicorn.config import Config
from loguru import logger

from app import logs
from app.logs import GunicornLogger, InterceptHandler, configure_logging, ensure_logging, shutdown_logging
from app.settings import Settings
from tests.conftest import SettingsFactory


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    yield
    shutdown_logging()


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def read_lines(path: Path) -> list[str]:
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode().splitlines()
    return path.read_text().splitlines()


def test_save_writes_files_under_year_and_month(make_settings: SettingsFactory, tmp_path: Path) -> None:
    configure_logging(make_settings(save=True, log_save_path=tmp_path, service_name="svc"))
    logger.info("to the file")
    shutdown_logging()
    today = dt.datetime.now()
    [path] = files_under(tmp_path)
    assert path.relative_to(tmp_path) == Path(f"{today:%Y}/{today:%m}/svc_{today:%Y-%m-%d}.log")
    assert "to the file" in path.read_text()


def test_rotation_compression_and_retention(make_settings: SettingsFactory, tmp_path: Path) -> None:
    settings = make_settings(
        save=True, log_save_path=tmp_path, rotation="1 KB", retention="3", compression="gz"
    )
    configure_logging(settings)
    for number in range(60):
        logger.info("line {:03d} {}", number, "x" * 60)
    shutdown_logging()
    files = files_under(tmp_path)
    # 60 lines of ~170 bytes at 1 KB per file are ~11 files; retention keeps the newest 3 (+ the live one).
    assert 2 <= len(files) <= 4
    assert [path.name.endswith(".gz") for path in files].count(False) == 1
    kept = [line for path in files for line in read_lines(path)]
    assert any("line 059" in line for line in kept)
    assert not any("line 000" in line for line in kept)


def test_json_log_lines(make_settings: SettingsFactory, tmp_path: Path) -> None:
    configure_logging(make_settings(save=True, log_save_path=tmp_path, json_log=True, rotation="1 day"))
    with logger.contextualize(request_id="rid-1"):
        logger.bind(user="u1").warning("braces {are} fine")
    try:
        raise ValueError("bad value")
    except ValueError:
        logger.exception("failed")
    shutdown_logging()
    [path] = files_under(tmp_path)
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    assert first["message"] == "braces {are} fine"
    assert first["request_id"] == "rid-1"
    assert first["user"] == "u1"
    assert first["level"] == "WARNING"
    assert first["logger"] == "tests.test_logs"
    assert first["function"] == "test_json_log_lines"
    assert second["request_id"] == "-"
    assert second["exception"] == {"type": "ValueError", "value": "bad value"}


@pytest.mark.parametrize(("status", "leaks"), [("dev", True), ("prod", False)])
def test_diagnose_shows_local_values_only_in_dev(
    make_settings: SettingsFactory, tmp_path: Path, status: str, leaks: bool
) -> None:
    token = "x" * 20
    configure_logging(make_settings(status=status, x_token=token, save=True, log_save_path=tmp_path))
    local_secret = "local-secret-value"
    try:
        raise RuntimeError(len(local_secret))
    except RuntimeError:
        logger.exception("boom")
    shutdown_logging()
    [path] = files_under(tmp_path)
    text = path.read_text()
    assert "RuntimeError: 18" in text
    assert ("local-secret-value" in text) is leaks


def test_stdlib_and_server_loggers_are_intercepted(logs_settings: Settings, tmp_path: Path) -> None:
    configure_logging(logs_settings)
    logging.getLogger("uvicorn.error").info("from uvicorn")
    logging.getLogger("some.library").debug("below the level")
    logging.getLogger("some.library").warning("from a library")
    logging.getLogger("uvicorn.access").info("server access line")
    shutdown_logging()
    text = "".join(path.read_text() for path in files_under(tmp_path))
    assert "uvicorn.error" not in text  # the loguru location is the caller's module, not the logger name
    assert "from uvicorn" in text
    assert "from a library" in text
    assert "tests.test_logs:test_stdlib_and_server_loggers_are_intercepted" in text
    assert "below the level" not in text
    assert "server access line" not in text


@pytest.fixture
def logs_settings(make_settings: SettingsFactory, tmp_path: Path) -> Settings:
    return make_settings(save=True, log_save_path=tmp_path)


def test_intercepted_custom_level_number(logs_settings: Settings, tmp_path: Path) -> None:
    configure_logging(logs_settings)
    logging.getLogger("x").log(35, "custom level")
    shutdown_logging()
    assert "Level 35 | " in "".join(path.read_text() for path in files_under(tmp_path))


def test_ensure_logging_configures_once(
    make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "_configured", False)
    lines: list[str] = []
    ensure_logging(make_settings())
    logger.add(lines.append, format="{message}")
    # A second call (a gunicorn worker importing the app) must keep the inherited handlers.
    ensure_logging(make_settings())
    logger.info("still here")
    assert lines == ["still here\n"]


def test_gunicorn_logger_routes_to_loguru(logs_settings: Settings, tmp_path: Path) -> None:
    configure_logging(logs_settings)
    glog = GunicornLogger(Config())
    assert [type(handler) for handler in glog.error_log.handlers] == [InterceptHandler]
    assert glog.access_log.handlers == []
    glog.info("Booting worker with pid: %s", 42)
    shutdown_logging()
    text = "".join(path.read_text() for path in files_under(tmp_path))
    assert "Booting worker with pid: 42" in text
    # gunicorn's wrapper frame is skipped: the record names the caller, not gunicorn.glogging.
    assert "gunicorn.glogging" not in text


# Python >= 3.12 warns about fork() with threads running; gunicorn forks its workers the same way.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_relay_writes_every_process_line_once_across_a_reconfiguration(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    # The gunicorn master's set-up (relay=True), a forked "worker" and a reload (HUP) in between.
    settings = make_settings(
        save=True, log_save_path=tmp_path, rotation="2 KB", retention="100", level="INFO"
    )
    configure_logging(settings, relay=True)
    logger.info("master before")
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's coverage is not collected
        for number in range(50):
            logger.info("worker line {:03d}", number)
        os._exit(0)
    configure_logging(make_settings(**(settings.model_dump() | {"rotation": "3 KB"})), relay=True)
    logger.info("master after reload")
    logger.debug("below the level")
    os.waitpid(child, 0)
    shutdown_logging()
    lines = [line for path in files_under(tmp_path) for line in read_lines(path)]
    messages = [line.rsplit(" - ", 1)[1] for line in lines]
    assert sorted(messages) == sorted(
        ["master before", "master after reload"] + [f"worker line {n:03d}" for n in range(50)]
    )
    assert len(files_under(tmp_path)) > 1  # rotated on the way
