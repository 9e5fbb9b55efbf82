"""Platform tags and marker values of a target machine."""

from __future__ import annotations

import pytest

from python_ci.job import JobError
from python_ci.platform_tags import marker_environment, platforms


@pytest.mark.parametrize(
    ("target", "first", "must", "must_not"),
    [
        ("manylinux_2_28_x86_64", "manylinux_2_28_x86_64", ["manylinux2014_x86_64", "manylinux1_x86_64"], []),
        ("manylinux2014_aarch64", "manylinux_2_17_aarch64", ["manylinux2014_aarch64"], ["manylinux2010_aarch64"]),
        ("manylinux_2_31_riscv64", "manylinux_2_31_riscv64", ["manylinux_2_17_riscv64"], ["manylinux_2_16_riscv64"]),
        ("musllinux_1_2_x86_64", "musllinux_1_2_x86_64", ["musllinux_1_1_x86_64"], ["manylinux_2_17_x86_64"]),
    ],
)
def test_a_target_accepts_its_own_and_older_compatible_platform_tags(
    target: str, first: str, must: list[str], must_not: list[str]
) -> None:
    tags = platforms(target)
    assert tags[0] == first
    assert set(must) <= set(tags)
    assert not set(must_not) & set(tags)


def test_a_manylinux_target_older_than_its_architecture_is_refused() -> None:
    with pytest.raises(JobError, match="below glibc"):
        platforms("manylinux1_aarch64")


@pytest.mark.parametrize("target", ["win_amd64", "manylinux_2_28_x86_64; id", "linux_x86_64"])
def test_an_unknown_target_is_refused(target: str) -> None:
    with pytest.raises(JobError, match="unknown target"):
        platforms(target)
    with pytest.raises(JobError, match="unknown target"):
        marker_environment(target, "3.12")


def test_marker_values_describe_the_target_not_this_machine() -> None:
    env = marker_environment("manylinux2014_aarch64", "3.10")
    assert env["platform_machine"] == "aarch64"
    assert env["python_version"] == "3.10"
    assert env["python_full_version"] == "3.10.0"
    assert env["sys_platform"] == "linux"
