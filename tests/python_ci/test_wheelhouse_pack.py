"""Packing and publishing: install.sh filled in, SHA256SUMS of every file, the archive, an atomic publish."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import tarfile
from pathlib import Path

from python_ci.wheelhouse_pack import INSTALLER, Manifest, archive, installer, publish, write_contents, write_dotenv


def _manifest() -> Manifest:
    return Manifest(
        name="house",
        mode="wheel",
        shipped="p-1-py3-none-any.whl",
        lock="uv.lock",
        targets=["manylinux_2_28_x86_64"],
        python_versions=["3.12"],
        extras=[],
        groups=[],
        all_extras=False,
        all_groups=False,
        wheels=[],
    )


def test_install_sh_is_posix_sh_and_every_placeholder_is_filled() -> None:
    assert subprocess.run(["sh", "-n", str(INSTALLER)], check=False).returncode == 0
    script = installer("house", "wheel", ["lib-1-py3-none-any.whl", "p-1-py3-none-any.whl"], ["3.11", "3.12"], ["t"])
    assert not re.search(r"@[A-Z_]+@", script)
    assert "LOCAL_WHEELS='lib-1-py3-none-any.whl p-1-py3-none-any.whl'" in script
    assert "PYTHONS='3.11 3.12'" in script
    assert "ARCHIVE_ROOT='house'" in script


def test_the_archive_holds_every_file_with_its_checksum_and_publishes_whole(tmp_path: Path) -> None:
    house = tmp_path / "house"
    (house / "wheels").mkdir(parents=True)
    (house / "wheels" / "p-1-py3-none-any.whl").write_bytes(b"wheel")
    (house / "requirements.txt").write_text("")
    write_contents(house, _manifest(), installer("house", "wheel", ["p-1-py3-none-any.whl"], ["3.12"], ["t"]))
    sums = {
        path: digest for digest, path in (line.split("  ") for line in (house / "SHA256SUMS").read_text().splitlines())
    }
    assert set(sums) == {"install.sh", "requirements.txt", "wheelhouse.json", "wheels/p-1-py3-none-any.whl"}
    assert sums["wheels/p-1-py3-none-any.whl"] == hashlib.sha256(b"wheel").hexdigest()
    assert json.loads((house / "wheelhouse.json").read_text())["project"] == {
        "mode": "wheel",
        "shipped": "p-1-py3-none-any.whl",
    }

    staging = tmp_path / "dist" / ".staging"
    staging.mkdir(parents=True)
    tarball, digest = archive(house, staging)
    assert digest == hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert (staging / "house.tar.gz.sha256").read_text() == f"{digest}  house.tar.gz\n"
    with tarfile.open(tarball) as tar:
        assert "house/wheels/p-1-py3-none-any.whl" in tar.getnames()

    out = tmp_path / "dist" / "wheelhouse"
    out.mkdir()
    (out / "old.tar.gz").write_text("an older wheelhouse")
    publish(staging, out)
    assert sorted(p.name for p in out.iterdir()) == ["house.tar.gz", "house.tar.gz.sha256", "install.sh"]
    assert not staging.exists()

    dotenv = tmp_path / "dist" / "wheelhouse.env"
    write_dotenv(dotenv, "dist/wheelhouse/house.tar.gz", digest)
    assert dotenv.read_text() == f"WHEELHOUSE_ARCHIVE=dist/wheelhouse/house.tar.gz\nWHEELHOUSE_SHA256={digest}\n"
    assert sorted(p.name for p in dotenv.parent.iterdir()) == ["wheelhouse", "wheelhouse.env"]
