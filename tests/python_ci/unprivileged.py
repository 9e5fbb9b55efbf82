"""Run a command as an unprivileged container's root is: without CAP_SYS_ADMIN, under a seccomp filter that refuses
new namespaces, as Docker's and containerd's default seccomp profiles do for a process lacking CAP_SYS_ADMIN.

    python -m tests.python_ci.unprivileged [--seccomp-unconfined] CMD [ARGS...]

How: a classic-BPF seccomp filter installed with prctl(2) (linux/seccomp.h, x86_64 only) answers `unshare` and
`clone` with EPERM when they ask for any CLONE_NEW* namespace, and `clone3` with ENOSYS (so callers fall back to
`clone`, as under Docker's profile); then setpriv(1) drops CAP_SYS_ADMIN from the bounding set and execs CMD. Root
then keeps every other capability, like a container's root. `--seccomp-unconfined` skips the filter (Docker's
`--security-opt seccomp=unconfined`) and only drops CAP_SYS_ADMIN. Needs root (to install the filter without
no_new_privs) and util-linux's setpriv.
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys

# linux/filter.h, linux/seccomp.h, linux/audit.h, asm/unistd_64.h, linux/sched.h
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JSET_K = 0x45
_RET_K = 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_EPERM, _ENOSYS = 1, 38
_ARCH_X86_64 = 0xC000003E
_NR_CLONE, _NR_UNSHARE, _NR_CLONE3 = 56, 272, 435
_CLONE_NEW_ANY = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
# struct seccomp_data: nr at 0, arch at 4, args[0] at 16 (its low 32 bits on little-endian x86_64).
_NR, _ARCH, _ARG0 = 0, 4, 16


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def filter_program() -> bytes:
    """The BPF program as bytes (struct sock_filter[]): see the module docstring for what it refuses."""
    return b"".join(
        [
            _insn(_LD_W_ABS, 0, 0, _ARCH),
            _insn(_JEQ_K, 1, 0, _ARCH_X86_64),
            _insn(_RET_K, 0, 0, _ALLOW),  # another ABI: not ours to police
            _insn(_LD_W_ABS, 0, 0, _NR),
            _insn(_JEQ_K, 0, 1, _NR_CLONE3),
            _insn(_RET_K, 0, 0, _ERRNO | _ENOSYS),
            _insn(_JEQ_K, 2, 0, _NR_UNSHARE),
            _insn(_JEQ_K, 1, 0, _NR_CLONE),
            _insn(_RET_K, 0, 0, _ALLOW),
            _insn(_LD_W_ABS, 0, 0, _ARG0),
            _insn(_JSET_K, 0, 1, _CLONE_NEW_ANY),
            _insn(_RET_K, 0, 0, _ERRNO | _EPERM),
            _insn(_RET_K, 0, 0, _ALLOW),
        ]
    )


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter() -> None:
    """Install `filter_program()` on this process (inherited by everything it execs). Raises OSError on failure."""
    if platform.machine() != "x86_64":
        raise OSError("the filter is written for x86_64 only")
    program = filter_program()
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p).value)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def main(argv: list[str]) -> int:
    """Exec `argv` unprivileged; returns 2 (usage) only when no command is given, else never returns."""
    unconfined = argv[:1] == ["--seccomp-unconfined"]
    command = argv[1:] if unconfined else argv
    if not command:
        print("usage: python -m tests.python_ci.unprivileged [--seccomp-unconfined] CMD [ARGS...]", file=sys.stderr)
        return 2
    if not unconfined:
        install_filter()
    os.execvp("setpriv", ["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin", "--", *command])
    return 127  # not reached: execvp replaces this process or raises OSError


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
