"""Stopping the daemons the catalogue's tools start (the container engine, the local registry, the OSV stand-in)."""

from __future__ import annotations

import contextlib
import os
import signal
import time


def stop_pid(pid: int, timeout: float = 10) -> None:
    """Stop process `pid`: SIGTERM, then SIGKILL when it is still there after `timeout` seconds. Returns once it is
    gone. A child of this process is reaped as soon as it exits, so it is not waited on as a zombie (which still
    answers `kill(pid, 0)`). A PID that no longer exists is not an error."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _reaped(pid):
                return
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        _reaped(pid)


def _reaped(pid: int) -> bool:
    """Whether `pid` was an exited child of this process, now collected; False for a running child or another
    process's."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return False
