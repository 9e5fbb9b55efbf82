#!/usr/bin/python3 -I
"""An OCI runtime that is `runc` with the container's capabilities cut to what this process may hold.

Registered with dockerd (`--add-runtime python-ci=<this file> --default-runtime python-ci`) by
`scripts/containers.py`. Some sandboxes run the engine with a capability bounding set smaller than the kernel's
(`CapBnd` in /proc/self/status lacks e.g. CAP_SYS_RESOURCE); Docker's `--privileged` then asks runc for every
capability and runc fails with "unable to apply caps: operation not permitted". Before `create`, `run` and `exec`,
this removes from the OCI spec (`config.json` in the bundle, or exec's `--process` file) each capability outside
the bounding set, then executes runc with the same arguments. A real runner's host needs none of this.

Standard library only, run by the host's /usr/bin/python3 (the engine calls it outside any venv).
Capability numbers: linux/capability.h; OCI spec: runtime-spec config.md, `process.capabilities`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RUNC = "/usr/sbin/runc"
# Linux capability numbers (include/uapi/linux/capability.h), by bit.
CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)  # fmt: skip


def bounding_set(status: str) -> set[str]:
    """The `CAP_*` names in the `CapBnd:` mask (hex) of a /proc/<pid>/status text."""
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return {f"CAP_{name}" for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1}
    return {f"CAP_{name}" for name in CAPABILITIES}


def bound_process(process: dict[str, object], allowed: set[str]) -> bool:
    """Drop from an OCI `process` object's capability lists every name not in `allowed`; True if one was."""
    caps = process.get("capabilities")
    if not isinstance(caps, dict):
        return False
    changed = False
    for kind, names in caps.items():  # pyright: ignore[reportUnknownVariableType]
        if isinstance(names, list):
            kept = [n for n in names if n in allowed]  # pyright: ignore[reportUnknownVariableType]
            changed = changed or len(kept) != len(names)  # pyright: ignore[reportUnknownArgumentType]
            caps[kind] = kept
    return changed


def _option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def spec_file(args: list[str]) -> Path | None:
    """The JSON file runc will read the capabilities from for this command line, if it is one that starts a
    process: `create`/`run` read `<bundle>/config.json` (bundle defaults to the current directory), `exec` its
    `--process` file."""
    command = next((a for a in args if a in {"create", "run", "exec"}), None)
    if command == "exec":
        process = _option(args, "--process", "-p")
        return Path(process) if process else None
    if command is not None:
        return Path(_option(args, "--bundle", "-b") or ".") / "config.json"
    return None


def main() -> None:
    args = sys.argv[1:]
    path = spec_file(args)
    if path is not None and path.is_file():
        allowed = bounding_set(Path("/proc/self/status").read_text(encoding="ascii"))
        spec = json.loads(path.read_text(encoding="utf-8"))
        process = spec.get("process", spec) if path.name == "config.json" else spec
        if isinstance(process, dict) and bound_process(process, allowed):  # pyright: ignore[reportUnknownArgumentType]
            path.write_text(json.dumps(spec), encoding="utf-8")
    os.execv(RUNC, [RUNC, *args])  # noqa: S606 - the real runtime, with the caller's arguments


if __name__ == "__main__":
    main()
