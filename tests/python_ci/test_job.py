"""What every job shares: variables, flags, paths, running commands; and uv found or installed."""

import subprocess
import sys
from pathlib import Path

import pytest

from python_ci.job import JobError, flag, items, project_dir, run, variable
from python_ci.uv import ensure_uv
from tests.engine import ROOT


def test_an_unset_variable_without_default_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYCI_NOPE", raising=False)
    with pytest.raises(JobError, match="PYCI_NOPE is not set"):
        variable("PYCI_NOPE")


def test_flags_accept_only_true_and_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYCI_F", "yes")
    with pytest.raises(JobError, match="must be true or false"):
        flag("PYCI_F")
    monkeypatch.setenv("PYCI_F", "true")
    assert flag("PYCI_F")


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


def test_array_inputs_keep_each_item_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYCI_A", 'json:["-k", "not network and not slow", "$(x)"]')
    assert items("PYCI_A") == ["-k", "not network and not slow", "$(x)"]
    monkeypatch.setenv("PYCI_A", "")
    assert items("PYCI_A") == []
    for bad, message in [
        ("-k x", "must be `json:`"),
        ("json:[1]", "not an array of strings"),
        ("json:[", "not a JSON"),
    ]:
        monkeypatch.setenv("PYCI_A", bad)
        with pytest.raises(JobError, match=message):
            items("PYCI_A")
