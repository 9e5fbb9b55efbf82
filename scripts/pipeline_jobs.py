"""The jobs GitLab creates from a merged pipeline configuration, and the rules it checks on them at creation.

Source of the rules: GitLab's `Gitlab::Ci::YamlProcessor` (validate_job_stage!, validate_job_needs!,
validate_job_dependencies!) and `Gitlab::Ci::Config::Normalizer` (parallel and matrix expansion), as documented in
doc/ci/yaml/_index.md (`needs`, `dependencies`, `parallel`, `parallel:matrix`, `extends`):

- `extends` deep-merges the named jobs (hidden or not) into the job, mappings merged, other values replaced,
  at most 11 levels;
- `parallel: N` makes jobs `<name> 1/N` ... `<name> N/N`; `parallel:matrix` makes one job per combination of
  each entry's values, named `<name>: [<value>, <value>]` (values in the entry's key order);
- a `needs` or `dependencies` entry naming a parallel job's base name stands for all its jobs; a name (or a
  `needs:parallel:matrix`) naming a combination the job does not create is an undefined need;
- a needed job must exist (unless `optional: true`) and be in the same or an earlier stage; a job lists a need
  at most once; every job's stage is in `stages` (with `.pre` first and `.post` last).

Rules that depend on `rules:`/`only:` evaluation (a needed job left out of the pipeline by its rules) are checked by
GitLab when it seeds the jobs, from CI variables this module does not have: they are not checked here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

DEFAULT_STAGES = ("build", "test", "deploy")
# Top-level keys that are not jobs (doc/ci/yaml/_index.md "Global keywords"), plus the header's `spec`.
GLOBAL_KEYS = frozenset(
    {
        "default",
        "include",
        "stages",
        "variables",
        "workflow",
        "image",
        "services",
        "before_script",
        "after_script",
        "cache",
        "spec",
        "types",
        "pages:deploy",
    }
)
MAX_EXTENDS_DEPTH = 11


def _is_map(value: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict)


def _is_list(value: object) -> TypeGuard[list[Any]]:
    return isinstance(value, list)


@dataclass(frozen=True)
class Problem:
    """One rule broken: `where` is `<job>.<keyword>`, `what` says what GitLab refuses (its wording)."""

    where: str
    what: str


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """GitLab's deep merge for `extends`: mappings are merged key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        current = out.get(key)
        if _is_map(current) and _is_map(value):
            out[key] = _merge(current, value)
        else:
            out[key] = value
    return out


def resolve_extends(config: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """Every job and hidden job of `config` with its `extends` merged in (name -> definition), and problems."""
    entries = {str(k): v for k, v in config.items() if k not in GLOBAL_KEYS and _is_map(v)}
    problems: list[Problem] = []
    done: dict[str, dict[str, Any]] = {}

    def resolved(name: str, depth: int) -> dict[str, Any]:
        if name in done:
            return done[name]
        job: dict[str, Any] = entries[name]
        parents = job.get("extends")
        names = [parents] if isinstance(parents, str) else parents if _is_list(parents) else []
        merged: dict[str, Any] = {}
        for parent in names:
            parent_name = str(parent)
            if parent_name not in entries:
                problems.append(Problem(f"{name}.extends", f"{name}: unknown key in `extends` ({parent_name})"))
                continue
            if depth >= MAX_EXTENDS_DEPTH:
                problems.append(Problem(f"{name}.extends", f"{name}: nesting too deep in `extends`"))
                continue
            merged = _merge(merged, resolved(parent_name, depth + 1))
        result = _merge(merged, {k: v for k, v in job.items() if k != "extends"})
        done[name] = result
        return result

    for name in entries:
        resolved(name, 0)
    return done, problems


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def matrix_names(name: str, matrix: object) -> list[str]:
    """The job names a `parallel:matrix` list makes: `<name>: [v1, v2]` for each combination, in GitLab's order."""
    names: list[str] = []
    for entry in matrix if _is_list(matrix) else []:
        if not _is_map(entry):
            continue
        axes = [v if _is_list(v) else [v] for v in entry.values()]
        for combination in itertools.product(*axes):
            names.append(f"{name}: [{', '.join(_text(v) for v in combination)}]")
    return names


def instance_names(name: str, job: Mapping[str, Any]) -> list[str]:
    """The names of the jobs GitLab creates for job `name`: one, or one per `parallel` instance or combination."""
    parallel = job.get("parallel")
    if isinstance(parallel, bool):
        return [name]
    if isinstance(parallel, int) and parallel > 1:
        return [f"{name} {i}/{parallel}" for i in range(1, parallel + 1)]
    if _is_map(parallel) and "matrix" in parallel:
        return matrix_names(name, parallel["matrix"]) or [name]
    return [name]


@dataclass(frozen=True)
class _Need:
    names: list[str]  # the instance names this entry asks for (several for a parallel base name)
    label: str  # as written, for messages
    optional: bool


def _needs(entries: object, instances: Mapping[str, list[str]]) -> Iterator[_Need]:
    """The entries of a `needs` or `dependencies` list that name jobs of this pipeline, expanded."""
    for entry in entries if _is_list(entries) else []:
        name: object = entry
        optional = False
        if _is_map(entry):
            if "pipeline" in entry or "project" in entry:
                continue  # another pipeline's job: checked by that pipeline
            name = entry.get("job")
            optional = entry.get("optional") is True
            parallel = entry.get("parallel")
            if isinstance(name, str) and _is_map(parallel) and "matrix" in parallel:
                for variant in matrix_names(name, parallel["matrix"]):
                    yield _Need([variant], variant, optional)
                continue
        if isinstance(name, str) and "$" not in name:  # not a variable (expanded later) nor a `!reference`
            yield _Need(instances.get(name, [name]), name, optional)


@dataclass(frozen=True)
class Pipeline:
    """The merged configuration's jobs (after `extends`), the names GitLab gives their instances, and stages."""

    jobs: dict[str, dict[str, Any]]
    instances: dict[str, list[str]]  # base name -> instance names
    stages: list[str]  # with .pre and .post
    stages_known: bool  # False when `stages` may come from a file that was not read


def build(config: Mapping[str, Any], *, stages_known: bool = True) -> tuple[Pipeline, list[Problem]]:
    """The pipeline GitLab would create from the merged `config` (includes already merged in)."""
    resolved, problems = resolve_extends(config)
    jobs = {name: job for name, job in resolved.items() if not name.startswith(".")}
    instances = {name: instance_names(name, job) for name, job in jobs.items()}
    raw = config.get("stages")
    declared = [str(s) for s in raw] if _is_list(raw) else list(DEFAULT_STAGES)
    stages = [".pre", *[s for s in declared if s not in (".pre", ".post")], ".post"]
    return Pipeline(jobs, instances, stages, stages_known or _is_list(raw)), problems


def _stage_indexes(pipeline: Pipeline) -> tuple[dict[str, int], list[Problem], list[Problem]]:
    """(instance name -> index of its stage, problems, unchecked) for every job's `stage`."""
    stage_of: dict[str, int] = {}
    problems: list[Problem] = []
    unchecked: list[Problem] = []
    for name, job in pipeline.jobs.items():
        stage = job.get("stage", "test")
        if not isinstance(stage, str) or "$" in stage:
            continue
        if stage in pipeline.stages:
            stage_of.update(dict.fromkeys(pipeline.instances[name], pipeline.stages.index(stage)))
        elif pipeline.stages_known:
            available = ", ".join(pipeline.stages)
            problems.append(Problem(f"{name}.stage", f"stage `{stage}` is not in the pipeline's stages ({available})"))
        else:
            unchecked.append(Problem(f"{name}.stage", f"stage `{stage}`: `stages` may come from a file not read"))
    return stage_of, problems, unchecked


def check(pipeline: Pipeline, *, complete: bool = True) -> tuple[list[Problem], list[Problem]]:
    """(problems, unchecked) for stages, `needs` and `dependencies` of every job.

    `complete` False means some included files were not read: a name that is not among the known jobs may be one
    of theirs, so it goes to `unchecked` instead of `problems`."""
    stage_of, problems, unchecked = _stage_indexes(pipeline)
    all_instances = {i for names in pipeline.instances.values() for i in names}
    for name, job in pipeline.jobs.items():
        mine = stage_of.get(pipeline.instances[name][0])
        for keyword, kind in (("needs", "need"), ("dependencies", "dependency")):
            where = f"{name}.{keyword}"
            seen: set[str] = set()
            for need in _needs(job.get(keyword), pipeline.instances):
                for target in need.names:
                    if keyword == "needs" and target in seen:
                        problems.append(Problem(where, f"{name} has the following needs duplicated: {target}"))
                    seen.add(target)
                    theirs = stage_of.get(target)
                    if target not in all_instances and not need.optional:
                        what = f"{name} job: undefined {kind}: {target}{_variants_hint(target, pipeline)}"
                        if complete:
                            problems.append(Problem(where, what))
                        else:
                            unchecked.append(Problem(where, f"{what} (it may be a job of an include not read)"))
                    elif mine is not None and theirs is not None and theirs > mine:
                        what = f"{name} job: {kind} {target} is not defined in current or prior stages"
                        problems.append(Problem(where, what))
    return problems, unchecked


def _variants_hint(target: str, pipeline: Pipeline) -> str:
    """For a name like `pytest: [3.13]`, the jobs `pytest` does create."""
    base, sep, _ = target.partition(": [")
    if not sep:
        base = target.rsplit(" ", 1)[0]
    made = pipeline.instances.get(base)
    if made is None or made == [base]:
        return ""
    return f" (job `{base}` creates: {', '.join(made)})"
