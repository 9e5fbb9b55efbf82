"""The catalogue published as GitLab serves it to consumers: a git project with release tags, reachable offline.

`publish` commits this checkout's `templates/` (and README) into a throw-away catalogue repository, tags each
release, and clones it bare under `<work>/remote/<project path>.git`; a private git config rewrites the consumer's
GitLab host to that directory, so gitlab-ci-local (which fetches versioned components with git) resolves
`$CI_SERVER_FQDN/<project path>/<name>@<version>` and `@~latest` exactly as it would against GitLab's catalog."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.engine import ROOT, git

HOST = "gitlab.example.com"
CONSUMER_REMOTE = f"ssh://git@{HOST}/acme/service.git"

Edit = Callable[[Path, str], None]  # (catalogue checkout, tag) -> None: changes made before that release


def publish(work: Path, project_path: str, tags: Sequence[str], edit: Edit | None = None) -> dict[str, str]:
    """Release this checkout's templates as `project_path` with each of `tags` (in order); returns the
    environment that makes a consumer's git (and so gitlab-ci-local) fetch from the published copy."""
    catalog = work / "catalog-src"
    shutil.copytree(ROOT / "templates", catalog / "templates")
    shutil.copy(ROOT / "README.md", catalog / "README.md")
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
        '[protocol "file"]\n    allow = always\n'
    )
    return {"GIT_CONFIG_GLOBAL": str(config)}
