"""Try the catalogue on a real project as a new user would: `python -m tests.real_projects GIT_DIR [options]`.

The project's tracked files at a commit (read from any git directory, e.g. one the search tool's `fetch` brought)
become a throw-away consumer repository whose `.gitlab-ci.yml` is the pipeline a user writes from the README; the
catalogue is published as `python-ci/catalog` at `1.0.0` (tests/catalog_release.py) and included by that version,
as on GitLab. gitlab-ci-local runs the pipeline; the script prints one row per job (status, seconds, the job's last
`python-ci` line or last output line) for docs/real-projects.md. Nothing of the project is kept or committed.

    python -m tests.real_projects /work/.mirror/pallets+click/repo --components ruff,mypy,pyright,pytest \
        --input pytest.python_versions='["3.12"]'
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from scripts.localci import parse_durations, parse_statuses, safe_job_name, strip_ansi
from tests.catalog_release import CONSUMER_REMOTE, publish
from tests.engine import engine_env, git

CATALOG = "python-ci/catalog"
VERSION = "1.0.0"


def export(git_dir: Path, ref: str, dest: Path) -> str:
    """Write the files of `ref` in `git_dir` into `dest`; returns the commit's SHA."""
    sha = subprocess.run(
        ["git", "--git-dir", str(git_dir), "rev-parse", ref], capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", sha], capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return sha


def pipeline(components: list[str], inputs: dict[str, dict[str, object]]) -> str:
    """The consumer's `.gitlab-ci.yml`: each component included by version with the given inputs."""
    lines = ["include:"]
    for name in components:
        entry: dict[str, object] = {"component": f"$CI_SERVER_FQDN/{CATALOG}/{name}@{VERSION}"}
        if inputs.get(name):
            entry["inputs"] = inputs[name]
        lines.append(f"  - {json.dumps(entry)}")
    return "\n".join(lines) + "\n"


def last_line(log: str) -> str:
    """The line that says most about a job's end: its last `python-ci` line, else its last output line."""
    lines = [line.split(" > ", 1)[-1].strip() for line in log.splitlines() if " > " in line]
    ours = [line for line in lines if line.startswith("python-ci")]
    return (ours or lines or [""])[-1][:200]


def main(argv: list[str] | None = None) -> int:
    """Run the trial and print one row per job; exit 0 (a red job is a finding, not an error of this tool)."""
    parser = argparse.ArgumentParser(prog="python -m tests.real_projects")
    parser.add_argument("git_dir", type=Path)
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--components", default="ruff,mypy,pyright,pytest,wheelhouse")
    parser.add_argument("--input", action="append", default=[], help="component.input=JSON value")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args(argv)
    inputs: dict[str, dict[str, object]] = {}
    for item in args.input:
        key, _, value = item.partition("=")
        component, _, name = key.partition(".")
        try:
            parsed: object = json.loads(value)
        except ValueError:
            parsed = value
        inputs.setdefault(component, {})[name] = parsed
    work = args.keep or Path(tempfile.mkdtemp(prefix="python-ci-trial-"))
    work.mkdir(parents=True, exist_ok=True)
    env = publish(work, CATALOG, [VERSION])
    consumer = work / "consumer"
    consumer.mkdir()
    sha = export(args.git_dir, args.ref, consumer)
    (consumer / ".gitlab-ci.yml").write_text(pipeline(args.components.split(","), inputs))
    git(consumer, "init", "-q", "-b", "main")
    git(consumer, "remote", "add", "origin", CONSUMER_REMOTE)
    git(consumer, "add", "-A")
    git(consumer, "commit", "-q", "--no-verify", "-m", "trial")
    cmd = [
        "gitlab-ci-local",
        "--force-shell-executor",
        "--shell-isolation",
        "--no-artifacts-to-source",
        "--color=false",
        "--max-job-name-padding=0",
    ]
    done = subprocess.run(
        cmd, cwd=consumer, env=engine_env(env), capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    output = strip_ansi(done.stdout + done.stderr)
    (work / "trial.log").write_text(output)
    statuses = parse_statuses(output)
    durations = parse_durations(output)
    print(f"# {args.git_dir} @ {sha[:10]} ({work})")
    if not statuses:
        print(f"no job ran: {output.strip().splitlines()[-3:]}")
    for job, status in statuses.items():
        path = consumer / ".gitlab-ci-local" / "output" / f"{safe_job_name(job)}.log"
        log = strip_ansi(path.read_text()) if path.exists() else ""
        print(f"| {job} | {status} | {durations.get(job, 0):.0f} s | {last_line(log)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
