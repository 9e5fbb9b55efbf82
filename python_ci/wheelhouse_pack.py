"""Pack a wheelhouse folder into what the job publishes: install.sh, SHA256SUMS, the .tar.gz and its .sha256,
written to a staging folder and moved into place only when complete, so no partial wheelhouse is ever published."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path

INSTALLER = Path(__file__).with_name("wheelhouse_install.sh")


@dataclass(frozen=True)
class Manifest:
    """What `wheelhouse.json` records: `mode` is wheel or source, `shipped` what of the project went in."""

    name: str
    mode: str
    shipped: str
    lock: str
    targets: list[str]
    python_versions: list[str]
    extras: list[str]
    groups: list[str]
    all_extras: bool
    all_groups: bool
    wheels: list[str]

    def json(self) -> str:
        """The manifest as indented JSON; `project` groups mode and shipped."""
        data = asdict(self)
        project = {"mode": data.pop("mode"), "shipped": data.pop("shipped")}
        return json.dumps({"name": data.pop("name"), "project": project, **data}, indent=2) + "\n"


def sha256(path: Path) -> str:
    """The SHA-256 of the file at `path`, as 64 lower-case hex digits."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def installer(name: str, mode: str, local_wheels: list[str], pythons: list[str], targets: list[str]) -> str:
    """install.sh for this wheelhouse: the template with its `@...@` placeholders filled. `local_wheels` are the
    wheels pip installs with `--no-deps` after the pins (the project's own and its workspace members')."""
    return (
        INSTALLER.read_text()
        .replace("@ARCHIVE_ROOT@", name)
        .replace("@PROJECT_MODE@", mode)
        .replace("@LOCAL_WHEELS@", " ".join(local_wheels))
        .replace("@PYTHONS@", " ".join(pythons))
        .replace("@TARGETS@", " ".join(targets))
    )


def write_contents(root: Path, manifest: Manifest, script: str) -> None:
    """Add `wheelhouse.json`, an executable `install.sh` and `SHA256SUMS` (`sha256sum -c` format, every file,
    paths relative to `root`) to the wheelhouse folder `root`."""
    (root / "wheelhouse.json").write_text(manifest.json())
    (root / "install.sh").write_text(script)
    (root / "install.sh").chmod(0o755)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    (root / "SHA256SUMS").write_text("".join(f"{sha256(p)}  {p.relative_to(root).as_posix()}\n" for p in files))


def archive(root: Path, staging: Path) -> tuple[Path, str]:
    """`staging/<name>.tar.gz` of `root` (top folder `<name>` = root's name), its `.sha256` file and a copy of
    `install.sh` beside it. Returns the archive's path and its SHA-256."""
    tarball = staging / f"{root.name}.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(root, arcname=root.name)
    digest = sha256(tarball)
    (staging / f"{tarball.name}.sha256").write_text(f"{digest}  {tarball.name}\n")
    shutil.copy2(root / "install.sh", staging / "install.sh")
    return tarball, digest


def publish(staging: Path, out_dir: Path) -> None:
    """Move the complete `staging` folder to `out_dir` (same file system: a rename), replacing what was there."""
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.replace(out_dir)


def write_dotenv(path: Path, archive_path: str, digest: str) -> None:
    """The dotenv report for later jobs (`WHEELHOUSE_ARCHIVE`, `WHEELHOUSE_SHA256`), written whole or not at all."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"WHEELHOUSE_ARCHIVE={archive_path}\nWHEELHOUSE_SHA256={digest}\n")
    partial.replace(path)
