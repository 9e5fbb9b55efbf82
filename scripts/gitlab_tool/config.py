"""Where the GitLab connection comes from: GITLAB_URL + GITLAB_TOKEN, or a python-gitlab config section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import gitlab
import gitlab.config

from scripts.gitlab_tool.console import Console
from scripts.gitlab_tool.errors import ExitCode, ToolError

ENV_URL = "GITLAB_URL"
ENV_TOKEN = "GITLAB_TOKEN"  # noqa: S105 (a variable name, not a value)
# python-gitlab waits forever by default; a CLI should fail with a clear line instead.
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Connection:
    gl: gitlab.Gitlab
    url: str
    source: str  # said in the output, so the user knows which configuration was used


def connect(
    *,
    gitlab_id: str | None,
    config_files: list[str] | None,
    env: Mapping[str, str],
    console: Console,
) -> Connection | None:
    """The configured GitLab, or None when nothing is configured.

    ``--gitlab NAME`` (a section of python-gitlab's config file) wins over the environment, because
    naming a section is the more explicit choice.
    """
    if gitlab_id is not None:
        try:
            gl = gitlab.Gitlab.from_config(gitlab_id, config_files)
        except gitlab.config.ConfigError as exc:
            raise ToolError(ExitCode.CONFIG, f"python-gitlab config section {gitlab_id!r}: {exc}") from None
        if gl.private_token:
            console.add_secret(gl.private_token)
        return Connection(gl=gl, url=gl.url, source=f"python-gitlab config section {gitlab_id!r}")

    url = env.get(ENV_URL, "").strip()
    token = env.get(ENV_TOKEN, "").strip()
    if not url and not token:
        return None
    if not url or not token:
        missing = ENV_URL if not url else ENV_TOKEN
        raise ToolError(ExitCode.CONFIG, f"{missing} is not set: set both {ENV_URL} and {ENV_TOKEN}, or neither")
    if not url.startswith(("https://", "http://")):
        raise ToolError(ExitCode.CONFIG, f"{ENV_URL} must start with https:// (or http://), got {url!r}")
    console.add_secret(token)
    gl = gitlab.Gitlab(url.rstrip("/"), private_token=token, timeout=DEFAULT_TIMEOUT)
    return Connection(gl=gl, url=gl.url, source=f"{ENV_URL}={gl.url}")


def require(conn: Connection | None, command: str) -> Connection:
    if conn is None:
        raise ToolError(
            ExitCode.CONFIG,
            f"{command} needs a GitLab: set {ENV_URL} and {ENV_TOKEN}, or pass --gitlab NAME "
            "(a section of python-gitlab's config file)",
        )
    return conn
