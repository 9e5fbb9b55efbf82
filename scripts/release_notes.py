"""A catalogue release's description: the tag's section of CHANGELOG.md, kept in the Keep a Changelog form.

Form (https://keepachangelog.com/en/1.1.0/): a `# Changelog` title; then `## [Unreleased]` (at most one, first)
and one `## [X.Y.Z] - YYYY-MM-DD` section per release, newest first; inside a section, `### Added`, `Changed`,
`Deprecated`, `Removed`, `Fixed` or `Security` groups of `- ` entries. Versions are semantic versions without a
`v` (https://semver.org, the CI/CD Catalog refuses anything else).

    python -m scripts.release_notes 1.2.3 [--changelog CHANGELOG.md] [--output FILE]   # the section's body
    python -m scripts.release_notes --check [--changelog CHANGELOG.md]                 # the whole file's form

Exit 1 with one line per problem: the tag is not a semantic version, the file is not in form, or the tag has no
section (or an empty one): a release is not published without its notes.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHANGELOG = ROOT / "CHANGELOG.md"
# semver.org's recommended pattern, anchored; no leading `v`.
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
GROUPS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
UNRELEASED = "Unreleased"
_RELEASE = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?\s*$")
_LINK = re.compile(r"^\[[^\]]+\]: \S+$")


class ReleaseNotesError(Exception):
    """The notes cannot be produced; the message says why and what to do."""


@dataclass(frozen=True)
class Section:
    """One `## [...]` section: its version (or `Unreleased`), date (None for Unreleased), body and line number."""

    version: str
    date: datetime.date | None
    body: str
    line: int


def precedence(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Semantic version precedence (semver.org item 11) as a sortable key; build metadata is ignored."""
    match = SEMVER.fullmatch(version)
    if match is None:
        raise ValueError(version)
    major, minor, patch, pre = int(match[1]), int(match[2]), int(match[3]), match[4]
    if pre is None:
        return major, minor, patch, 1, ()
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))
    return major, minor, patch, 0, parts


def parse(text: str) -> tuple[list[Section], list[str]]:
    """The sections of a changelog, and problems with its form (`line N: what`)."""
    lines = text.splitlines()
    problems: list[str] = []
    if not lines or lines[0].strip() != "# Changelog":
        problems.append("line 1: the first line must be the title `# Changelog`")
    sections: list[Section] = []
    heads = [i for i, line in enumerate(lines) if line.startswith("## ")]
    for n, start in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(lines)
        match = _RELEASE.match(lines[start])
        where = f"line {start + 1}"
        if match is None:
            problems.append(f"{where}: expected `## [Unreleased]` or `## [X.Y.Z] - YYYY-MM-DD`")
            continue
        version = match["version"]
        body_lines = [line for line in lines[start + 1 : end] if not _LINK.match(line)]
        body = "\n".join(body_lines).strip("\n")
        for offset, line in enumerate(lines[start + 1 : end], start + 2):
            if line.startswith("### ") and line[4:].strip() not in GROUPS:
                problems.append(f"line {offset}: `{line}`: groups are {', '.join(GROUPS)}")
        if version == UNRELEASED:
            if match["date"]:
                problems.append(f"{where}: [Unreleased] has no date")
            if sections:
                problems.append(f"{where}: [Unreleased] comes first")
            sections.append(Section(version, None, body, start + 1))
            continue
        date = _date(match["date"], where, problems)
        if SEMVER.fullmatch(version) is None:
            problems.append(f"{where}: `{version}` is not a semantic version X.Y.Z (no `v`)")
        sections.append(Section(version, date, body, start + 1))
    _order(sections, problems)
    return sections, problems


def _date(text: str | None, where: str, problems: list[str]) -> datetime.date | None:
    if text is None:
        problems.append(f"{where}: a release heading ends with ` - YYYY-MM-DD` (its date)")
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        problems.append(f"{where}: `{text}` is not a date")
        return None


def _order(sections: list[Section], problems: list[str]) -> None:
    """Releases newest first: versions strictly descending, dates never increasing."""
    released = [s for s in sections if s.version != UNRELEASED and SEMVER.fullmatch(s.version)]
    for newer, older in itertools.pairwise(released):
        if precedence(newer.version) <= precedence(older.version):
            problems.append(f"line {older.line}: [{older.version}] must come before [{newer.version}] (newest first)")
        if newer.date and older.date and newer.date < older.date:
            problems.append(f"line {newer.line}: [{newer.version}] is dated before [{older.version}]")


def notes(text: str, tag: str) -> str:
    """The body of `tag`'s section (Markdown, no heading). Raises ReleaseNotesError when the tag is not a
    semantic version, the changelog is not in form, or the section is missing or empty."""
    if SEMVER.fullmatch(tag) is None:
        raise ReleaseNotesError(f"tag '{tag}' is not a semantic version X.Y.Z (no 'v'): the CI/CD Catalog refuses it")
    sections, problems = parse(text)
    if problems:
        raise ReleaseNotesError("CHANGELOG.md is not in Keep a Changelog form: " + "; ".join(problems))
    for section in sections:
        if section.version == tag:
            if not section.body.strip():
                raise ReleaseNotesError(f"CHANGELOG.md: the [{tag}] section is empty")
            return section.body + "\n"
    raise ReleaseNotesError(
        f"CHANGELOG.md has no `## [{tag}] - YYYY-MM-DD` section: move the [Unreleased] entries under one before tagging"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.release_notes", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("tag", nargs="?", help="the release tag, e.g. 1.2.3")
    parser.add_argument("--changelog", type=Path, default=CHANGELOG, help="default: the repository's CHANGELOG.md")
    parser.add_argument("--output", type=Path, help="write the notes here instead of standard output")
    parser.add_argument("--check", action="store_true", help="only check the changelog's form")
    args = parser.parse_args(argv)
    try:
        text = args.changelog.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"release notes: cannot read {args.changelog}: {exc.strerror}", file=sys.stderr)
        return 1
    if args.check:
        _, problems = parse(text)
        for problem in problems:
            print(f"{args.changelog.name}: {problem}", file=sys.stderr)
        return 1 if problems else 0
    if not args.tag:
        parser.error("give a tag, or --check")
    try:
        body = notes(text, args.tag)
    except ReleaseNotesError as exc:
        print(f"release notes: {exc}", file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(body, encoding="utf-8")
        print(f"release notes: {args.tag}: {len(body.splitlines())} line(s) written to {args.output}")
    else:
        sys.stdout.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
