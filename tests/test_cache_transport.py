"""The runner's cache transport model (scripts/cache_transport.py) and the benchmark's cache variants."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from scripts import cache_transport
from scripts.benchmark_pipeline import CACHED_JOBS, COMPARED_COMPONENTS, compared, variant_pipeline
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


def test_cache_variants_keep_the_compared_components_and_set_their_cache_input() -> None:
    base = as_map(yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8")))
    text = (ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8")
    caches: dict[str, dict[str, Any]] = {}
    for name in ("none", "venv", "uv"):
        variant = as_map(yaml.safe_load(variant_pipeline(text, name)))
        entries = {str(as_map(e)["component"]).split("/")[-1].split("@")[0]: as_map(e) for e in variant["include"]}
        assert sorted(entries) == sorted(COMPARED_COMPONENTS)
        assert variant["stages"] == base["stages"]
        assert "validate-components" not in variant  # the catalogue's own jobs are not compared
        # The inputs of the repository's pipeline stay.
        assert {as_map(e["inputs"])["project_dir"] for e in entries.values()} == {"example"}
        caches[name] = {component: as_map(e["inputs"]).get("cache") for component, e in entries.items()}
    assert set(caches["none"].values()) == {None}  # the components' default
    uv = [{"key": "$CI_JOB_NAME_SLUG", "paths": [".cache/uv"], "when": "always"}]
    assert caches["uv"] == dict.fromkeys(COMPARED_COMPONENTS, uv)
    assert caches["venv"]["ruff"] is None  # no environment of the project's: not compared (`compared`)
    for job in CACHED_JOBS:
        key = {"files": ["example/requirements.txt", "example/requirements-dev.txt"], "prefix": "$CI_JOB_NAME_SLUG"}
        assert caches["venv"][job] == [{"key": key, "paths": ["example/.venv"], "when": "always"}]
    assert not compared("venv", "ruff")
    assert compared("venv", "pytest: [3.11]")
    assert compared("none", "ruff")
