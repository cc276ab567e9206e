"""One thread runs student code: a seccomp filter, put on before the first student line, that the
kernel keeps for the rest of the process's life.

The tripwire's hooks (a dispatch mode, the profile hook) belong to the thread that set them, so a
call made in another thread would go unseen. Rather than watch every thread, there is only one:

- `no_threads()` in a submission's cells' process, before its cells run: clone() with
  CLONE_THREAD fails (Python's `Thread.start()` raises "can't start new thread"); a cell may
  still start a process, which the cells' process kills before any exercise starts;
- `prepare(threads_only=False)`, made before the first student line and called in each
  exercise's process before it reads its job: no clone() at all (no thread, no process), so
  every line of the student's code the probes reach runs in the probing thread.

clone3() passes its flags in memory a filter cannot read, so it fails with ENOSYS, and glibc falls
back to clone(). A system call of another ABI (x32, or i386's `int 0x80` on x86_64) fails outright.
A filter cannot be removed, only stacked, and it holds over every thread and process the filtered
one makes; torch runs with one thread in the sandbox (`limits.torch_resetter`), so it needs none.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
from collections.abc import Callable

from .bound import K
from .private import own_builtins

__builtins__ = own_builtins()  # noqa: A001  (`prepare`'s filter goes on after student code: `bound`)

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
CLONE_THREAD = 0x00010000
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
# BPF opcodes: load a word of the syscall's data, compare, return
LD_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
NR, ARCH, ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low word: little-endian)

# machine -> (AUDIT_ARCH, clone, clone3, the syscalls that start a process without clone)
ABIS = {
    "x86_64": (0xC000003E, 56, 435, (57, 58)),  # fork, vfork
    "aarch64": (0xC00000B7, 220, 435, ()),
}
X32 = 0x40000000  # x86_64's x32 syscalls: the same numbers with this bit set


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def program(machine: str, threads_only: bool) -> bytes:
    """The filter's BPF program for `machine`: deny new threads (`threads_only`) or new tasks."""
    arch, clone, clone3, forks = ABIS[machine]
    deny, nosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    # jump offsets count instructions after the jump; the three returns close the program
    body = [
        (LD_ABS, ARCH),
        (JEQ, arch, 0, "deny"),
        (LD_ABS, NR),
        (JGE, X32, "deny", 0),
        (JEQ, clone3, "nosys", 0),
        *[(JEQ, nr, "deny", 0) for nr in ([] if threads_only else forks)],
        (JEQ, clone, 0, "allow"),
        *([(LD_ABS, ARG0), (JSET, CLONE_THREAD, "deny", "allow")] if threads_only else [(RET, deny)]),
    ]
    ends = {"allow": len(body), "deny": len(body) + 1, "nosys": len(body) + 2}
    out = b""
    for i, (code, k, *jumps) in enumerate(body):
        jt, jf = [ends[j] - i - 1 if isinstance(j, str) else j for j in (jumps or [0, 0])]
        out += _insn(code, k, jt, jf)
    return out + _insn(RET, RET_ALLOW) + _insn(RET, deny) + _insn(RET, nosys)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def prepare(threads_only: bool) -> Callable[[], str]:
    """`install()`: put the filter on the process that calls it; returns the layer's state, "none
    (...)" where it could not. Everything it needs (the program, its buffer, prctl) is made now:
    an exercise's process installs its filter after the cells ran (`bound`)."""
    machine = platform.machine()
    if machine not in ABIS:
        return lambda: f"none (no seccomp filter for {machine})"
    code = program(machine, threads_only)
    prog = _Fprog(len(code) // 8, code)
    where, names = K.byref(prog), tuple(errno.errorcode.items())

    def install() -> str:
        if K.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or K.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, where, 0, 0):
            err = K.get_errno()
            return f"none (seccomp: {next((name for n, name in names if n == err), 'error')})"
        return "seccomp"

    return install


def no_threads() -> str:
    """The cells' process: no new thread, ever (processes may still start)."""
    state = prepare(threads_only=True)()
    return state if state.startswith("none") else "seccomp: student code runs in one thread; an exercise starts none"
