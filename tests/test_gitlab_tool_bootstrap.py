"""bootstrap against recorded-shape GitLab API answers: plan, apply, idempotency, dry run, errors, secrets."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
import yaml

from scripts.gitlab_tool import config
from scripts.gitlab_tool.cli import main
from scripts.gitlab_tool.errors import ExitCode
from tests.gitlab_api import DEPLOY_TOKEN_VALUE, TOKEN, URL, FakeGitLab, closed_port, error, variable_json

SECRET = "s3cr3t-X-token-value.for~tests"  # what X_TOKEN holds; maskable by GitLab's rules
ENV = {"GITLAB_URL": URL, "GITLAB_TOKEN": TOKEN, "X_TOKEN": SECRET}
CI_ARGS = ["--catalog", "acme/python-ci", "--version", "1.2.3"]


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeGitLab(mock)
        fake.add_project("acme/billing", 42)
        fake.add_project("acme/python-ci", 7)
        fake.install()
        yield fake


def run(capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    code = main(list(argv), env=ENV if env is None else env)
    out, err = capsys.readouterr()
    for secret in (SECRET, TOKEN, DEPLOY_TOKEN_VALUE):
        assert secret not in out + err
    assert "Traceback" not in out + err
    return code, out, err


def bootstrap(
    capsys: pytest.CaptureFixture[str], *extra: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    return run(capsys, "bootstrap", "acme/billing", "--secret", "X_TOKEN", *CI_ARGS, *extra, env=env)


def bodies(fake: FakeGitLab, method: str, path_end: str) -> list[dict[str, Any]]:
    return [
        json.loads(r.body or b"{}")
        for r in fake.calls
        if r.method == method and (r.url or "").split("?")[0].endswith(path_end)
    ]


def test_first_run_creates_everything_with_the_right_payloads(
    gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = bootstrap(capsys)
    assert code == ExitCode.OK
    assert bodies(gitlab, "POST", "/deploy_tokens") == [
        {"name": "gitlab-deploy-token", "scopes": ["read_registry", "write_registry"]}
    ]
    assert bodies(gitlab, "POST", "/variables") == [
        {"key": "X_TOKEN", "environment_scope": "*", "value": SECRET, "masked": True, "protected": True}
    ]
    assert bodies(gitlab, "POST", "/protected_tags") == [{"name": "v*", "create_access_level": 40}]
    [commit] = bodies(gitlab, "POST", "/repository/files/.gitlab-ci.yml")
    assert commit["branch"] == "main"
    pipeline = yaml.safe_load(commit["content"])
    assert pipeline["stages"] == ["prepare", "test"]
    assert [i["component"] for i in pipeline["include"]] == [
        f"$CI_SERVER_FQDN/acme/python-ci/{name}@1.2.3" for name in ("version", "ruff", "mypy", "pyright", "pytest")
    ]
    assert pipeline["include"][0]["inputs"] == {"stage": "prepare", "output_dir": "app"}  # every mandatory input
    assert "applied 4 change(s)" in out
    assert "value from env:X_TOKEN" in out


def test_second_run_issues_no_write_and_says_so(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    assert bootstrap(capsys)[0] == ExitCode.OK
    first_writes = len(gitlab.writes())
    assert first_writes == 4
    code, out, _ = bootstrap(capsys)
    assert code == ExitCode.OK
    assert len(gitlab.writes()) == first_writes  # the second run only read
    assert "nothing to change: acme/billing is already bootstrapped" in out
    assert out.count(": unchanged:") == 4


def test_dry_run_prints_the_plan_and_writes_nothing(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bootstrap(capsys, "--dry-run")
    assert code == ExitCode.OK
    assert gitlab.writes() == []
    project = gitlab.projects["acme/billing"]
    assert (project.deploy_tokens, project.variables, project.protected_tags, project.files) == ([], [], [], {})
    for line in (
        "deploy token gitlab-deploy-token: create:",
        "variable X_TOKEN: create: masked, protected; value from env:X_TOKEN",
        "protected tag v*: create:",
        "file .gitlab-ci.yml on main: create: acme/python-ci@1.2.3: version, ruff, mypy, pyright, pytest",
        "dry run: 4 change(s) planned, none applied",
    ):
        assert line in out


def test_pagination_finds_objects_on_later_pages(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    project = gitlab.projects["acme/billing"]
    project.deploy_tokens = [
        {
            "id": i,
            "name": f"other-{i}",
            "username": f"gitlab+deploy-token-{i}",
            "expires_at": None,
            "revoked": False,
            "expired": False,
            "scopes": ["read_repository"],
        }
        for i in range(1, 5)
    ] + [
        {
            "id": 5,
            "name": "gitlab-deploy-token",
            "username": "gitlab+deploy-token-5",
            "expires_at": None,
            "revoked": False,
            "expired": False,
            "scopes": ["read_registry", "write_registry"],
        }
    ]
    project.variables = [variable_json(f"V{i}", "x", masked=False, protected=False) for i in range(4)]
    project.variables.append(variable_json("X_TOKEN", SECRET, masked=True, protected=True))
    project.protected_tags = [{"name": f"rel-{i}", "create_access_levels": []} for i in range(2)] + [
        {
            "name": "v*",
            "create_access_levels": [{"id": 1, "access_level": 40, "access_level_description": "Maintainers"}],
        }
    ]
    code, out, _ = run(capsys, "bootstrap", "acme/billing", "--secret", "X_TOKEN")
    assert code == ExitCode.OK
    assert gitlab.writes() == []
    # python-gitlab followed the Link rel="next" headers to the third page of each list.
    for path, pages in (("deploy_tokens", 3), ("variables", 3), ("protected_tags", 2)):
        requested = [u for u in gitlab.gets() if u.split("?")[0].endswith(f"/projects/42/{path}")]
        assert len(requested) == pages, requested
        assert f"page={pages}" in requested[-1]
    assert "deploy token gitlab-deploy-token: unchanged: exists (user gitlab+deploy-token-5)" in out
    assert "protected tag v*: unchanged: already protected (create: Maintainers)" in out


def test_a_list_cut_short_stops_before_any_change(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    # Without Link headers python-gitlab stops after page 1; X-Total shows that items were missed, and
    # creating the deploy token again (it is on page 2) would make a duplicate.
    gitlab.link_header = False
    gitlab.projects["acme/billing"].deploy_tokens = [
        {
            "id": i,
            "name": name,
            "username": f"gitlab+deploy-token-{i}",
            "expires_at": None,
            "revoked": False,
            "expired": False,
            "scopes": ["read_registry", "write_registry"],
        }
        for i, name in enumerate(["a", "b", "gitlab-deploy-token"], start=1)
    ]
    code, out, err = bootstrap(capsys)
    assert code == ExitCode.API
    assert one_line(err) == (
        "error: GitLab listed 2 of 3 deploy tokens of acme/billing: pagination stopped early "
        "(are Link headers dropped on the way?); nothing was changed"
    )
    assert (out, gitlab.writes()) == ("", [])


def test_changed_variable_is_updated_without_showing_either_value(
    gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    old = "old-value-0123456789"
    gitlab.projects["acme/billing"].variables = [variable_json("X_TOKEN", old, masked=False, protected=True)]
    code, out, _ = run(capsys, "bootstrap", "acme/billing", "--secret", "X_TOKEN")
    assert code == ExitCode.OK
    assert "variable X_TOKEN: update: value, masked differ" in out
    assert old not in out
    [put] = [r for r in gitlab.calls if r.method == "PUT"]
    assert (put.url or "").endswith("/projects/42/variables/X_TOKEN?filter%5Benvironment_scope%5D=%2A")
    assert json.loads(put.body or b"{}") == {"value": SECRET, "masked": True, "protected": True}
    assert gitlab.projects["acme/billing"].variables[0]["value"] == SECRET


def test_hidden_variable_and_foreign_ci_file_are_left_alone(
    gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    project = gitlab.projects["acme/billing"]
    project.variables = [variable_json("X_TOKEN", None, masked=True, protected=True, hidden=True)]
    project.files[".gitlab-ci.yml"] = "build:\n  script: [make]\n"
    code, out, _ = bootstrap(capsys)
    assert code == ExitCode.OK
    assert "variable X_TOKEN: unchanged: exists and is hidden" in out
    assert "file .gitlab-ci.yml on main: unchanged: exists with other content; left as is" in out
    assert not [w for w in gitlab.writes() if "variables" in w or "files" in w]
    code, out, _ = bootstrap(capsys, "--overwrite-ci-file")
    assert code == ExitCode.OK
    assert "file .gitlab-ci.yml on main: update:" in out
    assert "acme/python-ci/pytest@1.2.3" in project.files[".gitlab-ci.yml"]


def test_deploy_token_with_missing_scope_is_a_conflict_and_the_rest_still_applies(
    gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]
) -> None:
    gitlab.projects["acme/billing"].deploy_tokens = [
        {
            "id": 1,
            "name": "gitlab-deploy-token",
            "username": "gitlab+deploy-token-1",
            "expires_at": None,
            "revoked": False,
            "expired": False,
            "scopes": ["read_registry"],
        },
    ]
    code, out, err = run(capsys, "bootstrap", "acme/billing", "--secret", "X_TOKEN")
    assert code == ExitCode.CONFLICT
    assert "without scope write_registry" in out
    assert err.strip().splitlines() == [
        "error: 1 object(s) conflict and were left alone: deploy token gitlab-deploy-token"
    ]
    assert sorted(gitlab.writes()) == ["POST /api/v4/projects/42/protected_tags", "POST /api/v4/projects/42/variables"]


def test_revoked_deploy_token_is_replaced(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    gitlab.projects["acme/billing"].deploy_tokens = [
        {
            "id": 1,
            "name": "gitlab-deploy-token",
            "username": "gitlab+deploy-token-1",
            "expires_at": None,
            "revoked": True,
            "expired": False,
            "scopes": ["read_registry", "write_registry"],
        },
    ]
    code, out, _ = run(capsys, "bootstrap", "acme/billing")
    assert code == ExitCode.OK
    assert "deploy token gitlab-deploy-token: create:" in out
    assert "POST /api/v4/projects/42/deploy_tokens" in gitlab.writes()


def test_empty_repository_gets_the_file_on_main(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    gitlab.projects["acme/billing"].default_branch = None
    code, out, _ = bootstrap(capsys)
    assert code == ExitCode.OK
    assert "file .gitlab-ci.yml on main: create" in out
    assert bodies(gitlab, "POST", "/repository/files/.gitlab-ci.yml")[0]["branch"] == "main"


# --- errors: one line on stderr each, with its exit code --------------------------------------------------


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_401_wrong_token(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    gitlab.token = "glpat-some-other-token"
    code, out, err = bootstrap(capsys)
    assert code == ExitCode.AUTH
    assert out == ""
    assert one_line(err).startswith("error: authentication failed (401) while reading project acme/billing")


def test_403_developer_role_names_the_role(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    gitlab.role = 30
    code, _, err = bootstrap(capsys)
    assert code == ExitCode.PERMISSION
    assert one_line(err) == (
        "error: permission denied (403) while listing deploy tokens of acme/billing: "
        "needs the Maintainer role on the project"
    )


def test_403_read_only_token_names_the_scope(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    gitlab.scopes = ("read_api",)
    code, _, err = bootstrap(capsys)
    assert code == ExitCode.PERMISSION
    assert one_line(err) == (
        "error: permission denied (403) while creating the deploy token of acme/billing: "
        "the token lacks the 'api' scope"
    )


def test_404_project(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "bootstrap", "acme/nope")
    assert code == ExitCode.NOT_FOUND
    assert one_line(err).startswith("error: not found (404) while reading project acme/nope")
    assert gitlab.writes() == []


def test_404_catalogue(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "bootstrap", "acme/billing", "--catalog", "acme/missing", "--version", "1.0.0")
    assert code == ExitCode.NOT_FOUND
    assert "the catalogue project acme/missing" in one_line(err)
    assert gitlab.writes() == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (error(500, "500 Internal Server Error"), "error: GitLab error (500) while reading project acme/billing"),
        ((200, {"Content-Type": "application/json"}, "<html>sign in</html>"), "did not answer like a GitLab API"),
    ],
)
def test_other_api_failures(
    gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str], reply: tuple[int, dict[str, str], str], expected: str
) -> None:
    gitlab.fail_with = reply
    code, _, err = bootstrap(capsys)
    assert code == ExitCode.API
    assert expected in one_line(err)


def test_network_error_from_a_closed_local_port(capsys: pytest.CaptureFixture[str]) -> None:
    free_port = closed_port()
    env = {**ENV, "GITLAB_URL": f"http://127.0.0.1:{free_port}"}
    code, _, err = bootstrap(capsys, env=env)
    assert code == ExitCode.NETWORK
    assert one_line(err) == (
        f"error: cannot reach http://127.0.0.1:{free_port} while reading project acme/billing: connection refused"
    )


def test_tls_error_from_a_plain_http_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def answer_in_plain_http() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=answer_in_plain_http)
        thread.start()
        code, _, err = bootstrap(capsys, env={**ENV, "GITLAB_URL": f"https://127.0.0.1:{port}"})
        thread.join()
    assert code == ExitCode.NETWORK
    assert one_line(err).endswith("while reading project acme/billing: TLS error (certificate or protocol)")


def test_timeout_from_a_server_that_never_answers(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(config, "DEFAULT_TIMEOUT", 0.3)
    with socket.socket() as listener:  # the kernel accepts the connection; nobody ever reads or answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        code, _, err = bootstrap(capsys, env={**ENV, "GITLAB_URL": url})
    assert code == ExitCode.NETWORK
    assert one_line(err) == f"error: cannot reach {url} while reading project acme/billing: timed out"


# --- configuration and secret sources ----------------------------------------------------------------------


def test_nothing_configured(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bootstrap(capsys, env={"X_TOKEN": SECRET})
    assert code == ExitCode.CONFIG
    assert "bootstrap needs a GitLab: set GITLAB_URL and GITLAB_TOKEN" in one_line(err)


def test_half_configured(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bootstrap(capsys, env={"GITLAB_URL": URL, "X_TOKEN": SECRET})
    assert code == ExitCode.CONFIG
    assert one_line(err) == "error: GITLAB_TOKEN is not set: set both GITLAB_URL and GITLAB_TOKEN, or neither"


def test_python_gitlab_config_section(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "python-gitlab.cfg"
    cfg.write_text(f"[global]\ndefault = work\n\n[work]\nurl = {URL}\nprivate_token = {TOKEN}\n")
    argv = ["--gitlab", "work", "--gitlab-config", str(cfg), "bootstrap", "acme/billing", "--dry-run"]
    code, out, _ = run(capsys, *argv, env={})
    assert code == ExitCode.OK
    assert "(python-gitlab config section 'work')" in out
    code, _, err = run(capsys, "--gitlab", "absent", "--gitlab-config", str(cfg), "bootstrap", "acme/billing", env={})
    assert code == ExitCode.CONFIG
    assert one_line(err).startswith("error: python-gitlab config section 'absent':")


def test_secret_from_a_file(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "x_token").write_text(SECRET + "\n")
    code, _, _ = run(capsys, "bootstrap", "acme/billing", "--secret", f"X_TOKEN=file:{tmp_path / 'x_token'}")
    assert code == ExitCode.OK
    assert bodies(gitlab, "POST", "/variables")[0]["value"] == SECRET


def test_plain_variable_from_another_env_name(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "bootstrap", "acme/billing", "--variable", "LOG_LEVEL=env:LEVEL", env={**ENV, "LEVEL": "INFO"}
    )
    assert code == ExitCode.OK
    assert "variable LOG_LEVEL: create: not masked, not protected; value from env:LEVEL" in out
    assert bodies(gitlab, "POST", "/variables")[0] == {
        "key": "LOG_LEVEL",
        "environment_scope": "*",
        "value": "INFO",
        "masked": False,
        "protected": False,
    }


@pytest.mark.parametrize(
    ("spec", "env_extra", "expected"),
    [
        ("X_TOKEN=" + SECRET, {}, "X_TOKEN: the value source must be env:NAME or file:PATH"),
        ("X_TOKEN=env:NOT_SET", {}, "X_TOKEN: environment variable NOT_SET is not set"),
        ("X_TOKEN=env:SHORT", {"SHORT": "abc$def"}, "X_TOKEN: GitLab can mask only single-line values"),
        ("X_TOKEN=env:EMPTY", {"EMPTY": ""}, "X_TOKEN: the value from env:EMPTY is empty"),
        ("BAD-KEY", {}, "'BAD-KEY' is not a valid CI/CD variable key"),
    ],
)
def test_bad_secret_sources_fail_before_any_request(
    gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str], spec: str, env_extra: dict[str, str], expected: str
) -> None:
    code, _, err = run(capsys, "bootstrap", "acme/billing", "--secret", spec, env={**ENV, **env_extra})
    assert code == ExitCode.USAGE
    assert expected in one_line(err)
    assert "abc$def" not in err
    assert gitlab.calls == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--secret", "X_TOKEN", "--variable", "X_TOKEN=env:X_TOKEN"], "error: a variable key is given twice"),
        (["--branch", "dev"], "error: --branch and --overwrite-ci-file need --catalog and --version"),
        (["--catalog", "acme/python-ci"], "error: --catalog and --version go together"),
        (["--catalog", "acme", "--version", "1.2.3"], "error: --catalog 'acme': expected a project path like"),
        ([*CI_ARGS, "--component", "Ruff"], "error: --component 'Ruff': expected NAME[:STAGE]"),
    ],
)
def test_bad_arguments_fail_before_any_request(
    gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, _, err = run(capsys, "bootstrap", "acme/billing", *argv)
    assert code == ExitCode.USAGE
    assert one_line(err).startswith(expected)
    assert gitlab.calls == []


def test_an_echoed_secret_is_masked(gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str]) -> None:
    # A server error that quotes the value back must not reach the terminal.
    gitlab.fail_with = error(400, f"value {SECRET} is invalid")
    code, _, err = bootstrap(capsys)
    assert code == ExitCode.API
    assert "value [MASKED] is invalid" in one_line(err)
