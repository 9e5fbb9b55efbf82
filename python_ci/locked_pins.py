"""The project's locked dependencies as one pinned requirements file: what the SBOM and the dependency audit read.

The lock is found by `environment.detect` (the same order the installing jobs use: `uv.lock`, `poetry.lock`, a uv
workspace's `uv.lock`, requirements files) and exported by `lock_export.export_lock` (the wheelhouse's export:
`uv export` / poetry's export plugin, main dependencies only, hashes kept). A project with only a
`pyproject.toml` has nothing locked, so there is nothing exact to describe or audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from python_ci.environment import Source, detect
from python_ci.job import JobError, variable, words
from python_ci.lock_export import Lock, Selection, Uv, export_lock


@dataclass(frozen=True)
class Pins:
    """`path`: the pinned requirements file (pip's format, one `name==version` per package); `source`: what it
    was exported from, as `environment.detect` found it; `files`: those files relative to the checkout root."""

    path: Path
    source: Source
    files: tuple[str, ...]


def as_lock(source: Source, project: Path) -> Lock:
    """The lock_export view of a detected uv.lock or poetry.lock (a workspace member keeps its name)."""
    path = (project / source.files[0]).resolve()
    if source.kind == "uv.lock":
        return Lock("uv", path, package=source.member or None)
    return Lock("poetry", path)


def export_pins(project: Path, root: Path, scratch: Path) -> Pins:
    """Export the project's locked main dependencies (no dependency groups, no extras) to `scratch/pins.txt`;
    requirements files (the `PYCI_REQUIREMENTS` input, else the files `environment.detect` looks for) are joined
    in the order found.

    Raises JobError when the project has no lock and no requirements file, or when the export fails (a stale
    lock)."""
    scratch.mkdir(parents=True, exist_ok=True)
    out = scratch / "pins.txt"
    source = detect(project, words(variable("PYCI_REQUIREMENTS", "")), root)
    if source.kind in {"pyproject", "none"}:
        raise JobError(
            "the project has no uv.lock, poetry.lock or requirements file: nothing is locked, so there are no exact "
            "versions to describe or audit"
        )
    if source.kind == "requirements":
        out.write_text("".join((project / name).read_text(encoding="utf-8") + "\n" for name in source.files))
    else:
        export_lock(as_lock(source, project), project, root, out, uv=Uv(scratch), selection=Selection())
    files = tuple((project / name).resolve().relative_to(root).as_posix() for name in source.files)
    return Pins(out, source, files)
