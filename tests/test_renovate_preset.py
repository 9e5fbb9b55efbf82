"""The Renovate preset finds every python-ci include pinned to a full version, and nothing else.

Renovate runs the preset's regexes with RE2 (JavaScript syntax): they are checked with node's RegExp and the
validator's RE2 rules, then applied (in Python, same groups) to the pipelines this repository writes."""

import json
import re
import subprocess
from typing import Any

import pytest

from scripts.gitlab_tool import starter_ci
from scripts.validate import ROOT, _re2_problem  # pyright: ignore[reportPrivateUsage]
from tests.engine import engine_env

PRESET: dict[str, Any] = json.loads((ROOT / "renovate" / "python-ci.json").read_text())
(MANAGER,) = PRESET["customManagers"]


def _python(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("(?<", "(?P<"), re.MULTILINE)


def _found(text: str) -> list[tuple[str, str]]:
    return [
        (m["packageName"], m["currentValue"])
        for pattern in MANAGER["matchStrings"]
        for m in _python(pattern).finditer(text)
    ]


def test_regexes_are_valid_for_renovate() -> None:
    patterns = [*MANAGER["matchStrings"], *(p.strip("/") for p in MANAGER["managerFilePatterns"])]
    assert [p for p in patterns if _re2_problem(p)] == []
    script = "for (const p of JSON.parse(process.argv[1])) new RegExp(p);"
    subprocess.run(["node", "-e", script, json.dumps(patterns)], check=True, env=engine_env())
    assert MANAGER["datasourceTemplate"] == "gitlab-tags"


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("  - component: $CI_SERVER_FQDN/platform/python-ci/ruff@1.0.0\n", [("platform/python-ci", "1.0.0")]),
        ("  - component: $CI_SERVER_FQDN/python-ci/catalog/pytest@2.10.3\n", [("python-ci/catalog", "2.10.3")]),
        ("  - component: gitlab.example.com:8443/a/b/python-ci/version@1.2.3", [("a/b/python-ci", "1.2.3")]),
        (
            '  - component: "${CI_SERVER_FQDN}/platform/python-ci/image-build@1.0.0"\n',
            [("platform/python-ci", "1.0.0")],
        ),
        ("  - component: $CI_SERVER_FQDN/platform/python-ci/ruff@1.0\n", []),  # @1.0 follows 1.0.x itself
        ("  - component: $CI_SERVER_FQDN/platform/python-ci/ruff@~latest\n", []),
        ("  - component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/ruff@$CI_COMMIT_SHA\n", []),
        ("  - component: gitlab.com/components/opentofu/full-pipeline@2.0.0\n", []),
        ("  - component: $CI_SERVER_FQDN/platform/python-ci/ruff@1.0.0-rc.1\n", []),
    ],
)
def test_matches_full_versions_of_python_ci_includes_only(line: str, found: list[tuple[str, str]]) -> None:
    assert _found(line) == found


def test_finds_every_include_of_the_starter_pipeline() -> None:
    components = [starter_ci.parse_component(c) for c in starter_ci.DEFAULT_COMPONENTS]
    text = starter_ci.render("platform/python-ci", "1.4.2", components)
    assert _found(text) == [("platform/python-ci", "1.4.2")] * len(components)


@pytest.mark.parametrize(
    ("path", "managed"),
    [(".gitlab-ci.yml", True), ("services/a/.gitlab-ci.yaml", True), (".gitlab/ci/lint.yml", True), ("x.yml", False)],
)
def test_file_patterns(path: str, managed: bool) -> None:
    patterns = [re.compile(p.strip("/")) for p in MANAGER["managerFilePatterns"]]
    assert any(p.search(path) for p in patterns) == managed
