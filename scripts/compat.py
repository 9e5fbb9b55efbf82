"""The version a change of the components' inputs needs, against the previous release tag's specs.

Semantic versioning (https://semver.org) applied to what a consumer writes in `include: inputs:`:

- major: a component or an input removed or renamed; an input made mandatory (default removed) or added without
  a default; a default changed (the job then behaves differently with the same include); a type changed; options
  removed, or a free or regex-checked value restricted to options; a regex added or changed (a changed regex may
  refuse values the old one took, and that cannot be proven otherwise offline); an array input's per-item rule
  (`Each item must match` in its description, see scripts/validate.py) added or changed, likewise;
- minor: a component added; an optional input added; options added; a mandatory input given a default; options
  or a regex dropped, or options replaced by a regex that still matches every old option;
- patch: anything else (descriptions, job logic that keeps every input's meaning).

    python -m scripts.compat --base 1.2.0           # this checkout's templates/ against tag 1.2.0
    python -m scripts.compat --base auto            # against the newest release tag before HEAD (none: exit 0)
    python -m scripts.compat --base 1.2.0 --tag 1.3.0   # also: is 1.3.0 a big enough step from 1.2.0?

Prints one line per change with its level, then the bump required. Exit 1 when `--tag` (default: $CI_COMMIT_TAG)
is a smaller step than required (for 0.y.z, a minor step may break, as semver allows); exit 2 on usage errors.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts import release_notes, validate

Inputs = Mapping[str, Mapping[str, Any]]  # input name -> its spec (type, default, options, regex, ...)


class Level(enum.IntEnum):
    """The semantic version step a change needs."""

    PATCH = 0
    MINOR = 1
    MAJOR = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Change:
    """One change of a component's interface: `where` is `<component>` or `<component>.<input>`."""

    level: Level
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.what}"


_MISSING = object()


def _show(value: object) -> str:
    return json.dumps(value)


def _options_and_regex(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """What happened to the set of values an input accepts (its options and regex, its per-item rule)."""
    old_options, new_options = old.get("options"), new.get("options")
    if validate.is_list(old_options) and validate.is_list(new_options):
        removed = [o for o in old_options if o not in new_options]
        added = [o for o in new_options if o not in old_options]
        changes = [Change(Level.MAJOR, name, f"options removed: {_show(removed)}")] if removed else []
        changes += [Change(Level.MINOR, name, f"options added: {_show(added)}")] if added else []
    elif validate.is_list(new_options):
        changes = [Change(Level.MAJOR, name, f"restricted to options {_show(new_options)}")]
    elif validate.is_list(old_options):
        refused = [o for o in old_options if not _matches(new.get("regex"), o)]
        if refused:
            return [Change(Level.MAJOR, name, f"options replaced by a regex that refuses {_show(refused)}")]
        return [Change(Level.MINOR, name, "options replaced by a regex that accepts every old option")]
    else:
        changes = []
    return (
        changes
        + _rule_change(name, "regex", old.get("regex"), new.get("regex"))
        + _rule_change(name, "per-item rule", validate.item_regex(old), validate.item_regex(new))
    )


def _rule_change(name: str, kind: str, old: object, new: object) -> list[Change]:
    """A regex added or changed may refuse values the old one took: major. Dropped: minor."""
    if old == new:
        return []
    if new is None:
        return [Change(Level.MINOR, name, f"{kind} dropped")]
    if old is None:
        return [Change(Level.MAJOR, name, f"{kind} added: {new}")]
    return [Change(Level.MAJOR, name, f"{kind} changed: {old} -> {new}")]


def _matches(regex: object, value: object) -> bool:
    return isinstance(regex, str) and isinstance(value, str) and re.search(regex, value) is not None


def compare_inputs(component: str, old: Inputs, new: Inputs) -> list[Change]:
    """The changes from `old` to `new` inputs of one component, in input order."""
    changes: list[Change] = []
    removed = [n for n in old if n not in new]
    added = [n for n in new if n not in old]
    for name in removed:
        twins = [a for a in added if _same_shape(old[name], new[a])]
        hint = f" (renamed to `{twins[0]}`?)" if len(twins) == 1 else ""
        changes.append(Change(Level.MAJOR, f"{component}.{name}", f"input removed{hint}"))
    for name in added:
        if "default" in new[name] or "rules" in new[name]:
            changes.append(Change(Level.MINOR, f"{component}.{name}", "optional input added"))
        else:
            changes.append(Change(Level.MAJOR, f"{component}.{name}", "mandatory input added (no default)"))
    for name in (n for n in new if n in old):
        where = f"{component}.{name}"
        before, after = old[name], new[name]
        if before.get("type", "string") != after.get("type", "string"):
            what = f"type {before.get('type', 'string')} -> {after.get('type', 'string')}"
            changes.append(Change(Level.MAJOR, where, what))
            continue
        old_default, new_default = before.get("default", _MISSING), after.get("default", _MISSING)
        if old_default is not _MISSING and new_default is _MISSING:
            changes.append(Change(Level.MAJOR, where, "default removed: the input is now mandatory"))
        elif old_default is _MISSING and new_default is not _MISSING:
            changes.append(Change(Level.MINOR, where, f"default {_show(new_default)} added: now optional"))
        elif old_default != new_default:
            changes.append(Change(Level.MAJOR, where, f"default {_show(old_default)} -> {_show(new_default)}"))
        changes.extend(_options_and_regex(where, before, after))
        if before.get("description") != after.get("description") and not any(c.where == where for c in changes):
            changes.append(Change(Level.PATCH, where, "description changed"))
    return changes


def _same_shape(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    keys = ("type", "default", "options", "regex")
    return all(old.get(k, _MISSING) == new.get(k, _MISSING) for k in keys)


def compare(old: Mapping[str, Inputs], new: Mapping[str, Inputs]) -> list[Change]:
    """The changes from catalogue `old` to `new` (component name -> inputs)."""
    changes = [Change(Level.MAJOR, name, "component removed") for name in old if name not in new]
    changes += [Change(Level.MINOR, name, "component added") for name in new if name not in old]
    for name in (n for n in new if n in old):
        changes += compare_inputs(name, old[name], new[name])
    return changes


def required(changes: list[Change]) -> Level:
    return max((c.level for c in changes), default=Level.PATCH)


def _inputs_of(text: str, where: str) -> dict[str, dict[str, Any]]:
    """A component file's inputs (name -> spec) from its text, read the way validate.load_document reads it."""
    try:
        docs = list(yaml.load_all(text, Loader=validate.GitLabLoader))
    except yaml.YAMLError as exc:
        raise CompatError(f"{where}: invalid YAML: {exc}") from exc
    header = docs[0] if len(docs) > 1 and validate.is_map(docs[0]) else {}
    raw = validate.as_map(validate.as_map(header.get("spec")).get("inputs"))
    return {str(k): validate.as_map(v) for k, v in raw.items()}


def specs_in(root: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Component name -> inputs for the catalogue checkout at `root`."""
    return {
        validate.component_name(path): _inputs_of(path.read_text(encoding="utf-8"), str(path))
        for path in validate.component_paths(root)
    }


class CompatError(Exception):
    """The comparison cannot be made (no such tag, not a git repository, ...)."""


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CompatError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def specs_at(repo: Path, ref: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Component name -> inputs as committed at `ref` (a tag) in the git repository `repo`."""
    names = _git(repo, "ls-tree", "-r", "--name-only", ref, "--", "templates").splitlines()
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for path in names:
        parts = path.split("/")
        if len(parts) == 2 and parts[1].endswith(".yml"):
            name = parts[1].removesuffix(".yml")
        elif len(parts) == 3 and parts[2] == "template.yml":
            name = parts[1]
        else:
            continue
        found[name] = _inputs_of(_git(repo, "show", f"{ref}:{path}"), f"{ref}:{path}")
    return found


def previous_release(repo: Path) -> str | None:
    """The newest semantic-version tag reachable from HEAD that does not point at HEAD itself, or None."""
    at_head = set(_git(repo, "tag", "--points-at", "HEAD").split())
    tags = [t for t in _git(repo, "tag", "--merged", "HEAD").split() if t not in at_head]
    releases = [t for t in tags if release_notes.SEMVER.fullmatch(t) and "-" not in t]
    return max(releases, key=release_notes.precedence, default=None)


def step(base: str, tag: str) -> Level:
    """The step from release `base` to `tag` (0.y.z: a minor step counts as major, as semver allows)."""
    old, new = release_notes.precedence(base), release_notes.precedence(tag)
    if new[0] > old[0] or (old[0] == 0 and new[:2] > old[:2]):
        return Level.MAJOR
    if new[:2] > old[:2]:
        return Level.MINOR
    return Level.PATCH


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.compat", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--base", required=True, help="the previous release tag, or `auto`")
    parser.add_argument("--tag", default=os.environ.get("CI_COMMIT_TAG") or None, help="the release being made")
    parser.add_argument("--repo", type=Path, default=validate.ROOT, help="the catalogue checkout (default: this)")
    args = parser.parse_args(argv)
    repo: Path = args.repo
    try:
        base = previous_release(repo) if args.base == "auto" else args.base
        if base is None:
            print("compat: no earlier release tag reachable from HEAD: nothing to compare")
            return 0
        if release_notes.SEMVER.fullmatch(base) is None:
            raise CompatError(f"--base {base!r} is not a semantic version tag")
        changes = compare(specs_at(repo, base), specs_in(repo))
    except CompatError as exc:
        print(f"compat: {exc}", file=sys.stderr)
        return 2
    for change in changes:
        print(f"compat: {change}")
    need = required(changes)
    print(f"compat: against {base}: {len(changes)} change(s); the next release needs a {need} step")
    if args.tag and args.tag != base:
        if release_notes.SEMVER.fullmatch(args.tag) is None:
            print(f"compat: tag {args.tag!r} is not a semantic version", file=sys.stderr)
            return 2
        taken = step(base, args.tag)
        if taken < need:
            print(f"compat: {args.tag} is a {taken} step from {base}; the changes need a {need} step", file=sys.stderr)
            return 1
        print(f"compat: {args.tag} is a {taken} step from {base}: enough")
    return 0


if __name__ == "__main__":
    sys.exit(main())
