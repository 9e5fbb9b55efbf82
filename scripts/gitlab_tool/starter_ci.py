"""The starter ``.gitlab-ci.yml`` that includes the catalogue's components at one version."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from scripts.gitlab_tool.errors import ExitCode, ToolError

CI_FILE = ".gitlab-ci.yml"
# The catalogue's components and the stage each runs in; `version` first, because later jobs read
# its dotenv report.
DEFAULT_COMPONENTS = ("version:prepare", "ruff:test", "mypy:test", "pyright:test", "pytest:test")

_PROJECT_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+")
# A component version: a full or partial semantic version, ~latest, or a commit SHA (GitLab's rules).
_VERSION = re.compile(r"\d+(\.\d+){0,2}|\d+\.\d+\.\d+-[0-9A-Za-z.-]+|~latest|[0-9a-f]{40}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Component:
    name: str
    stage: str


def parse_component(text: str) -> Component:
    name, _, stage = text.partition(":")
    stage = stage or "test"
    if not _NAME.fullmatch(name) or not _NAME.fullmatch(stage):
        raise ToolError(ExitCode.USAGE, f"--component {text!r}: expected NAME[:STAGE] (lower case, digits, - _)")
    return Component(name=name, stage=stage)


def check_catalog(catalog: str, version: str) -> None:
    if not _PROJECT_PATH.fullmatch(catalog):
        raise ToolError(ExitCode.USAGE, f"--catalog {catalog!r}: expected a project path like group/project")
    if not _VERSION.fullmatch(version):
        raise ToolError(ExitCode.USAGE, f"--version {version!r}: expected 1.2.3 (or 1.2, 1, ~latest, a commit SHA)")


def render(catalog: str, version: str, components: Sequence[Component]) -> str:
    """The file's text. Written by hand rather than yaml.dump so that it keeps its comments."""
    check_catalog(catalog, version)
    if not components:
        raise ToolError(ExitCode.USAGE, "the starter pipeline needs at least one component")
    stages: list[str] = []
    for comp in components:
        if comp.stage not in stages:
            stages.append(comp.stage)
    lines = [
        "# Starter pipeline written by python-ci's gitlab_tool.",
        f"# The jobs come from the CI/CD catalogue project {catalog} at version {version}:",
        "# change the version below to upgrade; see the catalogue's README for each component's inputs.",
        "stages:",
        *(f"  - {stage}" for stage in stages),
        "",
        "include:",
    ]
    for comp in components:
        lines += [
            f"  - component: $CI_SERVER_FQDN/{catalog}/{comp.name}@{version}",
            "    inputs:",
            f"      stage: {comp.stage}",
        ]
    return "\n".join(lines) + "\n"
