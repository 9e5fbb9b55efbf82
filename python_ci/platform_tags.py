"""Wheel platform tags and environment markers of a Linux target machine (PEP 425, PEP 508, PEP 600, PEP 656)."""

from __future__ import annotations

import re

from python_ci.job import JobError

TARGET_RE = re.compile(
    r"^(?:manylinux_2_(?P<glibc>[0-9]{1,2})|(?P<legacy>manylinux2014|manylinux2010|manylinux1)"
    r"|musllinux_1_(?P<musl>[0-9]))_(?P<arch>x86_64|i686|aarch64|armv7l|ppc64le|s390x|riscv64)$"
)
PYTHON_RE = re.compile(r"^3\.[0-9]{1,2}$")
# glibc minor version -> the legacy manylinux alias that names the same platform (PEP 600)
LEGACY_ALIAS = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
LEGACY_GLIBC = {alias: minor for minor, alias in LEGACY_ALIAS.items()}


def _match(target: str) -> re.Match[str]:
    match = TARGET_RE.match(target)
    if match is None:
        raise JobError(f"unknown target {target!r} (allowed: {TARGET_RE.pattern})")
    return match


def platforms(target: str) -> list[str]:
    """Every platform tag a machine of `target` (e.g. `manylinux_2_28_x86_64`) accepts, newest first.

    pip expands only the legacy manylinux names, so a `manylinux_2_28` target would otherwise miss the many wheels
    tagged `manylinux2014` (= `manylinux_2_17`, PEP 600). aarch64, ppc64le, s390x, armv7l and riscv64 start at
    glibc 2.17 (manylinux2014); musllinux_1_N accepts musllinux_1_N down to musllinux_1_0 (PEP 656).
    Raises JobError for an unknown target or a manylinux target older than its architecture."""
    match = _match(target)
    arch = match["arch"]
    if match["musl"] is not None:
        return [f"musllinux_1_{minor}_{arch}" for minor in range(int(match["musl"]), -1, -1)]
    top = int(match["glibc"]) if match["glibc"] is not None else LEGACY_GLIBC[match["legacy"]]
    floor = 5 if arch in {"x86_64", "i686"} else 17
    tags: list[str] = []
    for minor in range(top, floor - 1, -1):
        tags.append(f"manylinux_2_{minor}_{arch}")
        if minor in LEGACY_ALIAS:
            tags.append(f"{LEGACY_ALIAS[minor]}_{arch}")
    if not tags:
        raise JobError(f"{target}: no manylinux wheels exist for {arch} below glibc 2.{floor}")
    return tags


def marker_environment(target: str, python: str) -> dict[str, str]:
    """The PEP 508 marker values of CPython `python` (e.g. `3.12`) on `target`.

    pip would evaluate the lock's markers against the machine running the job, which is wrong for another
    architecture or Python. Raises JobError for an unknown target."""
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python}.0",
        "os_name": "posix",
        "platform_machine": _match(target)["arch"],
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "python_full_version": f"{python}.0",
        "python_version": python,
        "sys_platform": "linux",
    }
