"""`python_ci <command>`: dispatch, usage and the one-line failure."""

import pytest

from python_ci.__main__ import main


def test_unknown_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nope"]) == 2
    assert "usage: python_ci {" in capsys.readouterr().err


def test_a_job_error_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYCI_PROJECT_DIR", "no/such/dir")
    assert main(["ruff"]) == 1
    message = "python-ci ruff: project_dir 'no/such/dir' is not a directory of the checkout"
    assert capsys.readouterr().err.strip() == message


@pytest.mark.parametrize(("value", "hint"), [("3.1", "quote versions"), ("3.9", ""), ("3", ""), ("31.2", "")])
def test_a_python_version_that_is_not_3_n_is_refused_before_the_job(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str, hint: str
) -> None:
    monkeypatch.setenv("PYTHON_VERSION", value)
    assert main(["ruff"]) == 1
    err = capsys.readouterr().err
    assert f"python version {value!r} is not 3.N with N >= 11" in err
    assert hint in err
