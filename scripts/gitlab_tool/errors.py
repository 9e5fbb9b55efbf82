"""Exit codes and the translation of GitLab/network failures into one clear line each."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Generator

import gitlab.exceptions
import requests


class ExitCode(enum.IntEnum):
    """The documented exit codes (docs/gitlab-tool.md lists the same table)."""

    OK = 0
    INVALID = 1  # lint: the file has problems
    USAGE = 2  # bad arguments, missing input file or secret source (argparse also uses 2)
    CONFIG = 3  # no GitLab configured where one is needed, or a broken python-gitlab config section
    AUTH = 4  # 401: the token is wrong, expired or revoked
    PERMISSION = 5  # 403: the token's user lacks the role, or the token lacks the scope
    NOT_FOUND = 6  # 404: project (or catalogue) does not exist or is invisible to the token
    NETWORK = 7  # connection refused, DNS, TLS, timeout
    API = 8  # any other GitLab error (400 validation, 409, 5xx, a non-GitLab answer)
    CONFLICT = 9  # bootstrap found something it will not overwrite (e.g. a deploy token with other scopes)


EXIT_CODE_HELP = "\n".join(
    f"  {code.value}  {text}"
    for code, text in (
        (ExitCode.OK, "success (bootstrap: applied, or nothing to change; lint: valid)"),
        (ExitCode.INVALID, "lint found problems"),
        (ExitCode.USAGE, "bad arguments, missing file or secret value"),
        (ExitCode.CONFIG, "no GitLab configured, or a bad python-gitlab config section"),
        (ExitCode.AUTH, "authentication failed (401)"),
        (ExitCode.PERMISSION, "permission denied (403): role or token scope missing"),
        (ExitCode.NOT_FOUND, "not found (404)"),
        (ExitCode.NETWORK, "network error (unreachable, DNS, TLS, timeout)"),
        (ExitCode.API, "other GitLab API error"),
        (ExitCode.CONFLICT, "bootstrap left a conflicting object alone (see its line)"),
    )
)


class ToolError(Exception):
    """A failure that ends the command with one line on stderr and a documented exit code."""

    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _server_message(exc: gitlab.exceptions.GitlabError) -> str:
    # python-gitlab keeps the JSON "message"/"error" when there is one, else the raw body bytes.
    msg = exc.error_message
    if isinstance(msg, bytes):
        msg = msg.decode("utf-8", "replace")
    text = " ".join(str(msg).split())
    return text[:200]


def _network_reason(exc: requests.exceptions.RequestException) -> str:
    # urllib3's messages are long and nested; the class name plus the innermost reason reads best.
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (certificate or protocol)"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "Temporary failure in name resolution",
        "No route to host",
        "Network is unreachable",
        "Connection reset",
    ):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


@contextlib.contextmanager
def gitlab_errors(action: str, *, url: str, needs: str = "") -> Generator[None]:
    """Turn python-gitlab and requests failures raised while doing ``action`` into a ToolError.

    ``needs`` names the role or scope the action requires, so a 403 says what is missing.
    """
    try:
        yield
    except gitlab.exceptions.GitlabAuthenticationError as exc:
        raise ToolError(
            ExitCode.AUTH,
            f"authentication failed (401) while {action}: the token is wrong, expired or revoked "
            f"(GitLab said: {_server_message(exc)})",
        ) from None
    except gitlab.exceptions.GitlabError as exc:
        code = exc.response_code
        said = _server_message(exc)
        if code == 403:
            if "insufficient_scope" in said or "insufficient_scope" in str(exc.response_body or b""):
                raise ToolError(
                    ExitCode.PERMISSION,
                    f"permission denied (403) while {action}: the token lacks the 'api' scope",
                ) from None
            hint = f": needs {needs}" if needs else ""
            raise ToolError(ExitCode.PERMISSION, f"permission denied (403) while {action}{hint}") from None
        if code == 404:
            raise ToolError(
                ExitCode.NOT_FOUND,
                f"not found (404) while {action}: check the path, and that the token's user can see it",
            ) from None
        if isinstance(exc, gitlab.exceptions.GitlabParsingError):
            raise ToolError(
                ExitCode.API, f"{url} did not answer like a GitLab API while {action}: is the URL right?"
            ) from None
        if isinstance(exc, gitlab.exceptions.RedirectError):
            raise ToolError(ExitCode.CONFIG, f"{url} redirected while {action}: use the final URL (https?)") from None
        status = f" ({code})" if code else ""
        raise ToolError(ExitCode.API, f"GitLab error{status} while {action}: {said}") from None
    except requests.exceptions.RequestException as exc:
        raise ToolError(ExitCode.NETWORK, f"cannot reach {url} while {action}: {_network_reason(exc)}") from None
