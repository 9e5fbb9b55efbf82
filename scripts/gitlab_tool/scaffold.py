"""``new NAME``: a new service copied from the reference service in example/, with its names replaced.

What is renamed: the distribution name (pyproject ``[project] name``), the service name and the service
code (``SERVICE_NAME`` / ``SERVICE_CODE`` in ``.env.example`` and their defaults wherever the source
spells them), and the README title. The Python package keeps its name ``app``: every service built from
the template has the same layout, and renaming an import package would touch every import for no gain.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from scripts.gitlab_tool.console import Console
from scripts.gitlab_tool.errors import ExitCode, ToolError
from scripts.gitlab_tool.starter_ci import CI_FILE

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "example"
# Generated, local or secret files that must not travel into a new service.
EXCLUDE = (
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    "*.py[cod]",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".coverage",
    ".coverage.*",
    "coverage.xml",
    "htmlcov",
    "junit*.xml",
    "*.egg-info",
    "dist",
    "build",
    "node_modules",
    ".env",
    "_build_info.py",
    "_build_info.json",
    "uv.lock",
    "poetry.lock",
    ".gitlab-ci-local",
    ".gitlab-ci-local-*",
)
# Files people run to test a fresh copy; the first one present is named in the next steps.
TEST_COMMANDS = ("scripts/run-tests", "scripts/test", "scripts/test.sh")
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
_ENV_LINE = re.compile(r"^(?P<key>SERVICE_NAME|SERVICE_CODE)=(?P<value>.*)$", re.MULTILINE)
_PROJECT_NAME = re.compile(r'^(?P<lead>name\s*=\s*)(?P<q>["\'])(?P<name>[^"\']+)(?P=q)', re.MULTILINE)


@dataclass(frozen=True)
class Names:
    project: str
    service: str | None
    code: str | None


def default_code(name: str) -> str:
    return name.upper().replace("-", "_")[:32]


@dataclass(frozen=True)
class _Rule:
    pattern: str
    anchored: bool  # the pattern has a "/" inside: it matches the path from the root, not a name
    dir_only: bool  # the pattern ends with "/"


def _gitignore_rules(source: Path) -> list[_Rule]:
    """The source's own .gitignore: what its authors call generated or local.

    Only the common subset is read (names, globs, anchored paths, trailing "/"); a negation ("!") cannot
    be honoured by a plain exclusion list and is skipped, so such a file is left out of the copy.
    """
    rules = [_Rule(pattern, anchored=False, dir_only=False) for pattern in EXCLUDE]
    gitignore = source / ".gitignore"
    if not gitignore.is_file():
        return rules
    for raw in gitignore.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        dir_only = line.endswith("/")
        pattern = line.rstrip("/")
        anchored = "/" in pattern
        rules.append(_Rule(pattern.lstrip("/"), anchored=anchored, dir_only=dir_only))
    return rules


def _ignorer(source: Path) -> Callable[[str, list[str]], set[str]]:
    rules = _gitignore_rules(source)

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped: set[str] = set()
        for name in names:
            path = Path(directory, name)
            rel = path.relative_to(source).as_posix()
            for rule in rules:
                if rule.dir_only and not path.is_dir():
                    continue
                if fnmatch.fnmatch(rel if rule.anchored else name, rule.pattern):
                    skipped.add(name)
                    break
        return skipped

    return ignore


def _unquote(value: str) -> str:
    value = value.split(" #", 1)[0].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def read_names(source: Path) -> Names:
    """The names the source uses today: what gets replaced in the copy."""
    try:
        project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ToolError(ExitCode.USAGE, f"{source}/pyproject.toml has no readable [project] name ({exc})") from None
    env: dict[str, str] = {}
    env_file = source / ".env.example"
    if env_file.is_file():
        for match in _ENV_LINE.finditer(env_file.read_text(encoding="utf-8")):
            env[match["key"]] = _unquote(match["value"])
    return Names(project=str(project), service=env.get("SERVICE_NAME") or None, code=env.get("SERVICE_CODE") or None)


def _bounded(word: str) -> re.Pattern[str]:
    # A name is replaced only as a whole token: "text-analytics" must not match inside "text-analytics-v2".
    return re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])")


def _rewrite_text(text: str, old: Names, new: Names) -> str:
    for before, after in ((old.project, new.project), (old.service, new.service)):
        if before and after and before != after:
            text = _bounded(before).sub(after, text)
    if old.code and new.code and old.code != new.code:
        # A code is short ("TXT"): replace it only where it is clearly the value, as a quoted literal.
        for quote in "\"'":
            text = text.replace(f"{quote}{old.code}{quote}", f"{quote}{new.code}{quote}")
    return text


def _text_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


def _rewrite_tree(dest: Path, old: Names, new: Names) -> list[str]:
    changed: list[str] = []
    for path in _text_files(dest):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: nothing to rename
        updated = _rewrite_text(text, old, new)
        rel = path.relative_to(dest)
        if rel == Path(".env.example"):
            updated = _rewrite_env(updated, new)
        elif rel.name.lower().startswith("readme") and rel.parent == Path():
            updated = re.sub(r"\A(# )[^\n]*", lambda m: f"{m[1]}{new.project}", updated, count=1)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(str(rel))
    pyproject = dest / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    # The name line itself, whatever its old spelling: the whole-token pass above may not have matched.
    text = _PROJECT_NAME.sub(lambda m: f"{m['lead']}{m['q']}{new.project}{m['q']}", text, count=1)
    pyproject.write_text(text, encoding="utf-8")
    if tomllib.loads(text)["project"]["name"] != new.project:
        raise ToolError(ExitCode.USAGE, "could not rewrite [project] name in pyproject.toml")
    return changed


def _rewrite_env(text: str, new: Names) -> str:
    values = {"SERVICE_NAME": new.service or new.project, "SERVICE_CODE": new.code or ""}
    text = _ENV_LINE.sub(lambda m: f"{m['key']}={values[m['key']]}", text)
    for key, value in values.items():
        if not re.search(rf"^{key}=", text, re.MULTILINE):
            text = text.rstrip("\n") + f"\n{key}={value}\n"
    return text


def _reformat(dest: Path, changed: list[str]) -> str:
    """Re-run the source's formatter on renamed Python files: a longer name can push a line past the limit,
    and the copy's own `ruff format --check` must stay green."""
    python_files = [c for c in changed if c.endswith(".py")]
    pyproject = (dest / "pyproject.toml").read_text(encoding="utf-8")
    if not python_files or "[tool.ruff" not in pyproject:
        return ""
    ruff = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        return "ruff not found: run `ruff format` in the copy"
    done = subprocess.run(
        [ruff, "format", "--quiet", "--no-cache", *python_files], cwd=dest, capture_output=True, check=False
    )
    return "ruff format applied" if done.returncode == 0 else "ruff format failed: run it in the copy"


def _git(dest: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=dest, capture_output=True, text=True, check=False)


def _git_init(dest: Path, name: str) -> str:
    """Make the copy its own repository with one commit, ready to push; say what happened.

    Inside an existing work tree (a monorepo) the copy joins that repository instead. The service reads
    its build info from git, so a copy that is nobody's repository would fail its own build-info test.
    """
    if shutil.which("git") is None:
        return "git not found: the copy is not a repository"
    inside = _git(dest, "rev-parse", "--show-toplevel")
    if inside.returncode == 0:
        return f"inside the git repository {inside.stdout.strip()}: no new repository made"
    for args in (("init", "-q", "-b", "main"), ("add", "-A")):
        done = _git(dest, *args)
        if done.returncode != 0:
            raise ToolError(ExitCode.USAGE, f"git {args[0]} failed in {dest}: {_last_line(done.stderr)}")
    done = _git(dest, "commit", "-q", "-m", f"Start {name} from the python-ci reference service")
    if done.returncode != 0:
        # Typically no user.name/user.email: the copy is fine, only the first commit is left to the user.
        return f"git repository made, files staged; commit them yourself (git commit: {_last_line(done.stderr)})"
    return "git repository made with one commit on main"


def _last_line(text: str) -> str:
    return (text.strip().splitlines() or ["no message"])[-1]


def run(
    name: str,
    console: Console,
    *,
    dest: Path | None,
    source: Path,
    code: str | None,
    ci_content: str | None,
    git: bool = True,
) -> ExitCode:
    if not _NAME.fullmatch(name) or len(name) > 63:
        raise ToolError(
            ExitCode.USAGE, f"{name!r}: a service name is lower case letters, digits and single dashes (<= 63)"
        )
    code = code or default_code(name)
    if not _CODE.fullmatch(code):
        raise ToolError(ExitCode.USAGE, f"--code {code!r}: 1 to 32 letters, digits, _ or -")
    if not (source / "pyproject.toml").is_file():
        raise ToolError(ExitCode.USAGE, f"{source} is not a service to copy (no pyproject.toml)")
    dest = dest or Path(name)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ToolError(ExitCode.USAGE, f"{dest} already exists and is not empty")

    old = read_names(source)
    new = Names(project=name, service=name, code=code)
    shutil.copytree(source, dest, ignore=_ignorer(source), symlinks=True, dirs_exist_ok=True)
    changed = _rewrite_tree(dest, old, new)
    formatted = _reformat(dest, changed)
    if ci_content is not None:
        (dest / CI_FILE).write_text(ci_content, encoding="utf-8")
    # After the formatting, so that the first commit holds the final text.
    git_note = _git_init(dest, name) if git else ""

    console.info(f"new {name}: copied {source} to {dest}")
    console.info(
        f"  project name {old.project} -> {name}; service name {old.service} -> {name}; "
        f"service code {old.code} -> {code}"
    )
    console.info(f"  rewritten: {', '.join(changed) or 'nothing'}" + (f" ({formatted})" if formatted else ""))
    if ci_content is not None:
        console.info(f"  wrote {CI_FILE}")
    if git_note:
        console.info(f"  {git_note}")
    test_command = next((c for c in TEST_COMMANDS if (dest / c).is_file()), None)
    if test_command:
        console.info(f"next: cd {dest} && {test_command}")
    return ExitCode.OK
