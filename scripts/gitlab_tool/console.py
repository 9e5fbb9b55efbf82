"""Output that can never show a secret: every line passes through the redactor first."""

from __future__ import annotations

import sys
from typing import TextIO

MASK = "[MASKED]"


class Console:
    """Writes lines to stdout/stderr with every registered secret value replaced by ``[MASKED]``.

    The commands never format a secret on purpose; this is the second line of defence against an
    error message (ours or the server's) that happens to echo one.
    """

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._out = out
        self._err = err
        self._secrets: set[str] = set()

    def add_secret(self, value: str) -> None:
        # Very short values would mask ordinary words; GitLab refuses to mask < 8 characters too.
        if len(value) >= 4:
            self._secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def info(self, line: str) -> None:
        print(self.redact(line), file=self._out or sys.stdout)

    def error(self, line: str) -> None:
        print(self.redact(line), file=self._err or sys.stderr)
