"""The version job: the build's PEP 440 version from the pipeline's variables and the release tags git can reach,
written as build info (`_build_info.py`, `_build_info.json`) and a dotenv report."""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from python_ci.job import JobError, checkout_root, flag, project_dir, reports_dir, say, variable
from python_ci.tags import DEFAULT_PREFIX, Release, describe_scheme, parse_tag, parse_version

# Build info field -> its dotenv variable, in the order the dotenv file lists them.
DOTENV = {
    "version": "BUILD_VERSION",
    "git_branch": "BUILD_GIT_BRANCH",
    "git_revision": "BUILD_GIT_REVISION",
    "git_short_revision": "BUILD_GIT_SHORT_REVISION",
    "build_date": "BUILD_DATE",
}
_SHOWN = 5  # non-release tags named in the log line, at most


@dataclass(frozen=True)
class Scheme:
    """Which tags are releases (the `tag_prefix` and `prereleases` inputs) and what to do without them."""

    prefix: str = DEFAULT_PREFIX
    prereleases: bool = True
    initial: str = "0.1.0"
    strict: bool = False

    def accepts(self, tag: str) -> Release | None:
        """The release `tag` names under this scheme, or None."""
        return parse_tag(tag, self.prefix, self.prereleases)


class _Git:
    """git in the checkout, read-only except for deepening a shallow clone."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.program = shutil.which("git")

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert self.program is not None
        # The checkout may belong to another user than the job's (container executors); safe.directory is honoured
        # on the command line (git-config(1), "safe.directory"), and the job runs this repository's code anyway.
        cmd = [self.program, "-c", "safe.directory=*", *args]
        return subprocess.run(cmd, cwd=self.cwd, capture_output=True, text=True, check=False)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def reachable_tags(cwd: Path, env: Mapping[str, str]) -> tuple[list[str] | None, str | None]:
    """Every tag reachable from HEAD (`git tag --merged HEAD`), and why that list may be wrong.

    Returns (None, why) when git cannot tell (no git in the image, no repository); (tags, why) when the clone is
    shallow and `git fetch --unshallow --tags origin` failed (only the tags of the fetched commits); (tags, None)
    otherwise. A shallow clone is deepened first: a project, group or pipeline variable `GIT_DEPTH` overrides the
    job's `GIT_DEPTH: 0` (GitLab docs, "CI/CD variable precedence").
    Raises JobError when git fails in the repository for another reason."""
    git = _Git(cwd)
    if git.program is None:
        return None, "the job's image has no git (a -slim image?)"
    inside = git("rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None, f"the checkout is not a git repository (GIT_STRATEGY: none?): {_last_line(inside.stderr)}"
    problem = None
    if git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        depth = env.get("GIT_DEPTH", "")
        fetched = git("fetch", "--quiet", "--unshallow", "--tags", "origin")
        if fetched.returncode == 0:
            say("version", f"the clone was shallow (GIT_DEPTH={depth!r}): fetched the whole history and its tags")
        else:
            problem = (
                f"the clone is shallow (GIT_DEPTH={depth!r}, a project or pipeline variable overrides the job's 0)"
                f" and `git fetch --unshallow --tags` failed: {_last_line(fetched.stderr)}"
            )
    listed = git("tag", "--merged", "HEAD")
    if listed.returncode != 0:
        raise JobError(f"`git tag --merged HEAD` failed: {_last_line(listed.stderr)}")
    return listed.stdout.split(), problem


def highest_release(tags: list[str], scheme: Scheme) -> tuple[str, Release] | None:
    """The tag naming the highest release in PEP 440 order among `tags`, with that release; None when no tag is a
    release under `scheme`. The highest, not the nearest: a maintenance branch merged back (v1.4.5 after v2.0.0)
    must not pull the next dev versions below a release already made."""
    releases = [(tag, release) for tag in tags if (release := scheme.accepts(tag)) is not None]
    return max(releases, key=lambda pair: pair[1].key, default=None)


def dev_number(env: Mapping[str, str]) -> int:
    """The dev release number: `CI_PIPELINE_IID`, which GitLab raises by one for every pipeline of the project, so
    a later pipeline's dev version of the same base sorts after an earlier one's. 0, with a warning, when unset."""
    iid = env.get("CI_PIPELINE_IID", "")
    if iid.isdigit():
        return int(iid)
    say("version", f"warning: CI_PIPELINE_IID is {iid!r}, not a number: the dev number is 0")
    return 0


def compute_version(env: Mapping[str, str], cwd: Path, scheme: Scheme) -> str:
    """The build's version (PEP 440). A tag pipeline (`CI_COMMIT_TAG`): the release the tag names, from the variable
    alone (no git needed). Otherwise `<next>.dev<CI_PIPELINE_IID>+g<CI_COMMIT_SHORT_SHA>`, where `<next>` follows
    the highest release tag reachable from HEAD in `cwd` (`Release.next_dev`), or is `scheme.initial` when none is.

    Logs one line saying what the version counts from; when the tags cannot be read, one warning line saying why and
    what was used instead, or JobError when `scheme.strict`. Raises JobError for a tag that is not a release tag."""
    tag = env.get("CI_COMMIT_TAG", "")
    if tag:
        release = scheme.accepts(tag)
        if release is None:
            raise JobError(
                f"tag {tag!r} is not a release tag under tag_prefix {scheme.prefix!r}:"
                f" {describe_scheme(scheme.prefix, scheme.prereleases)}"
            )
        return str(release)
    local = f"g{env['CI_COMMIT_SHORT_SHA']}"
    dev = dev_number(env)
    tags, problem = reachable_tags(cwd, env)
    found = highest_release(tags or [], scheme)
    if found is None:
        version, source = f"{scheme.initial}.dev{dev}+{local}", f"initial_version {scheme.initial}"
    else:
        version, source = found[1].next_dev(dev, local), f"tag {found[0]}"
    if problem is not None:
        if scheme.strict:
            raise JobError(f"{problem}; strict is set, so no version without the release tags")
        say("version", f"warning: {problem}; so {version} counts from {source}")
        return version
    others = sorted(tag for tag in tags or [] if scheme.accepts(tag) is None)
    shown = ", ".join(others[:_SHOWN]) + (" ..." if len(others) > _SHOWN else "")
    ignored = f"; not release tags: {shown}" if others else ""
    if found is None:
        say("version", f"no release tag reachable from HEAD: {version} counts from {source}{ignored}")
    else:
        say("version", f"{version} counts from {source}, the highest release tag reachable from HEAD{ignored}")
    return version


def build_info(env: Mapping[str, str], cwd: Path, service: str, scheme: Scheme) -> dict[str, str]:
    """The build info {field: value}: service, version, git_branch, git_revision, git_short_revision, build_date.

    `build_date` is `CI_PIPELINE_CREATED_AT` (ISO 8601 UTC, `Z`), or now when that is missing or malformed.
    Raises JobError when CI_COMMIT_SHA / CI_COMMIT_SHORT_SHA are not git revisions."""
    revision = env.get("CI_COMMIT_SHA", "")
    short = env.get("CI_COMMIT_SHORT_SHA") or revision[:8]
    if not re.fullmatch(r"[0-9a-f]{40}", revision) or not re.fullmatch(r"[0-9a-f]{4,40}", short):
        raise JobError(f"CI_COMMIT_SHA / CI_COMMIT_SHORT_SHA are not git revisions: {revision!r} {short!r}")
    version = compute_version({**env, "CI_COMMIT_SHORT_SHA": short}, cwd, scheme)
    branch = env.get("CI_COMMIT_BRANCH") or env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or "detached"
    created = env.get("CI_PIPELINE_CREATED_AT", "")
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created):
        created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "service": service or env.get("CI_PROJECT_NAME", "") or "service",
        "version": version,
        "git_branch": branch,
        "git_revision": revision,
        "git_short_revision": short,
        "build_date": created,
    }


def write_outputs(info: Mapping[str, str], package: Path, dotenv: Path) -> None:
    """Write `package/_build_info.py` (string constants), `package/_build_info.json` and the dotenv file.

    Raises JobError when a dotenv value holds a newline (the dotenv format has no quoting for it)."""
    for key in DOTENV:
        if "\n" in info[key]:
            raise JobError(f"{key} holds a newline: {info[key]!r}")
    package.mkdir(parents=True, exist_ok=True)
    lines = ['"""Build info, generated by the python-ci version component: do not edit, do not commit."""', ""]
    # json.dumps of a str is a valid Python string literal: branch names cannot break out of it.
    lines += [f"{key.upper()} = {json.dumps(value)}" for key, value in info.items()]
    (package / "_build_info.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (package / "_build_info.json").write_text(json.dumps(dict(info), indent=2) + "\n", encoding="utf-8")
    dotenv.write_text("".join(f"{name}={info[key]}\n" for key, name in DOTENV.items()), encoding="utf-8")


def scheme_from_inputs() -> Scheme:
    """The Scheme the job's inputs describe: PYCI_TAG_PREFIX, PYCI_PRERELEASES, PYCI_INITIAL_VERSION, PYCI_STRICT.

    Raises JobError for a prefix or an initial version the component's input rules would not let through."""
    prefix = variable("PYCI_TAG_PREFIX", DEFAULT_PREFIX)
    if not re.fullmatch(r"[A-Za-z0-9_./-]{0,60}\??", prefix):
        raise JobError(f"tag_prefix {prefix!r} is not letters, digits, _ . / - and an optional final ?")
    initial = variable("PYCI_INITIAL_VERSION")
    release = parse_version(initial)
    if release is None or release.phase is not None:
        raise JobError(f"initial_version {initial!r} is not X.Y.Z")
    return Scheme(prefix, flag("PYCI_PRERELEASES", default=True), initial, flag("PYCI_STRICT"))


def main(argv: list[str]) -> int:
    """Stamp the build: `_build_info.{py,json}` in `project_dir/output_dir` and `ci-reports/build.env`.

    Inputs: PYCI_PROJECT_DIR, PYCI_OUTPUT_DIR, PYCI_SERVICE_NAME and `scheme_from_inputs`'s. Prints the build info."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    info = build_info(os.environ, project, variable("PYCI_SERVICE_NAME", ""), scheme_from_inputs())
    write_outputs(info, project / variable("PYCI_OUTPUT_DIR"), reports_dir(root) / "build.env")
    print(json.dumps(info, indent=2))
    return 0
