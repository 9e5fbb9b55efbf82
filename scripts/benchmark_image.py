"""Benchmark the image-build component: cold build vs warm rebuild after a code-only change, push time, app layers.

Runs the real component in gitlab-ci-local (shell executor) against a local registry with the offline base image:

1. cold: empty buildah storage, empty registry cache;
2. warm (new runner): a code-only commit, empty buildah storage again, layers reused from `<image>/cache`;
3. warm (same runner): another code-only commit with the storage of step 2 kept;
4. push: `buildah push` of the built image to a second, empty registry (every layer), and of the rebuilt image
   after the code change to the same registry (only what changed);
5. size: the image's layers from its manifest, base layers apart from the app's own (venv + code).

Timings on a shared 2-core machine are noisy: the ratios to the cold build of the same run are what to read.

    python -m scripts.benchmark_image [--project DIR --dockerfile FILE --touch FILE] [--storage-driver vfs]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from scripts import local_registry as infra

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
REMOTE = "git@gitlab.example.com:python-ci/catalog.git"
TARGET_WARM_RATIO = 0.25
TARGET_APP_MB = 60.0


@dataclass(frozen=True)
class Project:
    path: Path
    dockerfile: str
    touch: str  # a source file a code-only change edits


def default_project() -> Project:
    return Project(EXAMPLE, "product.Dockerfile", "app/main.py")


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=benchmark", "-c", "user.email=benchmark@python-ci.invalid", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def _ci_yaml(storage_driver: str, ca_bundle: str) -> str:
    inputs = {
        "project_dir": "app",
        "dockerfile": "{dockerfile}",
        "tls_verify": False,
        "storage_driver": storage_driver,
        "build_args": ["BASE_IMAGE"],
        "ca_bundle": ca_bundle,
    }
    entry = {"component": "$CI_SERVER_FQDN/$CI_PROJECT_PATH/image-build@$CI_COMMIT_SHA", "inputs": inputs}
    return json.dumps({"include": [entry]})  # JSON is YAML


def make_repo(dest: Path, project: Project, storage_driver: str, ca_bundle: str) -> Path:
    shutil.copytree(ROOT / "templates", dest / "templates")
    ignore = shutil.ignore_patterns(".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache")
    shutil.copytree(project.path, dest / "app", ignore=ignore)
    (dest / ".gitlab-ci.yml").write_text(
        _ci_yaml(storage_driver, ca_bundle).replace("{dockerfile}", project.dockerfile)
    )
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "remote", "add", "origin", REMOTE)
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "benchmark")
    return dest


def code_change(repo: Path, project: Project, n: int) -> None:
    path = repo / "app" / project.touch
    path.write_text(path.read_text() + f"\n# benchmark code-only change {n}\n")
    _git(repo, "commit", "-q", "-am", f"code change {n}")


@dataclass(frozen=True)
class Build:
    job_s: float  # the whole job as gitlab-ci-local ran it
    build_s: int  # `buildah build`, as the job logged it
    push_s: int  # `buildah push`, as the job logged it
    steps: int  # Dockerfile steps buildah ran or restored
    reused: int  # steps restored from the layer cache ("Using cache")
    dotenv: dict[str, str]


_TIMES = re.compile(r"^image-build: pushed .*; build (\d+) s, push (\d+) s$", re.MULTILINE)
_STEP = re.compile(r"STEP \d+/\d+: ")
_REUSED = re.compile(r"--> Using cache ")


def run_build(repo: Path, registry: infra.Registry, base: str, storage_conf: Path, ca_bundle: str) -> Build:
    """Run the image-build job once."""
    variables = {**registry.variables(), "CI_REGISTRY_IMAGE": f"{registry.host}/bench/app", "BASE_IMAGE": base}
    cmd = ["gitlab-ci-local", "--force-shell-executor", "--shell-isolation", "--no-artifacts-to-source"]
    cmd += ["--color=false", "--json-schema-validation=false"]
    for key, value in variables.items():
        cmd += ["--variable", f"{key}={value}"]
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(ROOT / "node_modules" / ".bin"), os.environ.get("PATH", "")]),
        "CONTAINERS_STORAGE_CONF": str(storage_conf),
        "GCL_IGNORE_PREDEFINED_VARS": "CI_REGISTRY,CI_REGISTRY_IMAGE",
    }
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit("benchmark: the image-build pipeline failed")
    found = list((repo / ".gitlab-ci-local" / "artifacts" / "image-build").rglob("image-build.env"))
    pairs = (line.split("=", 1) for line in found[0].read_text().splitlines() if "=" in line)
    log = (repo / ".gitlab-ci-local" / "output" / "image-build.log").read_text()
    times = _TIMES.search(log)
    if times is None:
        raise SystemExit("benchmark: the job log has no 'build N s, push N s' line")
    steps, reused = len(_STEP.findall(log)), len(_REUSED.findall(log))
    return Build(elapsed, int(times.group(1)), int(times.group(2)), steps, reused, dict(pairs))


def new_storage(parent: Path, name: str, driver: str) -> Path:
    return infra.write_storage_conf(parent / name / "storage.conf", parent / name, driver)


def timed_push(storage_conf: Path, driver: str, ref: str, dest: infra.Registry, tag: str) -> float:
    env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(storage_conf)}
    cmd = ["buildah", "--storage-driver", driver, "push", "--quiet", "--tls-verify=false"]
    cmd += ["--authfile", str(dest.authfile), ref, f"docker://{dest.host}/bench/app:{tag}"]
    started = time.monotonic()
    subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return time.monotonic() - started


@dataclass(frozen=True)
class Layers:
    base_compressed: int
    app_compressed: int
    app_uncompressed: int
    app_count: int


def layer_sizes(registry: infra.Registry, ref: str, base: str, workdir: Path) -> Layers:
    """Compressed sizes from the manifests; the app layers' uncompressed size by reading their blobs."""

    def manifest(image: str) -> list[dict[str, object]]:
        raw = subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", "--authfile", str(registry.authfile),
             f"docker://{image}"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        layers: list[dict[str, object]] = json.loads(raw)["layers"]
        return layers

    base_layers = {str(layer["digest"]) for layer in manifest(base)}
    image_layers = manifest(ref)
    app = [layer for layer in image_layers if str(layer["digest"]) not in base_layers]
    copy = workdir / "image-dir"
    subprocess.run(
        ["skopeo", "copy", "--quiet", "--src-tls-verify=false", "--authfile", str(registry.authfile),
         f"docker://{ref}", f"dir:{copy}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    uncompressed = 0
    for layer in app:
        with gzip.open(copy / str(layer["digest"]).split(":", 1)[1], "rb") as blob:
            while chunk := blob.read(1 << 20):
                uncompressed += len(chunk)
    return Layers(
        base_compressed=sum(int(str(layer["size"])) for layer in image_layers if str(layer["digest"]) in base_layers),
        app_compressed=sum(int(str(layer["size"])) for layer in app),
        app_uncompressed=uncompressed,
        app_count=len(app),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_image", description=__doc__)
    parser.add_argument("--project", type=Path, help="project directory (default: example/)")
    parser.add_argument("--dockerfile", help="Dockerfile inside the project")
    parser.add_argument("--touch", help="source file (inside the project) a code-only change edits")
    parser.add_argument("--storage-driver", default="overlay", choices=["overlay", "vfs"])
    parser.add_argument(
        "--ca-bundle",
        default=os.environ.get("SSL_CERT_FILE", ""),
        help="CA bundle mounted for RUN steps (default: $SSL_CERT_FILE; empty for none)",
    )
    args = parser.parse_args(argv)
    reason = infra.missing_requirements()
    if reason:
        print(f"benchmark_image: cannot run: {reason}", file=sys.stderr)
        return 2
    project = default_project()
    if args.project:
        project = Project(args.project.resolve(), args.dockerfile or "Dockerfile", args.touch or "app.py")
    driver: str = args.storage_driver
    with (
        # Image stores on tmpfs when there is room: this shared machine's disk is the noisiest part otherwise.
        tempfile.TemporaryDirectory(prefix="python-ci-bench-", dir=infra.scratch_dir()) as tmp_name,
        infra.running_registry() as registry,
        infra.running_registry() as empty,
    ):
        tmp = Path(tmp_name)
        base = infra.push_base_image(registry)
        repo = make_repo(tmp / "repo", project, driver, args.ca_bundle)

        cold = run_build(repo, registry, base, new_storage(tmp, "cold", driver), args.ca_bundle)
        code_change(repo, project, 1)
        fresh = new_storage(tmp, "fresh", driver)
        warm_new = run_build(repo, registry, base, fresh, args.ca_bundle)
        code_change(repo, project, 2)
        warm_same = run_build(repo, registry, base, fresh, args.ca_bundle)

        push_all_s = timed_push(fresh, driver, warm_new.dotenv["IMAGE_REF"], empty, "first")
        push_change_s = timed_push(fresh, driver, warm_same.dotenv["IMAGE_REF"], empty, "second")
        sizes = layer_sizes(registry, warm_same.dotenv["IMAGE_REF"], base, tmp)
        for store in ("cold", "fresh"):
            infra.release_storage(tmp / store / "storage.conf")

    print_table(project, driver, (cold, warm_new, warm_same), (push_all_s, push_change_s), sizes)
    return 0


def print_table(
    project: Project, driver: str, builds: tuple[Build, Build, Build], pushes: tuple[float, float], sizes: Layers
) -> None:
    cold, warm_new, warm_same = builds
    mb = 1_000_000
    app_mb = sizes.app_uncompressed / mb
    where = project.path.relative_to(ROOT) if project.path.is_relative_to(ROOT) else project.path

    def row(name: str, run: Build) -> tuple[str, str, str, str, str]:
        ratio = f"{run.build_s / cold.build_s:.2f}"
        return (name, f"{run.build_s} s", ratio, f"{run.job_s:.1f} s", f"{run.reused} of {run.steps}")

    rows = [
        row("cold build", cold),
        row("warm rebuild after a code change, new runner (cache from registry)", warm_new),
        row("warm rebuild after a code change, same runner (local layers)", warm_same),
        ("push in the job (cold / warm same runner)", f"{cold.push_s} s / {warm_same.push_s} s", "", "", ""),
        ("push of every layer to an empty registry", f"{pushes[0]:.1f} s", "", "", ""),
        ("push after a code-only change", f"{pushes[1]:.1f} s", "", "", ""),
        ("base layers (compressed)", f"{sizes.base_compressed / mb:.1f} MB", "", "", ""),
        (f"app layers: {sizes.app_count}, compressed", f"{sizes.app_compressed / mb:.1f} MB", "", "", ""),
        ("app layers (venv + code), uncompressed", f"{app_mb:.1f} MB", "", "", ""),
    ]
    print(f"project {where} ({project.dockerfile}), buildah storage {driver}\n")
    print("| measure | buildah | ratio to cold | whole job | steps from the layer cache |")
    print("|---|---|---|---|---|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print()
    for where_from, run in (("same runner", warm_same), ("new runner, registry cache", warm_new)):
        ok = run.build_s <= TARGET_WARM_RATIO * cold.build_s
        print(f"target warm rebuild <= {TARGET_WARM_RATIO:.0%} of cold ({where_from}): {'met' if ok else 'NOT met'}"
              f" ({run.build_s} s vs cold {cold.build_s} s)")  # fmt: skip
    print(f"target app layers <= {TARGET_APP_MB:.0f} MB: {'met' if app_mb <= TARGET_APP_MB else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main())
