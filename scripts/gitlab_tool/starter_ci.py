"""The starter ``.gitlab-ci.yml`` that includes the catalogue's components at one version."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.gitlab_tool.errors import ExitCode, ToolError

CI_FILE = ".gitlab-ci.yml"
# The catalogue's components and the stage each runs in; `version` first, because later jobs read
# its dotenv report.
DEFAULT_COMPONENTS = ("version:prepare", "ruff:test", "mypy:test", "pyright:test", "pytest:test")

_PROJECT_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+")
# A component version: a full or partial semantic version, ~latest, or a commit SHA (GitLab's rules).
_VERSION = re.compile(r"\d+(\.\d+){0,2}|\d+\.\d+\.\d+-[0-9A-Za-z.-]+|~latest|[0-9a-f]{40}")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# The package of a service made by `new` (scaffold.py keeps the reference service's `app`).
DEFAULT_PACKAGE = "app"


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


def _mandatory_values(package: str) -> dict[str, tuple[str, str]]:
    """Values the starter gives to inputs that have no default: input name -> (value, comment)."""
    return {"output_dir": (package, "the package that receives _build_info.py / _build_info.json")}


def _inputs(component: Component, package: str) -> list[tuple[str, str, str]]:
    """(input, value, comment) for one include: its stage and every input its spec declares mandatory.

    The spec is read from this checkout's templates/ (the catalogue this tool ships with): an input made
    mandatory in a later release is filled without editing this module."""
    from scripts import validate  # noqa: PLC0415 - the validator is only needed to write a starter

    template = validate.find_component(validate.ROOT, component.name)
    if template is None:
        raise ToolError(ExitCode.USAGE, f"--component {component.name!r}: the catalogue has no such component")
    declared = validate.load_document(template).inputs
    chosen = [("stage", component.stage, "")] if "stage" in declared else []
    known: Mapping[str, tuple[str, str]] = _mandatory_values(package)
    for name, spec in declared.items():
        if "default" in spec or "rules" in spec:
            continue
        if name not in known:
            raise ToolError(
                ExitCode.USAGE,
                f"component {component.name!r} has a mandatory input {name!r} the starter cannot choose; "
                "leave the component out and add it by hand",
            )
        chosen.append((name, *known[name]))
    return chosen


def render(catalog: str, version: str, components: Sequence[Component], package: str = DEFAULT_PACKAGE) -> str:
    """The file's text. Written by hand rather than yaml.dump so that it keeps its comments.

    Raises ToolError when the offline validator (scripts/validate.py, with `catalog` as the catalogue's path)
    finds a problem in the result: a starter GitLab would refuse is never written."""
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
        lines += [f"  - component: $CI_SERVER_FQDN/{catalog}/{comp.name}@{version}", "    inputs:"]
        for name, value, comment in _inputs(comp, package):
            lines.append(f"      {name}: {value}" + (f"  # {comment}" if comment else ""))
    text = "\n".join(lines) + "\n"
    _self_check(text, catalog)
    return text


def _self_check(text: str, catalog: str) -> None:
    from scripts import validate  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / CI_FILE
        path.write_text(text, encoding="utf-8")
        result = validate.check_path(path, validate.Catalog(path=catalog))
    if result.problems or result.unchecked:
        found = "; ".join(line.split(": ", 1)[1] for line in [*result.problems, *result.unchecked])
        raise ToolError(ExitCode.USAGE, f"the starter pipeline would not be valid: {found}")
