"""Release tags: which git tags name a release, and the PEP 440 version each one names.

A release tag is `<prefix>X.Y.Z` with an optional pre-release part, in SemVer or PEP 440 spelling:
`v1.4.2`, `1.4.2`, `v2.0.0-rc.1`, `1.5.0-beta`, `2.0.0rc1`, `1.0.0a1`. Anything else (`v1`, `v1.4`, `release-7`,
`1.2.3+build`, `1.2.3.post1`, leading zeros) is not a release. The same rule, for images without Python, is
python_ci/release_tags.sh; tests/python_ci/test_tags.py holds both to one table of cases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Pre-release labels PEP 440 normalises (https://peps.python.org/pep-0440/#pre-release-spelling), SemVer's usual
# `alpha`/`beta`/`rc` among them, and the phase each one means.
PHASES = {"a": "a", "alpha": "a", "b": "b", "beta": "b", "c": "rc", "rc": "rc", "pre": "rc", "preview": "rc"}
_RANK = {"a": 0, "b": 1, "rc": 2}
_FINAL = 3
# The version part of a release tag. POSIX ERE syntax only (no \d, no (?:...)): release_tags.sh uses the same
# expression with grep -E, and tests check the two agree.
VERSION_ERE = (
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"([-._]?(alpha|a|beta|b|c|rc|preview|pre)([-._]?([0-9]+))?)?"
)
_VERSION = re.compile(VERSION_ERE)
DEFAULT_PREFIX = "v?"


@dataclass(frozen=True)
class Release:
    """A release (or pre-release) version X.Y.Z[{a|b|rc}N], the only kind a release tag names."""

    major: int
    minor: int
    patch: int
    phase: str | None = None  # "a", "b", "rc" (PEP 440's normalised phases) or None for a final release
    number: int = 0

    @property
    def key(self) -> tuple[int, int, int, int, int]:
        """PEP 440 order for these versions: the release segment, then a < b < rc < final."""
        rank = _FINAL if self.phase is None else _RANK[self.phase]
        return (self.major, self.minor, self.patch, rank, self.number)

    def __str__(self) -> str:
        """The normalised PEP 440 form: `1.4.2`, `2.0.0rc1`, `1.5.0b0`."""
        pre = "" if self.phase is None else f"{self.phase}{self.number}"
        return f"{self.major}.{self.minor}.{self.patch}{pre}"

    def next_dev(self, dev: int, local: str) -> str:
        """The PEP 440 dev version after this release and before the next possible one: `1.4.3.dev<dev>+<local>`
        after 1.4.2 (a dev release sorts before every pre-release of its release), `2.0.0rc2.dev<dev>+<local>`
        after 2.0.0rc1. `local` must be a PEP 440 local label (`g1a2b3c4d`)."""
        if self.phase is None:
            base = f"{self.major}.{self.minor}.{self.patch + 1}"
        else:
            base = f"{self.major}.{self.minor}.{self.patch}{self.phase}{self.number + 1}"
        return f"{base}.dev{dev}+{local}"


def parse_version(text: str) -> Release | None:
    """The release `text` names (`1.4.2`, `2.0.0-rc.1`, `2.0.0rc1`, `1.5.0-beta` = 1.5.0b0), or None."""
    match = _VERSION.fullmatch(text)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.group(1, 2, 3))
    if match[5] is None:
        return Release(major, minor, patch)
    return Release(major, minor, patch, PHASES[match[5]], int(match[7] or 0))


def prefix_rule(prefix: str) -> tuple[str, str]:
    """Split a `tag_prefix` input into (required text, optional character): a final `?` makes the character before
    it optional, as in a regular expression. `v?` -> ("", "v"), `api/v?` -> ("api/", "v"), `v` -> ("v", "")."""
    if not prefix.endswith("?"):
        return prefix, ""
    return prefix[:-2], prefix[-2:-1]


def parse_tag(tag: str, prefix: str = DEFAULT_PREFIX, prereleases: bool = True) -> Release | None:
    """The release the git tag `tag` names under the scheme `prefix` (`prefix_rule`) and `prereleases` (whether
    pre-release tags count), or None when `tag` is not a release tag."""
    required, optional = prefix_rule(prefix)
    if not tag.startswith(required):
        return None
    rest = tag[len(required) :]
    release = parse_version(rest[1:] if optional and rest.startswith(optional) else rest)
    if release is None or (release.phase is not None and not prereleases):
        return None
    return release


def describe_scheme(prefix: str, prereleases: bool) -> str:
    """The scheme in words for messages: `vX.Y.Z or X.Y.Z, with pre-releases`."""
    required, optional = prefix_rule(prefix)
    forms = [f"{required}{optional}X.Y.Z"] + ([f"{required}X.Y.Z"] if optional else [])
    return " or ".join(forms) + (", with pre-releases (-rc.1, rc1, -beta, a1 ...)" if prereleases else " only")
