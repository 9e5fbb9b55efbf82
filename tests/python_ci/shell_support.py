"""Running the job library's shell scripts directly: real tools, a local registry, and recording stand-ins.

`run_script` runs `python_ci/<name>.sh` with `sh` (dash on Debian, as strict as POSIX gets here) and only the
environment the test gives it. `recorder` writes small executables that log their command line and answer with a
given output and status: how a test checks the command line a script builds, or an error text it must classify,
without the privileges that text comes from.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "python_ci"
# What a job's image has besides the tools under test (coreutils, grep): linked into a PATH of the test's own.
BASE_TOOLS = (
    *("sh", "grep", "tr", "tee", "mktemp", "date", "cat", "rm", "tail", "sort", "sleep", "printf"),
    *("sed", "cp", "mv"),
)


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    def lines(self, prefix: str) -> list[str]:
        """stderr's lines that start with `prefix: ` (the job's own messages)."""
        return [line for line in self.stderr.splitlines() if line.startswith(f"{prefix}: ")]


def run_script(
    name: str, env: Mapping[str, str], cwd: Path, timeout: float = 300, wrapper: Sequence[str] = ()
) -> Result:
    """Run `python_ci/<name>.sh` in `cwd` with exactly `env` (plus HOME=`cwd` when absent), under the command
    `wrapper` when given (e.g. tests.python_ci.unprivileged)."""
    done = subprocess.run(
        [*wrapper, "sh", str(LIBRARY / f"{name}.sh")],
        env={"HOME": str(cwd), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def tool_dir(dest: Path, tools: tuple[str, ...] = BASE_TOOLS) -> Path:
    """A folder of symlinks to the host's `tools`: a PATH holding those and nothing else."""
    dest.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        found = subprocess.run(
            ["sh", "-c", f"command -v {shlex.quote(tool)}"], capture_output=True, text=True, check=False
        )
        if found.returncode == 0 and found.stdout.startswith("/"):
            (dest / tool).symlink_to(found.stdout.strip())
    return dest


def recorder(bin_dir: Path, tool: str, log: Path, answers: Mapping[str, tuple[int, str]] | None = None) -> Path:
    """Write `bin_dir/tool`: it appends its arguments (one per line, then `--`) to `log`, then answers.

    `answers` maps a subcommand (the first argument that is not an option or the value of `--storage-driver` or
    `--authfile`) to (exit status, text printed on stderr). Other subcommands exit 0 and write a digest into the
    file named by `--digestfile`, as `buildah push` does."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    cases = "".join(
        f"  {shlex.quote(sub)}) printf '%s\\n' {shlex.quote(text)} >&2; exit {status} ;;\n"
        for sub, (status, text) in (answers or {}).items()
    )
    script = f"""#!/bin/sh
for arg in "$@"; do printf '%s\\n' "$arg"; done >> {shlex.quote(str(log))}
echo -- >> {shlex.quote(str(log))}
sub=""; prev=""
for arg in "$@"; do
  case "$prev" in --storage-driver|--authfile) prev=""; continue ;; esac
  case "$arg" in -*) prev="$arg" ;; *) sub="$arg"; break ;; esac
done
case "$sub" in
{cases}esac
prev=""
for arg in "$@"; do
  if [ "$prev" = --digestfile ]; then printf 'sha256:%064d' 0 > "$arg"; fi
  prev="$arg"
done
exit 0
"""
    path = bin_dir / tool
    path.write_text(script)
    path.chmod(0o755)
    return path


def calls(log: Path) -> list[list[str]]:
    """The command lines `recorder` logged, in order."""
    if not log.exists():
        return []
    found: list[list[str]] = [[]]
    for line in log.read_text().splitlines():
        if line == "--":
            found.append([])
        else:
            found[-1].append(line)
    return [call for call in found if call]


def host_path() -> str:
    """The test process's PATH (where the real buildah and skopeo are)."""
    return os.environ.get("PATH", "/usr/bin:/bin")
