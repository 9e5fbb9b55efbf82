"""Run this repository's own `.gitlab-ci.yml` locally, as GitLab would run it, and summarise the jobs.

    python -m scripts.pipeline [--tag v1.2.3] [--job NAME ...] [--needs] [--variable K=V ...] [--keep]

(`scripts/run-pipeline` is the same after the idempotent set-up.) Steps:

1. copy the working tree (tracked files plus untracked files that are not git-ignored, i.e. what you would commit)
   into a temporary git repository whose `origin` is the catalogue's project (`CATALOG_REMOTE`), so the
   `$CI_SERVER_FQDN/$CI_PROJECT_PATH/<name>@$CI_COMMIT_SHA` includes resolve to the templates being tested;
2. start helper services: each `scripts/<hook>.py` named in `SERVICE_HOOKS` that exists, and that the pipeline
   needs, is started (e.g.
   `python -m scripts.local_registry up --dir DIR`) and prints `NAME=VALUE` lines, passed to the pipeline as
   `--variable NAME=VALUE` (CI_REGISTRY of a local registry, ...); its stop command runs at the end;
3. run gitlab-ci-local with `PYTHON_CI_LOCAL=1` (jobs that must not run locally, the catalogue's own test suite
   which would run this pipeline again, have a rule on that variable). By default with its docker executor, each
   job in its `image:` as a GitLab runner runs it, on the local engine and stand-in images of
   `scripts/containers.py` (host network, the host's CA bundle, `--privileged` when the image build runs, as on a
   privileged runner); with the shell executor (shell isolation) when `--shell` is given or no engine can run here
   (the summary says which executor ran, and why);
4. when the local registry ran and image-build pushed, smoke-check the pushed image (`python -m
   scripts.local_registry check`: its labels name the commit, it starts, /livez and /version answer) before the
   registry stops;
5. copy each job's artifacts, its declared report files and its log to `reports/<job>/` (git-ignored), print a
   table (job, status, duration, reports), the image and the smoke check, and exit 1 if a job or the check failed.

When a service cannot run here (the registry needs root, buildah and skopeo), the pipeline runs without the jobs
that need it (their rules test `PYTHON_CI_NO_CONTAINERS`) and the summary lists them as skipped, with the reason.

The jobs' `cache:` folders are kept in `.cache/pipeline/<executor>/` between runs, as a runner keeps them between
pipelines (`--cold` starts from empty caches). A cache made on the host's shell holds environments that point at
the host's interpreters, so each executor keeps its own.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scripts.containers import ready, stopped_after
from scripts.local_registry import release_storage, scratch_dir, write_storage_conf
from scripts.localci import (
    HOST_CA_BUNDLE,
    ROOT,
    SHELL,
    Executor,
    clone_repo,
    copy_worktree,
    engine_command,
    engine_env,
    git,
    hide_secrets,
    init_repo,
    is_clean,
    parse_coverage,
    parse_durations,
    parse_statuses,
    safe_job_name,
    slug,
    strip_ansi,
)
from scripts.validate import as_map, is_list, is_map

LOCAL_VARIABLE = "PYTHON_CI_LOCAL"
# The jobs' `cache:` between local runs, as a GitLab runner keeps it between pipelines (git-ignored).
CACHE_DIR = ROOT / ".cache" / "pipeline"
# scripts/<hook>.py -> (start arguments, stop arguments, pattern): the hook starts only when the pipeline file
# matches the pattern. `{dir}` is the hook's own state folder. Start prints NAME=VALUE lines (pipeline variables);
# exit code 2 means "cannot run on this machine": the pipeline goes on without that service (the jobs that need it
# then fail and say why).
SERVICE_HOOKS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "local_registry": (("up", "--dir", "{dir}"), ("down", "{dir}"), r"/image-(?:build|push)@"),
    # No internet here: dependency-audit asks an OSV-compatible stand-in (tests/fixtures/osv) via PIP_AUDIT_OSV_URL.
    "osv_mirror": (("up", "--dir", "{dir}"), ("down", "{dir}"), r"/dependency-audit@"),
}
HOOK_CANNOT_RUN = 2
# Set (to the reason) when the registry cannot run: the image jobs' rules in .gitlab-ci.yml leave them out.
NO_CONTAINERS_VARIABLE = "PYTHON_CI_NO_CONTAINERS"
IMAGE_JOBS = ("image-build", "image-push")
# An anonymous volume per job container at buildah's default store (removed with the container).
BUILDAH_VOLUME = "/var/lib/containers"
STATE_DIR = ".gitlab-ci-local"
_VAR = re.compile(r"\$(?:\{(?P<braced>\w+)\}|(?P<plain>\w+))")
_MATRIX_SUFFIX = re.compile(r": \[[^\]]*\]$")


@dataclass
class JobResult:
    name: str
    status: str
    seconds: float | None
    coverage: float | None = None
    folder: Path | None = None  # reports/<job>/ when anything was collected
    reports: list[str] = field(default_factory=list[str])  # declared report files found, relative to `folder`


@dataclass
class PipelineResult:
    returncode: int
    jobs: list[JobResult]
    output: str
    wall_seconds: float
    repo: Path
    # When each output line arrived (seconds since the engine started): jobs' phases for the benchmark.
    timeline: list[tuple[float, str]] = field(default_factory=list[tuple[float, str]])
    smoke: SmokeCheck | None = None  # the pushed image's check, when the local registry ran and image-build pushed
    skipped: dict[str, str] = field(default_factory=dict[str, str])  # job -> why it was left out of this run
    executor: Executor = SHELL
    executor_note: str = ""  # why this executor ran (the shell executor's fallback reason)

    @property
    def ok(self) -> bool:
        smoke_ok = self.smoke is None or self.smoke.ok
        return self.returncode == 0 and all(j.status != "FAIL" for j in self.jobs) and smoke_ok


def tag_variables(tag: str) -> dict[str, str]:
    """What GitLab predefines differently in a tag pipeline (gitlab-ci-local only knows branches)."""
    return {
        "CI_COMMIT_TAG": tag,
        "CI_COMMIT_REF_NAME": tag,
        "CI_COMMIT_REF_SLUG": re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")[:63],
        "CI_COMMIT_BRANCH": "",
    }


def prepare_repo(root: Path, dest: Path, tag: str | None = None, pipeline: str | None = None) -> str:
    """A committed copy of `root`'s working tree at `dest` with the catalogue's origin (and `pipeline` as its
    `.gitlab-ci.yml` when given); returns the SHA. A clean working tree is cloned, so the run (and the image's
    revision label) has the source's own commit; otherwise a snapshot commit holds the uncommitted changes."""
    dest.mkdir(parents=True, exist_ok=True)
    if pipeline is None and is_clean(root):
        sha = clone_repo(root, dest)
    else:
        copy_worktree(root, dest)
        if pipeline is not None:
            (dest / ".gitlab-ci.yml").write_text(pipeline, encoding="utf-8")
        sha = init_repo(dest, message="local pipeline: working tree")
    if tag:
        git(dest, "tag", tag)
    return sha


@dataclass
class Services:
    printed: dict[str, dict[str, str]] = field(default_factory=dict[str, dict[str, str]])  # hook -> its NAME=VALUE
    unavailable: dict[str, str] = field(default_factory=dict[str, str])  # hook -> why it cannot run here

    @property
    def variables(self) -> dict[str, str]:
        """The pipeline variables the started hooks give: the local registry's mapped by `registry_variables`,
        the others' as printed."""
        out: dict[str, str] = {}
        for printed in self.printed.values():
            out |= registry_variables(printed) if "LOCAL_REGISTRY_DIR" in printed else printed
        return out


@dataclass
class SmokeCheck:
    ref: str
    digest: str
    ok: bool
    lines: list[str]


def registry_variables(printed: Mapping[str, str]) -> dict[str, str]:
    """The pipeline variables for the local registry from what `local_registry up` printed: GitLab's registry
    variables, the example's build arguments, and the local-only settings of the image components (pipeline
    variables override a job's own variables; on GitLab those keep their verified-TLS, portable defaults)."""
    registry = printed["CI_REGISTRY"]
    password = Path(printed["CI_REGISTRY_PASSWORD_FILE"]).read_text(encoding="utf-8").strip()
    out = {
        "CI_REGISTRY": registry,
        "CI_REGISTRY_USER": printed["CI_REGISTRY_USER"],
        "CI_REGISTRY_PASSWORD": password,
        "CI_REGISTRY_IMAGE": f"{registry}/python-ci/example",
        "IMAGE_CA_BUNDLE": HOST_CA_BUNDLE,
        # The local registry speaks plain HTTP on 127.0.0.1.
        "IMAGE_BUILD_TLS_VERIFY": "false",
        "IMAGE_PUSH_TLS_VERIFY": "false",
    }
    # The runner's host kernel has overlayfs; vfs (the portable default) copies every layer (minutes per build
    # here). In a container the store gets a volume of its own (`BUILDAH_VOLUME`): overlayfs cannot stack on the
    # container's own overlay root.
    out["IMAGE_BUILD_STORAGE_DRIVER"] = "overlay"
    if printed.get("BASE_IMAGE"):
        out["BASE_IMAGE"] = printed["BASE_IMAGE"]
    return out


@contextmanager
def services(
    root: Path, state: Path, pipeline: str, enabled: bool = True, jobs: Sequence[str] = ()
) -> Generator[Services]:
    """Start the helper services whose hooks exist and that `pipeline` (the file's text) needs, and, when `jobs`
    names the jobs to run, that one of them needs; yield what they print and the reasons of those that cannot run
    here; stop them afterwards."""
    started: list[tuple[str, list[str]]] = []
    result = Services()
    try:
        for hook, (start_args, stop_args, needed_if) in SERVICE_HOOKS.items() if enabled else ():
            if not (root / "scripts" / f"{hook}.py").is_file() or not re.search(needed_if, pipeline):
                continue
            if jobs and not any(re.search(needed_if, f"/{_MATRIX_SUFFIX.sub('', job)}@") for job in jobs):
                continue
            hook_dir = str(state / hook)
            module = [sys.executable, "-m", f"scripts.{hook}"]
            start = [*module, *(a.replace("{dir}", hook_dir) for a in start_args)]
            print(f"pipeline: starting {hook}", file=sys.stderr, flush=True)
            done = subprocess.run(start, cwd=root, capture_output=True, text=True, check=False, env=engine_env())
            if done.returncode == HOOK_CANNOT_RUN:
                reason = done.stderr.strip().removeprefix(f"{hook}: ").removeprefix("cannot run: ")
                print(f"pipeline: {hook} not started: {reason}", file=sys.stderr)
                result.unavailable[hook] = reason
                continue
            if done.returncode != 0:
                raise RuntimeError(f"service hook {hook} failed to start:\n{done.stdout}{done.stderr}")
            started.append((hook, [*module, *(a.replace("{dir}", hook_dir) for a in stop_args)]))
            printed = result.printed.setdefault(hook, {})
            for line in done.stdout.splitlines():
                key, sep, value = line.partition("=")
                if sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                    printed[key] = value
        yield result
    finally:
        for _hook, stop in reversed(started):
            subprocess.run(stop, cwd=root, capture_output=True, text=True, check=False, env=engine_env())


def run_engine(
    repo: Path,
    *,
    jobs: Sequence[str] = (),
    needs: bool = False,
    variables: Mapping[str, str] | None = None,
    echo: bool = True,
    timestamps: bool = False,
    env: Mapping[str, str] | None = None,
    executor: Executor = SHELL,
) -> tuple[int, list[tuple[float, str]], float]:
    """Run gitlab-ci-local in `repo`, streaming its output when `echo`; (exit code, timed lines, wall seconds)."""
    all_vars = {LOCAL_VARIABLE: "1", **(variables or {})}
    args = [*(["--needs"] if needs else []), *jobs]
    cmd = engine_command(*args, variables=hide_secrets(repo, all_vars), timestamps=timestamps, executor=executor)
    # Overriding predefined variables (a tag pipeline) is deliberate here: silence gitlab-ci-local's warning.
    quiet = {"GCL_IGNORE_PREDEFINED_VARS": ",".join(k for k in all_vars if k.startswith("CI_"))}
    start = time.monotonic()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        cmd,
        cwd=repo,
        env=engine_env({**quiet, **executor.env(), **(env or {})}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic() - start, strip_ansi(line.rstrip("\n"))))
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()
        code = proc.wait()
    return code, lines, time.monotonic() - start


def _expanded_jobs(repo: Path) -> dict[str, Any]:
    path = repo / STATE_DIR / "expanded-gitlab-ci.yml"
    if not path.is_file():
        return {}
    return as_map(yaml.safe_load(path.read_text(encoding="utf-8")))


def _expand(text: str, variables: Mapping[str, str]) -> str:
    """`$VAR` / `${VAR}` from `variables`; an unknown variable becomes `*` so the path can still be globbed."""
    return _VAR.sub(lambda m: variables.get(m.group("braced") or m.group("plain") or "", "*"), text)


def _report_paths(config: Mapping[str, Any], job: str) -> list[str]:
    """The `artifacts:reports` file patterns job `job` declares (matrix jobs use their base job's)."""
    definition = as_map(config.get(job)) or as_map(config.get(_MATRIX_SUFFIX.sub("", job)))
    variables = {str(k): str(v) for k, v in as_map(config.get("variables")).items()}
    for key, value in as_map(definition.get("variables")).items():
        variables[key] = str(as_map(value).get("value", "") if is_map(value) else value)
    variables["CI_PROJECT_DIR"] = "."
    found: list[str] = []
    for kind, value in as_map(as_map(definition.get("artifacts")).get("reports")).items():
        if kind == "dotenv":
            continue  # gitlab-ci-local exports dotenv reports itself (.gitlab-ci-reports/dotenv/)
        paths = as_map(value).get("path") if kind == "coverage_report" else value
        for item in paths if is_list(paths) else [paths]:
            if isinstance(item, str):
                found.append(_expand(item, variables).removeprefix("./"))
    return found


def collect_reports(repo: Path, jobs: Sequence[str], dest: Path) -> dict[str, tuple[Path, list[str]]]:
    """Copy each job's artifacts, declared reports and log from the engine's state into `dest/<job>/`."""
    if dest.exists():
        shutil.rmtree(dest)
    config = _expanded_jobs(repo)
    state = repo / STATE_DIR
    collected: dict[str, tuple[Path, list[str]]] = {}
    for job in jobs:
        folder = dest / slug(job)
        safe = safe_job_name(job)
        artifacts = state / "artifacts" / safe
        if artifacts.is_dir():
            shutil.copytree(artifacts, folder, dirs_exist_ok=True, symlinks=True)
        build = state / "builds" / safe
        reports: list[str] = []
        for pattern in _report_paths(config, job):
            for found in sorted(build.glob(pattern)) if build.is_dir() else []:
                if found.is_file():
                    rel = found.relative_to(build)
                    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(found, folder / rel)
                    reports.append(str(rel))
        log = state / "output" / f"{safe}.log"
        if log.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "job.log").write_text(strip_ansi(log.read_text(encoding="utf-8", errors="replace")))
        if folder.is_dir():
            collected[job] = (folder, reports)
    return collected


def read_dotenv(repo: Path, name: str) -> dict[str, str]:
    """The NAME=VALUE lines of the dotenv report file `name` a job of the run in `repo` wrote (empty if none)."""
    for path in sorted((repo / STATE_DIR).rglob(name)):
        lines = path.read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)
    return {}


def smoke_check(
    root: Path, registry_dir: str, pushed: Mapping[str, str], *, revision: str, env: Mapping[str, str]
) -> SmokeCheck:
    """`local_registry check` on the pushed image: labels name `revision`, the image serves /livez and /version."""
    # The service refuses to start in production without a real token; any 40 characters do for the check.
    token = secrets.token_hex(20)
    ref = pushed["IMAGE_REF"]
    cmd = [sys.executable, "-m", "scripts.local_registry", "check", registry_dir, ref, "--revision", revision,
           "--env", f"X_TOKEN={token}"]  # fmt: skip
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False, env=engine_env(env))
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return SmokeCheck(ref, pushed.get("IMAGE_DIGEST", "?"), done.returncode == 0, lines)


def _storage_env(state: Path) -> dict[str, str]:
    """Keep the image jobs' buildah storage in a throw-away folder (tmpfs when it has room), never the host's."""
    storage = Path(tempfile.mkdtemp(prefix="python-ci-storage-", dir=scratch_dir()))
    conf = write_storage_conf(state / "storage.conf", storage)
    return {"CONTAINERS_STORAGE_CONF": str(conf)}


def _drop_storage(env: Mapping[str, str]) -> None:
    conf = env.get("CONTAINERS_STORAGE_CONF")
    if not conf:
        return
    release_storage(Path(conf))
    graph = re.search(r'graphroot = "([^"]+)/graph"', Path(conf).read_text(encoding="utf-8"))
    if graph:
        shutil.rmtree(graph.group(1), ignore_errors=True)


def run_local_pipeline(
    root: Path = ROOT,
    *,
    tag: str | None = None,
    jobs: Sequence[str] = (),
    needs: bool = False,
    variables: Mapping[str, str] | None = None,
    reports_dir: Path | None = None,
    workdir: Path | None = None,
    echo: bool = True,
    timestamps: bool = False,
    with_services: bool = True,
    env: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
    pipeline: str | None = None,
    executor: str | tuple[Executor, str] = "shell",
) -> PipelineResult:
    """Run `root`'s pipeline in a fresh copy at `workdir` (a new temporary folder by default) and collect the
    results. With `cache_dir`, the jobs' `cache:` folders start from it and are saved back to it afterwards.

    `executor`: `docker` (each job in its image; RuntimeError when no engine can run here), `shell`, or `auto`
    (docker where the engine runs, else shell; `PipelineResult.executor_note` says why), or the (executor, note)
    `choose_executor` returned."""
    chosen, note = choose_executor(executor) if isinstance(executor, str) else executor
    workdir = workdir or Path(tempfile.mkdtemp(prefix="python-ci-pipeline-"))
    prepare_repo(root, workdir, tag, pipeline)
    engine_cache = workdir / STATE_DIR / "cache"
    if cache_dir is not None and cache_dir.is_dir():
        shutil.copytree(cache_dir, engine_cache, dirs_exist_ok=True, symlinks=True)
    all_vars = {**(tag_variables(tag) if tag else {}), **(variables or {})}
    pipeline_text = (workdir / ".gitlab-ci.yml").read_text(encoding="utf-8")
    state = workdir.parent / f"{workdir.name}-services"
    smoke: SmokeCheck | None = None
    skipped: dict[str, str] = {}
    storage: dict[str, str] = {}
    # A selection of jobs (without --needs) starts only the services those jobs need.
    with services(root, state, pipeline_text, with_services, jobs=() if needs else jobs) as started:
        service_vars = started.variables
        registry = started.printed.get("local_registry", {})
        if "LOCAL_REGISTRY_DIR" in registry:
            storage = _storage_env(state)
            if chosen.kind == "docker":
                # buildah in a container needs what a privileged runner gives (docs: README, image-build), and its
                # image store a volume, as a runner's `volumes` setting gives it.
                chosen = Executor("docker", chosen.docker_host, privileged=True, volumes=(BUILDAH_VOLUME,))
        reason = started.unavailable.get("local_registry")
        if not with_services and re.search(SERVICE_HOOKS["local_registry"][2], pipeline_text):
            reason = "helper services disabled (--no-services): no local registry"
        if reason:
            service_vars[NO_CONTAINERS_VARIABLE] = reason
            selected = [job for job in IMAGE_JOBS if not jobs or needs or job in jobs]
            skipped = {job: reason for job in selected if f"/{job}@" in pipeline_text}
        try:
            code, timeline, wall = run_engine(
                workdir,
                jobs=jobs,
                needs=needs,
                variables={**service_vars, **all_vars},
                echo=echo,
                timestamps=timestamps,
                env={**storage, **(env or {})},
                executor=chosen,
            )
            pushed = read_dotenv(workdir, "image-build.env")
            if "LOCAL_REGISTRY_DIR" in registry and pushed.get("IMAGE_REF"):
                revision = git(workdir, "rev-parse", "HEAD").strip()
                print(f"pipeline: smoke-checking {pushed['IMAGE_REF']}", file=sys.stderr, flush=True)
                registry_dir = registry["LOCAL_REGISTRY_DIR"]
                smoke = smoke_check(root, registry_dir, pushed, revision=revision, env=storage)
        finally:
            _drop_storage(storage)
    if cache_dir is not None and engine_cache.is_dir():
        shutil.rmtree(cache_dir, ignore_errors=True)
        shutil.copytree(engine_cache, cache_dir, symlinks=True)
    output = "\n".join(line for _, line in timeline)
    statuses = parse_statuses(output)
    durations = parse_durations(output)
    coverage = parse_coverage(output)
    collected = collect_reports(workdir, list(statuses), reports_dir or root / "reports")
    results: list[JobResult] = []
    for name, status in statuses.items():
        folder, reports = collected.get(name, (None, list[str]()))
        results.append(JobResult(name, status, durations.get(name), coverage.get(name), folder, reports))
    return PipelineResult(code, results, output, wall, workdir, timeline, smoke, skipped, chosen, note)


def choose_executor(wanted: str) -> tuple[Executor, str]:
    """The executor for `wanted` (`docker`, `shell` or `auto`) and a note on the choice. The docker executor
    needs the local engine and the stand-in images (`scripts.containers.ready`, which starts and builds them)."""
    if wanted == "shell":
        return SHELL, "shell executor requested"
    engine, why_not = ready()
    if engine is not None:
        return Executor("docker", engine.host), f"engine {engine.host}"
    if wanted == "docker":
        raise RuntimeError(f"docker executor requested, but the engine cannot run here: {why_not}")
    return SHELL, f"no container engine here ({why_not}): fell back to the shell executor"


def summary(result: PipelineResult, root: Path = ROOT) -> str:
    """The table printed after a run."""
    rows = [("Job", "Status", "Duration", "Reports")]
    for job in result.jobs:
        where = "-"
        if job.folder is not None:
            try:
                where = f"{job.folder.relative_to(root)}/"
            except ValueError:
                where = f"{job.folder}/"
            if job.reports:
                where += f" ({', '.join(job.reports)})"
        seconds = f"{job.seconds:.1f} s" if job.seconds is not None else "-"
        status = f"{job.status} {job.coverage:g}%" if job.coverage is not None else job.status
        rows.append((job.name, status, seconds, where))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}" for r in rows]
    lines.insert(1, "-" * max(len(line) for line in lines))
    runner = result.executor
    mode = "docker (each job in its image" + (", privileged" if runner.privileged else "") + ")"
    lines.append(f"executor: {mode if runner.kind == 'docker' else 'shell'}; {result.executor_note}")
    for skipped, reason in result.skipped.items():
        lines.append(f"{skipped}: SKIPPED, not run here: {reason}")
    if result.smoke is not None:
        check = result.smoke
        lines.append(f"image: {check.ref} ({check.digest})")
        lines.append(f"smoke check: {'passed' if check.ok else 'FAILED'}")
        lines.extend(f"  {line}" for line in check.lines)
    verdict = "pipeline passed" if result.ok else f"pipeline FAILED (gitlab-ci-local exit {result.returncode})"
    lines.append(f"{verdict}: {len(result.jobs)} job(s) in {result.wall_seconds:.1f} s")
    if not result.jobs:
        lines.append("no job ran: see the output above (configuration errors are printed there)")
    return "\n".join(lines)


def _pairs(values: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"--variable needs NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    """The main command; an engine it had to start is stopped when it ends (`scripts.containers.stopped_after`)."""
    with stopped_after():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.pipeline", description="Run .gitlab-ci.yml locally.")
    parser.add_argument("--tag", help="simulate a tag pipeline (sets CI_COMMIT_TAG, e.g. v1.2.3 or 1.2.3)")
    parser.add_argument("--job", action="append", default=[], help="run only this job (repeatable)")
    parser.add_argument("--needs", action="store_true", help="with --job: also run the jobs it needs")
    parser.add_argument("--variable", action="append", default=[], metavar="NAME=VALUE", help="extra CI variable")
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository (its path is printed)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument("--no-services", action="store_true", help="do not start the helper services")
    parser.add_argument("--reports-dir", type=Path, default=ROOT / "reports", help="where job reports go")
    parser.add_argument("--cold", action="store_true", help=f"start with empty job caches (clears {CACHE_DIR})")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--shell", action="store_true", help="shell executor (default: docker where an engine runs)")
    where.add_argument("--docker", action="store_true", help="docker executor, or fail when no engine can run")
    args = parser.parse_args(argv)
    try:
        executor = choose_executor("shell" if args.shell else "docker" if args.docker else "auto")
    except RuntimeError as err:
        print(f"pipeline: {err}", file=sys.stderr)
        return 1
    cache = CACHE_DIR / executor[0].kind
    if args.cold:
        shutil.rmtree(cache, ignore_errors=True)
    workdir = Path(tempfile.mkdtemp(prefix="python-ci-pipeline-"))
    try:
        result = run_local_pipeline(
            tag=args.tag,
            jobs=args.job,
            needs=args.needs,
            variables=_pairs(args.variable),
            workdir=workdir,
            reports_dir=args.reports_dir,
            cache_dir=cache,
            echo=not args.quiet,
            executor=executor,
            with_services=not args.no_services,
        )
        print()
        print(summary(result, ROOT))
        if args.keep:
            print(f"repository kept: {workdir}")
        return 0 if result.ok and result.jobs else 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
            shutil.rmtree(workdir.parent / f"{workdir.name}-services", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
