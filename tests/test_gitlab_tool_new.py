"""new: copy a service, rename it, and the copy's own tests pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from scripts.gitlab_tool.cli import main
from scripts.gitlab_tool.errors import ExitCode
from scripts.gitlab_tool.scaffold import TEST_COMMANDS

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "gitlab_tool" / "service"
EXAMPLE = ROOT / "example"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """The fixture service plus the local clutter a real checkout has, which must not be copied."""
    src = tmp_path / "source"
    shutil.copytree(FIXTURE, src, ignore=shutil.ignore_patterns("__pycache__"))
    (src / ".env").write_text("X_TOKEN=local-secret-never-copied\n")
    for junk in (
        ".venv/bin/python",
        "app/__pycache__/settings.cpython-311.pyc",
        ".pytest_cache/v/x",
        "app/_build_info.py",
        "app/_build_info.json",
        "htmlcov/index.html",
        "uv.lock",
        "logs/2026/11/text-analytics.log",  # the rest are in the source's own .gitignore
        "notes.txt",
        "app/generated_x.py",
    ):
        (src / junk).parent.mkdir(parents=True, exist_ok=True)
        (src / junk).write_text("generated\n")
    (src / "tests" / "notes.txt").write_text("kept: the .gitignore entry /notes.txt is anchored to the root\n")
    (src / "app" / "logo.bin").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfeexample-service")
    return src


def run_checks(service: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(["scripts/run-tests"], cwd=service, env=env, capture_output=True, text=True, check=False)


def new(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["new", *argv], env={})
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_copy_is_renamed_clean_and_green(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "out" / "text-summary"
    code, out, _ = new(capsys, "text-summary", "--code", "SUM", "--from", str(source), "--dest", str(dest), "--no-git")
    assert code == ExitCode.OK
    assert tomllib.loads((dest / "pyproject.toml").read_text())["project"]["name"] == "text-summary"
    assert (dest / ".env.example").read_text().splitlines()[1:3] == ["SERVICE_NAME=text-summary", "SERVICE_CODE=SUM"]
    assert (dest / "app" / "settings.py").read_text().count('"text-summary"') == 2
    assert 'SERVICE_CODE = "SUM"' in (dest / "app" / "settings.py").read_text()
    assert (dest / "README.md").read_text() == (
        "# text-summary\n\nThe text-summary service. Install `text-summary` and run it; its code is TXT.\n"
        "Words that merely contain a name stay as they are: example-service-client, text-analytics-v2.\n"
    )
    # Generated, local and secret files stayed behind; binary files are copied byte for byte.
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert copied == [
        ".env.example",
        ".gitignore",
        "README.md",
        "app/__init__.py",
        "app/logo.bin",
        "app/settings.py",
        "pyproject.toml",
        "scripts/run-tests",
        "tests/check_identity.py",
        "tests/notes.txt",
    ]
    assert (dest / "app" / "logo.bin").read_bytes() == (source / "app" / "logo.bin").read_bytes()
    assert os.access(dest / "scripts" / "run-tests", os.X_OK)
    assert f"next: cd {dest} && scripts/run-tests" in out
    done = run_checks(dest)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_a_long_name_keeps_the_copy_formatted(source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "multilingual-document-summarisation-gateway"
    dest = tmp_path / name
    code, out, _ = new(capsys, name, "--from", str(source), "--dest", str(dest), "--no-git")
    assert code == ExitCode.OK
    assert "(ruff format applied)" in out
    ruff = Path(sys.executable).parent / "ruff"
    check = subprocess.run([ruff, "format", "--check", "."], cwd=dest, capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    # The control: the renamed line did outgrow the limit, so the formatter had work to do.
    assert f'service="{name}"' in (dest / "app" / "settings.py").read_text()
    assert len(f'LOG_FILE = dict(path="logs/service.log", service="{name}", code="TXT", rotate="daily")') > 100
    assert run_checks(dest).returncode == 0


def test_a_half_renamed_copy_fails_its_checks(source: Path) -> None:
    # The control for the test above: the copy's checks do catch names that disagree.
    env_file = source / ".env.example"
    env_file.write_text(env_file.read_text().replace("SERVICE_NAME=text-analytics", "SERVICE_NAME=other"))
    assert run_checks(source).returncode == 1


def test_default_destination_code_git_and_starter_pipeline(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "Test")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "test@example.test")
    argv = [
        "ocr-gateway",
        "--from",
        str(source),
        "--catalog",
        "acme/python-ci",
        "--version",
        "2.0.0",
        "--component",
        "version:prepare",
        "--component",
        "pytest",
    ]
    code, out, _ = new(capsys, *argv)
    assert code == ExitCode.OK
    dest = tmp_path / "ocr-gateway"
    assert "SERVICE_CODE=OCR_GATEWAY" in (dest / ".env.example").read_text()
    pipeline = yaml.safe_load((dest / ".gitlab-ci.yml").read_text())
    assert [i["component"] for i in pipeline["include"]] == [
        "$CI_SERVER_FQDN/acme/python-ci/version@2.0.0",
        "$CI_SERVER_FQDN/acme/python-ci/pytest@2.0.0",
    ]
    git = ["git", "-C", str(dest)]
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True).stdout
    assert status == ""  # everything committed: ready to push
    log = subprocess.run([*git, "log", "--format=%s"], capture_output=True, text=True, check=True).stdout
    assert log == "Start ocr-gateway from the python-ci reference service\n"
    assert "wrote .gitlab-ci.yml" in out
    assert "  git repository made with one commit on main" in out


def git_identity(monkeypatch: pytest.MonkeyPatch, home: Path, *, known: bool) -> None:
    """A git with no user config; with `known`, the identity comes from the environment."""
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        for what, value in (("NAME", "Test"), ("EMAIL", "test@example.test")):
            if known:
                monkeypatch.setenv(f"GIT_{who}_{what}", value)
            else:
                monkeypatch.delenv(f"GIT_{who}_{what}", raising=False)
    # Without this, git may guess an identity from the host name; the test needs the refusal.
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.useConfigOnly")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "true")


def test_git_without_identity_stages_and_says_so(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    git_identity(monkeypatch, tmp_path, known=False)
    dest = tmp_path / "svc"
    code, out, _ = new(capsys, "svc", "--from", str(source), "--dest", str(dest))
    assert code == ExitCode.OK
    assert "  git repository made, files staged; commit them yourself (git commit: " in out
    staged = subprocess.run(
        ["git", "-C", str(dest), "diff", "--cached", "--name-only"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "pyproject.toml" in staged


def test_inside_a_repository_no_nested_one_and_no_git(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    git_identity(monkeypatch, tmp_path, known=True)
    mono = tmp_path / "mono"
    subprocess.run(["git", "init", "-q", str(mono)], check=True)
    code, out, _ = new(capsys, "svc", "--from", str(source), "--dest", str(mono / "services" / "svc"))
    assert code == ExitCode.OK
    assert f"  inside the git repository {mono}: no new repository made" in out
    assert not (mono / "services" / "svc" / ".git").exists()
    code, out, _ = new(capsys, "svc2", "--from", str(source), "--dest", str(tmp_path / "svc2"), "--no-git")
    assert code == ExitCode.OK
    assert not (tmp_path / "svc2" / ".git").exists()
    assert len(out.splitlines()) == 4  # new, names, rewritten, next: no git line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["Bad_Name"], "'Bad_Name': a service name is lower case letters, digits and single dashes"),
        (["ok", "--code", "no spaces"], "--code 'no spaces': 1 to 32 letters, digits, _ or -"),
        (["ok", "--catalog", "acme/python-ci"], "--catalog and --version go together"),
        (["ok", "--catalog", "acme/python-ci", "--version", "latest"], "--version 'latest': expected 1.2.3"),
        (["ok", "--component", "ruff"], "--component needs --catalog and --version"),
    ],
)
def test_bad_arguments(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, _, err = new(capsys, *argv, "--from", str(source), "--dest", str(tmp_path / "x"))
    assert code == ExitCode.USAGE
    assert err.startswith(f"error: {expected}")
    assert not (tmp_path / "x").exists()


def test_refuses_a_non_empty_destination_and_a_non_service(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    code, _, err = new(capsys, "svc", "--from", str(source), "--dest", str(tmp_path / "taken"))
    assert (code, err.strip()) == (ExitCode.USAGE, f"error: {tmp_path / 'taken'} already exists and is not empty")
    code, _, err = new(capsys, "svc", "--from", str(tmp_path / "taken"), "--dest", str(tmp_path / "y"))
    assert (code, err.strip()) == (
        ExitCode.USAGE,
        f"error: {tmp_path / 'taken'} is not a service to copy (no pyproject.toml)",
    )


@pytest.mark.skipif(
    not (EXAMPLE / "pyproject.toml").is_file(),
    reason="example/ (the reference service, branch `example`) is not merged into this branch yet",
)
def test_scaffold_from_the_real_example_passes_its_own_tests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    git_identity(monkeypatch, tmp_path, known=True)
    # The example's test command makes its .venv with uv: the one scripts/setup.sh installed.
    monkeypatch.setenv("PATH", f"{ROOT / '.venv-bootstrap' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    dest = tmp_path / "text-summary"
    code, out, _ = new(capsys, "text-summary", "--code", "SUM", "--dest", str(dest))
    assert code == ExitCode.OK
    assert "git repository made with one commit on main" in out
    command = next(c for c in TEST_COMMANDS if (dest / c).is_file())
    done = subprocess.run([command], cwd=dest, capture_output=True, text=True, check=False, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "text-summary" in (dest / "app" / "settings.py").read_text()
