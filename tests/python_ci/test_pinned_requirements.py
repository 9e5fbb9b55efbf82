"""Reading pinned requirements files: pins, hashes, markers and the options passed to the download."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

from python_ci.job import JobError
from python_ci.pinned_requirements import applicable, logical_lines, packaging, parse_pins


def test_markers_are_evaluated_for_the_target_not_for_this_machine() -> None:
    pins, _ = parse_pins(
        "uvloop==0.21.0 ; sys_platform != 'win32'\n"
        "colorama==0.4.6 ; sys_platform == 'win32'\n"
        "exceptiongroup==1.3.0 ; python_full_version < '3.11'\n"
        "greenlet==3.2.4 ; platform_machine == 'aarch64'\n"
    )
    assert {p.name for p in applicable(pins, "manylinux2014_aarch64", "3.10")} == {
        "uvloop",
        "exceptiongroup",
        "greenlet",
    }
    assert {p.name for p in applicable(pins, "manylinux_2_28_x86_64", "3.12")} == {"uvloop"}


def test_hashed_multiline_pins_are_read_with_their_hashes_and_options_kept() -> None:
    text = (
        "# comment\n"
        "--extra-index-url https://mirror.invalid/simple\n"
        "anyio==4.16.0 \\\n"
        "    --hash=sha256:aaa \\\n"
        "    --hash=sha256:bbb\n"
        "    # via fastapi\n"
        "Six===1.17.0\n"
    )
    pins, options = parse_pins(text)
    assert options == ["--extra-index-url https://mirror.invalid/simple"]
    assert [(p.spec, p.hashes) for p in pins] == [
        ("anyio==4.16.0", ("sha256:aaa", "sha256:bbb")),
        ("Six===1.17.0", ()),
    ]
    assert pins[0].line() == "anyio==4.16.0 --hash=sha256:aaa --hash=sha256:bbb"


def test_a_file_with_no_pins_is_an_empty_list_not_an_error() -> None:
    assert parse_pins("# no dependencies\n\n") == ([], [])
    assert parse_pins("--index-url https://mirror.invalid/simple\n") == (
        [],
        ["--index-url https://mirror.invalid/simple"],
    )


def test_a_dangling_continuation_is_still_a_line() -> None:
    assert logical_lines("six==1.17.0 \\\n") == ["six==1.17.0"]


@pytest.mark.parametrize(
    "line",
    [
        "requests>=2",
        "requests",
        "-e .",
        "-r other.txt",
        "pkg @ https://x.invalid/pkg.whl",
        "--no-binary :all:",
        "a==1.*",
        "not a requirement!",
    ],
)
def test_a_requirement_that_is_not_one_pinned_version_is_refused(line: str) -> None:
    with pytest.raises(JobError, match="cannot honour"):
        parse_pins(f"six==1.17.0\n{line}\n")


def test_packaging_falls_back_to_pips_copy_then_fails_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def unavailable(name: str) -> ModuleType:
        seen.append(name)
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", unavailable)
    with pytest.raises(JobError, match="neither packaging nor pip"):
        packaging("markers")
    assert seen == ["packaging.markers", "pip._vendor.packaging.markers"]
