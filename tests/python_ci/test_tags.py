"""The release-tag rule: python_ci/tags.py (the version job) and python_ci/release_tags.sh (image-push, no Python)
against one table of cases, and the versions it names against `packaging.version`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from python_ci import tags

SCRIPT = Path(tags.__file__).with_name("release_tags.sh")

# (git tag, tag_prefix, PEP 440 version or None for "not a release tag", image tags release_tags.sh prints)
CASES: list[tuple[str, str, str | None, str | None]] = [
    ("v1.4.2", "v?", "1.4.2", "1.4.2 1.4 1"),
    ("1.4.2", "v?", "1.4.2", "1.4.2 1.4 1"),
    ("v0.0.0", "v?", "0.0.0", "0.0.0 0.0 0"),
    ("v10.20.30", "v?", "10.20.30", "10.20.30 10.20 10"),
    ("v2.0.0-rc.1", "v?", "2.0.0rc1", "2.0.0-rc.1"),
    ("2.0.0rc1", "v?", "2.0.0rc1", "2.0.0rc1"),
    ("v2.0.0-rc1", "v?", "2.0.0rc1", "2.0.0-rc1"),
    ("1.5.0-beta", "v?", "1.5.0b0", "1.5.0-beta"),
    ("v1.5.0-beta.2", "v?", "1.5.0b2", "1.5.0-beta.2"),
    ("1.0.0a1", "v?", "1.0.0a1", "1.0.0a1"),
    ("v1.0.0-alpha", "v?", "1.0.0a0", "1.0.0-alpha"),
    ("v1.0.0-alpha.10", "v?", "1.0.0a10", "1.0.0-alpha.10"),
    ("3.0.0.rc2", "v?", "3.0.0rc2", "3.0.0.rc2"),
    ("v3.0.0_c1", "v?", "3.0.0rc1", "3.0.0_c1"),
    ("3.0.0-pre.4", "v?", "3.0.0rc4", "3.0.0-pre.4"),
    ("3.0.0-preview", "v?", "3.0.0rc0", "3.0.0-preview"),
    ("3.0.0b01", "v?", "3.0.0b1", "3.0.0b01"),
    ("v2.1.0", "v", "2.1.0", "2.1.0 2.1 2"),
    ("2.1.0", "v", None, None),
    ("2.1.0", "", "2.1.0", "2.1.0 2.1 2"),
    ("v2.1.0", "", None, None),
    ("api/v1.2.3", "api/v", "1.2.3", "1.2.3 1.2 1"),
    ("api/1.2.3", "api/v?", "1.2.3", "1.2.3 1.2 1"),
    ("1.2.3", "api/v?", None, None),
    ("v1.2.3", "?", None, None),
    ("1.2.3", "?", "1.2.3", "1.2.3 1.2 1"),
    ("v1.2.3", "api/v", None, None),
    ("api/v1.2.3-rc.1", "api/v", "1.2.3rc1", "1.2.3-rc.1"),
    # Not releases: floating and other tags, what PEP 440 or SemVer allow but a release tag is not.
    ("v1", "v?", None, None),
    ("v1.4", "v?", None, None),
    ("1.2", "v?", None, None),
    ("1.2.3.4", "v?", None, None),
    ("release-7", "v?", None, None),
    ("latest", "v?", None, None),
    ("v01.2.3", "v?", None, None),
    ("v1.02.3", "v?", None, None),
    ("V1.2.3", "v?", None, None),
    ("vv1.2.3", "v?", None, None),
    ("1.2.3+build.5", "v?", None, None),
    ("1.2.3.post1", "v?", None, None),
    ("1.2.3.dev1", "v?", None, None),
    ("v1.2.3-foo", "v?", None, None),
    ("v1.2.3-rc.1.2", "v?", None, None),
    ("v1.2.3-RC1", "v?", None, None),
    ("v1.2.3 ", "v?", None, None),
    ("v1.2.3\nv1.2.3", "v?", None, None),
    ("v1.2.3-rc.1; touch x", "v?", None, None),
    ("", "v?", None, None),
]


@pytest.mark.parametrize(("tag", "prefix", "expected", "image_tags"), CASES)
def test_python_rule(tag: str, prefix: str, expected: str | None, image_tags: str | None) -> None:
    release = tags.parse_tag(tag, prefix)
    assert (None if release is None else str(release)) == expected
    if release is not None:
        # What we print is what packaging makes of the tag's version part: the same PEP 440 version, normalised.
        digit = re.search(r"\d", tag)  # the version part starts at the first digit: prefixes here hold none
        assert digit is not None
        assert str(Version(str(release))) == str(release) == str(Version(tag[digit.start() :]))


@pytest.mark.parametrize(("tag", "prefix", "expected", "image_tags"), CASES)
def test_shell_rule(tag: str, prefix: str, expected: str | None, image_tags: str | None) -> None:
    done = subprocess.run(["sh", str(SCRIPT), tag, prefix, "false"], capture_output=True, text=True, check=False)
    if image_tags is None:
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr.startswith(f"release-tags: git tag '{tag}' is not a release tag")
    else:
        assert (done.returncode, done.stdout, done.stderr) == (0, image_tags + "\n", "")


def test_latest_goes_to_final_releases_only() -> None:
    def run(tag: str) -> str:
        done = subprocess.run(["sh", str(SCRIPT), tag, "v?", "true"], capture_output=True, text=True, check=True)
        return done.stdout.strip()

    assert run("v1.4.2") == "1.4.2 1.4 1 latest"
    assert run("v2.0.0-rc.1") == "2.0.0-rc.1"


def test_the_default_prefix_is_the_shell_default() -> None:
    done = subprocess.run(["sh", str(SCRIPT), "1.2.3"], capture_output=True, text=True, check=True)
    assert done.stdout == "1.2.3 1.2 1\n"
    assert tags.DEFAULT_PREFIX == "v?"


def test_both_rules_use_one_expression() -> None:
    text = SCRIPT.read_text()
    core = re.search(r"^core_ere='(.*)'$", text, re.MULTILINE)
    pre = re.search(r"^version_ere=\"\$core_ere\"'(.*)'$", text, re.MULTILINE)
    assert core is not None and pre is not None
    assert core[1] + pre[1] == tags.VERSION_ERE


def test_without_prereleases_a_pre_release_tag_is_not_a_release() -> None:
    assert tags.parse_tag("v2.0.0-rc.1", "v?", prereleases=False) is None
    assert str(tags.parse_tag("v2.0.0", "v?", prereleases=False)) == "2.0.0"


@pytest.mark.parametrize(
    ("release", "after"),
    [("1.4.2", "1.4.3.dev7+gabc"), ("2.0.0rc1", "2.0.0rc2.dev7+gabc"), ("1.5.0b0", "1.5.0b1.dev7+gabc")],
)
def test_next_dev_sorts_between_the_release_and_the_next(release: str, after: str) -> None:
    parsed = tags.parse_version(release)
    assert parsed is not None
    got = parsed.next_dev(7, "gabc")
    assert got == after == str(Version(got))
    assert Version(release) < Version(got) < Version(got.split(".dev")[0])


def test_key_is_pep440_order() -> None:
    texts = ["1.0.0", "1.0.0a0", "1.0.0a1", "1.0.0b0", "1.0.0rc3", "0.9.9", "1.0.1a0", "1.0.0rc10"]
    parsed = [tags.parse_version(text) for text in texts]
    ours = [str(p) for p in sorted((p for p in parsed if p is not None), key=lambda p: p.key)]
    assert ours == sorted(texts, key=Version)


@pytest.mark.parametrize(
    ("prefix", "prereleases", "words"),
    [
        ("v?", True, "vX.Y.Z or X.Y.Z, with pre-releases"),
        ("v", False, "vX.Y.Z only"),
        ("", True, "X.Y.Z, with pre-releases"),
    ],
)
def test_describe_scheme(prefix: str, prereleases: bool, words: str) -> None:
    assert tags.describe_scheme(prefix, prereleases).startswith(words)
