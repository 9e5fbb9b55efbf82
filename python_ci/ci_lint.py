"""The CI lint job: a consumer's own pipeline files checked by the catalogue's offline validator, at the catalogue
version they include, so a typo'd input or a broken `needs` fails in the merge request.

1. find the includes of this catalogue in each file of `ci_files` (`component: <host>/<catalog_path>/<name>@<ref>`,
   read as text: the job has no YAML parser); they must all name one version, the release the pipeline runs on;
2. fetch the catalogue's git repository (`catalog_url`, default `$CI_SERVER_URL/<catalog_path>.git`; the job token
   as HTTP basic auth, so the catalogue project must let this project's job token read it) and pick the commit
   GitLab would: a tag `X.Y.Z`, the newest release of `X.Y` or `X`, the newest release for `~latest`, a commit SHA
   or a branch;
3. install that version's pinned validator tools (`requirements/tools.txt`, hashed) with uv and run that version's
   `scripts/validate.py` on every file: its problems fail the job; what it cannot check is printed as `not checked`;
   the output is also kept as `ci-reports/ci-lint.txt`.

The validator and the component specs therefore always come from the same catalogue commit as the included
components, whichever version of this lint component runs.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from python_ci.job import JobError, array, checkout_root, reports_dir, run, say, variable
from python_ci.uv import ensure_uv

TOOL = "ci-lint"
# A release tag as the CI/CD Catalog takes it (pre-releases are never picked by a partial version or ~latest).
_RELEASE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_PARTIAL = re.compile(r"(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?")
_SHA = re.compile(r"[0-9a-f]{40}")


def included_refs(text: str, catalog_path: str) -> list[str]:
    """The `@<ref>` of every `component:` include of `catalog_path` in a pipeline file's text, in order."""
    pattern = re.compile(
        r"component:\s*[\"']?[^\s\"'/]+/" + re.escape(catalog_path) + r"/[A-Za-z0-9_.-]+@(?P<ref>[^\s\"'#]+)"
    )
    return [m.group("ref") for m in pattern.finditer(text)]


def release_key(tag: str) -> tuple[int, int, int]:
    match = _RELEASE.fullmatch(tag)
    if match is None:
        raise ValueError(tag)
    return int(match[1]), int(match[2]), int(match[3])


def resolve(ref: str, tags: list[str]) -> str:
    """The tag (or the ref itself) GitLab resolves a component's `@<ref>` to, given the catalogue's `tags`.

    Source: GitLab's components docs (a partial semantic version or `~latest` picks the newest matching release;
    pre-releases are never picked). Raises JobError when a version matches no release."""
    releases = sorted((t for t in tags if _RELEASE.fullmatch(t)), key=release_key)
    if ref == "~latest":
        picked = releases[-1:]
    elif _RELEASE.fullmatch(ref) or ref in tags or _SHA.fullmatch(ref):
        return ref
    elif match := _PARTIAL.fullmatch(ref):
        wanted = tuple(int(g) for g in match.groups() if g is not None)
        picked = [t for t in releases if release_key(t)[: len(wanted)] == wanted][-1:]
    else:
        return ref  # a branch name: git checks it out or says it does not exist
    if not picked:
        raise JobError(f"the catalogue has no release matching @{ref} (releases: {', '.join(releases) or 'none'})")
    return picked[0]


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise JobError(f"git {args[0]}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def fetch_catalog(url: str, ref: str, dest: Path) -> str:
    """Clone the catalogue at `url` into `dest` and check out what `ref` resolves to; returns that commit's SHA."""
    auth: list[str] = []
    token = os.environ.get("CI_JOB_TOKEN")
    if token and url.startswith("https://"):
        basic = base64.b64encode(f"gitlab-ci-token:{token}".encode()).decode()
        auth = ["-c", f"http.extraHeader=Authorization: Basic {basic}"]
    _git(*auth, "clone", "--quiet", "--no-checkout", url, str(dest))
    target = resolve(ref, _git("tag", "--list", cwd=dest).split())
    _git("-c", "advice.detachedHead=false", "checkout", "--quiet", target, cwd=dest)
    sha = _git("rev-parse", "HEAD", cwd=dest).strip()
    say(TOOL, f"catalogue @{ref} -> {target} ({sha[:12]})")
    return sha


def main(argv: list[str]) -> int:
    """Lint every file of `PYCI_CI_FILES`; exit 1 when the validator finds a problem in any."""
    del argv
    root = checkout_root()
    catalog_path = variable("PYCI_CATALOG_PATH").strip("/")
    files = array("PYCI_CI_FILES") or [".gitlab-ci.yml"]
    refs: dict[str, list[str]] = {}
    for name in files:
        path = root / name
        if not path.is_file():
            raise JobError(f"ci_files: {name} is not a file of the checkout")
        for ref in included_refs(path.read_text(encoding="utf-8"), catalog_path):
            refs.setdefault(ref, []).append(name)
    if not refs:
        raise JobError(f"no include of {catalog_path} in {', '.join(files)}: is catalog_path right?")
    if len(refs) > 1:
        found = "; ".join(f"@{ref} in {', '.join(sorted(set(names)))}" for ref, names in refs.items())
        raise JobError(f"the includes of {catalog_path} name several versions ({found}): pin them to one")
    (ref,) = refs
    url = variable("PYCI_CATALOG_URL", "") or f"{variable('CI_SERVER_URL')}/{catalog_path}.git"
    uv = ensure_uv(root)
    with tempfile.TemporaryDirectory(prefix="python-ci-lint-") as tmp:
        catalog = Path(tmp) / "catalog"
        fetch_catalog(url, ref, catalog)
        tools = catalog / "requirements" / "tools.txt"
        if not (catalog / "scripts" / "validate.py").is_file() or not tools.is_file():
            raise JobError(f"the catalogue at @{ref} has no scripts/validate.py and requirements/tools.txt")
        venv = Path(tmp) / "venv"
        if run([uv, "venv", "--quiet", str(venv)]) != 0:
            raise JobError("uv venv failed")
        python = str(venv / "bin" / "python")
        if run([uv, "pip", "install", "--quiet", "--python", python, "--require-hashes", "-r", str(tools)]) != 0:
            raise JobError(f"could not install the validator's tools ({tools.relative_to(catalog)})")
        # The catalogue's `scripts` package first on the path, ahead of any `scripts/` of the consumer's checkout.
        launcher = (
            "import sys; sys.path.insert(0, sys.argv.pop(1)); from scripts.validate import main; sys.exit(main())"
        )
        cmd = [python, "-c", launcher, str(catalog), "--catalog-path", catalog_path, "--catalog-dir", str(catalog)]
        done = subprocess.run([*cmd, *files], cwd=root, capture_output=True, text=True, check=False)
    # In the log, and as a file next to the other reports (ci-reports/ci-lint.txt).
    sys.stdout.write(done.stdout)
    sys.stdout.flush()
    sys.stderr.write(done.stderr)
    (reports_dir(root) / "ci-lint.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        say(TOOL, f"{', '.join(files)}: refused by the validator of {catalog_path}@{ref} (lines above)")
        return 1
    say(TOOL, f"{', '.join(files)}: valid for {catalog_path}@{ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
