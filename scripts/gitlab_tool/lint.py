"""``lint FILE``: GitLab's CI lint API when a GitLab is configured, the offline validator otherwise."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from scripts.gitlab_tool.config import Connection
from scripts.gitlab_tool.console import Console
from scripts.gitlab_tool.errors import ExitCode, ToolError, gitlab_errors

# The offline validator lives in scripts/validate.py and exposes validate_path(path) -> list[str]
# (problems; empty means valid). It is imported on use so that `bootstrap` and `new` work without it.
OFFLINE_MODULE = "scripts.validate"

Validator = Callable[[Path], list[str]]


@dataclass(frozen=True)
class LintResult:
    engine: str  # which validator ran, said in the output
    errors: list[str]
    warnings: list[str] = field(default_factory=list[str])

    @property
    def valid(self) -> bool:
        return not self.errors


def offline_validator(catalog: str | None = None) -> Validator:
    """The offline validator's check; with `catalog`, includes of that project path are this catalogue's."""
    try:
        module = importlib.import_module(OFFLINE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != OFFLINE_MODULE:
            raise
        raise ToolError(
            ExitCode.CONFIG,
            "the offline validator scripts/validate.py is missing; to lint through GitLab instead, set "
            "GITLAB_URL and GITLAB_TOKEN (or --gitlab NAME) and pass --project",
        ) from None
    validate_path = cast(Validator, module.validate_path)
    if catalog is None:
        return validate_path
    located = module.Catalog(path=catalog)
    return lambda path: cast(list[str], module.validate_path(path, located))


def lint_offline(path: Path, catalog: str | None = None) -> LintResult:
    problems = offline_validator(catalog)(path)
    return LintResult(engine=f"offline validator ({OFFLINE_MODULE})", errors=list(problems))


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(item) for item in cast(list[object], value)]


def lint_remote(conn: Connection, project_path: str, content: str, *, ref: str | None, simulate: bool) -> LintResult:
    """POST /projects/:id/ci/lint (GitLab removed the project-less /ci/lint endpoint in 16.0)."""
    project = conn.gl.projects.get(project_path, lazy=True)  # lazy: no request until the lint call
    data: dict[str, Any] = {"content": content}
    if simulate:
        # dry_run simulates pipeline creation on the ref: includes, rules and needs get resolved.
        data["dry_run"] = True
        if ref:
            data["ref"] = ref
    with gitlab_errors(f"linting through {project_path}", url=conn.url, needs="the Developer role"):
        answer: dict[str, Any] = project.ci_lint.create(data).asdict()
    errors = _strings(answer.get("errors"))
    if answer.get("valid") is not True and not errors:
        errors = ["GitLab reports the configuration as invalid without a message"]
    return LintResult(
        engine=f"GitLab CI lint API ({conn.url}, project {project_path})",
        errors=errors,
        warnings=_strings(answer.get("warnings")),
    )


def run(
    conn: Connection | None,
    path: Path,
    console: Console,
    *,
    project: str | None,
    ref: str | None,
    simulate: bool,
    offline: bool,
    catalog: str | None = None,
) -> ExitCode:
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ToolError(ExitCode.USAGE, f"cannot read {path}: {exc.strerror}") from None
    if ref is not None and not simulate:
        raise ToolError(ExitCode.USAGE, "--ref sets the context of --simulate; pass both")
    if offline or conn is None:
        result = lint_offline(path, catalog)
    else:
        if project is None:
            raise ToolError(
                ExitCode.USAGE,
                "remote lint needs --project GROUP/PROJECT (GitLab lints in a project's context); "
                "pass --offline to use the offline validator",
            )
        result = lint_remote(conn, project, content, ref=ref, simulate=simulate)
    console.info(f"lint {path}: {result.engine}")
    for error in result.errors:
        console.info(f"  error: {error}")
    for warning in result.warnings:
        console.info(f"  warning: {warning}")
    if result.valid:
        console.info(f"{path}: valid" + (f" ({len(result.warnings)} warning(s))" if result.warnings else ""))
        return ExitCode.OK
    console.info(f"{path}: invalid ({len(result.errors)} problem(s))")
    return ExitCode.INVALID
