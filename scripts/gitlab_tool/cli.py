"""One entry point with three subcommands: bootstrap, lint, new."""

from __future__ import annotations

import argparse
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from scripts.gitlab_tool import bootstrap, lint, scaffold, starter_ci
from scripts.gitlab_tool.config import ENV_TOKEN, ENV_URL, Connection, connect, require
from scripts.gitlab_tool.console import Console
from scripts.gitlab_tool.errors import EXIT_CODE_HELP, ExitCode, ToolError
from scripts.gitlab_tool.variables import parse_spec

PROG = "python -m scripts.gitlab_tool"

DESCRIPTION = f"""\
GitLab automation for services built on the python-ci catalogue.

GitLab connection (bootstrap needs one; lint uses it when present):
  {ENV_URL} + {ENV_TOKEN}    instance URL and a personal/project access token (scope api)
  --gitlab NAME                a section of python-gitlab's config file (~/.python-gitlab.cfg,
                               or the files in PYTHON_GITLAB_CFG / --gitlab-config)
"""


def _para(text: str) -> str:
    return textwrap.fill(text, 100)


EPILOG = f"exit codes:\n{EXIT_CODE_HELP}\n\nsee docs/gitlab-tool.md for token scopes and roles."


def _add_ci_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("starter .gitlab-ci.yml (written when --catalog and --version are given)")
    group.add_argument("--catalog", metavar="GROUP/PROJECT", help="the catalogue project to include components from")
    group.add_argument("--version", metavar="VERSION", help="the catalogue version to pin, e.g. 1.2.3")
    group.add_argument(
        "--component",
        action="append",
        metavar="NAME[:STAGE]",
        help=f"a component to include (repeatable; default: {' '.join(starter_ci.DEFAULT_COMPONENTS)})",
    )
    group.add_argument(
        "--package",
        default=starter_ci.DEFAULT_PACKAGE,
        metavar="DIR",
        help=f"the service's package, for inputs such as the version component's output_dir "
        f"(default: {starter_ci.DEFAULT_PACKAGE})",
    )


def build_parser() -> argparse.ArgumentParser:
    # No abbreviations: `new --git` must not be read as the global --gitlab.
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--gitlab", metavar="NAME", help="use this section of python-gitlab's config file")
    parser.add_argument(
        "--gitlab-config", metavar="FILE", action="append", help="python-gitlab config file (repeatable)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    boot = sub.add_parser(
        "bootstrap",
        allow_abbrev=False,
        help="prepare a GitLab project: deploy token, CI/CD variables, protected tags, starter pipeline",
        description=_para(
            "Create the gitlab-deploy-token deploy token (read_registry, write_registry) if missing, set CI/CD "
            "variables, protect release tags and optionally commit a starter .gitlab-ci.yml. Idempotent: a "
            "second run changes nothing and says so. Values of variables come from the environment or a "
            "file, never from the command line, and are never printed."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    boot.add_argument("project", metavar="PROJECT", help="project path (group/project) or numeric id")
    boot.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="KEY[=env:NAME|=file:PATH]",
        help="a masked and protected variable; the value comes from env var KEY by default (repeatable)",
    )
    boot.add_argument(
        "--variable",
        action="append",
        default=[],
        metavar="KEY[=env:NAME|=file:PATH]",
        help="a plain variable (not masked, not protected), value sourced the same way (repeatable)",
    )
    boot.add_argument("--tag-pattern", default="v*", help="tags to protect (default: v*)")
    boot.add_argument(
        "--tag-create-level",
        choices=sorted(bootstrap.TAG_CREATE_LEVELS),
        default="maintainer",
        help="who may create protected tags (default: maintainer)",
    )
    boot.add_argument("--branch", help="branch for the starter .gitlab-ci.yml (default: the project's default)")
    boot.add_argument("--overwrite-ci-file", action="store_true", help="replace a different existing .gitlab-ci.yml")
    boot.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    _add_ci_options(boot)

    lint_p = sub.add_parser(
        "lint",
        allow_abbrev=False,
        help="validate a .gitlab-ci.yml or a component (GitLab's CI lint API, else offline)",
        description=_para(
            "Validate FILE with GitLab's CI lint API when a GitLab is configured (needs --project), or with "
            "the offline validator otherwise. The output says which one ran."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lint_p.add_argument("file", type=Path, metavar="FILE")
    lint_p.add_argument("--project", help="the project whose context GitLab lints in (group/project)")
    lint_p.add_argument("--simulate", action="store_true", help="simulate pipeline creation (GitLab dry_run)")
    lint_p.add_argument("--ref", help="branch or tag for --simulate (default: the project's default branch)")
    lint_p.add_argument("--offline", action="store_true", help="use the offline validator even with a GitLab")
    lint_p.add_argument(
        "--catalog",
        metavar="GROUP/PROJECT",
        help="offline: the project path the catalogue is included by (default: the validator's, python-ci/catalog)",
    )

    new = sub.add_parser(
        "new",
        allow_abbrev=False,
        help="scaffold a new service from the reference service (example/)",
        description=_para(
            "Copy the reference service into a new directory without generated or local files (.venv, caches, "
            ".env, build info), and rename the project name, the service name and the service code."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument("name", metavar="NAME", help="the service name, e.g. text-summary (also the project name)")
    new.add_argument("--code", help="the service code (default: NAME upper-cased, - as _)")
    new.add_argument("--dest", type=Path, help="target directory (default: ./NAME); must be absent or empty")
    new.add_argument(
        "--from",
        dest="source",
        type=Path,
        default=scaffold.DEFAULT_SOURCE,
        help="the service to copy (default: this repository's example/)",
    )
    new.add_argument(
        "--no-git",
        dest="git",
        action="store_false",
        help="do not make the copy a git repository (by default it gets one commit, unless it lies inside one)",
    )
    _add_ci_options(new)
    return parser


def _starter(args: argparse.Namespace) -> tuple[str, str] | None:
    if args.catalog is None and args.version is None:
        if args.component:
            raise ToolError(ExitCode.USAGE, "--component needs --catalog and --version")
        return None
    if args.catalog is None or args.version is None:
        raise ToolError(ExitCode.USAGE, "--catalog and --version go together")
    components = [starter_ci.parse_component(c) for c in args.component or starter_ci.DEFAULT_COMPONENTS]
    content = starter_ci.render(args.catalog, args.version, components, args.package)
    summary = f"{args.catalog}@{args.version}: {', '.join(c.name for c in components)}"
    return content, summary


def _connection(args: argparse.Namespace, env: Mapping[str, str], console: Console) -> Connection | None:
    return connect(gitlab_id=args.gitlab, config_files=args.gitlab_config, env=env, console=console)


def _run(args: argparse.Namespace, env: Mapping[str, str], console: Console) -> ExitCode:
    if args.command == "bootstrap":
        variables = [parse_spec(s, secret=True, env=env) for s in args.secret]
        variables += [parse_spec(s, secret=False, env=env) for s in args.variable]
        for spec in variables:
            console.add_secret(spec.value)
        keys = [v.key for v in variables]
        if len(set(keys)) != len(keys):
            raise ToolError(ExitCode.USAGE, "a variable key is given twice")
        starter = _starter(args)
        if starter is None and (args.branch or args.overwrite_ci_file):
            raise ToolError(ExitCode.USAGE, "--branch and --overwrite-ci-file need --catalog and --version")
        ci_file = None
        if starter is not None:
            ci_file = bootstrap.CiFile(
                content=starter[0], summary=starter[1], branch=args.branch, overwrite=args.overwrite_ci_file
            )
        conn = require(_connection(args, env, console), "bootstrap")
        opts = bootstrap.Options(
            project=args.project,
            variables=variables,
            tag_pattern=args.tag_pattern,
            tag_create_level=args.tag_create_level,
            catalog=args.catalog,
            ci_file=ci_file,
            dry_run=args.dry_run,
        )
        return bootstrap.run(conn, opts, console)
    if args.command == "lint":
        lint_conn = None if args.offline else _connection(args, env, console)
        return lint.run(
            lint_conn,
            args.file,
            console,
            project=args.project,
            ref=args.ref,
            simulate=args.simulate,
            offline=args.offline,
            catalog=args.catalog,
        )
    starter = _starter(args)
    if starter is not None and not (args.source / args.package).is_dir():
        raise ToolError(ExitCode.USAGE, f"--package {args.package!r}: {args.source} has no such directory")
    return scaffold.run(
        args.name,
        console,
        dest=args.dest,
        source=args.source,
        code=args.code,
        ci_content=starter[0] if starter else None,
        git=args.git,
    )


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return int(_run(args, os.environ if env is None else env, console))
    except ToolError as exc:
        console.error(f"error: {exc.message}")
        return int(exc.code)
    except KeyboardInterrupt:
        console.error("error: interrupted")
        return 130
