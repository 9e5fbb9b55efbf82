"""What a GitLab runner's cache costs a job, modelled on the cache folders gitlab-ci-local kept.

gitlab-ci-local copies a job's cache paths in and out as directories. A GitLab runner instead zips them into one
archive after the job (uploaded to a local volume or object storage) and extracts it before the next job that
uses the same key (GitLab docs, "Caching in GitLab CI/CD": "How archiving and extracting works"); it skips the
upload when no file in the paths changed. `measure()` times exactly those two steps on a cache folder: a zip
archive (deflate, level 6, zlib's default) and its extraction, and reports the archive's size.

The per-job overhead of the benchmark then replaces gitlab-ci-local's own copy-in time (its `imported cache`
line) by the extraction time, and adds the archive time when the job changed its cache.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# A job's own output (`<job> > text`) may say anything: only the engine's own lines count.
_IMPORTED = re.compile(
    r"^(?P<job>(?:(?! > | \$ ).)+?) imported cache '(?P<name>[^']+)' in (?P<num>[\d.]+) (?P<unit>min|s|ms|μs)\b"
)
_UNITS = {"min": 60.0, "s": 1.0, "ms": 1e-3, "μs": 1e-6}


@dataclass(frozen=True)
class Transport:
    """One cache archive: files and bytes before zipping, archive bytes, seconds to zip and to extract."""

    files: int
    raw_bytes: int
    archive_bytes: int
    zip_seconds: float
    unzip_seconds: float


NONE = Transport(0, 0, 0, 0.0, 0.0)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def measure(folder: Path, scratch: Path | None = None) -> Transport:
    """Zip `folder` (what the runner archives for one cache key) and extract it again; symlinks are stored as
    links, as the runner's archiver does."""
    files = _files(folder)
    with tempfile.TemporaryDirectory(prefix="python-ci-cache-zip-", dir=scratch) as tmp:
        archive = Path(tmp) / "cache.zip"
        start = time.monotonic()
        raw = 0
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as out:
            for path in files:
                rel = str(path.relative_to(folder))
                if path.is_symlink():
                    info = zipfile.ZipInfo(rel)
                    info.external_attr = 0o120777 << 16
                    out.writestr(info, str(path.readlink()))
                else:
                    raw += path.stat().st_size
                    out.write(path, rel)
        zipped = time.monotonic() - start
        size = archive.stat().st_size
        start = time.monotonic()
        with zipfile.ZipFile(archive) as zipped_file:
            zipped_file.extractall(Path(tmp) / "out")
        unzipped = time.monotonic() - start
    return Transport(len(files), raw, size, zipped, unzipped)


def stamp(folder: Path) -> str:
    """Changes when any file under `folder` is added, removed, resized or rewritten (the runner's own test for
    "the cache changed, upload it")."""
    digest = hashlib.sha256()
    for path in _files(folder):
        info = path.lstat()
        digest.update(f"{path.relative_to(folder)}|{info.st_size}|{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def imported(lines: Iterable[str]) -> dict[str, dict[str, float]]:
    """Job -> {cache name: seconds gitlab-ci-local took to copy it in}, from its `imported cache` lines."""
    found: dict[str, dict[str, float]] = {}
    for line in lines:
        match = _IMPORTED.match(line)
        if match:
            seconds = float(match.group("num")) * _UNITS[match.group("unit")]
            found.setdefault(match.group("job"), {})[match.group("name")] = seconds
    return found


def snapshot(cache_root: Path) -> dict[str, str]:
    """Cache name -> stamp, for every cache folder gitlab-ci-local kept under `cache_root`."""
    if not cache_root.is_dir():
        return {}
    return {p.name: stamp(p) for p in sorted(cache_root.iterdir()) if p.is_dir()}
