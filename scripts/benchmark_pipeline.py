"""Benchmark the local self-test pipeline: cold cache, warm cache, and the old template's plain-pip way.

    python -m scripts.benchmark_pipeline [--output docs/benchmark.md] [--concurrency N] [--executor docker|shell]
    python -m scripts.benchmark_pipeline --cache-variants [--output docs/benchmark-cache.md]
    python -m scripts.benchmark_pipeline --executors ROUNDS [--output docs/benchmark-executors.md]

`--cache-variants` instead compares, per job and in one run, what each job caches through the components' `cache`
input: nothing (the default), its environment (`.venv`), or uv's download cache (`.cache/uv`); each variant primed
once, then run warm. Each job's overhead counts a GitLab runner's cache transport (scripts/cache_transport.py: the
zip archive of the job's cache paths, made after the job when they changed, extracted before it), in place of
gitlab-ci-local's directory copy. With the docker executor it also times the ways a job can have uv: the default
image with uv in it, the uv binary in the job's cache, and `pip install uv` in an image without it.

`--executors ROUNDS` instead runs the whole pipeline warm with the docker executor (each job in its image, as a
GitLab runner's docker executor runs it) and with the shell executor, alternating, and prints each round's wall
times and the median ratio against the target (docker <= 1.5 x shell).

Runs of gitlab-ci-local (shell executor, shell isolation) on the same copy of the working tree, one after the other
in this process, so the ratios compare like with like on a noisy machine. First, for the per-job split, each job
alone (`--concurrency 1`, as on a runner of its own):

1. cold: the repository's own `.gitlab-ci.yml` with empty job caches (and no inherited UV_CACHE_DIR);
2. warm (twice, before and after the baseline; per job the faster counts): the same pipeline again, starting from
   the caches the previous run saved (as a runner keeps them; the components cache nothing by default);
3. pip baseline: the same tools on example/, each job creating a venv and running `pip install` of the project's
   requirements with no cache (`PIP_NO_CACHE_DIR=1`), as the old single-file template did;
4. the `cache` input keeping each job's `.venv` (`variant_pipeline(..., "venv")`), primed once, then run warm.

Then the pipeline as it normally runs locally, every job of a stage at once, cold and warm, for its wall time (and
the overhead share when the jobs compete for the same cores).

Per job it splits the time into overhead (from the job's start to the tool's first line, its version or the pytest
banner, or else to the last line an installer printed: engine set-up, cache restore, venv, dependency install; plus,
after the script, saving the cache and the artifacts) and the tool's own time (the rest), using the arrival time of
each output line. It prints a markdown table and checks the targets: warm overhead <= 25% of the job time, and warm
installs >= 10x faster than the pip baseline.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scripts import cache_transport
from scripts.cache_transport import Transport
from scripts.containers import DOCKER, default_engine, default_image, stopped_after, template_default, uv_binaries
from scripts.localci import HOST_CA_BUNDLE, ROOT, Executor
from scripts.pipeline import NO_CONTAINERS_VARIABLE, PipelineResult, choose_executor, run_local_pipeline
from scripts.validate import as_map, is_list

# Lines that installers print (uv, pip, the components' own "python-ci environment: <lock> -> <installer>" line).
_INSTALL_LINE = re.compile(
    r"^\s*(python-ci(?: environment)?: .*->|Resolved \d|Prepared \d|Installed \d|Uninstalled \d|Audited \d|"
    r"Downloading |Downloaded |Building |Built |Using CPython|Creating virtual environment|Collecting |"
    r"Installing collected|"
    r"Successfully installed|Requirement already|[+~-] [A-Za-z0-9_.-]+==)"
)
# The first line a tool prints (its version, or the pytest component's banner): everything before it is set-up,
# including installs run with --quiet that print nothing.
_TOOL_START = re.compile(r"^(?:(?:mypy|pyright|ruff) \d+\.\d+|python-ci(?: pytest)?: pytest on )")
COMPARED = ("ruff", "mypy", "pyright", "pytest: [3.11]")
# The per-job runs of the whole pipeline: its helper services (dependency-audit asks the OSV stand-in), the image jobs
# left out by their rules, as when no registry can run (they are measured by scripts/benchmark_image.py).
PYTHON_JOBS_ONLY = {NO_CONTAINERS_VARIABLE: "the benchmark times the Python jobs"}
OVERHEAD_TARGET = 0.25
SPEEDUP_TARGET = 10.0

BASELINE = """\
# The old template's way: every job makes a venv and pip-installs the project's requirements, with no cache.
stages: [test]
.pip:
  variables:
    PIP_NO_CACHE_DIR: "1"
    PIP_DISABLE_PIP_VERSION_CHECK: "1"
  before_script:
    - cd example
    - python3.11 -m venv .venv
    - .venv/bin/pip install -r requirements.txt -r requirements-dev.txt
ruff:
  extends: .pip
  script:
    - .venv/bin/ruff --version
    - .venv/bin/ruff check .
    - .venv/bin/ruff format --check .
mypy:
  extends: .pip
  script:
    - .venv/bin/mypy --version
    - .venv/bin/mypy
pyright:
  extends: .pip
  script:
    - .venv/bin/pyright --version
    - .venv/bin/pyright
pytest:
  extends: .pip
  parallel:
    matrix:
      - PYTHON_VERSION: ["3.11"]
  script:
    - 'echo "python-ci: pytest on $(.venv/bin/python --version)"'
    - .venv/bin/python -m pytest
"""


@dataclass(frozen=True)
class Phases:
    total: float
    overhead: float

    @property
    def tool(self) -> float:
        return self.total - self.overhead


def job_phases(result: PipelineResult) -> dict[str, Phases]:
    """Each job's total time and overhead, from when its lines arrived."""
    names = sorted((job.name for job in result.jobs), key=len, reverse=True)  # `pytest: [3.11]` before `pytest`
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    script_start: dict[str, float] = {}
    installed: dict[str, float] = {}
    tool_start: dict[str, float] = {}
    saved: dict[str, float] = {}  # the engine saves the cache and artifacts after "finished in", as a runner does
    for at, line in result.timeline:
        name = next((n for n in names if line.startswith(f"{n} ")), None)
        if name is None:
            continue
        rest = line[len(name) + 1 :]
        if rest.startswith("starting "):
            start.setdefault(name, at)
        elif rest.startswith("finished in "):
            end[name] = at
        elif name in end and (rest.startswith("cache created") or rest.startswith("exported artifacts")):
            saved[name] = at
        elif rest.startswith("$ "):
            script_start.setdefault(name, at)
        elif rest.startswith("> ") and _TOOL_START.match(rest[2:]):
            tool_start.setdefault(name, at)
        elif rest.startswith("> ") and _INSTALL_LINE.match(rest[2:]) and name not in tool_start:
            installed[name] = at
    phases: dict[str, Phases] = {}
    for name in names:
        if name in start and name in end:
            ready = tool_start.get(name) or installed.get(name) or script_start.get(name, start[name])
            after = max(saved.get(name, end[name]) - end[name], 0.0)
            phases[name] = Phases(end[name] + after - start[name], ready - start[name] + after)
    return phases


def overhead_share(phases: Iterable[Phases]) -> float:
    """Overhead over total time, summed over jobs."""
    jobs = list(phases)
    total = sum(p.total for p in jobs)
    return sum(p.overhead for p in jobs) / total if total else float("nan")


def _run(
    label: str,
    workdir: Path,
    reports: Path,
    *,
    cache: Path | None = None,
    pipeline: str | None = None,
    env: dict[str, str] | None = None,
    concurrency: int = 0,
    executor: tuple[Executor, str] | str = "auto",
    with_services: bool = False,
    variables: dict[str, str] | None = None,
) -> PipelineResult:
    print(f"benchmark: {label} run ...", file=sys.stderr, flush=True)
    limit = {"GCL_CONCURRENCY": str(concurrency)} if concurrency else {}  # gitlab-ci-local's --concurrency
    result = run_local_pipeline(
        ROOT,
        workdir=workdir,
        reports_dir=reports,
        cache_dir=cache,
        pipeline=pipeline,
        env={**limit, **(env or {})},
        echo=False,
        with_services=with_services,
        executor=executor,
        variables=variables,
    )
    failed = [job.name for job in result.jobs if job.status == "FAIL"]
    print(f"benchmark: {label}: {result.wall_seconds:.1f} s, failed jobs: {failed or 'none'}", file=sys.stderr)
    if not result.jobs:
        raise SystemExit(f"benchmark: the {label} run ran no job:\n{result.output[-3000:]}")
    shutil.rmtree(workdir, ignore_errors=True)  # only its timeline is needed; copies of the repo add up on disk
    return result


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


def best(runs: list[PipelineResult]) -> dict[str, Phases]:
    """Per job, the fastest of several runs: on a shared machine the slower ones measured the neighbours."""
    found: dict[str, Phases] = {}
    for run in runs:
        for name, phases in job_phases(run).items():
            if name not in found or phases.total < found[name].total:
                found[name] = phases
    return found


def _variant(label: str, c: dict[str, Phases], w: dict[str, Phases], p: dict[str, Phases]) -> list[str]:
    lines = [
        f"### {label}",
        "",
        "| job | cold total | cold overhead | warm total | warm overhead | warm tool | warm overhead % "
        "| pip overhead | pip / warm overhead |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in sorted(w):
        cold_p, warm_p, pip_p = c.get(name), w[name], p.get(name)
        share = f"{100 * warm_p.overhead / warm_p.total:.0f}%" if warm_p.total else "-"
        ratio = f"{pip_p.overhead / warm_p.overhead:.1f}x" if pip_p and warm_p.overhead > 0 else "-"
        lines.append(
            f"| {name} | {_fmt(cold_p.total if cold_p else None)} | {_fmt(cold_p.overhead if cold_p else None)} "
            f"| {warm_p.total:.1f} | {warm_p.overhead:.1f} | {warm_p.tool:.1f} | {share} "
            f"| {_fmt(pip_p.overhead if pip_p else None)} | {ratio} |"
        )
    compared = [n for n in COMPARED if n in w and n in p]
    overall = overhead_share(w.values())
    warm_install = sum(w[n].overhead for n in compared)
    pip_install = sum(p[n].overhead for n in compared)
    speedup = pip_install / warm_install if warm_install else float("nan")
    return [
        *lines,
        "",
        f"- warm overhead / job time, all jobs: {100 * overall:.0f}% (target <= {100 * OVERHEAD_TARGET:.0f}%): "
        f"{'met' if overall <= OVERHEAD_TARGET else 'MISSED'}",
        f"- install + set-up of {', '.join(compared)}, pip baseline / warm: {pip_install:.1f} s / "
        f"{warm_install:.1f} s = {speedup:.1f}x (target >= {SPEEDUP_TARGET:.0f}x): "
        f"{'met' if speedup >= SPEEDUP_TARGET else 'MISSED'}",
        "",
    ]


def report(
    cold: PipelineResult,
    variants: list[tuple[str, list[PipelineResult]]],
    pip: PipelineResult,
    parallel: list[tuple[str, PipelineResult]],
    *,
    concurrency: int,
    load: str = "",
) -> str:
    """The markdown report: every run's wall time, then per warm variant the per-job split and the targets."""
    c, p = job_phases(cold), job_phases(pip)
    alone = {0: "all at once", 1: "each job alone"}.get(concurrency, f"at most {concurrency} jobs at once")
    lines = [
        f"{os.cpu_count()} CPU(s); 1-minute load average {load}" if load else f"{os.cpu_count()} CPU(s)",
        "",
        "| run | jobs run | wall (s) | jobs | failed | warm overhead share |",
        "|---|---|---:|---:|---|---:|",
    ]
    runs = [("cold caches", cold)]
    runs += [(f"{label} #{i + 1}", run) for label, group in variants for i, run in enumerate(group)]
    rows = [(label, alone, run) for label, run in [*runs, ("pip baseline, no cache", pip)]]
    rows += [(label, "all at once", run) for label, run in parallel]
    for label, mode, run in rows:
        failed = ", ".join(j.name for j in run.jobs if j.status == "FAIL") or "none"
        share = f"{100 * overhead_share(job_phases(run).values()):.0f}%" if label.startswith("warm") else "-"
        lines.append(f"| {label} | {mode} | {run.wall_seconds:.1f} | {len(run.jobs)} | {failed} | {share} |")
    lines += ["", f"Seconds. Per-job columns: {alone}; warm columns: per job, the fastest run of the variant.", ""]
    for label, group in variants:
        lines += _variant(label, c, best(group), p)
    lines += [
        "Overhead = job start to the tool's first line (or the last installer line): engine copy, cache restore, "
        "venv, install; plus saving the cache and artifacts after the script; tool = the rest. With all jobs of a "
        "stage at once, each job's time also includes waiting for the others on the same cores.",
    ]
    return "\n".join(lines)


# --- what each job caches: the environment, uv's cache, or nothing ----------------------------------------

CACHED_JOBS = ("mypy", "pyright", "pytest")  # the components with an environment of the project's (`.venv`)
COMPARED_COMPONENTS = ("ruff", *CACHED_JOBS)
CACHE_VARIANTS = {
    "none": "nothing (the components' default)",
    "venv": "the job's .venv (mypy, pyright, pytest)",
    "uv": "uv's cache (.cache/uv), a fresh .venv each job",
}


def variant_cache(variant: str, component: str, project_dir: str) -> list[dict[str, Any]] | None:
    """The `cache` input that `variant` gives `component` (as README.md gives it), or None: the default, nothing.
    The `.venv` is keyed on the job and the project's two requirements files (the reference service has no lock)."""
    if variant == "uv":
        return [{"key": "$CI_JOB_NAME_SLUG", "paths": [".cache/uv"], "when": "always"}]
    if variant == "venv" and component in CACHED_JOBS:
        files = [f"{project_dir}/requirements.txt", f"{project_dir}/requirements-dev.txt"]
        key = {"files": files, "prefix": "$CI_JOB_NAME_SLUG"}
        return [{"key": key, "paths": [f"{project_dir}/.venv"], "when": "always"}]
    return None


def compared(variant: str, job: str) -> bool:
    """Whether `job` (a job name, `pytest: [3.11]` for a matrix entry) caches something of its own in `variant`."""
    return variant != "venv" or job.partition(":")[0] in CACHED_JOBS


def variant_pipeline(base: str, variant: str) -> str:
    """`base` (the repository's .gitlab-ci.yml) cut to the compared components (`COMPARED_COMPONENTS`: their
    includes, nothing else), each given the `cache` input of `variant` (`variant_cache`)."""
    config = as_map(yaml.safe_load(base))
    includes = config.get("include")
    kept: list[Any] = []
    for entry in includes if is_list(includes) else []:
        found = re.search(r"/([a-z-]+)@", str(as_map(entry).get("component", "")))
        if found is None or found.group(1) not in COMPARED_COMPONENTS:
            continue
        inputs = dict(as_map(as_map(entry).get("inputs")))
        cache = variant_cache(variant, found.group(1), str(inputs.get("project_dir", ".")))
        if cache is not None:
            inputs["cache"] = cache
        kept.append({**as_map(entry), "inputs": inputs})
    out: dict[str, Any] = {key: config[key] for key in ("stages", "variables", "workflow") if key in config}
    out["include"] = kept
    header = f"# benchmark variant: cache {CACHE_VARIANTS[variant]}\n"
    text: str = yaml.safe_dump(out, sort_keys=False)  # pyright: ignore[reportUnknownMemberType]
    return header + text


@dataclass(frozen=True)
class RunnerJob:
    """One job of a warm run with a runner's cache transport in place of gitlab-ci-local's copy."""

    phases: Phases
    transport: Transport
    uploaded: bool  # the cache changed, so the runner zips and uploads it after the job

    @property
    def overhead(self) -> float:
        return self.phases.overhead

    @property
    def total(self) -> float:
        return self.phases.total


def runner_jobs(run: PipelineResult, cache: Path, before: dict[str, str]) -> dict[str, RunnerJob]:
    """Per job of `run`: its phases with the cache copy-in replaced by extracting the runner's archive, plus
    archiving it when the job changed it (`before`: the cache stamps before the run; `cache`: the folders after)."""
    copies = cache_transport.imported(line for _, line in run.timeline)
    after = cache_transport.snapshot(cache)
    found: dict[str, RunnerJob] = {}
    for name, phases in job_phases(run).items():
        names = copies.get(name, {})
        measured = [cache_transport.measure(cache / n) for n in names if (cache / n).is_dir()]
        changed = any(before.get(n) != after.get(n) for n in names)
        total = Transport(
            sum(m.files for m in measured),
            sum(m.raw_bytes for m in measured),
            sum(m.archive_bytes for m in measured),
            sum(m.zip_seconds for m in measured),
            sum(m.unzip_seconds for m in measured),
        )
        extra = total.unzip_seconds + (total.zip_seconds if changed else 0.0) - sum(names.values())
        runner = Phases(phases.total + extra, max(phases.overhead + extra, 0.0))
        found[name] = RunnerJob(runner, total, changed)
    return found


def _mb(size: int) -> str:
    return f"{size / 1e6:.0f}"


def variants_report(results: dict[str, tuple[PipelineResult, dict[str, RunnerJob]]], executor: str) -> list[str]:
    """Markdown rows: per job and variant, the warm time, overhead with the runner's transport, and the archive."""
    lines = [
        f"### What each job caches (warm, {executor} executor, each job alone; runner cache transport counted)",
        "",
        "| job | cached | total | overhead | overhead % | tool | archive MB (files) | zip s | unzip s | uploaded |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    names = sorted({job for _, jobs in results.values() for job in jobs})
    for job in names:
        for variant, (_, jobs) in results.items():
            row = jobs.get(job)
            if row is None or not compared(variant, job):
                continue
            t = row.transport
            share = f"{100 * row.overhead / row.total:.0f}%" if row.total else "-"
            archive = f"{_mb(t.archive_bytes)} ({t.files})" if t.files else "-"
            lines.append(
                f"| {job} | {variant} | {row.total:.1f} | {row.overhead:.1f} | {share} | {row.phases.tool:.1f} "
                f"| {archive} | {t.zip_seconds:.1f} | {t.unzip_seconds:.1f} | {'yes' if row.uploaded else 'no'} |"
            )
    lines += ["", "| cached | wall (s) | failed | overhead share, all jobs (target <= 25%) |", "|---|---:|---|---:|"]
    for variant, (run, jobs) in results.items():
        failed = ", ".join(j.name for j in run.jobs if j.status == "FAIL") or "none"
        overall = overhead_share(j.phases for name, j in jobs.items() if compared(variant, name))
        lines.append(
            f"| {variant}: {CACHE_VARIANTS[variant]} | {run.wall_seconds:.1f} | {failed} | {100 * overall:.0f}% |"
        )
    return lines


# --- getting uv in an image without it ---------------------------------------------------------------------


def _timed_docker(*args: str, env: dict[str, str]) -> float:
    start = time.monotonic()
    done = subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark: docker {' '.join(args[:3])} failed: {done.stderr.strip()[-500:]}")
    return time.monotonic() - start


def uv_install_report(python: str = "3.12", repeat: int = 3) -> list[str]:
    """Median seconds per job, over an empty container's start, for each way a job can have uv, in one run: the
    components' default image (Astral's, uv in it), the uv binary restored from the job's `cache:` (extracting
    its archive) in an image without uv, and `pip install uv` from the index in `python:<python>-slim` (what the
    jobs do when the image has no uv)."""
    env = default_engine().env()
    uv_version = template_default("mypy", "uv_version")
    ca = ["-v", f"{HOST_CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro", "-e", f"PIP_CERT={HOST_CA_BUNDLE}"]
    run = ["run", "--rm", "--network=host", *ca]

    def per_job(image: str, script: str) -> float:
        empty = statistics.median(_timed_docker(*run, image, "sh", "-c", "true", env=env) for _ in range(repeat))
        took = statistics.median(_timed_docker(*run, image, "sh", "-c", script, env=env) for _ in range(repeat))
        return max(took - empty, 0.0)

    slim = f"python:{python}-slim"
    default = default_image("mypy", python)
    with tempfile.TemporaryDirectory(prefix="python-ci-uvbin-") as tmp:
        folder = Path(tmp) / "bin"
        shutil.copytree(uv_binaries(uv_version), folder)
        moved = cache_transport.measure(folder)
    pip = per_job(slim, f"python3 -m pip install -q --root-user-action=ignore uv=={uv_version}")
    return [
        f"### uv in the job (uv {uv_version}; median of {repeat}, seconds per job over an empty container's start)",
        "",
        "| way | per job (s) | moved per job | notes |",
        "|---|---:|---:|---|",
        f"| the default image, `{default}` | {per_job(default, 'uv --version'):.2f} | 0 | uv is in the image "
        "(pulled once per runner host, as any image) |",
        f"| uv and uvx in the job's `cache:` | {moved.unzip_seconds:.2f} | {_mb(moved.archive_bytes)} MB "
        "| extracting the archive (uploaded once) |",
        f"| `pip install uv` in `{slim}` | {pip:.2f} | download | what a job does in an image without uv |",
        "",
    ]


def compare_cache_variants(base: Path, reports: Path, executor: tuple[Executor, str]) -> str:
    """Prime and run warm each variant of `CACHE_VARIANTS` (each job alone); the markdown report."""
    pipeline = (ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8")
    results: dict[str, tuple[PipelineResult, dict[str, RunnerJob]]] = {}
    for variant in CACHE_VARIANTS:
        cache = base / f"cache-{variant}"
        text = variant_pipeline(pipeline, variant)
        if variant != "none":  # nothing cached: every run is the same
            _run(f"{variant}: prime", base / f"{variant}-prime", reports, cache=cache, pipeline=text,
                 concurrency=1, executor=executor)  # fmt: skip
        before = cache_transport.snapshot(cache)
        warm = _run(f"{variant}: warm", base / f"{variant}-warm", reports, cache=cache, pipeline=text,
                    concurrency=1, executor=executor)  # fmt: skip
        results[variant] = (warm, runner_jobs(warm, cache, before))
    kind = executor[0].kind
    lines = [f"{os.cpu_count()} CPU(s); load average {os.getloadavg()[0]:.1f} at the end", ""]
    lines += variants_report(results, kind)
    lines += [
        "",
        "Seconds. Overhead = job start to the tool's first line, plus saving the cache and artifacts; the cache "
        "copy-in of gitlab-ci-local is replaced by extracting a zip of the job's cache paths (deflate level 6), and "
        "the archive time is added when the job changed its cache (a runner skips unchanged uploads).",
        "",
    ]
    if kind == "docker":
        lines += uv_install_report()
    return "\n".join(lines)


# --- the docker executor against the shell executor -------------------------------------------------------

EXECUTOR_TARGET = 1.5  # the warm container pipeline's wall time, at most this many times the shell executor's


def compare_executors(base: Path, reports: Path, rounds: int) -> str:
    """The repository's whole pipeline, warm, with the docker executor (each job in its image) and with the shell
    executor, alternating for `rounds` rounds after one priming run each (separate caches), so both see the same
    load; the markdown report with each round's wall times, the median ratio and the target
    (`EXECUTOR_TARGET`). Raises SystemExit when no engine can run here."""
    docker = choose_executor("docker")
    shell = choose_executor("shell")
    executors = {"docker": docker, "shell": shell}
    for kind, chosen in executors.items():
        _run(f"{kind}: prime", base / f"{kind}-prime", reports, cache=base / f"cache-{kind}", executor=chosen,
             with_services=True)  # fmt: skip
    walls: dict[str, list[float]] = {kind: [] for kind in executors}
    failed: dict[str, list[str]] = {kind: [] for kind in executors}
    for round_ in range(rounds):
        # Alternate which goes first: a load that rises or falls during a round then favours neither.
        order = list(executors) if round_ % 2 == 0 else list(reversed(executors))
        for kind in order:
            # The whole pipeline as `scripts/run-pipeline` runs it: its helper services (the registry for the
            # image jobs, the OSV stand-in) included.
            run = _run(f"{kind}: warm #{round_ + 1}", base / f"{kind}-{round_}", reports,
                       cache=base / f"cache-{kind}", executor=executors[kind], with_services=True)  # fmt: skip
            walls[kind].append(run.wall_seconds)
            failed[kind] += [job.name for job in run.jobs if job.status == "FAIL"]
    ratios = sorted(d / s for d, s in zip(walls["docker"], walls["shell"], strict=True))
    median = ratios[len(ratios) // 2]
    lines = [
        f"{os.cpu_count()} CPU(s); load average {os.getloadavg()[0]:.1f} at the end",
        "",
        "| round | docker executor (s) | shell executor (s) | docker / shell |",
        "|---:|---:|---:|---:|",
    ]
    for i, (d, s_) in enumerate(zip(walls["docker"], walls["shell"], strict=True)):
        lines.append(f"| {i + 1} | {d:.1f} | {s_:.1f} | {d / s_:.2f} |")
    verdict = "met" if median <= EXECUTOR_TARGET and not any(failed.values()) else "MISSED"
    lines += [
        "",
        f"- median docker / shell: {median:.2f} (target <= {EXECUTOR_TARGET}): {verdict}; failed jobs: "
        f"docker {failed['docker'] or 'none'}, shell {failed['shell'] or 'none'}",
    ]
    return "\n".join(lines)


def _comparison(make: Callable[[], str], base: Path, output: Path | None) -> int:
    """Run one comparison (`make` returns its markdown), print it and write it to `output`; `base` is removed."""
    try:
        table = make()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(table, flush=True)
    if output:
        output.write_text(table + "\n", encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The benchmark; an engine it had to start is stopped when it ends (`scripts.containers.stopped_after`)."""
    with stopped_after():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_pipeline", description=__doc__)
    parser.add_argument("--output", type=Path, help="also write the table (markdown) to this file")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="jobs at once in the runs that give the per-job split (default 1: each job alone; 0: all at once)",
    )
    parser.add_argument(
        "--runner-cache", action="store_true", help="also measure a runner-level UV_CACHE_DIR (two more runs)"
    )
    parser.add_argument(
        "--executor", choices=("auto", "docker", "shell"), default="auto", help="gitlab-ci-local executor"
    )
    parser.add_argument(
        "--cache-variants", action="store_true", help="compare caching the .venv, uv's cache and nothing (see above)"
    )
    parser.add_argument(
        "--executors",
        type=int,
        metavar="ROUNDS",
        help="instead: the warm pipeline with the docker and the shell executor, alternating, ROUNDS rounds",
    )
    args = parser.parse_args(argv)
    os.environ.pop("UV_CACHE_DIR", None)  # jobs must use their own `cache:` folders, not a shared host cache
    base = Path(tempfile.mkdtemp(prefix="python-ci-benchmark-"))
    load_before = os.getloadavg()[0]
    if args.executors:
        return _comparison(lambda: compare_executors(base, base / "reports", args.executors), base, args.output)
    executor = choose_executor(args.executor)
    print(f"benchmark: {executor[0].kind} executor ({executor[1]})", file=sys.stderr, flush=True)
    if args.cache_variants:
        return _comparison(lambda: compare_cache_variants(base, base / "reports", executor), base, args.output)
    try:
        cache = base / "cache"
        reports = base / "reports"
        n = args.concurrency

        def whole(label: str, folder: str, cache: Path, concurrency: int = n, **env: str) -> PipelineResult:
            """The repository's pipeline without its image jobs, its helper services started (`PYTHON_JOBS_ONLY`)."""
            return _run(label, base / folder, reports, cache=cache, concurrency=concurrency, executor=executor,
                        with_services=True, variables=PYTHON_JOBS_ONLY, env=env)  # fmt: skip

        cold = whole("cold", "cold", cache)
        warm = [whole("warm #1", "warm1", cache)]
        pip = _run("pip baseline", base / "pip", reports, pipeline=BASELINE, concurrency=n, executor=executor)
        warm.append(whole("warm #2", "warm2", cache))
        variants = [("warm: the components' defaults (nothing cached)", warm)]
        # The opt-in: each type-check and test job keeping its .venv through the `cache` input.
        kept = variant_pipeline((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8"), "venv")
        venv_cache = base / "cache-venv"
        _run("venv cache priming", base / "venv-prime", reports, cache=venv_cache, pipeline=kept, concurrency=n,
             executor=executor)  # fmt: skip
        venv = [_run("venv cache", base / "venv", reports, cache=venv_cache, pipeline=kept, concurrency=n,
                     executor=executor)]  # fmt: skip
        variants.append(("warm: the `cache` input keeping each job's .venv", venv))
        if args.runner_cache:
            # A runner that keeps UV_CACHE_DIR on a persistent volume: the components use it as it is.
            runner_cache = str(base / "runner-uv-cache")
            whole("runner cache priming", "prime", cache, UV_CACHE_DIR=runner_cache)
            runner = [whole("runner cache", "runner", cache, UV_CACHE_DIR=runner_cache)]
            variants.append(("warm: a runner-level UV_CACHE_DIR (kept whole)", runner))
        parallel: list[tuple[str, PipelineResult]] = []
        if n != 0:
            # The pipeline as it runs by default, every job of a stage at once: its own caches, from empty.
            together = base / "cache-parallel"
            parallel.append(("cold caches", whole("cold, all at once", "pcold", together, concurrency=0)))
            parallel.append(("warm caches", whole("warm, all at once", "pwarm", together, concurrency=0)))
        load = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
        table = report(cold, variants, pip, parallel, concurrency=n, load=load)
        print(table, flush=True)
        if args.output:
            args.output.write_text(table + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
