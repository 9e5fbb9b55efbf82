"""Inputs as the jobs read them: array inputs item by item, booleans, variables."""

import pytest

from python_ci.job import JobError, array, flag, variable, words


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
