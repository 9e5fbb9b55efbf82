"""The project's environment: which installer reads what, the stamp that decides reuse, real installs with uv."""

import json
import subprocess
from pathlib import Path

import pytest

from python_ci.__main__ import main as python_ci
from python_ci.environment import (
    STAMP,
    Selection,
    Source,
    activated,
    describe,
    detect,
    install_commands,
    prepare,
    reusable,
    run_setup,
    stamp,
)
from python_ci.job import JobError
from tests.python_ci.conftest import write

PACKAGE = '[project]\nname = "pkg"\nversion = "0.1"\ndependencies = ["iniconfig==2.3.0"]\n'
BUILD = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'


def _installed(venv: Path) -> set[str]:
    return {p.name.split("-")[0].lower() for p in venv.glob("lib/python3.11/site-packages/*.dist-info")}


@pytest.mark.parametrize(
    ("files", "requirements", "expected"),
    [
        ({"uv.lock": "", "poetry.lock": "", "requirements.txt": ""}, [], Source("uv.lock", ("uv.lock",))),
        ({"poetry.lock": "", "requirements.txt": ""}, [], Source("poetry.lock", ("poetry.lock",))),
        (
            {"requirements/test.txt": "", "requirements.txt": "", "pyproject.toml": ""},
            [],
            Source("requirements", ("requirements.txt", "requirements/test.txt")),
        ),
        ({"ci.txt": "", "requirements.txt": ""}, ["ci.txt"], Source("requirements", ("ci.txt",))),
        ({"pyproject.toml": ""}, [], Source("pyproject", ("pyproject.toml",))),
        ({}, [], Source("none", ())),
    ],
)
def test_detect_picks_the_lock_then_requirements_then_pyproject(
    tmp_path: Path, files: dict[str, str], requirements: list[str], expected: Source
) -> None:
    write(tmp_path, files)
    assert detect(tmp_path, requirements) == expected


def test_detect_refuses_a_named_requirements_file_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(JobError, match=r"not found in the project: ci\.txt"):
        detect(tmp_path, ["ci.txt"])


def test_the_stamp_changes_with_settings_file_bytes_and_for_poetry_the_path(tmp_path: Path) -> None:
    write(tmp_path, {"a/requirements.txt": "x==1\n", "b/requirements.txt": "x==1\n", "a/poetry.lock": "l"})
    req = Source("requirements", ("requirements.txt",))
    assert stamp(req, tmp_path / "a", "3.11") == stamp(req, tmp_path / "b", "3.11")  # relocatable
    assert stamp(req, tmp_path / "a", "3.11") != stamp(req, tmp_path / "a", "3.12")
    before = stamp(req, tmp_path / "a", "3.11")
    (tmp_path / "a" / "requirements.txt").write_text("x==2\n")
    assert stamp(req, tmp_path / "a", "3.11") != before
    poetry = Source("poetry.lock", ("poetry.lock",))
    (tmp_path / "b" / "poetry.lock").write_text("l")
    assert stamp(poetry, tmp_path / "a", "s") != stamp(poetry, tmp_path / "b", "s")


def test_install_commands_per_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYCI_POETRY_VERSION", "2.5.1")
    excludes = tmp_path / "excludes.txt"
    lock = install_commands(Source("uv.lock", ("uv.lock",)), tmp_path, "uv", ["ruff"], excludes)
    assert lock == [["uv", "sync", "--locked", "--inexact", "--no-install-package", "ruff"]]
    poetry = install_commands(Source("poetry.lock", ("poetry.lock",)), tmp_path, "uv", ["ruff"], excludes)
    assert poetry == [["uv", "tool", "run", "--from", "poetry==2.5.1", "poetry", "install", "--no-interaction"]]
    assert (
        describe(Source("poetry.lock", ("poetry.lock",)), poetry[0])
        == "poetry.lock -> poetry 2.5.1 install --no-interaction"
    )
    write(tmp_path, {"r.txt": "a==1 --hash=sha256:00\n", "s.txt": "b\n"})
    hashed = install_commands(Source("requirements", ("r.txt", "s.txt")), tmp_path, "/bin/uv", [], None)
    assert hashed == [["/bin/uv", "pip", "install", "--require-hashes", "-r", "r.txt", "-r", "s.txt"]]
    assert describe(Source("requirements", ("r.txt",)), hashed[0]).startswith("requirements -> uv pip install --req")
    write(tmp_path, {"pyproject.toml": '[project]\nname = "p"\n[dependency-groups]\ndev = ["x"]\n'})
    flat = install_commands(Source("pyproject", ("pyproject.toml",)), tmp_path, "uv", ["ruff"], excludes)
    assert flat == [["uv", "pip", "install", "-r", "pyproject.toml", "--group", "dev", "--excludes", str(excludes)]]
    write(tmp_path, {"pyproject.toml": PACKAGE + BUILD})
    assert install_commands(Source("pyproject", ("pyproject.toml",)), tmp_path, "uv", [], None) == [
        ["uv", "pip", "install", "-e", "."]
    ]
    assert install_commands(Source("none", ()), tmp_path, "uv", [], None) == []


def test_a_broken_pyproject_is_one_clear_error(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[project\n"})
    with pytest.raises(JobError, match=r"pyproject\.toml is not valid TOML"):
        install_commands(Source("pyproject", ("pyproject.toml",)), tmp_path, "uv", [], None)


def test_reusable_needs_the_same_stamp_and_a_python_that_starts(tmp_path: Path) -> None:
    venv = tmp_path / ".venv"
    assert not reusable(venv, "abc")
    (venv / "bin").mkdir(parents=True)
    (venv / STAMP).write_text("abc\n")
    assert not reusable(venv, "abd")
    assert not reusable(venv, "abc")  # no Python in it
    (venv / "bin" / "python").symlink_to("/bin/true")
    assert reusable(venv, "abc")


def test_activated_puts_the_venv_first_on_path(tmp_path: Path) -> None:
    env = activated(tmp_path, {"PATH": "/usr/bin", "PYTHONHOME": "/x"})
    assert env == {"PATH": f"{tmp_path}/bin:/usr/bin", "VIRTUAL_ENV": str(tmp_path)}


def test_requirements_project_is_installed_then_reused_then_remade(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(checkout, {"svc/requirements.txt": "iniconfig==2.3.0\nruff==0.15.0\n"})
    monkeypatch.setenv("PYCI_PROJECT_DIR", "svc")
    monkeypatch.setenv("PYCI_TOOL_PACKAGE", "pluggy")
    monkeypatch.setenv("PYCI_TOOL_VERSION", "1.6.0")
    monkeypatch.setenv("PYCI_EXCLUDE", "ruff")
    assert python_ci(["environment"]) == 0
    venv = checkout / "svc" / ".venv"
    assert _installed(venv) == {"iniconfig", "pluggy"}
    assert "relocatable = true" in (venv / "pyvenv.cfg").read_text()
    first = (venv / STAMP).read_text()
    err = capsys.readouterr().err
    assert "python-ci environment: leaving out ruff" in err
    assert "python-ci environment: requirements -> uv pip install -r requirements.txt --excludes" in err
    # A second run reuses it: same stamp, nothing rewritten.
    (venv / STAMP).touch()
    mtime = (venv / STAMP).stat().st_mtime_ns
    prepare(checkout, checkout / "svc")
    assert "reusing the cached .venv (made from requirements.txt" in capsys.readouterr().err
    assert (venv / STAMP).stat().st_mtime_ns == mtime
    # A changed input starts afresh: nothing of the old environment stays.
    (checkout / "svc" / "requirements.txt").write_text("packaging==25.0\n")
    monkeypatch.setenv("PYCI_TOOL_VERSION", "")
    prepare(checkout, checkout / "svc")
    assert _installed(venv) == {"packaging"}
    assert (venv / STAMP).read_text() != first


def test_uv_lock_project_is_synced_from_its_lock(checkout: Path) -> None:
    write(checkout, {"pyproject.toml": PACKAGE.replace('"0.1"\n', '"0.1"\nrequires-python = ">=3.11"\n')})
    subprocess.run(["uv", "lock", "--quiet"], cwd=checkout, check=True)
    # The lock wins over what pyproject.toml now asks for: --locked refuses a stale lock.
    prepare(checkout, checkout)
    assert "iniconfig" in _installed(checkout / ".venv")
    (checkout / "pyproject.toml").write_text(PACKAGE.replace("2.3.0", "2.1.0"))
    with pytest.raises(JobError, match=r"uv.lock -> uv sync --locked --inexact failed \(exit 1\)"):
        prepare(checkout, checkout)


def test_a_project_with_nothing_to_install_gets_an_empty_venv(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (checkout / ".venv").write_text("not a venv")
    assert python_ci(["environment"]) == 0
    assert "nothing to install" in capsys.readouterr().err
    assert (checkout / ".venv" / "bin" / "python").exists()


def test_the_job_refuses_a_python_version_that_is_not_one(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_VERSION", "3.1; rm -rf /")
    assert python_ci(["environment"]) == 1


# --- optional dependencies: groups, extras, all of either (issue 11, item 4) -----------------------------------------

GROUPED = """\
[project]
name = "grouped"
version = "0.1"
requires-python = ">=3.11"
dependencies = []

[project.optional-dependencies]
fast = ["packaging==25.0"]

[dependency-groups]
dev = ["pluggy==1.6.0"]
testing = ["iniconfig==2.3.0"]
"""


def test_install_commands_honour_the_selection_on_every_installer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYCI_POETRY_VERSION", "2.5.1")
    write(tmp_path, {"pyproject.toml": GROUPED})
    some = Selection(groups=("testing",), extras=("fast",))
    every = Selection(all_groups=True, all_extras=True)
    lock = Source("uv.lock", ("uv.lock",))
    assert install_commands(lock, tmp_path, "uv", [], None, selection=some)[0][4:] == [
        "--group",
        "testing",
        "--extra",
        "fast",
    ]
    assert install_commands(lock, tmp_path, "uv", [], None, selection=every)[0][4:] == ["--all-groups", "--all-extras"]
    poetry = Source("poetry.lock", ("poetry.lock",))
    assert install_commands(poetry, tmp_path, "uv", [], None, selection=some)[0][-4:] == [
        "--with",
        "testing",
        "--extras",
        "fast",
    ]
    assert install_commands(poetry, tmp_path, "uv", [], None, selection=every)[0][-2:] == [
        "--all-groups",
        "--all-extras",
    ]
    flat = Source("pyproject", ("pyproject.toml",))
    assert install_commands(flat, tmp_path, "uv", [], None, selection=some) == [
        ["uv", "pip", "install", "-r", "pyproject.toml", "--extra", "fast", "--group", "dev", "--group", "testing"]
    ]
    assert install_commands(flat, tmp_path, "uv", [], None, selection=every)[0][3:] == [
        "-r", "pyproject.toml", "--extra", "fast", "--group", "dev", "--group", "testing",
    ]  # fmt: skip
    (tmp_path / "pyproject.toml").write_text(GROUPED + BUILD)
    assert install_commands(flat, tmp_path, "uv", [], None, selection=some)[0][3:5] == ["-e", ".[fast]"]
    with pytest.raises(JobError, match="group testing, extra fast: requirements files have no dependency groups"):
        install_commands(Source("requirements", ("r.txt",)), tmp_path, "uv", [], None, selection=some)
    assert str(every) == "all groups, all extras" and not Selection()


@pytest.mark.parametrize("locked", [True, False], ids=["uv.lock", "pyproject"])
def test_a_testing_group_and_an_extra_are_installed_when_asked(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, locked: bool
) -> None:
    write(checkout, {"pyproject.toml": GROUPED})
    if locked:
        subprocess.run(["uv", "lock", "--quiet"], cwd=checkout, check=True)
    prepare(checkout, checkout)
    assert _installed(checkout / ".venv") == {"pluggy"}  # the default: dev only
    monkeypatch.setenv("PYCI_GROUPS", 'json:["testing"]')
    monkeypatch.setenv("PYCI_EXTRAS", 'json:["fast"]')
    prepare(checkout, checkout)  # another selection: another stamp, a fresh environment
    assert _installed(checkout / ".venv") == {"pluggy", "iniconfig", "packaging"}


def test_a_bad_group_name_is_refused(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(checkout, {"pyproject.toml": GROUPED})
    monkeypatch.setenv("PYCI_GROUPS", 'json:["ok", "-x"]')
    with pytest.raises(JobError, match="not a dependency group or extra name: '-x'"):
        prepare(checkout, checkout)


# --- uv workspaces (item 5) and the job's Python (item 6) -------------------------------------------------------

WORKSPACE_ROOT = """\
[project]
name = "monorepo"
version = "0.1"
requires-python = ">=3.11"
dependencies = []

[tool.uv.workspace]
members = ["svc"]

[tool.uv]
# The lock pins idna below its newest release: only an install from the lock gets this version.
constraint-dependencies = ["idna<3.7"]
"""
MEMBER = '[project]\nname = "svc"\nversion = "0.1"\nrequires-python = ">=3.11"\ndependencies = ["idna"]\n'


def test_a_workspace_member_is_synced_from_the_root_lock_with_the_jobs_python(
    checkout: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(checkout, {"pyproject.toml": WORKSPACE_ROOT, "svc/pyproject.toml": MEMBER, "svc/.python-version": "3.13\n"})
    subprocess.run(["uv", "lock", "--quiet"], cwd=checkout, check=True)
    assert 'name = "idna"\nversion = "3.6"' in (checkout / "uv.lock").read_text()
    member = checkout / "svc"
    assert detect(member, [], checkout) == Source("uv.lock", ("../uv.lock",), member="svc")
    prepare(checkout, member)
    err = capsys.readouterr().err
    assert "uv.lock -> uv sync --locked --inexact --package svc" in err
    # Nothing was cached (a checkout has no .venv): no word about caches.
    assert "workspace member" not in err
    venv = member / ".venv"
    assert any(p.name == "idna-3.6.dist-info" for p in venv.glob("lib/python3.11/site-packages/*"))
    assert "version_info = 3.11" in (venv / "pyvenv.cfg").read_text()  # not the .python-version's 3.13
    assert not (checkout / ".venv").exists()  # the member's own environment, not the workspace root's
    # A .venv there at the start came from the job's cache: the log says how to key that cache on the real lock.
    prepare(checkout, member)
    hint = "workspace member svc: installing the workspace's uv.lock; to key this job's cached .venv on it, set the "
    cache = "`cache: [{key: {files: [uv.lock], prefix: $CI_JOB_NAME_SLUG}, paths: [svc/.venv], when: always}]`"
    assert hint + "component's input " + cache in capsys.readouterr().err


def test_a_project_outside_any_workspace_is_not_a_member(tmp_path: Path) -> None:
    write(tmp_path, {"uv.lock": "", "pyproject.toml": '[project]\nname = "root"\n', "svc/pyproject.toml": MEMBER})
    assert detect(tmp_path / "svc", [], tmp_path) == Source("pyproject", ("pyproject.toml",))
    # The search stops at the checkout: a workspace above it is not the project's.
    assert detect(tmp_path / "svc", [], tmp_path / "svc") == Source("pyproject", ("pyproject.toml",))


def test_setup_commands_run_in_the_environment_without_a_shell(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = checkout / "marker"
    code = "import os, sys; open('ran', 'w').write(os.environ['VIRTUAL_ENV'] + sys.prefix)"
    monkeypatch.setenv("PYCI_SETUP_COMMANDS", "json:" + json.dumps([f'python -c "{code}"', ""]))
    assert python_ci(["environment"]) == 0
    venv = str(checkout / ".venv")
    assert (checkout / "ran").read_text() == venv + venv  # the venv's python, the venv active
    assert "python-ci environment: set-up: python -c" in capsys.readouterr().err
    monkeypatch.setenv("PYCI_SETUP_COMMANDS", f'json:["true; touch {marker}", "echo $(touch {marker})"]')
    assert python_ci(["environment"]) == 1  # `true;` is not a program; nothing was evaluated
    assert not marker.exists()
    with pytest.raises(JobError, match="No closing quotation"):
        run_setup(checkout, checkout / ".venv", ['echo "unclosed'])


def test_the_tool_follows_the_projects_pin_unless_the_input_names_a_version(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # iniconfig stands for a type checker: pinned by the project, defaulted and bounded by the component.
    write(checkout, {"requirements.txt": "iniconfig==2.1.0\n"})
    for name, value in {
        "PYCI_TOOL": "iniconfig",
        "PYCI_TOOL_PACKAGE": "iniconfig",
        "PYCI_TOOL_DEFAULT": "2.3.0",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PYCI_TOOL_OLDEST", "2.0.0")
    prepare(checkout, checkout)
    assert "iniconfig 2.1.0 (pinned in requirements.txt" in capsys.readouterr().err
    assert {p.name for p in (checkout / ".venv").glob("lib/python3.11/site-packages/iniconfig-*")} == {
        "iniconfig-2.1.0.dist-info"
    }
    monkeypatch.setenv("PYCI_TOOL_VERSION", "2.3.0")
    prepare(checkout, checkout)
    assert "iniconfig 2.3.0 (the job's input)" in capsys.readouterr().err
    monkeypatch.setenv("PYCI_TOOL_VERSION", "")
    monkeypatch.setenv("PYCI_TOOL_OLDEST", "2.2.0")
    with pytest.raises(JobError, match=r"iniconfig 2\.1\.0 \(pinned in requirements\.txt\) is older than 2\.2\.0"):
        prepare(checkout, checkout)


def test_an_excluded_package_that_an_installed_one_requires_is_kept(
    checkout: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # python-dateutil requires six: leaving six out would break it (as leaving ruff out breaks pytest-examples).
    write(checkout, {"svc/requirements.txt": "python-dateutil==2.9.0.post0\nsix==1.17.0\niniconfig==2.3.0\n"})
    monkeypatch.setenv("PYCI_PROJECT_DIR", "svc")
    monkeypatch.setenv("PYCI_EXCLUDE", "six iniconfig")
    assert python_ci(["environment"]) == 0
    assert _installed(checkout / "svc" / ".venv") == {"python_dateutil", "six"}
    err = capsys.readouterr().err
    assert "python-ci environment: keeping six: python-dateutil requires it" in err
    assert "keeping iniconfig" not in err
