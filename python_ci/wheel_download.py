"""Download a wheel of every pin for each (target, Python) with pip, never an sdist, naming every gap."""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from python_ci.job import JobError, capture, say
from python_ci.pinned_requirements import Pin, applicable
from python_ci.platform_tags import platforms

# pip's lines when the index cannot be reached; that also ends in "No matching distribution", which would blame
# the package instead.
UNREACHABLE = ("Could not fetch URL", "NewConnectionError", "Max retries exceeded", "ConnectTimeoutError")


@dataclass(frozen=True)
class Fetcher:
    """`pip download` into `dest` with the lock's index `options`; request files go to `scratch`."""

    options: list[str]
    dest: Path
    scratch: Path

    def command(self, reqfile: Path, target: str, python: str) -> list[str]:
        """pip's command for CPython `python` (e.g. `3.12`) on `target`: binary wheels only, no dependencies (the
        lock is complete), every platform tag the target accepts."""
        cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--progress-bar", "off"]
        cmd += ["--no-deps", "--only-binary=:all:", "--implementation", "cp", "--python-version", python]
        cmd += ["--abi", "cp" + python.replace(".", ""), "--dest", str(self.dest), "-r", str(reqfile)]
        for tag in platforms(target):
            cmd += ["--platform", tag]
        return cmd

    def download(self, pins: list[Pin], target: str, python: str) -> str | None:
        """Fetch the wheels of `pins` for one (target, python); None on success, else what pip said was wrong:
        `no wheel`, `index unreachable: ...`, or pip's last error line."""
        handle, name = tempfile.mkstemp(suffix=".txt", dir=self.scratch)
        os.close(handle)
        reqfile = Path(name)
        reqfile.write_text("\n".join([*self.options, *(pin.line() for pin in pins)]) + "\n")
        done = capture(self.command(reqfile, target, python))
        if done.returncode == 0:
            return None
        output = (done.stdout + done.stderr).splitlines()
        errors = [line for line in output if line.startswith("ERROR")]
        unreachable = [line for line in output if any(sign in line for sign in UNREACHABLE)]
        if unreachable:
            return f"index unreachable: {unreachable[-1].strip()[:200]}"
        if any("No matching distribution" in line or "Could not find a version" in line for line in errors):
            return "no wheel"
        return errors[-1] if errors else f"pip exited {done.returncode}"

    def offenders(self, pins: list[Pin], target: str, python: str) -> list[tuple[str, str]]:
        """(spec, problem) of every pin that fails alone: one pip per pin, 4 at a time, so the job names every
        offender rather than pip's first."""

        def one(pin: Pin) -> str | None:
            return self.download([pin], target, python)

        with ThreadPoolExecutor(max_workers=4) as pool:
            each = list(pool.map(one, pins))
        return [(pin.spec, why) for pin, why in zip(pins, each, strict=True) if why]


def fetch_all(fetcher: Fetcher, pins: list[Pin], targets: list[str], pythons: list[str]) -> None:
    """Download the wheels of every (target, python) into `fetcher.dest`.

    Raises JobError naming every (package, target, python) without a wheel: an sdist would need a compiler on the
    target machine."""
    if not pins:
        return
    offenders: list[tuple[str, str, str, str]] = []
    for python in pythons:
        for target in targets:
            wanted = applicable(pins, target, python)
            problem = fetcher.download(wanted, target, python)
            if problem is None:
                say("wheelhouse", f"cp{python} {target}: {len(wanted)} pins: ok")
                continue
            say("wheelhouse", f"cp{python} {target}: {len(wanted)} pins: pip failed ({problem}); trying each alone")
            found = fetcher.offenders(wanted, target, python)
            say("wheelhouse", f"cp{python} {target}: {len(found)} of {len(wanted)} pins fail alone")
            found = found or [("(all pins together)", problem)]
            offenders += [(spec, target, f"cp{python}", why) for spec, why in found]
    if offenders:
        width = max(len(o[0]) for o in offenders)
        rows = "\n".join(f"  {spec:<{width}}  {target}  {py}  {why}" for spec, target, py, why in offenders)
        raise JobError(
            "no wheel for these (package, target, python); an sdist would need a compiler on the target, so "
            f"nothing was packed:\n{rows}"
        )
