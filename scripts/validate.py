"""Check components and pipeline files the way GitLab does when it creates a pipeline, offline.

gitlab-ci-local checks less than GitLab (it ignores unknown and unused mandatory inputs, uses JavaScript regexes
instead of RE2, and accepts typos inside an input's definition), so a component that runs locally can still be
refused by GitLab. This module closes that gap:

- component (`templates/<name>.yml`, `templates/<name>/template.yml`, or any file with a `spec:` header and a body):
  header against GitLab's CI JSON schema (check-jsonschema's vendored copy), input keys, defaults consistent with
  type/options/regex, regexes that RE2 can run, `$[[ ]]` blocks naming declared inputs and known functions, no
  global keywords, and the body rendered with the defaults and with sample inputs, each validated by the schema;
- pipeline file (`.gitlab-ci.yml`, or any file without a header): the schema, then every include: this
  catalogue's components (`component: <host>/<catalog path>/<name>@<version>`, the path set by `--catalog-path`,
  and `$CI_SERVER_FQDN/$CI_PROJECT_PATH/<name>@<ref>` inside a project with `templates/`) resolved to the
  templates of `--catalog-dir`, their inputs checked (unknown, missing mandatory, type/options/regex), rendered
  and validated; `local:` files read and merged; then the rules GitLab applies to the merged jobs at pipeline
  creation (scripts/pipeline_jobs.py: stages, `needs` and `dependencies`, `parallel:matrix` job names, `extends`).
  What cannot be checked offline (another project's component, remote files, a need that may name one of their
  jobs) is reported as a `not checked: <file>: <what>: <reason>` line, never skipped silently.

`validate_path(path)` returns the problems as `file: where: what` lines; an empty list means valid; `check_path`
also returns the not-checked lines.
CLI: `python -m scripts.validate [--catalog-path GROUP/PROJECT] [--catalog-dir DIR] [PATHS...]` (default: every
template and `.gitlab-ci.yml`), exit 1 on problems.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import importlib.resources
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import jsonschema
import yaml

from scripts import pipeline_jobs

ROOT = Path(__file__).resolve().parent.parent
CATALOG_PATH = "python-ci/catalog"

INPUT_KEYS = ("type", "default", "description", "options", "regex", "rules")
INPUT_TYPES = ("string", "number", "boolean", "array")
FUNCTIONS = ("expand_vars", "truncate", "posix_escape")
COMPONENT_FIELDS = ("name", "sha", "version", "reference")
# Keywords that act on the whole pipeline: a component that sets them changes every consumer's other jobs.
GLOBAL_KEYWORDS = (
    "default",
    "stages",
    "variables",
    "workflow",
    "include",
    "image",
    "services",
    "before_script",
    "after_script",
    "cache",
)
MAX_OPTIONS = 50
MAX_BLOCK_BYTES = 1024
MAX_FUNCTIONS = 3

# GitLab's own pattern for an interpolation block.
_BLOCK = re.compile(r"\$\[\[\s*(?P<access>\S.*?\S|\S)\s*\]\]", re.DOTALL)
_ACCESS = re.compile(r"^(?P<ctx>inputs|component)\.(?P<key>[A-Za-z0-9_-]+)$")
_FUNCTION = re.compile(r"^(?P<name>[a-z_]+)(?:\((?P<args>[^()]*)\))?$")
_COMPONENT_REF = re.compile(r"^(?P<host>[^/]+)/(?P<project>.+)/(?P<name>[^/@]+)(?:@(?P<ref>.*))?$")

Yaml = Any  # a value loaded from YAML: dict, list, str, int, float, bool or None


def is_map(value: object) -> TypeGuard[dict[str, Any]]:
    """A YAML mapping (its keys are read as the strings GitLab's keywords are)."""
    return isinstance(value, dict)


def is_list(value: object) -> TypeGuard[list[Any]]:
    return isinstance(value, list)


def as_map(value: object) -> dict[str, Any]:
    return value if is_map(value) else {}


class GitLabLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus GitLab's `!reference [job, key]` tag (read as the list it holds)."""


def _construct_reference(loader: yaml.SafeLoader, node: yaml.Node) -> list[Any]:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(None, None, "!reference needs a list", node.start_mark)
    return loader.construct_sequence(node)


GitLabLoader.add_constructor("!reference", _construct_reference)


@functools.cache
def _schema_validator() -> jsonschema.Draft7Validator:
    resource = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "gitlab-ci.json"
    return jsonschema.Draft7Validator(json.loads(resource.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------------------------------------------
# loading


@dataclass
class Document:
    """A CI file split the way GitLab splits it: an optional `spec:` header, then the body."""

    path: Path
    header: dict[str, Any] | None
    body: Yaml

    @property
    def inputs(self) -> dict[str, dict[str, Any]]:
        raw = as_map((self.header or {}).get("spec")).get("inputs")
        if not is_map(raw):
            return {}
        return {str(name): (value if is_map(value) else {}) for name, value in raw.items()}


class LoadError(Exception):
    """The file cannot be read as a CI file at all."""


def load_document(path: Path) -> Document:
    """Read `path` as GitLab does: one or two YAML documents, the first a `spec:` header when there are two."""
    try:
        docs = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=GitLabLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark is not None else "yaml"
        raise LoadError(f"{where}: invalid YAML: {exc.problem}") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise LoadError(f"cannot read: {exc}") from exc
    while len(docs) > 1 and docs[-1] is None:  # a trailing `---` opens an empty document
        docs.pop()
    if len(docs) == 2 and docs[1] is None:
        docs.pop()
    if not docs or docs == [None]:
        raise LoadError("file: empty")
    if len(docs) > 2:
        raise LoadError("file: more than two YAML documents (a header and a body are allowed)")
    if len(docs) == 2:
        header = docs[0]
        if not is_map(header) or "spec" not in header:
            raise LoadError("header: the first of two documents must be a `spec:` header")
        return Document(path, header, docs[1])
    only = docs[0]
    if is_map(only) and set(only) == {"spec"}:
        raise LoadError("file: a `spec:` header with no body after `---`")
    return Document(path, None, only)


# --------------------------------------------------------------------------------------------------------------
# input values


def _type_of(value: Yaml) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if is_list(value):
        return "array"
    return type(value).__name__


# The per-item rule of an array input, written in its description (GitLab has no `regex` for arrays):
# "Each item must match `<regex>`."
_ITEM_RULE = re.compile(r"[Ee]ach item must match `(?P<regex>[^`]+)`")


def item_regex(spec: Mapping[str, Any]) -> str | None:
    """The regex every item of an array input must match (from its description), or None."""
    description = spec.get("description")
    if spec.get("type") != "array" or not isinstance(description, str):
        return None
    match = _ITEM_RULE.search(" ".join(description.split()))
    return match.group("regex") if match else None


def _item_problems(name: str, spec: Mapping[str, Any], value: list[Any], what: str) -> list[str]:
    """The items of an array value that break the input's per-item rule. GitLab cannot check these: the
    validator does (and the job refuses a bad item with one line of its own)."""
    regex = item_regex(spec)
    if regex is None or _re2_problem(regex) is not None:
        return []
    try:
        compiled = re.compile(regex)
    except re.error:
        return []
    return [
        f"`{name}` input: {what} item {index + 1} {json.dumps(item)} does not match the per-item rule {regex}"
        for index, item in enumerate(value)
        if not isinstance(item, str) or compiled.search(item) is None
    ]


def check_value(name: str, spec: Mapping[str, Any], value: Yaml, what: str = "value") -> list[str]:
    """Problems GitLab reports for `value` given to input `name` (type, options, regex), and items of an array
    that break its per-item rule (`item_regex`)."""
    expected = spec.get("type", "string")
    if expected not in INPUT_TYPES:
        return []
    if _type_of(value) != expected:
        return [f"`{name}` input: {what} {json.dumps(value)} is not a {expected}"]
    if is_list(value):
        return _item_problems(name, spec, value, what)
    return _allowed_problems(name, spec, value, what)


def _allowed_problems(name: str, spec: Mapping[str, Any], value: Yaml, what: str) -> list[str]:
    """A value outside the input's options, or not matching its regex."""
    options = spec.get("options")
    if is_list(options) and value not in options:
        allowed = ", ".join(json.dumps(o) for o in options)
        return [f"`{name}` input: {what} {json.dumps(value)} is not one of the allowed options ({allowed})"]
    regex = spec.get("regex")
    if isinstance(regex, str) and isinstance(value, str) and _re2_problem(regex) is None:
        try:
            matched = re.search(regex, value) is not None
        except re.error:
            return []  # reported once by the header check
        if not matched:
            return [f"`{name}` input: {what} {json.dumps(value)} does not match the required regex {regex}"]
    return []


# A regex's tokens: an escape, a character class (its contents never form a group or quantifier), or one char.
_RE_TOKEN = re.compile(r"\\.|\[\^?\]?(?:\\.|[^\]])*\]|.", re.DOTALL)
_RE2_LACKS = (
    (re.compile(r"\(\?<[=!]"), "lookbehind (?<=...) / (?<!...)"),
    (re.compile(r"\(\?[=!]"), "lookahead (?=...) / (?!...)"),
    (re.compile(r"\(\?P="), "backreference (?P=name)"),
    (re.compile(r"\(\?>"), "atomic group (?>...)"),
    (re.compile(r"\(\?\("), "conditional group (?(...)...)"),
    (re.compile(r"[*+?}]\+"), "possessive quantifier (*+, ++, ?+, {n}+)"),
)


def _re2_problem(pattern: str) -> str | None:
    """Why RE2 (GitLab's regex engine) would refuse `pattern`, or None. Python's `re` checks the rest."""
    skeleton: list[str] = []
    for token in _RE_TOKEN.findall(pattern):
        if token[:1] == "\\" and len(token) == 2:
            if token[1] in "123456789kg":
                return f"backreference {token} is not supported by RE2"
            if token[1] == "Z":
                return "\\Z is not supported by RE2 (use $)"
            skeleton.append("e")  # an escaped char is a literal: it cannot start a group or a quantifier
        elif token[:1] == "[" and len(token) > 1:
            skeleton.append("c")
        else:
            skeleton.append(token)
    flat = "".join(skeleton)
    for construct, what in _RE2_LACKS:
        if construct.search(flat):
            return f"{what} is not supported by RE2"
    return None


def _sample_values(spec: Mapping[str, Any]) -> list[Yaml]:
    """Values other than the default that a consumer could pass, to render the body with."""
    kind = spec.get("type", "string")
    default = spec.get("default")
    options = spec.get("options")
    if is_list(options):
        return [o for o in options if o != default]
    by_kind: dict[str, list[Yaml]] = {
        "boolean": [not default] if isinstance(default, bool) else [True, False],
        "number": [default + 1] if isinstance(default, int | float) and not isinstance(default, bool) else [1],
        "array": [default[:1]] if is_list(default) and len(default) > 1 else [],
    }
    if kind in by_kind:
        return by_kind[kind]
    regex = spec.get("regex")
    if not isinstance(regex, str):
        return ["Sample value 1"]
    try:
        compiled = re.compile(regex)
    except re.error:
        return []
    candidates = [
        "sample",
        "sample-value",
        "Sample value 1",
        "1.0.0",
        "3.12",
        "src",
        ".",
        "a",
        "1",
        "0",
        "",
        "group/project",
    ]
    return [c for c in candidates if c != default and compiled.search(c)][:1]


def _mandatory_sample(spec: Mapping[str, Any]) -> tuple[bool, Yaml]:
    """A value for an input without a default, so the body can still be rendered."""
    kind = spec.get("type", "string")
    if kind == "array":
        return True, []
    samples = _sample_values(spec)
    if samples:
        return True, samples[0]
    return False, None


# --------------------------------------------------------------------------------------------------------------
# interpolation


@dataclass
class _Block:
    raw: str
    context: str
    key: str
    functions: list[tuple[str, list[str]]]


def _parse_block(access: str) -> _Block | str:
    """The parts of one `$[[ ... ]]` block, or a problem."""
    if len(access.encode()) > MAX_BLOCK_BYTES:
        return f"interpolation block longer than {MAX_BLOCK_BYTES} bytes"
    parts = [p.strip() for p in access.split("|")]
    match = _ACCESS.match(parts[0])
    if match is None:
        return f"`$[[ {access} ]]`: expected `inputs.<name>` or `component.<field>`"
    functions: list[tuple[str, list[str]]] = []
    for part in parts[1:]:
        fmatch = _FUNCTION.match(part)
        if fmatch is None or fmatch.group("name") not in FUNCTIONS:
            return f"`$[[ {access} ]]`: unknown function `{part}` (known: {', '.join(FUNCTIONS)})"
        args = [a.strip() for a in (fmatch.group("args") or "").split(",") if a.strip()]
        if fmatch.group("name") == "truncate" and (len(args) != 2 or not all(a.isdigit() for a in args)):
            return f"`$[[ {access} ]]`: truncate needs two non-negative integers, truncate(offset, length)"
        functions.append((fmatch.group("name"), args))
    if len(functions) > MAX_FUNCTIONS:
        return f"`$[[ {access} ]]`: at most {MAX_FUNCTIONS} functions per block"
    return _Block(access, match.group("ctx"), match.group("key"), functions)


def _strings(node: Yaml, where: str) -> Iterator[tuple[str, str]]:
    """Every string (mapping keys included) in `node`, with a dotted location."""
    if isinstance(node, str):
        yield where, node
    elif is_map(node):
        for key, value in node.items():
            here = f"{where}.{key}" if where else str(key)
            yield here, str(key)
            yield from _strings(value, here)
    elif is_list(node):
        for index, item in enumerate(node):
            yield from _strings(item, f"{where}[{index}]")


def _apply(functions: list[tuple[str, list[str]]], value: Yaml) -> Yaml:
    for name, args in functions:
        text = value if isinstance(value, str) else _as_text(value)
        if name == "truncate":
            offset, length = int(args[0]), int(args[1])
            value = text[offset : offset + length]
        elif name == "posix_escape":
            value = re.sub(r"([^A-Za-z0-9_\-.,:+/@\n])", r"\\\1", text).replace("\n", "'\n'")
        else:  # expand_vars: CI variables are expanded by GitLab at this point; the shape stays a string
            value = text
    return value


def _as_text(value: Yaml) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


class _RenderError(Exception):
    pass


def render(node: Yaml, inputs: Mapping[str, Yaml], component: Mapping[str, Yaml] | None = None) -> Yaml:
    """`node` with every `$[[ ]]` block replaced as GitLab does: a string that is exactly one block takes the
    input's typed value (an array stays an array); a block inside a longer string becomes text."""
    context = {"inputs": inputs, "component": component or {}}

    def value_of(access: str) -> Yaml:
        block = _parse_block(access)
        if isinstance(block, str):
            raise _RenderError(block)
        values = context[block.context]
        if block.key not in values:
            raise _RenderError(f"unknown interpolation key `{block.context}.{block.key}`")
        return _apply(block.functions, values[block.key])

    def walk(item: Yaml) -> Yaml:
        if isinstance(item, str):
            whole = _BLOCK.fullmatch(item)
            if whole is not None:
                return value_of(whole.group("access"))
            return _BLOCK.sub(lambda m: _as_text(value_of(m.group("access"))), item)
        if is_map(item):
            out: dict[Any, Any] = {}
            for key, value in item.items():
                new_key = walk(key)
                if not isinstance(new_key, str | int | float | bool):
                    raise _RenderError(f"key `{key}` renders to a {_type_of(new_key)}")
                out[new_key] = walk(value)
            return out
        if is_list(item):
            return [walk(i) for i in item]
        return item

    return walk(node)


# --------------------------------------------------------------------------------------------------------------
# schema


def schema_problems(data: Yaml, prefix: str) -> list[str]:
    """GitLab CI schema violations in `data`, each as `where: what`, the most specific cause first."""
    found: list[str] = []
    errors: list[jsonschema.ValidationError] = list(
        _schema_validator().iter_errors(data)  # pyright: ignore[reportUnknownMemberType]
    )
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        cause = _deepest(error)
        where = ".".join(str(p) for p in cause.absolute_path) or "(top)"
        found.append(f"{prefix}{where}: {_message(cause)}")
    return found


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For oneOf/anyOf failures, the branch error that went deepest: it names the real mistake."""
    if not error.context:
        return error
    best = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.context or [])))
    if len(best.absolute_path) <= len(error.absolute_path) and best.validator in ("type", "oneOf", "anyOf"):
        return error
    return _deepest(best)


def _message(error: jsonschema.ValidationError) -> str:
    """The schema's message, without echoing a long offending value in full."""
    instance: object = error.instance
    if error.validator == "maxLength" and isinstance(instance, str):
        return f"too long: {len(instance)} characters, at most {error.validator_value}"
    if error.validator == "maxItems" and is_list(instance):
        return f"too many items: {len(instance)}, at most {error.validator_value}"
    message = error.message
    return message if len(message) <= 200 else f"{message[:100]} ... {message[-80:]}"


# --------------------------------------------------------------------------------------------------------------
# problems


@dataclass
class _Report:
    path: Path
    problems: list[str] = field(default_factory=list[str])
    unchecked: list[str] = field(default_factory=list[str])
    _seen: set[tuple[str, str]] = field(default_factory=set[tuple[str, str]])

    def add(self, where: str, what: str, label: str = "") -> None:
        """Record a problem once: the same one found again with other sample inputs (`label`) is not repeated."""
        if (where, what) in self._seen:
            return
        self._seen.add((where, what))
        self.problems.append(f"{_display(self.path)}: {where}{f' ({label})' if label else ''}: {what}")

    def skip(self, what: str, reason: str) -> None:
        """Record something that cannot be checked offline, and why (never a silent skip)."""
        line = f"not checked: {_display(self.path)}: {what}: {reason}"
        if line not in self.unchecked:
            self.unchecked.append(line)

    def has(self, where: str) -> bool:
        return any(seen == where or seen.startswith(f"{where}.") for seen, _ in self._seen)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean `{close[0]}`?)" if close else ""


# --------------------------------------------------------------------------------------------------------------
# components


def _check_header(doc: Document, report: _Report) -> None:
    header = doc.header
    if header is None:
        report.add("header", "a component needs a `spec:` header document followed by `---` and the body")
        return
    for key in header:
        if key != "spec":
            report.add("header", f"unexpected top-level key `{key}` (the header holds only `spec:`)")
    spec = header.get("spec")
    if is_map(spec) and "inputs" in spec and not spec["inputs"]:
        report.add("spec.inputs", "empty `inputs:` makes the catalog release fail; use an empty `spec:` instead")
    inputs = (spec or {}).get("inputs") if is_map(spec) else None
    if is_map(inputs):
        for name, definition in inputs.items():
            _check_input(str(name), definition, report)
    # The schema last: where the checks above already named the mistake, its vaguer message adds nothing.
    for problem in schema_problems({"spec": spec} if spec is not None else {"spec": {}}, ""):
        where, _, what = problem.partition(": ")
        if not report.has(where):
            report.add(where, what)


def _check_input(name: str, definition: Yaml, report: _Report) -> None:
    where = f"spec.inputs.{name}"
    if definition is None:
        definition = {}
    if not is_map(definition):
        report.add(where, "an input definition must be a mapping")
        return
    for key in definition:
        if key not in INPUT_KEYS:
            report.add(where, f"unknown key `{key}`{_suggest(str(key), INPUT_KEYS)} (allowed: {', '.join(INPUT_KEYS)})")
    if not definition.get("description"):
        report.add(where, "no `description` (every input documents itself; the README table is built from it)")
    kind = definition.get("type", "string")
    if kind not in INPUT_TYPES:
        report.add(f"{where}.type", f"`{kind}` is not an input type{_suggest(str(kind), INPUT_TYPES)}")
        return
    if "options" in definition:
        _check_options(f"{where}.options", kind, definition["options"], report)
    if "regex" in definition:
        _check_regex(f"{where}.regex", kind, definition["regex"], report)
    items = item_regex(definition)
    if items is not None:
        _check_regex(f"{where}.description", "string", items, report)
    if "rules" in definition and ("options" in definition or "default" in definition):
        report.add(where, "`rules` cannot be combined with top-level `options` or `default`")
    checkable = not report.has(f"{where}.options") and not report.has(f"{where}.regex")
    # `default: null` is GitLab's "optional, no value": nothing to check against type, options or regex.
    if definition.get("default") is not None and checkable:
        for problem in check_value(name, definition, definition["default"], "default"):
            report.add(f"{where}.default", problem)


def _check_options(where: str, kind: str, options: Yaml, report: _Report) -> None:
    if kind not in ("string", "number"):
        report.add(where, f"options are allowed for string and number inputs, not {kind}")
    elif not is_list(options) or not options:
        report.add(where, "options must be a non-empty list")
    else:
        if len(options) > MAX_OPTIONS:
            report.add(where, f"at most {MAX_OPTIONS} options")
        for option in options:
            if _type_of(option) != kind:
                report.add(where, f"option {json.dumps(option)} is not a {kind}")


def _check_regex(where: str, kind: str, regex: Yaml, report: _Report) -> None:
    if kind != "string":
        report.add(where, f"regex is allowed for string inputs only, not {kind}")
        return
    if not isinstance(regex, str):
        report.add(where, "regex must be a string")
        return
    try:
        re.compile(regex)
        problem = _re2_problem(regex)
    except re.error as exc:
        problem = f"invalid regular expression: {exc}"
    if problem:
        report.add(where, problem)


def _interpolation_problems(doc: Document, report: _Report) -> None:
    declared = set(doc.inputs)
    fields = as_map((doc.header or {}).get("spec")).get("component")
    component_fields = set(fields) if is_list(fields) else set[str]()
    for where_in_body, text in _strings(doc.body, ""):
        where = f"body.{where_in_body}"
        leftover = _BLOCK.sub("", text)
        if "$[[" in leftover:
            report.add(where, f"malformed interpolation in {json.dumps(text)[:80]}")
        for match in _BLOCK.finditer(text):
            block = _parse_block(match.group("access"))
            if isinstance(block, str):
                report.add(where, block)
            elif block.context == "inputs" and block.key not in declared:
                report.add(where, f"unknown input `{block.key}`{_suggest(block.key, sorted(declared))}")
            elif block.context == "component" and block.key not in component_fields:
                if block.key not in COMPONENT_FIELDS:
                    report.add(where, f"unknown component field `{block.key}` (known: {', '.join(COMPONENT_FIELDS)})")
                else:
                    report.add(where, f"`component.{block.key}` used but not listed in `spec:component`")


def _component_context(doc: Document) -> dict[str, Yaml]:
    name = component_name(doc.path)
    return {"name": name, "sha": "0" * 40, "version": "1.0.0", "reference": "1.0.0"}


def _is_composite(body: Mapping[str, Any]) -> bool:
    """A component made of other components: its body's `include:` lists only `component:` entries."""
    entries = _includes(body)
    return bool(entries) and all(is_map(e) and "component" in e for e in entries)


def _check_rendered(body: Yaml, report: _Report, label: str) -> None:
    if not is_map(body):
        report.add("body", "the body must be a mapping of jobs", label)
        return
    composite = _is_composite(body)
    for key in body:
        if key in GLOBAL_KEYWORDS and not (key == "include" and composite):
            report.add(f"body.{key}", f"global keyword `{key}` is not allowed in a component (it changes every job)")
    jobs = {k: v for k, v in body.items() if k not in GLOBAL_KEYWORDS}
    if not composite and not any(not str(k).startswith(".") for k in jobs):
        report.add("body", "no job (only hidden jobs or nothing)", label)
    for problem in schema_problems(jobs, ""):
        where, _, what = problem.partition(": ")
        report.add(f"body.{where}", what, label)


def _input_variants(inputs: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, dict[str, Yaml]] | str]:
    """(label, input values) to render the body with: the defaults, then each sample value of each input, then
    all samples at once. A str item is a problem (a mandatory input with no usable sample)."""
    base: dict[str, Yaml] = {}
    for name, spec in inputs.items():
        if "default" in spec:
            base[name] = spec["default"]
            continue
        found, value = _mandatory_sample(spec)
        if not found:
            yield f"`{name}` input: no default and no sample value matches its regex; cannot render the body"
            return
        base[name] = value
    yield "with defaults", dict(base)
    combined = dict(base)
    for name, spec in inputs.items():
        for value in _sample_values(spec):
            if check_value(name, spec, value):
                continue
            yield f"with {name}={json.dumps(value)}", {**base, name: value}
            combined[name] = value
    if combined != base:
        yield "with all sample inputs", combined


def _check_component(doc: Document, report: _Report) -> None:
    _check_header(doc, report)
    _interpolation_problems(doc, report)
    if report.problems:
        return  # rendering a body whose spec or blocks are broken only repeats the same problems
    context = _component_context(doc)
    for variant in _input_variants(doc.inputs):
        if isinstance(variant, str):
            report.add("spec.inputs", variant)
            return
        label, values = variant
        try:
            body = render(doc.body, values, context)
        except _RenderError as exc:
            report.add("body", str(exc), label)
            continue
        _check_rendered(body, report, label)
        if is_map(body) and _is_composite(body):
            _check_parts(doc, body, values, report)


def _check_parts(doc: Document, body: Mapping[str, Any], values: Mapping[str, Yaml], report: _Report) -> None:
    """A composite component's parts, included from its own catalogue (whatever project path the inputs name):
    each include's inputs checked and rendered, then GitLab's creation rules on the jobs they add up to."""
    root = _project_root(doc.path) or doc.path.resolve().parent.parent
    path = values.get("catalog_path")
    includes = _Includes(report, Catalog(path=path if isinstance(path, str) else CATALOG_PATH, root=root))
    includes.merge(doc.path, body, "body.")
    pipeline, problems = pipeline_jobs.build(includes.config)
    found, _ = pipeline_jobs.check(pipeline, complete=includes.complete)
    for rule in [*problems, *found]:
        if not rule.where.endswith(".stage"):  # the consumer's pipeline declares the stages
            report.add(f"body (parts): {rule.where}", rule.what)


# --------------------------------------------------------------------------------------------------------------
# pipelines


def _includes(body: Mapping[str, Any]) -> list[Yaml]:
    raw = body.get("include")
    if raw is None:
        return []
    return list(raw) if is_list(raw) else [raw]


def find_component(catalog: Path, name: str) -> Path | None:
    """The template file GitLab would use for component `name` in the catalogue at `catalog`."""
    for candidate in (catalog / "templates" / f"{name}.yml", catalog / "templates" / name / "template.yml"):
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Catalog:
    """Which includes are this catalogue's: `component: <host>/<path>/<name>@<version>` with this project `path`
    (or `$CI_PROJECT_PATH` inside a project that holds `templates/`), checked against the templates in `root`.

    The version after `@` is not looked up: the templates in `root` stand for it (a checkout of that version)."""

    path: str = CATALOG_PATH
    root: Path = ROOT


def _project_root(path: Path) -> Path | None:
    """The project a pipeline file belongs to when it holds components (`templates/`): its nearest ancestor
    with `templates/` before the git root; None for a project without components."""
    for parent in path.resolve().parents:
        if (parent / "templates").is_dir():
            return parent
        if (parent / ".git").exists():
            return None
    return None


def _resolve(reference: str, pipeline: Path, catalog: Catalog) -> tuple[Path | None, str, str]:
    """(templates root, reason, component name) for a `component:` reference: a root when it is this
    catalogue's component (reason ""); else None with the problem (reason starting with "!") or why it is not
    checked."""
    match = _COMPONENT_REF.match(reference)
    name = match.group("name") if match else ""
    root: Path | None = None
    if match is None:
        reason = f"!`{reference}` is not `<host>/<project path>/<name>@<version>`"
    elif not match.group("ref"):
        reason = f"!`{reference}` has no `@<version>` (a SHA, tag, branch or ~latest)"
    elif match.group("project") == "$CI_PROJECT_PATH":
        root = _project_root(pipeline)
        reason = "" if root else "a component of this project itself, which has no templates/ here"
    elif match.group("project") == catalog.path:
        root, reason = catalog.root, ""
    elif "$" in match.group("project"):
        reason = f"the project path `{match.group('project')}` is a CI variable, known only when GitLab runs"
    else:
        reason = f"another project's component (this catalogue is `{catalog.path}`; --catalog-path sets it)"
    return root, reason, name


def _check_pipeline(doc: Document, report: _Report, catalog: Catalog) -> None:
    body = doc.body
    if doc.header is not None:
        _check_header_pipeline(doc, report)
        values = {n: s.get("default") for n, s in doc.inputs.items()}
        try:
            body = render(body, values)
        except _RenderError as exc:
            report.add("body", str(exc))
            return
    if not is_map(body):
        report.add("(top)", "a pipeline file must be a mapping")
        return
    for problem in schema_problems(body, ""):
        where, _, what = problem.partition(": ")
        report.add(where, what)
    includes = _Includes(report, catalog)
    includes.merge(doc.path, body, "")
    deep_merge(includes.config, {k: v for k, v in body.items() if k != "include"})
    pipeline, problems = pipeline_jobs.build(includes.config, stages_known=includes.stages_known)
    found, unchecked = pipeline_jobs.check(pipeline, complete=includes.complete)
    for rule in [*problems, *found]:
        report.add(rule.where, rule.what)
    for rule in unchecked:
        report.skip(rule.where, rule.what)


def deep_merge(into: dict[str, Any], later: Mapping[str, Any]) -> None:
    """Merge `later` into `into` as GitLab merges an included file with the files after it: mappings key by key,
    at any depth; any other value (a list included) replaces the earlier one (GitLab docs, "Use CI/CD configuration
    from other files": merge method for `include`)."""
    for key, value in later.items():
        earlier = into.get(key)
        if is_map(earlier) and is_map(value):
            merged = dict(earlier)
            deep_merge(merged, value)
            into[key] = merged
        else:
            into[key] = value


@dataclass
class _Includes:
    """Walks a pipeline's includes: checks each, and merges what it adds into `config` (in include order).
    `complete` is False when some included file was not read; `stages_known` when it may have set `stages`."""

    report: _Report
    catalog: Catalog
    config: dict[str, Any] = field(default_factory=dict[str, Any])
    complete: bool = True
    stages_known: bool = True
    seen: set[Path] = field(default_factory=set[Path])

    def merge(self, path: Path, body: Mapping[str, Any], prefix: str) -> None:
        """Check each include of `body` (the file at `path`); `prefix` locates nested includes in messages."""
        for index, raw in enumerate(_includes(body)):
            where = f"{prefix}include[{index}]"
            entry: Yaml = raw
            if isinstance(raw, str):
                entry = {"remote": raw} if raw.startswith(("http://", "https://")) else {"local": raw}
            if not is_map(entry):
                self.complete = self.stages_known = False
                continue  # the schema check names it
            decided = include_rules(entry.get("rules"))
            if decided is False:
                continue  # its rules leave it out of every pipeline (a part switched off)
            rendered: Yaml = None
            if "component" in entry:
                rendered = self._component(path, where, entry)
                if is_map(rendered) and "include" in rendered:
                    self.merge(path, rendered, f"{where} ")  # a component made of components
            elif isinstance(entry.get("local"), str):
                if decided is None:
                    # Checked as if included: a file only tag pipelines include is still checked in a merge request.
                    why = "checked as if its `rules` included it (whether they do is decided at pipeline creation)"
                    self.report.skip(f"{where} (local: {entry['local']})", why)
                rendered = self._local(path, where, str(entry["local"]))
            else:
                kind = next((k for k in ("remote", "project", "template") if k in entry), "include")
                self.report.skip(f"{where} ({kind}: {entry.get(kind)})", "not a file of this checkout")
            if is_map(rendered):
                deep_merge(self.config, {k: v for k, v in rendered.items() if k != "include"})
            else:
                self.complete = False
                self.stages_known = self.stages_known and "component" in entry  # components set no `stages`

    def _local(self, path: Path, where: str, local: str) -> Yaml:
        """The body of a `local:` include, its own includes merged first; None when it cannot be read here."""
        target = (_project_root(path) or _git_root(path)) / local.lstrip("/")
        problem = ""
        if "*" in local or "$" in local:
            self.report.skip(f"{where} (local: {local})", "a pattern or variable, expanded by GitLab")
            return None
        if not target.is_file():
            problem = "does not exist"
        elif target.resolve() in self.seen:
            problem = "is included twice (GitLab refuses duplicate includes)"
        if problem:
            self.report.add(where, f"local file `{local}` {problem}")
            return None
        self.seen.add(target.resolve())
        try:
            included = load_document(target)
        except LoadError as exc:
            self.report.add(where, f"local file `{local}`: {exc}")
            return None
        if not is_map(included.body):
            self.report.add(where, f"local file `{local}`: not a mapping")
            return None
        self.merge(target, included.body, f"{where} ({local}) ")
        return included.body

    def _component(self, pipeline: Path, where: str, entry: Mapping[str, Any]) -> Yaml:
        """The jobs an include of one of this catalogue's components makes, after checking its inputs as GitLab
        does; None when it is refused or cannot be checked (reported either way)."""
        reference = str(entry["component"])
        root, reason, name = _resolve(reference, pipeline, self.catalog)
        located = f"{where} ({name or reference})"
        component: Document | None = None
        if reason.startswith("!"):
            self.report.add(located, reason[1:])
        elif root is None:
            self.report.skip(f"{where} {reference}", reason)
        else:
            component = self._load(root, name, located)
        if component is None:
            return None
        given: Yaml = entry.get("inputs") or {}
        if not is_map(given):
            self.report.add(f"{located}.inputs", "inputs must be a mapping")
            return None
        if not _given_inputs_ok(component, given, f"{located}.inputs", self.report):
            return None
        values = {k: s.get("default") for k, s in component.inputs.items()} | given
        try:
            body = render(component.body, values, _component_context(component))
        except _RenderError as exc:
            self.report.add(located, f"rendering {_display(component.path)}: {exc}")
            return None
        for problem in schema_problems(body, ""):
            loc, _, what = problem.partition(": ")
            self.report.add(f"{located}: {loc}", what)
        return body

    def _load(self, root: Path, name: str, where: str) -> Document | None:
        template = find_component(root, name)
        if template is None:
            self.report.add(
                where, f"no component `{name}` (neither templates/{name}.yml nor templates/{name}/template.yml)"
            )
            return None
        try:
            return load_document(template)
        except LoadError as exc:
            self.report.add(where, f"component file {_display(template)}: {exc}")
            return None


_LITERAL_TEST = re.compile(r"""^\s*(["'])(?P<a>[^"']*)\1\s*(?P<op>==|!=)\s*(["'])(?P<b>[^"']*)\4\s*$""")


def _rule_matches(rule: Yaml) -> bool | None:
    """Whether one `include:rules` entry matches, when that is known without CI variables; else None."""
    if not is_map(rule) or set(rule) - {"if", "when"}:
        return None
    test = rule.get("if")
    if test is None:
        return True
    match = _LITERAL_TEST.match(str(test))
    if match is None:
        return None
    return (match["a"] == match["b"]) == (match["op"] == "==")


def include_rules(rules: Yaml) -> bool | None:
    """Whether `include:rules` take the file in: True/False when every `if:` compares two literal strings (what
    an input renders to, e.g. `'"true" == "true"'`), None when a rule depends on CI variables (or is not `if:`).

    Source: GitLab's `include:rules` (doc/ci/yaml/_index.md): the first rule that matches decides, `when: never`
    excludes; when no rule matches, the file is not included."""
    if rules is None:
        return True
    for rule in rules if is_list(rules) else [None]:
        matched = _rule_matches(rule)
        if matched is None:
            return None
        if matched:
            return is_map(rule) and rule.get("when") != "never"
    return False


def _git_root(path: Path) -> Path:
    for parent in path.resolve().parents:
        if (parent / ".git").exists():
            return parent
    return path.resolve().parent


def _check_header_pipeline(doc: Document, report: _Report) -> None:
    for name, definition in doc.inputs.items():
        _check_input(name, definition, report)
    for problem in schema_problems({"spec": (doc.header or {}).get("spec")}, ""):
        where, _, what = problem.partition(": ")
        if not report.has(where):
            report.add(where, what)


def _given_inputs_ok(component: Document, given: Mapping[str, Yaml], where: str, report: _Report) -> bool:
    """Report what GitLab refuses in a consumer's inputs: unknown names, missing mandatory ones, bad values."""
    before = len(report.problems)
    declared = component.inputs
    if component.header is None and given:
        report.add(where, "the component has no `spec:inputs` header, so it takes no inputs")
        return False
    for key in given:
        if key not in declared:
            report.add(where, f"unknown input `{key}`{_suggest(str(key), sorted(declared))}")
    for key, spec in declared.items():
        if "default" not in spec and "rules" not in spec and key not in given:
            report.add(where, f"missing mandatory input `{key}`")
    for key, value in given.items():
        if key in declared:
            for msg in check_value(str(key), declared[key], value):
                report.add(f"{where}.{key}", msg)
    return len(report.problems) == before


# --------------------------------------------------------------------------------------------------------------
# entry points


def is_component(path: Path, doc: Document) -> bool:
    """A component is a file under `templates/` or any file with a header that is not a `.gitlab-ci.yml`."""
    if "templates" in path.resolve().parts[:-1]:
        return True
    return doc.header is not None and path.name != ".gitlab-ci.yml"


@dataclass(frozen=True)
class Result:
    """What checking one file found: `problems` GitLab would refuse, and what could not be checked offline
    (`not checked: <file>: <what>: <reason>` lines)."""

    problems: list[str]
    unchecked: list[str]


def check_path(path: Path, catalog: Catalog | None = None) -> Result:
    """Check the component template or pipeline file at `path`; includes of `catalog` are resolved."""
    report = _Report(path)
    try:
        doc = load_document(path)
    except LoadError as exc:
        where, _, what = str(exc).partition(": ")
        report.add(where, what)
        return Result(report.problems, report.unchecked)
    if is_component(path, doc):
        _check_component(doc, report)
    else:
        _check_pipeline(doc, report, catalog or Catalog())
    return Result(report.problems, report.unchecked)


def validate_path(path: Path, catalog: Catalog | None = None) -> list[str]:
    """Problems in the component template or pipeline file at `path` (`file: where: what`); empty = valid."""
    return check_path(path, catalog).problems


def component_paths(root: Path = ROOT) -> list[Path]:
    """Every component file of a catalog: `templates/<name>.yml` and `templates/<name>/template.yml`."""
    templates = root / "templates"
    return sorted(templates.glob("*.yml")) + sorted(templates.glob("*/template.yml"))


def component_name(path: Path) -> str:
    """The name consumers include a component file by."""
    return path.parent.name if path.name == "template.yml" else path.stem


def default_paths(root: Path = ROOT) -> list[Path]:
    """Every component template and the root pipeline file."""
    pipeline = root / ".gitlab-ci.yml"
    return component_paths(root) + ([pipeline] if pipeline.is_file() else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.validate", description="Check CI files as GitLab does.")
    parser.add_argument("paths", nargs="*", type=Path, help="components or pipeline files (default: all)")
    parser.add_argument(
        "--catalog-path",
        default=CATALOG_PATH,
        metavar="GROUP/PROJECT",
        help=f"the project path consumers include this catalogue by (default: {CATALOG_PATH})",
    )
    parser.add_argument(
        "--catalog-dir",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="the catalogue checkout whose templates/ the included version stands for (default: this one)",
    )
    args = parser.parse_args(argv)
    catalog = Catalog(path=args.catalog_path.strip("/"), root=args.catalog_dir)
    paths: list[Path] = args.paths or default_paths()
    results = [check_path(path, catalog) for path in paths]
    problems = [line for result in results for line in result.problems]
    unchecked = [line for result in results for line in result.unchecked]
    for line in [*problems, *unchecked]:
        print(line)
    print(
        f"{len(paths)} file(s) checked, {len(problems)} problem(s), {len(unchecked)} not checked",
        file=sys.stderr,
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
