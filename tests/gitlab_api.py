"""A GitLab REST API double for the gitlab_tool tests, built on the `responses` library.

It answers with the JSON shapes of GitLab's API documentation (project, deploy token, project variable,
protected tag, repository file, CI lint, error bodies) and keeps state, so that a second bootstrap run
sees what the first one created. Lists are paginated the way GitLab does it (offset pagination:
``Link`` with rel next/prev/first/last, ``X-Page``, ``X-Per-Page``, ``X-Next-Page``, ``X-Prev-Page``,
``X-Total``, ``X-Total-Pages``), with a small page size so that pagination is exercised.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import requests
import responses

URL = "https://gitlab.example.test"
API = f"{URL}/api/v4"
TOKEN = "glpat-test-token-0123456789"  # the GITLAB_TOKEN the tests use; must never be printed
DEPLOY_TOKEN_VALUE = "gldt-created-token-value-ABCDEF"  # what GitLab returns once on creation

Reply = tuple[int, dict[str, str], str]


def error(status: int, message: str) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps({"message": message})


@dataclass
class Project:
    id: int
    path: str
    default_branch: str | None = "main"
    deploy_tokens: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    variables: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    protected_tags: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    files: dict[str, str] = field(default_factory=dict[str, str])
    lint_answer: dict[str, Any] = field(
        default_factory=lambda: {"valid": True, "errors": [], "warnings": [], "merged_yaml": "", "includes": []}
    )

    def as_json(self) -> dict[str, Any]:
        namespace, _, name = self.path.rpartition("/")
        return {
            "id": self.id,
            "description": None,
            "name": name,
            "name_with_namespace": f"{namespace} / {name}",
            "path": name,
            "path_with_namespace": self.path,
            "created_at": "2026-01-10T09:00:00.000Z",
            "default_branch": self.default_branch,
            "ssh_url_to_repo": f"git@gitlab.example.test:{self.path}.git",
            "http_url_to_repo": f"{URL}/{self.path}.git",
            "web_url": f"{URL}/{self.path}",
            "visibility": "private",
            "namespace": {"id": 3, "name": namespace, "path": namespace, "kind": "group", "full_path": namespace},
            "permissions": {"project_access": {"access_level": 40, "notification_level": 3}, "group_access": None},
        }


@dataclass
class FakeGitLab:
    """State plus the HTTP behaviour. ``role`` and ``scopes`` model the token's user and the token."""

    mock: responses.RequestsMock
    projects: dict[str, Project] = field(default_factory=dict[str, Project])
    per_page: int = 2
    token: str = TOKEN
    role: int = 40  # 30 Developer, 40 Maintainer
    scopes: tuple[str, ...] = ("api",)
    fail_with: Reply | None = None  # every request gets this answer (5xx, HTML, ...)
    link_header: bool = True  # False: a proxy that drops Link (X-Next-Page and X-Total stay)

    def add_project(self, path: str, pid: int, **kwargs: Any) -> Project:
        project = Project(id=pid, path=path, **kwargs)
        self.projects[path] = project
        return project

    def install(self) -> None:
        for method in ("GET", "POST", "PUT", "DELETE"):
            self.mock.add_callback(method, re.compile(re.escape(API) + r"/.*"), callback=self._handle)

    # --- what the tests assert on ---------------------------------------------------------------------
    @property
    def calls(self) -> list[requests.PreparedRequest]:
        return [call.request for call in self.mock.calls]

    def writes(self) -> list[str]:
        return [f"{r.method} {urlsplit(r.url or '').path}" for r in self.calls if r.method != "GET"]

    def gets(self) -> list[str]:
        return [str(r.url) for r in self.calls if r.method == "GET"]

    # --- HTTP ------------------------------------------------------------------------------------------
    def _handle(self, request: requests.PreparedRequest) -> Reply:
        if self.fail_with is not None:
            return self.fail_with
        if request.headers.get("PRIVATE-TOKEN") != self.token:
            return error(401, "401 Unauthorized")
        split = urlsplit(request.url or "")
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        body: dict[str, Any] = json.loads(request.body) if request.body else {}
        match = re.fullmatch(r"/api/v4/projects/(?P<pid>[^/]+)(?P<rest>/.*)?", split.path)
        if match is None:
            return error(404, "404 Not Found")
        project = self._project(unquote(match["pid"]))
        if project is None:
            return error(404, "404 Project Not Found")
        rest = match["rest"] or ""
        method = request.method or "GET"
        if method != "GET" and "api" not in self.scopes:
            return (
                403,
                {"Content-Type": "application/json"},
                json.dumps(
                    {
                        "error": "insufficient_scope",
                        "error_description": "The request requires higher privileges than provided by the "
                        "access token.",
                        "scope": "api",
                    }
                ),
            )
        if rest == "" and method == "GET":
            return 200, {"Content-Type": "application/json"}, json.dumps(project.as_json())
        if rest == "/ci/lint" and method == "POST":
            return 201, {"Content-Type": "application/json"}, json.dumps(project.lint_answer)
        if rest.startswith("/repository/files/"):
            return self._files(project, unquote(rest.removeprefix("/repository/files/")), method, query, body)
        # Deploy tokens, variables and protected tags need the Maintainer role.
        if self.role < 40:
            return error(403, "403 Forbidden")
        if rest == "/deploy_tokens":
            if method == "GET":
                return self._page(request, project.deploy_tokens, query)
            return self._create_deploy_token(project, body)
        if rest == "/variables":
            if method == "GET":
                return self._page(request, project.variables, query)
            return self._create_variable(project, body)
        if rest.startswith("/variables/") and method == "PUT":
            return self._update_variable(project, unquote(rest.removeprefix("/variables/")), query, body)
        if rest == "/protected_tags":
            if method == "GET":
                return self._page(request, project.protected_tags, query)
            return self._protect_tag(project, body)
        return error(404, "404 Not Found")

    def _project(self, ref: str) -> Project | None:
        for project in self.projects.values():
            if ref in (project.path, str(project.id)):
                return project
        return None

    def _page(self, request: requests.PreparedRequest, items: list[dict[str, Any]], query: dict[str, str]) -> Reply:
        per_page = int(query.get("per_page", self.per_page))
        page = int(query.get("page", "1"))
        total_pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        base = (request.url or "").split("?", 1)[0]

        def link(number: int) -> str:
            return f"{base}?{urlencode({**query, 'page': number, 'per_page': per_page})}"

        links: list[str] = []
        if page < total_pages:
            links.append(f'<{link(page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{link(page - 1)}>; rel="prev"')
        links += [f'<{link(1)}>; rel="first"', f'<{link(total_pages)}>; rel="last"']
        headers = {
            "Content-Type": "application/json",
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if page < total_pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
        }
        if self.link_header:
            headers["Link"] = ", ".join(links)
        return 200, headers, json.dumps(chunk)

    def _create_deploy_token(self, project: Project, body: dict[str, Any]) -> Reply:
        token_id = len(project.deploy_tokens) + 1
        token = {
            "id": token_id,
            "name": body["name"],
            "username": f"gitlab+deploy-token-{token_id}",
            "expires_at": None,
            "revoked": False,
            "expired": False,
            "scopes": list(body["scopes"]),
        }
        project.deploy_tokens.append(token)
        return 201, {"Content-Type": "application/json"}, json.dumps({**token, "token": DEPLOY_TOKEN_VALUE})

    def _create_variable(self, project: Project, body: dict[str, Any]) -> Reply:
        scope = body.get("environment_scope", "*")
        if any(v["key"] == body["key"] and v["environment_scope"] == scope for v in project.variables):
            return (
                400,
                {"Content-Type": "application/json"},
                json.dumps({"message": {"key": [f"({body['key']}) has already been taken"]}}),
            )
        variable = variable_json(
            body["key"], body["value"], masked=bool(body.get("masked")), protected=bool(body.get("protected"))
        )
        variable["environment_scope"] = scope
        project.variables.append(variable)
        return 201, {"Content-Type": "application/json"}, json.dumps(variable)

    def _update_variable(self, project: Project, key: str, query: dict[str, str], body: dict[str, Any]) -> Reply:
        scope = query.get("filter[environment_scope]")
        matches = [v for v in project.variables if v["key"] == key and scope in (None, v["environment_scope"])]
        if len(matches) != 1:
            return error(404 if not matches else 409, "404 Variable Not Found" if not matches else "409 Conflict")
        for name in ("value", "masked", "protected"):
            if name in body:
                matches[0][name] = body[name]
        return 200, {"Content-Type": "application/json"}, json.dumps(matches[0])

    def _protect_tag(self, project: Project, body: dict[str, Any]) -> Reply:
        level = int(body.get("create_access_level", 40))
        description = {0: "No one", 30: "Developers + Maintainers", 40: "Maintainers"}[level]
        tag = {
            "name": body["name"],
            "create_access_levels": [
                {"id": len(project.protected_tags) + 1, "access_level": level, "access_level_description": description}
            ],
        }
        project.protected_tags.append(tag)
        return 201, {"Content-Type": "application/json"}, json.dumps(tag)

    def _files(self, project: Project, path: str, method: str, query: dict[str, str], body: dict[str, Any]) -> Reply:
        if method == "GET":
            if query.get("ref") != project.default_branch or path not in project.files:
                return error(404, "404 File Not Found")
            raw = project.files[path].encode()
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps(
                    {
                        "file_name": path.rsplit("/", 1)[-1],
                        "file_path": path,
                        "size": len(raw),
                        "encoding": "base64",
                        "content": base64.b64encode(raw).decode(),
                        "content_sha256": hashlib.sha256(raw).hexdigest(),
                        "ref": query["ref"],
                        "blob_id": "79f7bbd25901e8334750839545a9bd021f0e4c83",
                        "commit_id": "d5a3ff139356ce33e37e73add446f16869741b50",
                        "last_commit_id": "570e7b2abdd848b95f2f578043fc23bd6f6fd24d",
                        "execute_filemode": False,
                    }
                ),
            )
        if method == "POST" and path in project.files:
            return error(400, "A file with this name already exists")
        if method == "PUT" and path not in project.files:
            return error(400, "A file with this name doesn't exist")
        project.files[path] = body["content"]
        project.default_branch = project.default_branch or body["branch"]
        return (
            (201 if method == "POST" else 200),
            {"Content-Type": "application/json"},
            json.dumps({"file_path": path, "branch": body["branch"]}),
        )


def variable_json(
    key: str, value: str | None, *, masked: bool, protected: bool, hidden: bool = False
) -> dict[str, Any]:
    return {
        "variable_type": "env_var",
        "key": key,
        "value": value,
        "protected": protected,
        "masked": masked,
        "hidden": hidden,
        "raw": False,
        "environment_scope": "*",
        "description": None,
    }


def closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (bound, then released): a real 'connection refused'."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
