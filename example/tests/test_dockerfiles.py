"""Static checks of the container files: what a build engine cannot be run here to prove."""

import json
import re
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of a Dockerfile, continuation lines joined, comments dropped."""
    text = (PROJECT_DIR / name).read_text()
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    )
    pairs: list[tuple[str, str]] = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


@pytest.fixture
def product() -> list[tuple[str, str]]:
    return instructions("product.Dockerfile")


def test_product_both_stages_use_base_image_arg(product: list[tuple[str, str]]) -> None:
    assert product[0] == ("ARG", "BASE_IMAGE=python:3.12-slim")
    assert [args for keyword, args in product if keyword == "FROM"] == [
        "${BASE_IMAGE} AS build",
        "${BASE_IMAGE} AS runtime",
    ]


def test_product_installs_with_uv_from_hashed_requirements(product: list[tuple[str, str]]) -> None:
    runs = " ".join(args for keyword, args in product if keyword == "RUN")
    assert "pip install --quiet --require-hashes -r /tmp/requirements-build.txt" in runs
    sync = "uv pip sync --quiet --python /opt/venv/bin/python --require-hashes"
    assert f"{sync} /tmp/requirements.txt" in runs
    assert "python3 -m venv /opt/venv" in runs
    # only python3 is assumed from the base image
    assert "/usr/local/bin" not in runs


def test_product_runs_as_non_root_with_exec_form_cmd_and_healthcheck(product: list[tuple[str, str]]) -> None:
    runtime = product[[keyword for keyword, _ in product].index("FROM", 1) :]
    users = [args for keyword, args in runtime if keyword == "USER"]
    assert users == ["10001:10001"]
    cmd = next(args for keyword, args in runtime if keyword == "CMD")
    assert json.loads(cmd) == ["gunicorn", "--config", "gunicorn.conf.py"]
    healthcheck = next(args for keyword, args in runtime if keyword == "HEALTHCHECK")
    check = json.loads(healthcheck.split("CMD", 1)[1])
    assert check[:2] == ["python3", "-c"]
    assert "/livez" in check[2]
    compile(check[2], "<healthcheck>", "exec")


def test_product_labels_come_from_build_args(product: list[tuple[str, str]]) -> None:
    args = {value.split("=")[0] for keyword, value in product if keyword == "ARG"}
    assert {"VERSION", "GIT_REVISION", "BUILD_DATE", "BASE_IMAGE"} == args
    labels = " ".join(value for keyword, value in product if keyword == "LABEL")
    for label, arg in (("version", "VERSION"), ("revision", "GIT_REVISION"), ("created", "BUILD_DATE")):
        assert f'org.opencontainers.image.{label}="${{{arg}}}"' in labels


def test_no_arg_before_a_cached_step(product: list[tuple[str, str]]) -> None:
    # Only the global BASE_IMAGE comes before the steps; the per-commit ARGs follow the last step that builds
    # anything: new values invalidate no cached layer (buildah 1.28 restores nothing after an ARG).
    keywords = [keyword for keyword, _ in product]
    last_arg = max(i for i, keyword in enumerate(keywords) if keyword == "ARG")
    assert keywords.index("ARG", 1) == last_arg - 2  # VERSION, GIT_REVISION, BUILD_DATE together
    assert not {"RUN", "COPY", "ADD", "FROM"} & set(keywords[last_arg:])


def test_dockerignore_keeps_build_info_and_drops_local_state() -> None:
    patterns = [
        line.strip()
        for line in (PROJECT_DIR / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {".venv", ".env", ".git", "logs"} <= set(patterns)
    assert not [p for p in patterns if "build_info" in p or p in {"app", "app/*", "*.py", "*.json"}]


def test_dev_dockerfile_uses_dev_requirements_and_reload() -> None:
    dev = instructions("Dockerfile")
    runs = " ".join(args for keyword, args in dev if keyword == "RUN")
    assert "--require-hashes /tmp/requirements-dev.txt" in runs
    assert "--reload" in next(args for keyword, args in dev if keyword == "CMD")
