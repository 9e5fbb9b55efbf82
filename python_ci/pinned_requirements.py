"""Pinned requirements files (pip's requirements-file format): one exact version per package, with hashes."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from python_ci.job import JobError
from python_ci.platform_tags import marker_environment

HASH_RE = re.compile(r"\s--hash[=\s]+(\S+)")
# Index settings a lock may carry, passed through to the download; any other option changes what gets installed.
PASSED_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--pre"}
# pip is how the wheelhouse downloads, so its vendored copy of packaging is there when the image has no packaging.
_PACKAGING = ("packaging", "pip._vendor.packaging")


def packaging(module: str) -> Any:
    """`packaging.<module>`, or pip's vendored copy of it. Raises JobError when neither is importable."""
    for root in _PACKAGING:
        try:
            return importlib.import_module(f"{root}.{module}")
        except ImportError:
            continue
    raise JobError("neither packaging nor pip is importable by this python")


@dataclass(frozen=True)
class Pin:
    """One pinned requirement: `spec` is `name==version` (or `===`), `marker` its PEP 508 marker or None."""

    name: str
    spec: str
    marker: str | None
    hashes: tuple[str, ...]

    def line(self) -> str:
        """The requirement line pip reads: `name==version --hash=sha256:...`."""
        return " ".join([self.spec, *(f"--hash={h}" for h in self.hashes)])


def logical_lines(text: str) -> list[str]:
    """Requirement-file lines with `\\` continuations joined and `#` comments dropped."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            out.append(line)
    if pending.strip():
        out.append(pending.strip())
    return out


def parse_pins(text: str) -> tuple[list[Pin], list[str]]:
    """The pins and the pass-through index options of a pinned requirements file; no pins at all is fine.

    Raises JobError listing every line that is not one exact version (ranges, URLs, `-e`, `-r`, `--no-binary`...):
    a wheelhouse must be reproducible from the lock alone."""
    requirements = packaging("requirements")
    pins: list[Pin] = []
    options: list[str] = []
    refused: list[str] = []
    for line in logical_lines(text):
        if line.startswith("-"):
            flag = line.split()[0].split("=")[0]
            if flag in PASSED_OPTIONS:
                options.append(line)
            else:
                refused.append(f"{line}  (option {flag} is not supported in a wheelhouse lock)")
            continue
        hashes = tuple(HASH_RE.findall(" " + line))
        spec_text = HASH_RE.sub("", " " + line).strip()
        try:
            req = requirements.Requirement(spec_text)
        except requirements.InvalidRequirement as err:
            refused.append(f"{line}  ({err})")
            continue
        specs = list(req.specifier)
        if req.url or len(specs) != 1 or specs[0].operator not in {"==", "==="} or "*" in specs[0].version:
            refused.append(f"{spec_text}  (not pinned to one version)")
            continue
        marker = str(req.marker) if req.marker is not None else None
        pins.append(Pin(name=str(req.name), spec=f"{req.name}{req.specifier}", marker=marker, hashes=hashes))
    if refused:
        raise JobError("the pinned requirements hold lines a wheelhouse cannot honour:\n  " + "\n  ".join(refused))
    return pins, options


def applicable(pins: list[Pin], target: str, python: str) -> list[Pin]:
    """The pins whose markers hold for CPython `python` on `target` (see `marker_environment`)."""
    markers = packaging("markers")
    env = marker_environment(target, python)
    return [pin for pin in pins if pin.marker is None or bool(markers.Marker(pin.marker).evaluate(env))]
