"""Inputs as the jobs read them: array inputs item by item, booleans, variables; paths, running commands, uv."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from python_ci.job import JobError, array, flag, project_dir, run, variable, words
from python_ci.uv import ensure_uv
from tests.engine import ROOT


@pytest.mark.parametrize(
    ("value", "items"),
    [
        ("", []),
        ("paths=", []),
        ("paths=[]", []),
        ('args=["-k", "not network and not slow"]', ["-k", "not network and not slow"]),
        ('args=["it\'s", "q\\"x", "$HOME", 3.1, true]', ["it's", 'q"x', "$HOME", "3.1", "true"]),
        # Ruby's inspect (GitLab's rendering of an array inside a string) escapes `#{` and ESC.
        ('args=["a\\#{b}", "\\e[0m"]', ["a#{b}", "\x1b[0m"]),
    ],
)
def test_array_items_are_one_argument_each(monkeypatch: pytest.MonkeyPatch, value: str, items: list[str]) -> None:
    monkeypatch.setenv("PYCI_X", value)
    assert array("PYCI_X") == items


@pytest.mark.parametrize("value", ["args=src tests", 'args=[["nested"]]', "args=[1,"])
def test_a_value_that_is_not_an_array_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PYCI_X", value)
    with pytest.raises(JobError, match="PYCI_X is not an array"):
        array("PYCI_X")


def test_flags_and_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYCI_ON", "true")
    monkeypatch.setenv("PYCI_BAD", "yes")
    monkeypatch.delenv("PYCI_UNSET", raising=False)
    assert flag("PYCI_ON") is True
    assert flag("PYCI_UNSET", default=True) is True
    with pytest.raises(JobError, match="true or false"):
        flag("PYCI_BAD")
    with pytest.raises(JobError, match="PYCI_UNSET is not set"):
        variable("PYCI_UNSET")
    assert words(" a  b ") == ["a", "b"]


def test_a_missing_project_dir_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYCI_PROJECT_DIR", "svc")
    with pytest.raises(JobError, match="project_dir 'svc' is not a directory"):
        project_dir(tmp_path)


def test_run_reports_a_missing_program_and_writes_output(tmp_path: Path) -> None:
    with pytest.raises(JobError, match="no-such-tool is not installed"):
        run(["no-such-tool"])
    assert run([sys.executable, "-c", "print('hi')"], output=tmp_path / "out") == 0
    assert (tmp_path / "out").read_text() == "hi\n"


def test_uv_is_installed_with_pip_when_none_is_on_path(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The bootstrap venv (pip, and uv 0.13.9 already installed by pip) stands for an image whose PATH has no uv:
    # pip finds the requirement satisfied, and the job uses the uv beside the interpreter.
    bootstrap = ROOT / ".venv-bootstrap" / "bin"
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(sys, "executable", str(bootstrap / "python"))
    found = ensure_uv(checkout)
    assert found == str(bootstrap / "uv")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("uv 0.13.9")
    monkeypatch.setenv("PYCI_UV_VERSION", "not-a-version")
    with pytest.raises(JobError, match=r"could not install uv==not-a-version"):
        ensure_uv(checkout)


def test_uv_hard_links_from_a_cache_in_the_checkout_and_copies_from_a_runners(
    checkout: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UV_CACHE_DIR")
    monkeypatch.delenv("UV_LINK_MODE")
    uv = ensure_uv(checkout)
    assert os.environ["UV_CACHE_DIR"] == str(checkout / ".cache" / "uv")
    assert os.environ["UV_LINK_MODE"] == "hardlink"
    venv = checkout / ".venv"
    subprocess.run([uv, "venv", "--quiet", str(venv)], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "iniconfig==2.3.1"], check=True
    )
    (module,) = venv.glob("lib/python3.*/site-packages/iniconfig/__init__.py")
    assert module.stat().st_nlink > 1  # the same file as in uv's cache: nothing copied
    # A runner's UV_CACHE_DIR (a volume, maybe another file system): copies; a UV_LINK_MODE of the user's wins.
    for given, expected in ((None, "copy"), ("symlink", "symlink")):
        monkeypatch.setenv("UV_CACHE_DIR", str(checkout.parent / "runner-cache"))
        monkeypatch.delenv("UV_LINK_MODE")
        if given:
            monkeypatch.setenv("UV_LINK_MODE", given)
        ensure_uv(checkout)
        assert os.environ["UV_LINK_MODE"] == expected
