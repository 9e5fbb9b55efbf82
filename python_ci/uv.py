"""uv, the installer every Python job uses: found on PATH or installed with the image's pip."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from python_ci.job import JobError, run, say, variable


def ensure_uv(root: Path) -> str:
    """The path of a `uv` executable, installing `uv==$PYCI_UV_VERSION` with `python3 -m pip` when none is on PATH.

    Also points uv's cache at `<root>/.cache/uv` unless the runner's environment names one (`UV_CACHE_DIR`), and
    uv's interpreter at the job's `PYTHON_VERSION`. uv links installed files from its cache: hard links when the
    cache is in the checkout (one file system with the `.venv`), copies when the runner's cache lives elsewhere
    (a volume is often another file system, where uv would warn and fall back to copying); `UV_LINK_MODE` wins.
    Raises JobError when pip cannot install it."""
    if "UV_CACHE_DIR" in os.environ:
        os.environ.setdefault("UV_LINK_MODE", "copy")
    else:
        os.environ["UV_CACHE_DIR"] = str(root / ".cache" / "uv")
        os.environ.setdefault("UV_LINK_MODE", "hardlink")
    if os.environ.get("PYTHON_VERSION"):
        # The job's Python: uv never picks (or downloads) another one.
        os.environ.setdefault("UV_PYTHON", os.environ["PYTHON_VERSION"])
    found = shutil.which("uv")
    if found:
        return found
    version = variable("PYCI_UV_VERSION")
    say("uv", f"the image has no uv: installing uv=={version} with pip")
    status = run([sys.executable, "-m", "pip", "install", "--quiet", "--root-user-action=ignore", f"uv=={version}"])
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if status != 0 or not Path(found).exists():
        raise JobError(f"could not install uv=={version} with pip (exit {status})")
    return found
