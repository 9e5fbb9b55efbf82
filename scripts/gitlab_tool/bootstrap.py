"""``bootstrap PROJECT``: deploy token, CI/CD variables, protected tags and a starter pipeline.

The command first reads the project's state and builds a plan (one step per object), then applies the
steps that create or update something. A second run therefore finds everything in place, issues no
write call, and says so.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import gitlab.exceptions
from gitlab.v4.objects import Project

from scripts.gitlab_tool.config import Connection
from scripts.gitlab_tool.console import Console
from scripts.gitlab_tool.errors import ExitCode, ToolError, gitlab_errors
from scripts.gitlab_tool.starter_ci import CI_FILE
from scripts.gitlab_tool.variables import VariableSpec

DEPLOY_TOKEN_NAME = "gitlab-deploy-token"  # noqa: S105 (the token's name, not a value)
DEPLOY_TOKEN_SCOPES = ("read_registry", "write_registry")
TAG_CREATE_LEVELS = {"maintainer": 40, "developer": 30, "no_one": 0}
_MAINTAINER = "the Maintainer role on the project"


class Action(enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class Step:
    subject: str
    action: Action
    detail: str
    apply: Callable[[], None] | None = None


@dataclass(frozen=True)
class CiFile:
    content: str
    summary: str  # what the file includes, for the plan line
    branch: str | None
    overwrite: bool


@dataclass(frozen=True)
class Options:
    project: str
    variables: Sequence[VariableSpec] = ()
    tag_pattern: str = "v*"
    tag_create_level: str = "maintainer"
    catalog: str | None = None  # checked for visibility when a starter file is written
    ci_file: CiFile | None = None
    dry_run: bool = False


def _attrs(obj: Any) -> dict[str, Any]:
    # python-gitlab objects expose the JSON as untyped attributes; asdict() gives one typed view.
    data: dict[str, Any] = obj.asdict()
    return data


class _Planner:
    def __init__(self, conn: Connection, project: Project, opts: Options, console: Console) -> None:
        self.conn = conn
        self.project = project
        self.opts = opts
        self.console = console
        self.path = opts.project

    def errors(self, action: str, needs: str = _MAINTAINER) -> AbstractContextManager[None]:
        return gitlab_errors(f"{action} of {self.path}", url=self.conn.url, needs=needs)

    def list_all(self, manager: Any, what: str) -> list[dict[str, Any]]:
        """Every item on every page (python-gitlab follows the Link headers), checked against X-Total.

        A list cut short (a proxy that drops Link headers) would make bootstrap create duplicates, so a
        count below the server's total stops the run before any change.
        """
        with self.errors(f"listing {what}"):
            pages = manager.list(iterator=True)
            items = [_attrs(item) for item in pages]
        total: int | None = pages.total
        if total is not None and len(items) < total:
            raise ToolError(
                ExitCode.API,
                f"GitLab listed {len(items)} of {total} {what} of {self.path}: pagination stopped early "
                "(are Link headers dropped on the way?); nothing was changed",
            )
        return items

    def deploy_token(self) -> Step:
        subject = f"deploy token {DEPLOY_TOKEN_NAME}"
        tokens = self.list_all(self.project.deploytokens, "deploy tokens")
        usable = [
            t for t in tokens if t.get("name") == DEPLOY_TOKEN_NAME and not t.get("revoked") and not t.get("expired")
        ]
        if usable:
            have = set(usable[0].get("scopes") or [])
            missing = [s for s in DEPLOY_TOKEN_SCOPES if s not in have]
            if missing:
                return Step(
                    subject,
                    Action.CONFLICT,
                    f"exists (id {usable[0].get('id')}) without scope {', '.join(missing)}; a deploy token's "
                    "scopes cannot be changed: revoke it (Settings > Repository > Deploy tokens) and run again",
                )
            return Step(subject, Action.UNCHANGED, f"exists (user {usable[0].get('username')})")

        def create() -> None:
            with self.errors("creating the deploy token"):
                created = self.project.deploytokens.create(
                    {"name": DEPLOY_TOKEN_NAME, "scopes": list(DEPLOY_TOKEN_SCOPES)}
                )
            # The answer carries the token value once; make sure nothing can print it.
            token = _attrs(created).get("token")
            if isinstance(token, str):
                self.console.add_secret(token)

        return Step(
            subject,
            Action.CREATE,
            f"scopes {', '.join(DEPLOY_TOKEN_SCOPES)}; jobs get it as CI_DEPLOY_USER/CI_DEPLOY_PASSWORD "
            "(its value is never shown)",
            create,
        )

    def variables(self) -> list[Step]:
        if not self.opts.variables:
            return []
        existing = self.list_all(self.project.variables, "CI/CD variables")
        # Only the all-environments variable is ours; scoped ones with the same key are the user's.
        by_key = {v["key"]: v for v in existing if v.get("environment_scope", "*") == "*"}
        return [self._variable(spec, by_key.get(spec.key)) for spec in self.opts.variables]

    def _variable(self, spec: VariableSpec, have: dict[str, Any] | None) -> Step:
        subject = f"variable {spec.key}"
        flags = ", ".join(f for f, on in (("masked", spec.masked), ("protected", spec.protected)) if on)
        flags = flags or "not masked, not protected"
        wanted = {"value": spec.value, "masked": spec.masked, "protected": spec.protected}
        if have is None:

            def create() -> None:
                with self.errors(f"creating variable {spec.key}"):
                    self.project.variables.create({"key": spec.key, "environment_scope": "*", **wanted})

            return Step(subject, Action.CREATE, f"{flags}; value from {spec.source}", create)
        if have.get("value") is None:
            # A hidden variable's value cannot be read back, so it cannot be compared: leave it.
            return Step(subject, Action.UNCHANGED, "exists and is hidden (value not readable); left as is")
        changed = [name for name, value in wanted.items() if have.get(name) != value]
        if not changed:
            return Step(subject, Action.UNCHANGED, f"exists ({flags}; same value)")

        def update() -> None:
            with self.errors(f"updating variable {spec.key}"):
                self.project.variables.update(spec.key, wanted, query_parameters={"filter": {"environment_scope": "*"}})

        return Step(subject, Action.UPDATE, f"{', '.join(changed)} differ; value from {spec.source}", update)

    def protected_tag(self) -> Step:
        pattern = self.opts.tag_pattern
        subject = f"protected tag {pattern}"
        tags = self.list_all(self.project.protectedtags, "protected tags")
        for tag in tags:
            if tag.get("name") == pattern:
                levels: list[dict[str, Any]] = tag.get("create_access_levels") or []
                who = ", ".join(str(level.get("access_level_description")) for level in levels)
                return Step(subject, Action.UNCHANGED, f"already protected (create: {who or 'unknown'})")
        level = TAG_CREATE_LEVELS[self.opts.tag_create_level]

        def create() -> None:
            with self.errors(f"protecting tags {pattern}"):
                self.project.protectedtags.create({"name": pattern, "create_access_level": level})

        return Step(subject, Action.CREATE, f"tag creation allowed for: {self.opts.tag_create_level}", create)

    def ci_file(self, ci: CiFile) -> Step:
        default_branch: str | None = _attrs(self.project).get("default_branch")
        branch = ci.branch or default_branch or "main"
        subject = f"file {CI_FILE} on {branch}"
        needs = "the Developer role (Maintainer on a protected branch)"
        with self.errors(f"reading {CI_FILE}", needs):
            try:
                current: str | None = self.project.files.get(file_path=CI_FILE, ref=branch).decode().decode()
            except gitlab.exceptions.GitlabGetError as exc:
                if exc.response_code != 404:
                    raise
                current = None  # no such file (or an empty repository): ours to write
        message = f"Add the python-ci starter pipeline ({ci.summary})"
        data = {"branch": branch, "content": ci.content, "commit_message": message}
        if current is None:

            def create() -> None:
                with self.errors(f"committing {CI_FILE}", needs):
                    self.project.files.create({"file_path": CI_FILE, **data})

            return Step(subject, Action.CREATE, ci.summary, create)
        if current == ci.content:
            return Step(subject, Action.UNCHANGED, "already the starter pipeline")
        if not ci.overwrite:
            return Step(
                subject,
                Action.UNCHANGED,
                "exists with other content; left as is (--overwrite-ci-file replaces it)",
            )

        def update() -> None:
            with self.errors(f"committing {CI_FILE}", needs):
                self.project.files.update(CI_FILE, data)

        return Step(subject, Action.UPDATE, f"replace with the starter ({ci.summary})", update)


def run(conn: Connection, opts: Options, console: Console) -> ExitCode:
    gl = conn.gl
    with gitlab_errors(f"reading project {opts.project}", url=conn.url):
        project = gl.projects.get(opts.project)
    if opts.ci_file is not None and opts.catalog is not None:
        with gitlab_errors(f"reading the catalogue project {opts.catalog}", url=conn.url):
            gl.projects.get(opts.catalog)
    planner = _Planner(conn, project, opts, console)
    steps = [planner.deploy_token(), *planner.variables(), planner.protected_tag()]
    if opts.ci_file is not None:
        steps.append(planner.ci_file(opts.ci_file))

    console.info(f"bootstrap {opts.project} on {conn.url} ({conn.source})")
    for step in steps:
        console.info(f"  {step.subject}: {step.action.value}: {step.detail}")
    changes = [s for s in steps if s.apply is not None]
    conflicts = [s for s in steps if s.action is Action.CONFLICT]
    if opts.dry_run:
        console.info(f"dry run: {len(changes)} change(s) planned, none applied")
    elif not changes:
        console.info(f"nothing to change: {opts.project} is already bootstrapped")
    else:
        for step in changes:
            assert step.apply is not None
            step.apply()
            console.info(f"  done: {step.subject}: {step.action.value}")
        console.info(f"applied {len(changes)} change(s)")
    if conflicts:
        raise ToolError(
            ExitCode.CONFLICT,
            f"{len(conflicts)} object(s) conflict and were left alone: {', '.join(s.subject for s in conflicts)}",
        )
    return ExitCode.OK
