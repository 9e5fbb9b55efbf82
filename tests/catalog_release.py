"""The catalogue published as GitLab serves it to consumers: a git project with release tags, reachable offline.

`publish` commits this checkout's files (what a commit of it would hold: templates, the job library, the validator
and its pinned tools) into a throw-away catalogue repository, tags each release, and clones it bare under
`<work>/remote/<project path>.git`; a private git config rewrites the consumer's GitLab host to that directory, so
gitlab-ci-local (which fetches versioned components with git) resolves `$CI_SERVER_FQDN/<project path>/<name>@<version>`
and `@~latest` exactly as it would against GitLab's catalog, and a job that clones the catalogue over https gets it
too."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from scripts.localci import worktree_files
from tests.engine import ROOT, git

HOST = "gitlab.example.com"
CONSUMER_REMOTE = f"ssh://git@{HOST}/acme/service.git"

Edit = Callable[[Path, str], None]  # (catalogue checkout, tag) -> None: changes made before that release


def publish(work: Path, project_path: str, tags: Sequence[str], edit: Edit | None = None) -> dict[str, str]:
    """Release this checkout as `project_path` with each of `tags` (in order); returns the environment that
    makes a consumer's git (and so gitlab-ci-local, and jobs that clone the catalogue over https) fetch from the
    published copy."""
    catalog = work / "catalog-src"
    for rel in worktree_files(ROOT):
        if (ROOT / rel).is_file() and not (ROOT / rel).is_symlink():
            (catalog / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, catalog / rel)
    git(catalog, "init", "-q", "-b", "main")
    for tag in tags:
        if edit is not None:
            edit(catalog, tag)
        git(catalog, "add", "-A")
        git(catalog, "commit", "-q", "--allow-empty", "-m", f"release {tag}")
        git(catalog, "tag", tag)
    bare = work / "remote" / f"{project_path}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    git(work, "clone", "-q", "--bare", str(catalog), str(bare))
    config = work / "gitconfig"
    config.write_text(
        f'[url "file://{work / "remote"}/"]\n'
        f"    insteadOf = ssh://git@{HOST}:22/\n"
        f"    insteadOf = git@{HOST}:\n"
        f"    insteadOf = https://{HOST}/\n"
        '[protocol "file"]\n    allow = always\n'
    )
    return {"GIT_CONFIG_GLOBAL": str(config)}
