"""The wheelhouse job: pack an offline wheelhouse (pinned requirements, a wheel of every pin for every target and
Python, the project's own wheel or source, SHA256SUMS and install.sh) into one .tar.gz under
`<project_dir>/dist/wheelhouse/`. Never an sdist of a dependency: a missing wheel fails the job with the list."""

from __future__ import annotations

import json
import platform
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from python_ci.job import JobError, checkout_root, flag, project_dir, say, variable
from python_ci.lock_export import LOCK_KINDS, Selection, Uv, export_lock, find_lock
from python_ci.pinned_requirements import parse_pins
from python_ci.platform_tags import PYTHON_RE, TARGET_RE, platforms
from python_ci.project_dist import PROJECT_MODES, build_wheel, copy_source, project_mode
from python_ci.wheel_download import Fetcher, fetch_all
from python_ci.wheelhouse_pack import Manifest, archive, installer, publish, write_contents, write_dotenv

NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$")


def read_list(var: str, pattern: re.Pattern[str], what: str, *, allow_empty: bool) -> list[str]:
    """The array input in job variable `var`, handed over as `json:<array>` (never expanded by the runner), items
    checked one by one against `pattern` so nothing unchecked reaches a command; duplicates dropped, order kept.

    Raises JobError for anything but a list of matching strings, or an empty list unless `allow_empty`."""
    raw = variable(var)
    if not raw.startswith("json:"):
        raise JobError(f"{var} must start with 'json:'")
    try:
        value = json.loads(raw.removeprefix("json:"))
    except json.JSONDecodeError as err:
        raise JobError(f"{what}: not a list of plain words ({err})") from None
    if not isinstance(value, list):
        raise JobError(f"{what}: not a list")
    values = cast("list[object]", value)
    numbers = [item for item in values if isinstance(item, int | float) and not isinstance(item, bool)]
    if numbers:
        # YAML reads an unquoted 3.10 as the number 3.1: refuse it rather than pack for the wrong Python.
        raise JobError(f'{what}: {numbers!r} are numbers, not text; quote every item (e.g. "3.10")')
    items = [item for item in values if isinstance(item, str)]
    if len(items) != len(values):
        raise JobError(f"{what}: not a list of strings")
    bad = [item for item in items if not pattern.match(item)]
    if bad:
        raise JobError(f"{what}: refused {bad!r} (allowed: {pattern.pattern})")
    if not items and not allow_empty:
        raise JobError(f"{what}: give at least one")
    return list(dict.fromkeys(items))


@dataclass(frozen=True)
class Inputs:
    """The component's inputs, checked: see templates/wheelhouse.yml for their meaning."""

    name: str
    targets: list[str]
    pythons: list[str]
    selection: Selection
    lock: str
    requirements: str
    project: str


def read_inputs() -> Inputs:
    """The inputs from their `PYCI_*` job variables. Raises JobError for a value the component's regexes (applied
    by GitLab to strings only) would not have let through."""
    inputs = Inputs(
        name=variable("PYCI_ARTIFACT_NAME"),
        targets=read_list("PYCI_TARGETS", TARGET_RE, "targets", allow_empty=False),
        pythons=read_list("PYCI_PYTHON_VERSIONS", PYTHON_RE, "python_versions", allow_empty=False),
        selection=Selection(
            extras=tuple(read_list("PYCI_EXTRAS", NAME_RE, "extras", allow_empty=True)),
            groups=tuple(read_list("PYCI_GROUPS", NAME_RE, "groups", allow_empty=True)),
            all_extras=flag("PYCI_ALL_EXTRAS"),
            all_groups=flag("PYCI_ALL_GROUPS"),
        ),
        lock=variable("PYCI_LOCK", "auto"),
        requirements=variable("PYCI_REQUIREMENTS_FILE", "requirements.txt"),
        project=variable("PYCI_PROJECT", "auto"),
    )
    if not NAME_RE.match(inputs.name):
        raise JobError(f"artifact name {inputs.name!r} refused")
    for target in inputs.targets:
        platforms(target)
    if inputs.lock not in LOCK_KINDS:
        raise JobError(f"lock must be one of {', '.join(LOCK_KINDS)}, not {inputs.lock!r}")
    if inputs.project not in PROJECT_MODES:
        raise JobError(f"project must be one of {', '.join(PROJECT_MODES)}, not {inputs.project!r}")
    return inputs


def assemble(house: Path, project: Path, root: Path, inputs: Inputs, scratch: Path) -> Manifest:
    """Fill the wheelhouse folder `house`: requirements.txt, wheels/ (every pin's wheels, the workspace members'
    and the project's own), or project/ for a source project, then wheelhouse.json, install.sh and SHA256SUMS.

    Raises JobError when the lock, a download or a build fails."""
    mode = project_mode(project, inputs.project)
    wheels = house / "wheels"
    wheels.mkdir(parents=True)
    lock = find_lock(project, root, inputs.lock, inputs.requirements)
    pinned = house / "requirements.txt"
    members = export_lock(lock, project, root, pinned, uv=Uv(scratch), selection=inputs.selection)
    pins, options = parse_pins(pinned.read_text())
    source = lock.describe(root)
    say("wheelhouse", f"{len(pins)} pins from {source}; targets {inputs.targets}; pythons {inputs.pythons}")
    # The interpreter uv and pip ran on: the image's python3, whatever `.python-version` names.
    say("wheelhouse", f"the job's Python: {platform.python_version()} ({sys.executable})")
    fetch_all(Fetcher(options, wheels, scratch), pins, inputs.targets, inputs.pythons)

    local = [build_wheel(member, wheels, scratch).name for member in members]
    if members:
        say("wheelhouse", f"uv workspace members it depends on go in as wheels: {local}")
    if mode == "wheel":
        local.append(build_wheel(project, wheels, scratch).name)
        shipped = local[-1]
    else:
        shipped = f"project/ ({copy_source(project, house / 'project')} files)"
    say("wheelhouse", f"the project goes in as {mode}: {shipped}")
    stray = [p.name for p in wheels.iterdir() if not p.name.endswith(".whl")]
    if stray:
        raise JobError(f"not wheels, refused: {stray}")
    manifest = Manifest(
        name=inputs.name,
        mode=mode,
        shipped=shipped,
        lock=source,
        targets=inputs.targets,
        python_versions=inputs.pythons,
        extras=list(inputs.selection.extras),
        groups=list(inputs.selection.groups),
        all_extras=inputs.selection.all_extras,
        all_groups=inputs.selection.all_groups,
        wheels=sorted(p.name for p in wheels.iterdir()),
    )
    write_contents(house, manifest, installer(inputs.name, mode, local, inputs.pythons, inputs.targets))
    return manifest


def main(argv: list[str]) -> int:
    """Pack the wheelhouse of `$PYCI_PROJECT_DIR`; 0 when published, JobError (nothing published) otherwise.

    Publishes `dist/wheelhouse/{<name>.tar.gz,<name>.tar.gz.sha256,install.sh}` and `dist/wheelhouse.env` under
    the project, built in temporary folders and moved into place at the end."""
    del argv
    root = checkout_root()
    project = project_dir(root)
    inputs = read_inputs()
    dist = project / "dist"
    out_dir = dist / "wheelhouse"
    dotenv = dist / "wheelhouse.env"
    # A failed run publishes nothing, not even an older wheelhouse of the same checkout.
    shutil.rmtree(out_dir, ignore_errors=True)
    dotenv.unlink(missing_ok=True)
    dist.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wheelhouse-") as tmp:
        # The wheelhouse in a folder of its own: an artifact_name never meets the scratch files beside it.
        house = Path(tmp) / "house" / inputs.name
        manifest = assemble(house, project, root, inputs, Path(tmp))
        # Staged beside its final place (one file system), so publishing is a rename.
        staging = Path(tempfile.mkdtemp(prefix=".wheelhouse-", dir=dist))
        try:
            tarball, digest = archive(house, staging)
            size = tarball.stat().st_size / 1e6
            publish(staging, out_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    published = (out_dir / tarball.name).relative_to(root).as_posix()
    write_dotenv(dotenv, published, digest)
    say("wheelhouse", f"{published} ({len(manifest.wheels)} wheels, {size:.1f} MB)")
    say("wheelhouse", f"sha256 {digest}  (compare it on the far side before installing)")
    return 0
