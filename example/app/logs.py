"""Logging: every record (the app's, stdlib's, uvicorn's, gunicorn's) goes through one loguru pipeline.

Several gunicorn workers and one rotating file: loguru's own docs warn that each worker adding its own file
sink loses or duplicates lines at rotation, because every process rotates "its" file independently. The
design here has exactly one file writer: `gunicorn.conf.py` calls `configure_logging(..., relay=True)` in
the gunicorn master before any worker is forked. Workers inherit the configured logger (they never
reconfigure it: see `ensure_logging`), so each worker formats its records and puts each line into one pipe
(`FileRelay`), and one thread in the master writes, rotates, compresses and deletes the files. A worker
recycled by `max_requests` loses nothing already logged: the put into the pipe is synchronous.
The pipe and its thread outlive a HUP reload: gunicorn re-reads `gunicorn.conf.py`, which replaces the file
sink (new ROTATION, LEVEL ...) while the old workers, still draining, keep writing into the same pipe.
The stderr sink needs no such care (stderr is one shared pipe or file, written a line at a time, with no
rotation), so each process writes it directly, which costs less per line than the pipe.
Outside gunicorn (uvicorn, tests) the file sink is written directly too.
"""

import contextlib
import json
import logging
import multiprocessing
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

from gunicorn import glogging
from loguru import logger

from app.settings import Settings

if TYPE_CHECKING:
    from gunicorn.config import Config
    from loguru import Record

NO_REQUEST: Final = "-"
# Loggers that configure handlers of their own; they are emptied and made to propagate to the root handler.
INTERCEPTED: Final = ("uvicorn", "uvicorn.error", "gunicorn", "gunicorn.error", "fastapi", "asyncio")
# The app writes its own access line (with the request id); the servers' access loggers are silenced.
SILENCED: Final = ("uvicorn.access", "gunicorn.access")
LOG_FILE_NAME: Final = "{time:YYYY}/{time:MM}/{service}_{time:YYYY-MM-DD}.log"

# Frames of logging itself and of gunicorn's logger wrapper are skipped to find a record's real origin.
_WRAPPER_FILES: Final = frozenset({logging.__file__, glogging.__file__})

# The extra key that marks a line the master's relay thread writes into the file sink.
RELAYED: Final = "relayed"

_configured = False


class InterceptHandler(logging.Handler):
    """Hand a stdlib logging record to loguru, keeping its level and the caller's location."""

    def emit(self, record: logging.LogRecord) -> None:
        level: str | int
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # Skip this frame and then every frame inside the logging module, so that loguru reports the
        # function that called logging, not logging's internals.
        frame: FrameType | None = logging.currentframe()  # this emit()
        depth = 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename in _WRAPPER_FILES):
            frame, depth = frame.f_back, depth + 1
        logger.opt(depth=depth, exception=record.exc_info).log(level, record.getMessage())


def json_line(record: "Record") -> str:
    """One JSON object for a record: the fields a log pipeline indexes, not loguru's whole record."""
    payload: dict[str, Any] = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "message": record["message"],
        "request_id": record["extra"].get("request_id", NO_REQUEST),
        "service": record["extra"].get("service"),
        "logger": record["name"],
        "function": record["function"],
        "line": record["line"],
        "process": record["process"].id,
    }
    payload.update({key: value for key, value in record["extra"].items() if key not in payload})
    payload.pop("json", None)
    if record["exception"] is not None:
        exc_type, exc_value, _ = record["exception"]
        payload["exception"] = {"type": exc_type.__name__ if exc_type else None, "value": str(exc_value)}
    return json.dumps(payload, ensure_ascii=False, default=str)


def json_format(record: "Record") -> str:
    # loguru formats a callable's result as a template: the JSON goes in through `extra`, so braces in
    # messages are never parsed as template fields.
    record["extra"]["json"] = json_line(record)
    return "{extra[json]}\n"


def text_format(template: str) -> Callable[["Record"], str]:
    line = template.rstrip("\n") + "\n{exception}"
    return lambda _record: line


def intercept_stdlib(level: int) -> None:
    """Route every stdlib logger at `level` or above through loguru."""
    logging.basicConfig(handlers=[InterceptHandler()], level=level, force=True)
    for name in INTERCEPTED:
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True
    for name in SILENCED:
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = False


class FileRelay:
    """A pipe from every process of a gunicorn server to the one thread in the master that writes the file."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._pipe: multiprocessing.SimpleQueue[str | None] = context.SimpleQueue()
        # Held by the writer thread while it writes and by `configure_logging` while it swaps the sinks, so
        # that no line is written while there is no file sink.
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def put(self, message: str) -> None:
        """The loguru sink of every process: one formatted line into the pipe (blocks while it is full)."""
        self._pipe.put(str(message))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_lines, name="log-file-writer", daemon=True)
            self._thread.start()

    def _write_lines(self) -> None:
        relayed = logger.bind(**{RELAYED: True}).opt(raw=True)
        while (line := self._pipe.get()) is not None:
            with self.lock:
                relayed.log("TRACE", line)

    def stop(self) -> None:
        """Write every line already in the pipe, then stop the thread (the workers have exited by then)."""
        if self._thread is not None:
            self._pipe.put(None)
            self._thread.join()
            self._thread = None


_relay: FileRelay | None = None


def _relayed(record: "Record") -> bool:
    return RELAYED in record["extra"]


def _not_relayed(record: "Record") -> bool:
    return RELAYED not in record["extra"]


def configure_logging(settings: Settings, *, relay: bool = False) -> None:
    """(Re)configure loguru and stdlib logging from the settings.

    `relay=True` is for the gunicorn master only (see the module docstring); called again (HUP reload), it
    keeps the relay pipe and thread and swaps the sinks under the relay's lock.
    """
    global _configured, _relay  # noqa: PLW0603 - one logging configuration per process, by design
    file_relay: FileRelay | None = None
    if relay and settings.save:
        file_relay = _relay = _relay or FileRelay()
    with file_relay.lock if file_relay else contextlib.nullcontext():
        _add_sinks(settings, file_relay)
    if file_relay:
        file_relay.start()
    # loguru's level numbers are stdlib's (TRACE=5 and SUCCESS=25 sit between stdlib's).
    intercept_stdlib(logger.level(settings.level.value).no)
    _configured = True


def _add_sinks(settings: Settings, relay: FileRelay | None) -> None:
    logger.remove()
    logger.configure(extra={"request_id": NO_REQUEST, "service": settings.service_name})
    fmt = json_format if settings.json_log else text_format(settings.loguru_format)
    # diagnose shows local variables in tracebacks: useful in dev, a secret leak in prod.
    diagnose = not settings.is_prod
    common: dict[str, Any] = {
        "level": settings.level.value,
        "format": fmt,
        "backtrace": diagnose,
        "diagnose": diagnose,
    }
    # The relay's own records (lines already formatted by some process) go only into the file.
    only_own: dict[str, Any] = {"filter": _not_relayed} if relay else {}
    logger.add(sys.stderr, colorize=sys.stderr.isatty() and not settings.json_log, **common, **only_own)
    if not settings.save:
        return
    path = Path(settings.log_save_path) / LOG_FILE_NAME.replace("{service}", settings.service_name)
    file_options: dict[str, Any] = {
        "rotation": settings.parsed_rotation,
        "retention": settings.parsed_retention,
        "compression": settings.compression.value if settings.compression else None,
        "encoding": "utf-8",
        "colorize": False,
    }
    if relay is None:
        logger.add(str(path), **file_options, **common)
        return
    logger.add(relay.put, colorize=False, **common, **only_own)
    logger.add(str(path), **file_options, level="TRACE", filter=_relayed)


def ensure_logging(settings: Settings) -> None:
    """Configure logging unless this process already is: a gunicorn worker inherits the master's set-up."""
    if not _configured:
        configure_logging(settings)


def shutdown_logging() -> None:
    """Flush and close every sink; in the gunicorn master this writes the workers' last lines first."""
    global _relay  # noqa: PLW0603 - see configure_logging
    if _relay is not None:
        _relay.stop()
        _relay = None
    logger.remove()


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with its handlers replaced by loguru (gunicorn's `logger_class` setting)."""

    def setup(self, cfg: "Config") -> None:
        super().setup(cfg)
        self.error_log.handlers = [InterceptHandler()]
        self.error_log.propagate = False
        self.access_log.handlers = []
        self.access_log.propagate = False
