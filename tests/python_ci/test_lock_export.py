"""Finding the lock in use and exporting its pins: uv.lock (a project's or its workspace's), poetry.lock, a
requirements file; the job's Python is the one uv uses, and no interpreter is ever downloaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from python_ci.job import JobError, capture
from python_ci.lock_export import Lock, Selection, Uv, export_lock, find_lock, poetry_export_command, split_members
from tests.python_ci.wheelhouse_support import UV, locked_workspace, use_python_with_pip


def _project(path: Path, *files: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "pyproject.toml").write_text(f'[project]\nname = "{path.name}"\nversion = "0"\n')
    for name in files:
        (path / name).write_text("# placeholder\n")
    return path


def test_lock_auto_prefers_uv_then_poetry_then_the_workspace_then_requirements(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.uv.workspace]\nmembers = ['svc']\n")
    (tmp_path / "uv.lock").write_text("# the workspace's\n")
    project = _project(tmp_path / "svc", "requirements.txt")
    assert find_lock(project, tmp_path, "auto", "requirements.txt") == Lock("uv", tmp_path / "uv.lock", "svc")
    (project / "poetry.lock").write_text("#\n")
    assert find_lock(project, tmp_path, "auto", "requirements.txt") == Lock("poetry", project / "poetry.lock")
    (project / "uv.lock").write_text("#\n")
    assert find_lock(project, tmp_path, "auto", "requirements.txt") == Lock("uv", project / "uv.lock")
    assert find_lock(project, tmp_path, "requirements", "requirements.txt").kind == "requirements"
    assert find_lock(project, tmp_path, "poetry", "requirements.txt").kind == "poetry"


def test_a_uv_lock_outside_the_checkout_or_of_no_workspace_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.uv.workspace]\nmembers = ['repo/svc']\n")
    (tmp_path / "uv.lock").write_text("#\n")
    repo = tmp_path / "repo"
    _project(repo, "uv.lock")  # a lock, but of a project that is no workspace
    project = _project(repo / "svc", "requirements.txt")
    assert find_lock(project, repo, "auto", "requirements.txt").kind == "requirements"
    with pytest.raises(JobError, match=r"lock is uv but .*svc/uv\.lock is missing"):
        find_lock(project, repo, "uv", "requirements.txt")


def test_a_missing_or_unknown_lock_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    with pytest.raises(JobError, match=r"lock is poetry but .*poetry\.lock is missing"):
        find_lock(project, tmp_path, "poetry", "requirements.txt")
    with pytest.raises(JobError, match=r"no reqs\.txt in"):
        find_lock(project, tmp_path, "auto", "reqs.txt")
    with pytest.raises(JobError, match="lock must be one of"):
        find_lock(project, tmp_path, "pipenv", "requirements.txt")


def test_a_workspace_member_needs_a_project_name(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.uv.workspace]\nmembers = ['svc']\n")
    (tmp_path / "uv.lock").write_text("#\n")
    (tmp_path / "svc").mkdir()
    with pytest.raises(JobError, match=r"no pyproject\.toml with a \[project\] name"):
        find_lock(tmp_path / "svc", tmp_path, "auto", "requirements.txt")


def test_a_requirements_file_is_copied_as_is_and_takes_no_extras(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    (project / "requirements.txt").write_text("six==1.17.0  # pinned\n")
    lock = find_lock(project, tmp_path, "auto", "requirements.txt")
    out = tmp_path / "out.txt"
    assert export_lock(lock, project, tmp_path, out, uv=Uv(tmp_path), selection=Selection()) == []
    assert out.read_text() == "six==1.17.0  # pinned\n"
    assert lock.describe(tmp_path) == "requirements (requirements.txt)"
    with pytest.raises(JobError, match="a requirements file is resolved"):
        export_lock(lock, project, tmp_path, out, uv=Uv(tmp_path), selection=Selection(all_extras=True))


def test_a_workspace_member_exports_the_locked_pins_with_the_jobs_python_and_downloads_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture's .python-version names 3.14, which this machine lacks: uv's own choice fails, ours works."""
    use_python_with_pip(monkeypatch)
    workspace = locked_workspace(tmp_path / "ws")
    pythons = tmp_path / "uv-pythons"
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(pythons))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    # Only the project's own choice (.python-version) may pick the Python here: no job's UV_PYTHON.
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PYTHON"}}
    plain = subprocess.run(
        [UV, "export", "--locked", "--package", "svc"], cwd=workspace, env=env, capture_output=True, check=False
    )
    assert plain.returncode != 0, "the fixture should ask uv for a Python this machine lacks"

    project = workspace / "svc"
    lock = find_lock(project, workspace, "auto", "requirements.txt")
    assert lock.describe(workspace) == "uv.lock (workspace ., member svc)"
    out = tmp_path / "svc.txt"
    members = export_lock(lock, project, workspace, out, uv=Uv(tmp_path), selection=Selection())
    assert members == [workspace / "greet"]
    text = out.read_text()
    assert text.startswith("six==") and "--hash=sha256:" in text
    assert "-e" not in text and "docopt" not in text, "an editable line or the dev group leaked in"
    assert export_lock(lock, project, workspace, out, uv=Uv(tmp_path), selection=Selection(groups=("dev",))) == [
        workspace / "greet"
    ]
    assert "docopt==0.6.2" in out.read_text()

    greet = find_lock(workspace / "greet", workspace, "uv", "requirements.txt")
    assert export_lock(greet, workspace / "greet", workspace, out, uv=Uv(tmp_path), selection=Selection()) == []
    assert out.read_text() == ""
    assert not pythons.exists() or not any(pythons.iterdir()), "uv downloaded an interpreter"


def test_a_stale_or_broken_lock_fails_with_the_tools_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_python_with_pip(monkeypatch)
    project = _project(tmp_path / "p")
    (project / "uv.lock").write_text("# not a lock\n")
    lock = find_lock(project, tmp_path, "auto", "requirements.txt")
    with pytest.raises(JobError, match="uv export failed"):
        export_lock(lock, project, tmp_path, tmp_path / "out.txt", uv=Uv(tmp_path), selection=Selection())


def test_editable_lines_outside_the_checkout_are_refused(tmp_path: Path) -> None:
    _project(tmp_path / "lib")
    text, members = split_members("-e ./lib\nsix==1.17.0 \\\n    --hash=sha256:aa\n", tmp_path, tmp_path)
    assert text == "six==1.17.0 --hash=sha256:aa\n"
    assert members == [tmp_path / "lib"]
    _project(tmp_path / "lib" / "inner")
    with pytest.raises(JobError, match="not a project folder of this checkout"):
        split_members("-e ./inner\n", tmp_path / "lib", tmp_path / "lib" / "inner" / "x")
    (tmp_path / "plain").mkdir()
    with pytest.raises(JobError, match="not a project folder of this checkout"):
        split_members("--editable ./plain\n", tmp_path, tmp_path)


def test_poetry_export_selects_extras_and_groups_with_pinned_tools_on_the_jobs_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYCI_POETRY_VERSION", "2.5.1")
    monkeypatch.setenv("PYCI_POETRY_PLUGIN_EXPORT_VERSION", "1.10.1")
    cmd = poetry_export_command("uv", Path("/out.txt"), Selection(extras=("plain", "fast"), groups=("web",)))
    assert cmd[:5] == ["uv", "tool", "run", "--python", sys.executable]
    assert "--no-python-downloads" in cmd
    assert cmd[cmd.index("--from") + 1] == "poetry==2.5.1"
    assert cmd[cmd.index("--with") + 1] == "poetry-plugin-export==1.10.1"
    assert cmd[-6:] == ["--extras", "plain", "--extras", "fast", "--with", "web"]
    assert "--without-hashes" not in cmd
    every = poetry_export_command("uv", Path("/out.txt"), Selection(extras=("x",), all_extras=True, all_groups=True))
    assert every[-2:] == ["--all-extras", "--all-groups"]


def test_all_groups_and_all_extras_take_every_one_from_a_uv_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_python_with_pip(monkeypatch)
    workspace = locked_workspace(tmp_path / "ws")
    lock = find_lock(workspace / "svc", workspace, "uv", "requirements.txt")
    out = tmp_path / "svc.txt"
    export_lock(
        lock, workspace / "svc", workspace, out, uv=Uv(tmp_path), selection=Selection(all_groups=True, all_extras=True)
    )
    assert "docopt==0.6.2" in out.read_text()


def test_without_uv_on_path_the_pinned_uv_is_installed_into_a_scratch_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version that does not exist shows the attempt (and its failure) without touching the image's Python."""
    use_python_with_pip(monkeypatch)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("PYCI_UV_VERSION", "0.0.0")
    # no index at all: pip fails at once instead of asking the network for a uv that does not exist
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(JobError, match="installing uv failed"):
        Uv(tmp_path).path()


def test_a_missing_tool_is_one_plain_line(tmp_path: Path) -> None:
    with pytest.raises(JobError, match="no-such-tool is not installed in the job's image"):
        capture([str(tmp_path / "no-such-tool"), "export"])
