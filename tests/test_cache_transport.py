"""The runner's cache transport model (scripts/cache_transport.py) and the benchmark's cache variants."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from scripts import cache_transport
from scripts.benchmark_pipeline import CACHED_JOBS, COMPARED_COMPONENTS, variant_pipeline
from scripts.localci import ROOT
from scripts.validate import as_map


def _tree(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "big.txt").write_text("x" * 200_000)
    (root / "lib" / "small.py").write_text("VALUE = 1\n")
    (root / "bin").mkdir()
    (root / "bin" / "python").symlink_to("/usr/bin/python3")
    return root


def test_measure_zips_and_extracts_the_cache_paths(tmp_path: Path) -> None:
    folder = _tree(tmp_path / "cache")
    moved = cache_transport.measure(folder)
    assert moved.files == 3
    assert moved.raw_bytes == 200_000 + len("VALUE = 1\n")
    # Repetitive text deflates to a small fraction; the link is stored, not followed.
    assert 0 < moved.archive_bytes < 10_000
    assert moved.zip_seconds >= 0
    assert moved.unzip_seconds >= 0


def test_stamp_changes_only_when_a_file_changes(tmp_path: Path) -> None:
    folder = _tree(tmp_path / "cache")
    first = cache_transport.stamp(folder)
    assert cache_transport.stamp(folder) == first
    small = folder / "lib" / "small.py"
    small.write_text("VALUE = 2\n")
    os.utime(small, ns=(1, 1))
    assert cache_transport.stamp(folder) != first
    assert cache_transport.snapshot(tmp_path) == {"cache": cache_transport.stamp(folder)}


def test_imported_reads_gitlab_ci_local_copy_in_lines() -> None:
    lines = [
        "mypy imported cache '0_python-ci-venv-mypy-py3.11-abc' in 1.5 s",
        "pytest: [3.11] imported cache '0_python-ci-venv-pytest-py3.11-def' in 250 ms",
        "mypy > imported cache 'not-a-copy' in 9 s",
        "ruff starting python:3.11-slim (test)",
    ]
    assert cache_transport.imported(lines) == {
        "mypy": {"0_python-ci-venv-mypy-py3.11-abc": 1.5},
        "pytest: [3.11]": {"0_python-ci-venv-pytest-py3.11-def": 0.25},
    }


def test_cache_variants_keep_the_compared_components_and_override_their_cache() -> None:
    base = as_map(yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8")))
    text = (ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8")
    venv, none, uv = (as_map(yaml.safe_load(variant_pipeline(text, v))) for v in ("venv", "none", "uv"))
    for variant in (venv, none, uv):
        names = sorted(str(as_map(e)["component"]).split("/")[-1].split("@")[0] for e in variant["include"])
        assert names == sorted(COMPARED_COMPONENTS)
        assert variant["stages"] == base["stages"]
        assert "validate-components" not in variant  # the catalogue's own jobs are not compared
    for job in CACHED_JOBS:
        assert job not in venv  # the components' own cache
        assert none[job] == {"cache": []}
        assert uv[job] == {
            "cache": [{"key": f"python-ci-uv-{job}-py$PYTHON_VERSION", "paths": [".cache/uv"], "when": "always"}]
        }
