"""Service settings from the environment and `.env`, validated once at start-up.

The `.env` is the service's own (next to `gunicorn.conf.py`), wherever the process starts, or the file
ENV_FILE names (an empty ENV_FILE reads none).

A bad value stops start-up with one line per variable (`load_settings_or_exit`), never a traceback,
and the X_TOKEN value never appears in any message.
"""

import datetime as dt
import os
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The service's directory (example/ here, /app in the image): its .env is found from there, not from the
# working directory, so `gunicorn --config /abs/path/gunicorn.conf.py` started anywhere reads the same file.
SERVICE_DIR: Final = Path(__file__).resolve().parents[1]
DEFAULT_ENV_FILE: Final = SERVICE_DIR / ".env"


class Status(StrEnum):
    DEV = "dev"
    PROD = "prod"


class Level(StrEnum):
    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class Compression(StrEnum):
    """The archive formats loguru can compress a rotated log file into."""

    GZ = "gz"
    BZ2 = "bz2"
    XZ = "xz"
    LZMA = "lzma"
    TAR = "tar"
    TAR_GZ = "tar.gz"
    TAR_BZ2 = "tar.bz2"
    TAR_XZ = "tar.xz"
    ZIP = "zip"


DEFAULT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> | <level>{level: <8}</level> | "
    "{process} | {extra[request_id]} | <cyan>{name}</cyan>:<cyan>{function}</cyan>:<cyan>{line}</cyan> - "
    "<level>{message}</level>"
)

# Tokens people leave in .env files; in prod they count as "not set".
PLACEHOLDER_TOKENS = frozenset({"", "changeme", "change-me", "change_me", "secret", "token", "xxx", "todo"})
MIN_PROD_TOKEN_LENGTH = 16

_NUMBER = r"(\d+(?:\.\d+)?)"
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_DURATION_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "month": 30 * 86400, "months": 30 * 86400,
    "y": 365 * 86400, "year": 365 * 86400, "years": 365 * 86400,
}  # fmt: skip
_FREQUENCIES = ("hourly", "daily", "weekly", "monthly", "yearly")
_SIZE_RE = re.compile(rf"^{_NUMBER}\s*({'|'.join(_SIZE_UNITS)})$", re.IGNORECASE)
_DURATION_RE = re.compile(rf"^{_NUMBER}\s*({'|'.join(_DURATION_UNITS)})$", re.IGNORECASE)
_DAYTIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

# What loguru's `rotation=` and `retention=` accept, as parsed here into typed values so that loguru never
# sees a string it could interpret differently from this module.
Rotation = int | dt.timedelta | dt.time | str
Retention = int | dt.timedelta

ROTATION_HELP = (
    "a size ('100 MB', '500 KiB'), an interval ('1 day', '12 hours'), a time of day ('00:00') or "
    + (", ".join(repr(f) for f in _FREQUENCIES))
)
RETENTION_HELP = "a number of files to keep ('10') or a duration ('30 days', '1 week')"


def _duration(text: str) -> dt.timedelta | None:
    match = _DURATION_RE.match(text)
    if match is None:
        return None
    return dt.timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()])


def parse_rotation(text: str) -> Rotation:
    """Parse ROTATION into the typed value loguru's `rotation=` takes; ValueError when not understood."""
    value = text.strip()
    if match := _SIZE_RE.match(value):
        size = int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
        if size > 0:
            return size
    elif (interval := _duration(value)) is not None:
        if interval > dt.timedelta(0):
            return interval
    elif match := _DAYTIME_RE.match(value):
        return dt.time(int(match.group(1)), int(match.group(2)))
    elif value.lower() in _FREQUENCIES:
        return value.lower()
    raise ValueError(f"expected {ROTATION_HELP}")


def parse_retention(text: str) -> Retention:
    """Parse RETENTION into the typed value loguru's `retention=` takes; ValueError when not understood."""
    value = text.strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    period = _duration(value)
    if period is not None and period > dt.timedelta(0):
        return period
    raise ValueError(f"expected {RETENTION_HELP}")


def _default_workers() -> int:
    # Async workers each use one core well; more than the cores only adds memory.
    return max(1, min(os.cpu_count() or 1, 8))


class Settings(BaseSettings):
    """Every setting is one environment variable of the same name in upper case (see .env.example)."""

    # No env_file here: `load_settings` passes the one to read (see `env_file_to_read`).
    model_config = SettingsConfigDict(env_file_encoding="utf-8", extra="ignore")

    # the .env that was read (None: none was); set from ENV_FILE by `load_settings`
    env_file: Path | None = None

    # service identity and API
    service_name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] = "text-analytics"
    service_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = "TXT"
    major_version: Annotated[int, Field(ge=1, le=999)] = 1
    status: Status = Status.DEV
    x_token: SecretStr | None = None

    # serving (read by gunicorn.conf.py)
    host: str = "0.0.0.0"  # noqa: S104  # nosec B104 - a container must listen on its network interface
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    workers: Annotated[int, Field(ge=1, le=64)] = Field(default_factory=_default_workers)
    max_requests: Annotated[int, Field(ge=0)] = 20000
    graceful_timeout: Annotated[int, Field(ge=1, le=3600)] = 30

    # logging
    level: Level = Level.INFO
    json_log: bool = False
    log_probes: bool = False
    loguru_format: Annotated[str, Field(min_length=1)] = DEFAULT_FORMAT
    save: bool = False
    log_save_path: Path = Path("logs")
    rotation: str = "100 MB"
    retention: str = "30 days"
    compression: Compression | None = Compression.GZ

    @field_validator("level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("compression", mode="before")
    @classmethod
    def _no_compression(cls, value: Any) -> Any:
        # An empty COMPRESSION (or "none") keeps rotated files as they are.
        if isinstance(value, str) and value.strip().lower() in {"", "none"}:
            return None
        return value

    @field_validator("rotation")
    @classmethod
    def _check_rotation(cls, value: str) -> str:
        parse_rotation(value)
        return value

    @field_validator("retention")
    @classmethod
    def _check_retention(cls, value: str) -> str:
        parse_retention(value)
        return value

    @model_validator(mode="after")
    def _prod_needs_real_token(self) -> Self:
        if self.status is Status.PROD:
            token = self.x_token.get_secret_value() if self.x_token else ""
            if token.strip().lower() in PLACEHOLDER_TOKENS or len(token) < MIN_PROD_TOKEN_LENGTH:
                raise ValueError(
                    f"X_TOKEN must be set to a real secret of at least {MIN_PROD_TOKEN_LENGTH} characters "
                    "when STATUS=prod"
                )
        return self

    @property
    def is_prod(self) -> bool:
        return self.status is Status.PROD

    @property
    def api_prefix(self) -> str:
        return f"/v{self.major_version}"

    @property
    def env_file_description(self) -> str:
        """Where the settings came from, for the start-up line."""
        if self.env_file is None:
            return f"environment only, no .env read ({DEFAULT_ENV_FILE} absent or ENV_FILE empty)"
        return f"environment and {self.env_file}"

    @property
    def parsed_rotation(self) -> Rotation:
        return parse_rotation(self.rotation)

    @property
    def parsed_retention(self) -> Retention:
        return parse_retention(self.retention)


class SettingsError(Exception):
    """Invalid settings: `lines` holds one human-readable line per bad variable."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def describe_errors(error: ValidationError) -> list[str]:
    """One line per bad variable, naming it and what is allowed; secrets are never echoed."""
    lines: list[str] = []
    for item in error.errors(include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        if not item["loc"]:
            # A whole-model check: its input is every value, X_TOKEN included, so it is never shown.
            lines.append(f"invalid settings: {message}")
            continue
        variable = "_".join(str(part) for part in item["loc"]).upper()
        shown = "" if variable == "X_TOKEN" else f" (got {item['input']!r})"
        lines.append(f"invalid {variable}: {message}{shown}")
    return lines


def env_file_to_read() -> Path | None:
    """The .env to read: ENV_FILE's path if set (empty: none), else the service's own .env if it exists.

    SettingsError when ENV_FILE names a file that does not exist: an explicit file is never skipped silently.
    """
    named = os.environ.get("ENV_FILE")
    if named is None:
        return DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None
    if not named.strip():
        return None
    path = Path(named).resolve()
    if not path.is_file():
        raise SettingsError([f"invalid ENV_FILE: no such file (got {named!r})"])
    return path


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment and the .env (`env_file_to_read`); SettingsError when bad."""
    env_file = env_file_to_read()
    try:
        values = {"env_file": env_file, **overrides}
        return Settings(_env_file=env_file, **values)  # pyright: ignore[reportCallIssue]
    except ValidationError as error:
        raise SettingsError(describe_errors(error)) from None


# The settings this process (or the gunicorn master it was forked from) last loaded successfully.
_loaded: list[Settings] = []


def load_settings_or_exit() -> Settings:
    """Read the settings or print one line per bad variable and stop the process (exit status 2).

    A process that has loaded good settings before keeps those instead of stopping: a gunicorn master
    re-reads them on HUP, and a worker it forks later reads them again; a bad edit of the .env must not stop
    a running server (or leave its workers without a master).
    """
    try:
        settings = load_settings()
    except SettingsError as error:
        for line in error.lines:
            print(line, file=sys.stderr)
        if not _loaded:
            raise SystemExit(2) from None
        print("settings not reloaded: keeping the ones read before", file=sys.stderr)
        return _loaded[0]
    _loaded[:] = [settings]
    return settings
