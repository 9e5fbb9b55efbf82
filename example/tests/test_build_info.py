import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import build_info
from app.build_info import FIELDS, UNKNOWN, BuildInfo, from_git, load_build_info, project_version, write

STAMPED = BuildInfo(
    service="svc",
    version="1.2.3",
    git_branch="main",
    git_revision="0123456789abcdef0123456789abcdef01234567",
    git_short_revision="01234567",
    build_date="2026-01-02T03:04:05Z",
)


# A slim CI image may have no git: those tests are then reported as skipped, not silently passed.
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (
        ["init", "-q", "-b", "feature/x"],
        [
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "c",
        ],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    return repo


@pytest.fixture
def stamped_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A throwaway package with a written `_build_info.py`, imported in place of the real one."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    monkeypatch.setattr(build_info, "MODULE", "pkg._build_info")
    yield package
    for name in ("pkg", "pkg._build_info"):
        sys.modules.pop(name, None)


def test_write_then_load_round_trip(stamped_package: Path) -> None:
    module_path, json_path = write(STAMPED, stamped_package)
    assert load_build_info("ignored") == STAMPED
    assert json.loads(json_path.read_text()) == STAMPED.as_dict()
    assert list(json.loads(json_path.read_text())) == list(FIELDS)
    assert 'GIT_SHORT_REVISION = "01234567"' in module_path.read_text().replace("'", '"')


def test_module_values_are_python_literals_even_with_quotes(stamped_package: Path) -> None:
    odd = BuildInfo("s", "1.0 \"quoted\" 'x' \\ é", "b", "r", "sr", "d")
    write(odd, stamped_package)
    assert load_build_info("s") == odd


def test_missing_module_gives_unknown_values() -> None:
    info = load_build_info("my-service")
    assert info == BuildInfo("my-service", UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN)


def test_missing_or_bad_field_reads_unknown(stamped_package: Path) -> None:
    (stamped_package / "_build_info.py").write_text('SERVICE = "svc"\nVERSION = 3\nGIT_BRANCH = ""\n')
    assert load_build_info("x") == BuildInfo("svc", UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN)


def test_broken_import_inside_module_is_not_hidden(stamped_package: Path) -> None:
    (stamped_package / "_build_info.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(ModuleNotFoundError, match="not_a_module_anywhere"):
        load_build_info("x")


@needs_git
def test_from_git(git_repo: Path) -> None:
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=git_repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    now = dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    info = from_git("svc", "2.0.0", git_repo, now=now)
    assert info == BuildInfo("svc", "2.0.0", "feature/x", revision, revision[:8], "2026-05-05T22:08:09Z")


@needs_git
def test_from_git_detached_head(git_repo: Path) -> None:
    subprocess.run(["git", "checkout", "-q", "--detach"], cwd=git_repo, check=True)
    assert from_git("svc", "1", git_repo).git_branch == "detached"


def test_project_version_reads_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "4.5.6"\n')
    assert project_version(tmp_path) == "4.5.6"


@needs_git
def test_command_line_writes_both_files(git_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    project_dir = Path(build_info.__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "app.build_info", "--service", "svc", "--output-dir", str(out)],
        cwd=project_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == [
        f"wrote {out / '_build_info.py'}",
        f"wrote {out / '_build_info.json'}",
    ]
    data = json.loads((out / "_build_info.json").read_text())
    assert data["service"] == "svc"
    assert data["version"] == project_version(project_dir)
    assert len(data["git_revision"]) == 40
    assert data["build_date"].endswith("Z")


@needs_git
def test_main_in_process(git_repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out2"
    out.mkdir()
    argv = ["--service", "s", "--version", "9.9.9", "--output-dir", str(out), "--repo-dir", str(git_repo)]
    assert build_info.main(argv) == 0
    data = json.loads((out / "_build_info.json").read_text())
    assert (data["service"], data["version"], data["git_branch"]) == ("s", "9.9.9", "feature/x")
