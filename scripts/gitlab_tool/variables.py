"""CI/CD variable specs from the command line, with values read from the environment or a file.

A value never comes from argv: a command line ends up in shell history and in ``ps`` output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scripts.gitlab_tool.errors import ExitCode, ToolError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
# GitLab masks only single-line values of >= 8 characters from the Base64 alphabet (RFC 4648, both
# variants) plus "@", ":", ".", "~"; it answers 400 otherwise. Checking first gives a clearer line.
_MASKABLE = re.compile(r"[A-Za-z0-9+/=_@:.~-]{8,}")


@dataclass(frozen=True)
class VariableSpec:
    key: str
    source: str  # "env:NAME" or "file:PATH": printed, unlike the value
    value: str = field(repr=False)
    masked: bool
    protected: bool


def parse_spec(text: str, *, secret: bool, env: Mapping[str, str]) -> VariableSpec:
    """``KEY`` (value from env var KEY), ``KEY=env:NAME`` or ``KEY=file:PATH``."""
    key, sep, source = text.partition("=")
    if not _KEY.fullmatch(key):
        raise ToolError(ExitCode.USAGE, f"{key!r} is not a valid CI/CD variable key (letters, digits, _)")
    if not sep:
        source = f"env:{key}"
    kind, _, where = source.partition(":")
    if kind == "env" and where:
        if where not in env:
            raise ToolError(ExitCode.USAGE, f"{key}: environment variable {where} is not set")
        value = env[where]
    elif kind == "file" and where:
        try:
            value = Path(where).read_text(encoding="utf-8")
        except OSError as exc:
            raise ToolError(ExitCode.USAGE, f"{key}: cannot read {where}: {exc.strerror}") from None
        # Files written by editors and `echo` end with one newline that is not part of the value.
        value = value.removesuffix("\n").removesuffix("\r")
    else:
        raise ToolError(
            ExitCode.USAGE,
            f"{key}: the value source must be env:NAME or file:PATH (values are never taken from the command line)",
        )
    if not value:
        raise ToolError(ExitCode.USAGE, f"{key}: the value from {source} is empty")
    if secret and not _MASKABLE.fullmatch(value):
        raise ToolError(
            ExitCode.USAGE,
            f"{key}: GitLab can mask only single-line values of at least 8 characters from the Base64 "
            f"alphabet plus @ : . ~ (the value from {source} is not one)",
        )
    return VariableSpec(key=key, source=source, value=value, masked=secret, protected=secret)
