import datetime as dt
import re
from pathlib import Path

import pytest
from loguru import logger

from app import settings as settings_module
from app.settings import (
    DEFAULT_ENV_FILE,
    DEFAULT_FORMAT,
    Compression,
    Level,
    Settings,
    SettingsError,
    Status,
    env_file_to_read,
    load_settings,
    load_settings_or_exit,
    parse_retention,
    parse_rotation,
)
from tests.conftest import TOKEN, SettingsFactory

GOOD_PROD_TOKEN = "prod-token-0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only what a test sets: no variables from the shell, no .env (ENV_FILE is empty, see conftest)."""
    for name in ("STATUS", "SAVE", "JSON_LOG", "X_TOKEN", "PORT", "LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ENV_FILE", "")
    monkeypatch.chdir(tmp_path)


def test_defaults(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    assert settings.status is Status.DEV
    assert settings.port == 8000
    assert settings.level is Level.INFO
    assert settings.compression is Compression.GZ
    assert settings.loguru_format == DEFAULT_FORMAT
    assert settings.api_prefix == "/v1"
    assert settings.is_prod is False
    assert 1 <= settings.workers <= 8


def test_reads_environment_and_the_env_file_named_by_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "service.env").write_text("PORT=9001\nLEVEL=debug\nCOMPRESSION=\nMAJOR_VERSION=3\n")
    monkeypatch.setenv("ENV_FILE", "service.env")  # relative to the working directory, like any path
    monkeypatch.setenv("PORT", "9002")  # the environment wins over .env
    settings = load_settings()
    assert settings.port == 9002
    assert settings.level is Level.DEBUG
    assert settings.compression is None
    assert settings.api_prefix == "/v3"
    assert settings.env_file == tmp_path / "service.env"
    assert settings.env_file_description == f"environment and {tmp_path / 'service.env'}"


def test_the_default_env_file_is_the_services_own_not_the_working_directorys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Path(__file__).resolve().parents[1] / ".env" == DEFAULT_ENV_FILE
    (tmp_path / ".env").write_text("PORT=9001\n")  # the working directory's: never read
    monkeypatch.delenv("ENV_FILE")
    assert env_file_to_read() == (DEFAULT_ENV_FILE if DEFAULT_ENV_FILE.is_file() else None)


def test_empty_env_file_reads_no_env_and_says_so(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=9001\n")
    settings = load_settings()
    assert settings.port == 8000
    assert settings.env_file is None
    assert settings.env_file_description.startswith("environment only, no .env read")


def test_missing_env_file_stops_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV_FILE", "/nonexistent/service.env")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.lines == ["invalid ENV_FILE: no such file (got '/nonexistent/service.env')"]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("STATUS", "staging", "invalid STATUS: Input should be 'dev' or 'prod' (got 'staging')"),
        ("PORT", "abc", "invalid PORT: Input should be a valid integer"),
        ("PORT", "70000", "invalid PORT: Input should be less than or equal to 65535"),
        (
            "COMPRESSION",
            "rar",
            "invalid COMPRESSION: Input should be 'gz', 'bz2', 'xz', 'lzma', 'tar', 'tar.gz'",
        ),
        ("RETENTION", "forever", "invalid RETENTION: expected a number of files to keep"),
        ("ROTATION", "sometimes", "invalid ROTATION: expected a size"),
        ("LEVEL", "loud", "invalid LEVEL: Input should be 'TRACE', 'DEBUG'"),
        ("JSON_LOG", "maybe", "invalid JSON_LOG: Input should be a valid boolean"),
        ("SERVICE_NAME", "Bad Name", "invalid SERVICE_NAME: String should match pattern"),
    ],
)
def test_bad_value_gives_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert len(caught.value.lines) == 1
    assert caught.value.lines[0].startswith(expected)


def test_several_bad_values_give_one_line_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATUS", "staging")
    monkeypatch.setenv("PORT", "abc")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert [line.split(":")[0] for line in caught.value.lines] == ["invalid STATUS", "invalid PORT"]


@pytest.mark.parametrize("token", [None, "", "changeme", "change-me", "short-token"])
def test_prod_refuses_missing_placeholder_or_short_token(
    monkeypatch: pytest.MonkeyPatch, token: str | None
) -> None:
    monkeypatch.setenv("STATUS", "prod")
    if token is not None:
        monkeypatch.setenv("X_TOKEN", token)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert caught.value.lines == [
        "invalid settings: X_TOKEN must be set to a real secret of at least 16 characters when STATUS=prod"
    ]


def test_prod_accepts_real_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATUS", "prod")
    monkeypatch.setenv("X_TOKEN", GOOD_PROD_TOKEN)
    settings = load_settings()
    assert settings.is_prod
    assert settings.x_token is not None
    assert settings.x_token.get_secret_value() == GOOD_PROD_TOKEN


def test_token_never_in_error_lines_or_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "placeholder-but-secret"  # 22 chars, but combined with a bad PORT
    monkeypatch.setenv("X_TOKEN", secret)
    monkeypatch.setenv("PORT", "abc")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert secret not in str(caught.value)
    monkeypatch.delenv("PORT")
    assert secret not in repr(load_settings())


def test_token_error_does_not_echo_input(make_settings: SettingsFactory) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(x_token=["not", "a", "string"])
    assert caught.value.lines[0].startswith("invalid X_TOKEN: Input should be a valid string")
    assert "not" not in caught.value.lines[0].removeprefix("invalid X_TOKEN: Input should be a valid string")
    assert make_settings(x_token=TOKEN).x_token is not None


def test_load_settings_or_exit_prints_lines_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(settings_module, "_loaded", [])  # nothing loaded before in this process
    monkeypatch.setenv("STATUS", "staging")
    with pytest.raises(SystemExit) as caught:
        load_settings_or_exit()
    assert caught.value.code == 2
    assert capsys.readouterr().err == "invalid STATUS: Input should be 'dev' or 'prod' (got 'staging')\n"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100 MB", 100_000_000),
        ("500 KiB", 512_000),
        ("1.5 kb", 1500),
        ("10 B", 10),
        ("1 day", dt.timedelta(days=1)),
        ("12 hours", dt.timedelta(hours=12)),
        ("30 min", dt.timedelta(minutes=30)),
        ("2 weeks", dt.timedelta(weeks=2)),
        ("00:00", dt.time(0, 0)),
        ("23:59", dt.time(23, 59)),
        ("Daily", "daily"),
        ("weekly", "weekly"),
    ],
)
def test_parse_rotation(text: str, value: object) -> None:
    assert parse_rotation(text) == value


@pytest.mark.parametrize("text", ["", "0 MB", "0 days", "24:00", "fortnightly", "10", "-1 day", "5 parsecs"])
def test_parse_rotation_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected a size"):
        parse_rotation(text)


@pytest.mark.parametrize(
    ("text", "value"), [("10", 10), ("30 days", dt.timedelta(days=30)), ("1 week", dt.timedelta(weeks=1))]
)
def test_parse_retention(text: str, value: object) -> None:
    assert parse_retention(text) == value


@pytest.mark.parametrize("text", ["", "0", "forever", "0 days", "10 MB"])
def test_parse_retention_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected a number of files"):
        parse_retention(text)


@pytest.mark.parametrize(
    "rotation", ["1 KB", "1 day", "00:00", "hourly", "daily", "weekly", "monthly", "yearly"]
)
def test_every_accepted_rotation_is_accepted_by_loguru(
    make_settings: SettingsFactory, tmp_path: Path, rotation: str
) -> None:
    settings = make_settings(rotation=rotation, retention="3")
    sink = logger.add(
        str(tmp_path / "x.log"),
        rotation=settings.parsed_rotation,
        retention=settings.parsed_retention,
        compression="gz",
    )
    logger.remove(sink)


def test_env_example_documents_every_setting_and_loads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    documented = {
        line.lstrip("# ").split("=", 1)[0]
        for line in example.splitlines()
        if re.match(r"^#? ?[A-Z_]+=", line)
    }
    assert documented == {name.upper() for name in Settings.model_fields}
    (tmp_path / ".env").write_text(example)
    monkeypatch.setenv("ENV_FILE", str(tmp_path / ".env"))
    settings = load_settings()
    assert settings.status is Status.DEV
    assert settings.x_token is not None


def test_load_settings_or_exit_keeps_the_settings_loaded_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(settings_module, "_loaded", [])
    monkeypatch.setenv("PORT", "9003")
    first = load_settings_or_exit()
    monkeypatch.setenv("STATUS", "staging")  # a bad edit, then a reload (gunicorn HUP)
    assert load_settings_or_exit() is first
    assert capsys.readouterr().err == (
        "invalid STATUS: Input should be 'dev' or 'prod' (got 'staging')\n"
        "settings not reloaded: keeping the ones read before\n"
    )
