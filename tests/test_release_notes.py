"""Release descriptions come from CHANGELOG.md: the tag's section, in Keep a Changelog form, or no release."""

import subprocess
import sys
from pathlib import Path

import pytest

from scripts.release_notes import ROOT, ReleaseNotesError, notes, parse

GOOD = """\
# Changelog

Intro text.

## [Unreleased]

### Added
- Something new.

## [1.1.0] - 2026-11-02

### Added
- The `lint` component.

### Fixed
- `pytest` keeps its reports on failure.

## [1.0.0] - 2026-10-01

### Added
- First release.

[1.1.0]: https://gitlab.example.com/platform/python-ci/-/compare/1.0.0...1.1.0
"""


def test_the_tag_section_is_the_description() -> None:
    assert notes(GOOD, "1.1.0") == (
        "### Added\n- The `lint` component.\n\n### Fixed\n- `pytest` keeps its reports on failure.\n"
    )
    assert notes(GOOD, "1.0.0") == "### Added\n- First release.\n"  # the link reference is not part of it


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("v1.1.0", "tag 'v1.1.0' is not a semantic version X.Y.Z (no 'v')"),
        ("1.1", "tag '1.1' is not a semantic version"),
        ("1.2.0", "CHANGELOG.md has no `## [1.2.0] - YYYY-MM-DD` section"),
        ("Unreleased", "is not a semantic version"),
    ],
)
def test_no_notes_without_a_semver_tag_and_its_section(tag: str, message: str) -> None:
    with pytest.raises(ReleaseNotesError) as caught:
        notes(GOOD, tag)
    assert message in str(caught.value)


def test_an_empty_section_is_refused() -> None:
    text = GOOD.replace("### Added\n- First release.\n", "")
    with pytest.raises(ReleaseNotesError, match=r"the \[1.0.0\] section is empty"):
        notes(text, "1.0.0")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("# Changelog\n", "# Changes\n"), "line 1: the first line must be the title `# Changelog`"),
        (("## [1.1.0] - 2026-11-02", "## 1.1.0 - 2026-11-02"), "expected `## [Unreleased]` or `## [X.Y.Z] - YYYY"),
        (("## [1.1.0] - 2026-11-02", "## [v1.1.0] - 2026-11-02"), "`v1.1.0` is not a semantic version"),
        (("## [1.1.0] - 2026-11-02", "## [1.1.0]"), "a release heading ends with ` - YYYY-MM-DD`"),
        (("## [1.1.0] - 2026-11-02", "## [1.1.0] - 2026-13-02"), "`2026-13-02` is not a date"),
        (("## [1.1.0] - 2026-11-02", "## [0.9.0] - 2026-11-02"), "[1.0.0] must come before [0.9.0]"),
        (("## [1.1.0] - 2026-11-02", "## [1.1.0] - 2026-09-02"), "[1.1.0] is dated before [1.0.0]"),
        (("### Fixed", "### Bugs"), "`### Bugs`: groups are Added, Changed"),
    ],
)
def test_form_problems_are_named_with_their_line(change: tuple[str, str], problem: str) -> None:
    _, problems = parse(GOOD.replace(*change))
    assert len(problems) == 1, problems
    assert problem in problems[0]
    with pytest.raises(ReleaseNotesError, match="not in Keep a Changelog form"):
        notes(GOOD.replace(*change), "1.0.0")


def test_the_repository_changelog_is_in_form() -> None:
    sections, problems = parse((ROOT / "CHANGELOG.md").read_text())
    assert problems == []
    assert sections[0].version == "Unreleased"


def test_cli_writes_the_notes_and_fails_clearly(tmp_path: Path) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text(GOOD)
    out = tmp_path / "notes.md"
    cmd = [sys.executable, "-m", "scripts.release_notes", "--changelog", str(changelog)]
    done = subprocess.run([*cmd, "1.0.0", "--output", str(out)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "### Added\n- First release.\n"
    done = subprocess.run([*cmd, "2.0.0"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("release notes: CHANGELOG.md has no `## [2.0.0] - YYYY-MM-DD` section")
    assert subprocess.run([*cmd, "--check"], cwd=ROOT, capture_output=True, check=False).returncode == 0
