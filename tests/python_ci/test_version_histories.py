"""Property: on any history, the version job's dev version is valid PEP 440 and sits between the highest reachable
release and the next possible one, by `packaging.version`.

Hypothesis draws histories (commits on up to three branches, merges, release and pre-release tags in both schemes
and several spellings, floating and other non-release tags) and a scheme; each history is built as a real git
repository, and the model below tracks which tags every commit reaches without asking git.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.version import Version

from python_ci import version
from python_ci.version import Scheme

SHORT = "0123abcd"
IID = 41

# A drawn release: (major, minor, patch, phase or None, number); spelled by `spell`.
releases = st.tuples(
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from([None, None, "a", "b", "rc"]),
    st.integers(0, 3),
)
# How the pre-release is written: SemVer `-rc.1`, `-rc1`, PEP 440 `rc1`, or the long label (`-beta.1`).
spellings = st.sampled_from(["-{label}.{n}", "-{label}{n}", "{label}{n}", "-{long}.{n}", "-{long}"])
LONG = {"a": "alpha", "b": "beta", "rc": "rc"}
non_releases = st.sampled_from(["v1", "v1.4", "v2", "release-7", "latest", "stable", "v1.2.3-foo", "1.2", "v0.9"])

ReleaseParts = tuple[int, int, int, str | None, int]
# One step: (what, branch, other branch, release, with a `v`, pre-release spelling, non-release tag); each kind of
# step reads the fields it needs.
Step = tuple[str, int, int, ReleaseParts, bool, str, str]
steps = st.lists(
    st.tuples(
        st.sampled_from(["commit", "commit", "branch", "merge", "release", "release", "other"]),
        st.integers(0, 2),
        st.integers(0, 2),
        releases,
        st.booleans(),
        spellings,
        non_releases,
    ),
    min_size=1,
    max_size=14,
)


def spell(release: ReleaseParts, with_v: bool, spelling: str) -> str:
    major, minor, patch, phase, number = release
    text = f"{'v' if with_v else ''}{major}.{minor}.{patch}"
    if phase is None:
        return text
    if spelling == "-{long}" and number != 0:  # the label alone means number 0 (PEP 440's implicit number)
        spelling = "-{long}.{n}"
    return text + spelling.format(label=phase, long=LONG[phase], n=number)


def pep440(release: ReleaseParts) -> Version:
    major, minor, patch, phase, number = release
    return Version(f"{major}.{minor}.{patch}" + ("" if phase is None else f"{phase}{number}"))


@dataclass
class History:
    """A real repository and the model of it: each commit's ancestors, each release tag's scheme facts."""

    repo: Path
    heads: dict[str, str] = field(default_factory=dict[str, str])  # branch -> commit
    ancestors: dict[str, set[str]] = field(default_factory=dict[str, set[str]])  # commit -> itself and its ancestors
    # commit -> (version, spelled with a `v`, pre-release) of each release tag on it
    releases: dict[str, list[tuple[Version, bool, bool]]] = field(
        default_factory=dict[str, list[tuple[Version, bool, bool]]]
    )
    tag_names: set[str] = field(default_factory=set[str])

    def git(self, *args: str) -> str:
        cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "tag.gpgsign=false", *args]
        return subprocess.run(cmd, cwd=self.repo, capture_output=True, text=True, check=True).stdout.strip()

    def branch(self, index: int) -> str:
        names = sorted(self.heads)
        return names[index % len(names)]

    def commit(self, branch: str, parents: list[str]) -> None:
        self.git("checkout", "-q", branch)
        if len(parents) == 1:
            self.git("commit", "-q", "--allow-empty", "-m", "change")
        else:
            self.git("merge", "-q", "--no-ff", "-m", "merge", parents[1])
        head = self.git("rev-parse", "HEAD")
        self.ancestors[head] = {head}.union(*(self.ancestors[parent] for parent in parents))
        self.heads[branch] = head

    def tag(self, branch: str, name: str) -> bool:
        if name in self.tag_names:
            return False
        self.git("tag", name, self.heads[branch])
        self.tag_names.add(name)
        return True


def build(repo: Path, drawn: list[Step]) -> History:
    history = History(repo)
    history.git("init", "-q", "-b", "main")
    history.git("commit", "-q", "--allow-empty", "-m", "first")
    first = history.git("rev-parse", "HEAD")
    history.heads["main"], history.ancestors[first] = first, {first}
    for kind, index, other, release, with_v, spelling, non_release in drawn:
        branch = history.branch(index)
        if kind == "commit":
            history.commit(branch, [history.heads[branch]])
        elif kind == "branch" and len(history.heads) < 3:
            name = f"b{len(history.heads)}"
            history.git("branch", name, history.heads[branch])
            history.heads[name] = history.heads[branch]
        elif kind == "merge":
            source = history.heads[history.branch(other)]
            if source not in history.ancestors[history.heads[branch]]:
                history.commit(branch, [history.heads[branch], source])
        elif kind == "release" and history.tag(branch, spell(release, with_v, spelling)):
            facts = (pep440(release), with_v, release[3] is not None)
            history.releases.setdefault(history.heads[branch], []).append(facts)
        elif kind == "other":
            history.tag(branch, non_release)
    return history


def expected_base(history: History, head: str, scheme: Scheme) -> Version | None:
    """The highest release the scheme accepts among the tags on `head`'s ancestors, from the model alone."""
    accepted = [
        found
        for commit in history.ancestors[head]
        for found, with_v, pre in history.releases.get(commit, [])
        if (scheme.prefix == "v?" or (scheme.prefix == "v") == with_v) and (scheme.prereleases or not pre)
    ]
    return max(accepted, default=None)


def next_release(base: Version) -> Version:
    """The lowest release a tag could name after `base`: the next patch's first alpha, or the next pre-release."""
    major, minor, patch = base.release
    if base.pre is None:
        return Version(f"{major}.{minor}.{patch + 1}a0")
    return Version(f"{major}.{minor}.{patch}{base.pre[0]}{base.pre[1] + 1}")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=steps, prefix=st.sampled_from(["v?", "v", ""]), prereleases=st.booleans())
def test_dev_versions_sort_between_the_reachable_release_and_the_next(
    drawn: list[Step], prefix: str, prereleases: bool
) -> None:
    scheme = Scheme(prefix=prefix, prereleases=prereleases, initial="0.1.0")
    env = {"CI_COMMIT_SHORT_SHA": SHORT, "CI_PIPELINE_IID": str(IID)}
    with tempfile.TemporaryDirectory() as tmp:
        history = build(Path(tmp), drawn)
        for branch, head in sorted(history.heads.items()):
            history.git("checkout", "-q", "--detach", head)
            got = version.compute_version(env, history.repo, scheme)
            parsed = Version(got)
            assert str(parsed) == got, "not in PEP 440 normal form"
            assert (parsed.is_devrelease, parsed.dev, parsed.local) == (True, IID, f"g{SHORT}")
            base = expected_base(history, head, scheme)
            if base is None:
                assert parsed.public == f"0.1.0.dev{IID}", branch
            else:
                assert base < parsed < next_release(base), (branch, base)
            # A later pipeline (a higher IID) of the same commit sorts after this one.
            later = version.compute_version({**env, "CI_PIPELINE_IID": str(IID + 1)}, history.repo, scheme)
            assert Version(later) > parsed
