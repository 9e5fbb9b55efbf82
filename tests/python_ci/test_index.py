"""python_ci/index.py: the package index variables, translated for uv, pip and poetry, checked against a real
index (pypiserver over TLS with a CA made here and basic auth, on 127.0.0.1)."""

from __future__ import annotations

import os
import secrets
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from python_ci.__main__ import main as python_ci_main
from python_ci.index import CA_VARIABLES, Index, apply, configured, preflight, read_index, shown, terminate
from python_ci.job import JobError
from python_ci.uv import ensure_uv
from tests.index_server import IndexServer, free_port, make_certificates, running_index

UV = "0.13.9"
RUFF = "0.17.6"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    directory = tmp_path_factory.mktemp("index")
    with running_index(directory, password=secrets.token_urlsafe(16), requirements=[f"uv=={UV}"]) as running:
        yield running


def _variables(server: IndexServer, **extra: str) -> dict[str, str]:
    return {
        "PYTHON_CI_INDEX_URL": server.url,
        "PYTHON_CI_INDEX_USERNAME": server.username,
        "PYTHON_CI_INDEX_PASSWORD": server.password,
        "PYTHON_CI_CA_BUNDLE": str(server.ca_file),
        **extra,
    }


def test_nothing_set_changes_nothing() -> None:
    environ = {"PATH": "/bin", "PYTHON_CI_INDEX_URL": " "}
    with configured(environ) as found:
        assert found is None
        assert environ == {"PATH": "/bin", "PYTHON_CI_INDEX_URL": " "}


def test_credentials_in_the_url_move_out_of_it() -> None:
    found = read_index({"PYTHON_CI_INDEX_URL": "https://bot:s3cr%40t@pypi.internal:8443/simple/"})
    assert found == Index("https://pypi.internal:8443/simple/", "bot", "s3cr@t", None, None)
    assert found is not None
    assert found.host == "pypi.internal"
    assert shown("https://u:p@h/x?y#z") == "https://h/x?y#z"


def test_gitlab_registry_defaults_to_the_job_token_and_the_servers_ca(tmp_path: Path) -> None:
    ca = tmp_path / "gitlab-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    environ = {
        "PYTHON_CI_INDEX_URL": "https://GitLab.Internal/api/v4/projects/7/packages/pypi/simple",
        "CI_SERVER_HOST": "gitlab.internal",
        "CI_JOB_TOKEN": "glcbt-token-value",
        "CI_SERVER_TLS_CA_FILE": str(ca),
    }
    found = read_index(environ)
    assert found is not None
    assert (found.username, found.password, found.ca_source) == (
        "gitlab-ci-token",
        "glcbt-token-value",
        "CI_SERVER_TLS_CA_FILE",
    )
    # Another host never gets the job token.
    environ["PYTHON_CI_INDEX_URL"] = "https://nexus.internal/repository/pypi/simple"
    assert read_index(environ) == Index("https://nexus.internal/repository/pypi/simple", None, None, None, None)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"PYTHON_CI_INDEX_URL": "file:///opt/simple"}, "must be an http(s) URL"),
        ({"PYTHON_CI_INDEX_URL": "https://u:pw@/simple"}, "'https:///simple'"),
        ({"PYTHON_CI_INDEX_USERNAME": "bot"}, "PYTHON_CI_INDEX_PASSWORD is not set"),
        ({"PYTHON_CI_INDEX_PASSWORD": "pw"}, "PYTHON_CI_INDEX_USERNAME is not set"),
        ({"PYTHON_CI_INDEX_USERNAME": "bot", "PYTHON_CI_INDEX_PASSWORD": "a b"}, "a netrc file cannot"),
        ({"PYTHON_CI_CA_BUNDLE": "/no/such/file"}, "neither a PEM certificate nor a readable file"),
        ({"PYTHON_CI_CA_BUNDLE": "/etc/hostname"}, "holds no PEM certificate"),
    ],
)
def test_wrong_variables_are_one_line(variables: dict[str, str], message: str) -> None:
    environ = {"PYTHON_CI_INDEX_URL": "https://pypi.internal/simple", **variables}
    with pytest.raises(JobError, match=r"^[^\n]+$") as raised:
        read_index(environ)
    assert message in str(raised.value)
    assert "pw" not in str(raised.value)


def test_every_installer_is_pointed_at_the_index_and_the_password_lives_in_a_0600_netrc(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    environ = {
        "PYTHON_CI_INDEX_URL": "https://bot:pw-in-url@pypi.internal/simple",
        "PYTHON_CI_CA_BUNDLE": pem,
        "UV_INDEX_URL": "https://old.example/simple",
    }
    found = read_index(environ)
    assert found is not None
    apply(found, environ, tmp_path)
    assert environ["UV_DEFAULT_INDEX"] == environ["PIP_INDEX_URL"] == "https://pypi.internal/simple"
    assert "UV_INDEX_URL" not in environ
    netrc = Path(environ["NETRC"])
    assert stat.S_IMODE(netrc.stat().st_mode) == 0o600
    assert netrc.read_text() == "machine pypi.internal\nlogin bot\npassword pw-in-url\n"
    assert {environ[name] for name in CA_VARIABLES} == {str(tmp_path / "ca-bundle.pem")}
    bundle = (tmp_path / "ca-bundle.pem").read_text()
    assert bundle.rstrip().endswith(pem)
    # The system's roots stay trusted next to the private CA.
    assert bundle.count("BEGIN CERTIFICATE") > 1
    assert all("pw-in-url" not in value for name, value in environ.items() if name != "PYTHON_CI_INDEX_URL")


def test_the_private_directory_and_the_environment_are_restored(server: IndexServer) -> None:
    environ = _variables(server, PATH=os.environ["PATH"])
    before = dict(environ)
    with configured(environ) as found:
        assert found is not None
        netrc = Path(environ["NETRC"])
        assert netrc.exists()
        assert "PYTHON_CI_INDEX_PASSWORD" not in environ
        assert signal.getsignal(signal.SIGTERM) is terminate
    assert not netrc.parent.exists()
    assert environ == before
    assert signal.getsignal(signal.SIGTERM) is not terminate
    with pytest.raises(SystemExit) as raised:
        terminate(signal.SIGTERM, None)
    assert raised.value.code == 128 + signal.SIGTERM


def test_preflight_accepts_the_right_login_and_ca(server: IndexServer, capsys: pytest.CaptureFixture[str]) -> None:
    found = read_index(_variables(server))
    assert found is not None
    preflight(found)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"PYTHON_CI_INDEX_PASSWORD": "wrong-password"}, "refused the credentials of 'ci-reader' (HTTP 403)"),
        ({"PYTHON_CI_INDEX_USERNAME": "", "PYTHON_CI_INDEX_PASSWORD": ""}, "refused anonymous access (HTTP 401)"),
        ({"PYTHON_CI_CA_BUNDLE": ""}, "not trusted (unable to get local issuer certificate): set PYTHON_CI_CA_BUNDLE"),
        ({"PYTHON_CI_CA_BUNDLE": "other"}, "is PYTHON_CI_CA_BUNDLE the CA that signed it?"),
    ],
)
def test_a_wrong_password_or_ca_is_one_line_naming_the_index(
    server: IndexServer, tmp_path: Path, change: dict[str, str], message: str
) -> None:
    if change.get("PYTHON_CI_CA_BUNDLE") == "other":
        change = {"PYTHON_CI_CA_BUNDLE": str(make_certificates(tmp_path, name="another CA")[0])}
    found = read_index(_variables(server, **change))
    assert found is not None
    with pytest.raises(JobError) as raised:
        preflight(found)
    text = str(raised.value)
    assert "\n" not in text
    assert text.startswith(f"the package index {server.url} ")
    assert message in text
    assert server.password not in text


def test_an_unreachable_index_is_one_line(server: IndexServer) -> None:
    url = f"https://127.0.0.1:{free_port()}/simple/"
    found = read_index(_variables(server, PYTHON_CI_INDEX_URL=url))
    assert found is not None
    with pytest.raises(JobError, match=rf"^cannot reach the package index {url}: .*[Cc]onnection refused"):
        preflight(found)
    with pytest.raises(JobError, match=r"^cannot reach the package index http://"):
        preflight(Index("http://127.0.0.1:9/simple", None, None, None, None), timeout=0.000001)


def test_an_index_without_a_project_list_is_said_and_left_to_the_installers(
    server: IndexServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.url + "no-such-project/"
    found = read_index(_variables(server, PYTHON_CI_INDEX_URL=url))
    assert found is not None
    preflight(found)
    assert f"the package index {url} answered HTTP 404" in capsys.readouterr().err


def test_a_command_stops_at_the_preflight_with_one_line(
    server: IndexServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in _variables(server, PYTHON_CI_INDEX_PASSWORD="wrong-password").items():
        monkeypatch.setenv(name, value)
    assert python_ci_main(["ruff"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == (
        f"python-ci ruff: the package index {server.url} refused the credentials of 'ci-reader' (HTTP 403): "
        "check PYTHON_CI_INDEX_USERNAME and PYTHON_CI_INDEX_PASSWORD"
    )


def test_the_jobs_own_uv_install_goes_through_the_index(
    server: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image without uv: `pip install uv` (python_ci/uv.py) fetches it from the internal index, with the netrc
    and the CA, while pip's own configuration (find-links, extra indexes of this machine) is switched off."""
    venv = tmp_path / "job-python"
    subprocess.run(["uv", "venv", "-q", "--seed", "--python", sys.executable, str(venv)], check=True)
    monkeypatch.setattr(sys, "executable", str(venv / "bin" / "python"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "UV_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYCI_UV_VERSION", UV)
    for name, value in _variables(server).items():
        monkeypatch.setenv(name, value)
    with configured():
        found = ensure_uv(tmp_path)
    assert found == str(venv / "bin" / "uv")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith(f"uv {UV}")


def test_a_command_that_installs_nothing_skips_the_index(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYTHON_CI_INDEX_URL", f"https://127.0.0.1:{free_port()}/simple/")
    monkeypatch.setenv("PYCI_PROJECT_DIR", "no/such/dir")
    python_ci_main(["version"])
    assert "package index" not in capsys.readouterr().err


def test_gitlab_answering_404_to_the_job_token_is_one_line(tmp_path: Path) -> None:
    """GitLab hides a project the job token may not read behind a 404 (here: a path the server does not have)."""
    token = secrets.token_urlsafe(16)
    with running_index(tmp_path / "gitlab", password=token, username="gitlab-ci-token") as gitlab:
        environ = {
            "PYTHON_CI_INDEX_URL": gitlab.url + "no-such-project/",
            "PYTHON_CI_CA_BUNDLE": str(gitlab.ca_file),
            "CI_SERVER_HOST": "127.0.0.1",
            "CI_JOB_TOKEN": token,
        }
        found = read_index(environ)
        assert found is not None
        assert found.username == "gitlab-ci-token"
        with pytest.raises(JobError, match=r"answered HTTP 404 to the job token: is the project or group id right"):
            preflight(found)
        # The same registry with the right path accepts the job token.
        environ["PYTHON_CI_INDEX_URL"] = gitlab.url
        found = read_index(environ)
        assert found is not None
        preflight(found)
