"""Finding and ending the processes a submission started.

The sandbox parent is a child subreaper (prctl PR_SET_CHILD_SUBREAPER): a
process that detaches (double fork, setsid) is reparented to it instead of
to init, so every process a submission started stays its descendant, found
through /proc, until it is killed. The session is searched too, as a second
net.

A process whose main thread has ended while its other threads run on (the
main thread called pthread_exit or the exit system call) shows as a zombie,
state Z, though it is alive: its threads, in /proc/PID/task, run the
submission's code. The sweep counts it alive, and SIGKILL to its pid ends
every thread. Only a zombie with no thread left is dead already.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from collections.abc import Callable

from .private import own_builtins

__builtins__ = own_builtins()  # noqa: A001  (the sweep runs after student code: `bound`)

PR_SET_CHILD_SUBREAPER = 36
# Bound at import, before any student code: a cell's `os.listdir = ...` must not hide a process
# from the sweep that follows it. A tuple cannot change in place.
LISTDIR, KILL, WAITPID, SLEEP = os.listdir, os.kill, os.waitpid, time.sleep
SIGKILL, WNOHANG = int(signal.SIGKILL), os.WNOHANG


def become_subreaper() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _threads_live(pid: str) -> bool:
    """Whether zombie `pid` still has a thread other than its ended main one."""
    try:
        return any(tid != pid for tid in LISTDIR(f"/proc/{pid}/task"))
    except OSError:
        return False


def _processes(zombies: bool = True) -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, session id) of every live process (Linux /proc): a zombie is dead
    already, but one whose threads live on (`zombies`; without it, as the sweep once was)."""
    out = {}
    for name in LISTDIR("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields follow the last ')'
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" or zombies and _threads_live(name):
            out[int(name)] = (int(fields[1]), int(fields[3]))
    return out


def descendants(root: int, sid: int | None = None, zombies: bool = True) -> list[int]:
    """Live descendants of `root`, and members of session `sid` if given (`zombies`: `_processes`)."""
    procs = _processes(zombies)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in found:
                found.add(c)
                todo.append(c)
    if sid is not None:
        found |= {pid for pid, (_, s) in procs.items() if s == sid}
    found.discard(root)
    return sorted(found)


def _kill_all(find, reap_any: bool) -> None:
    """SIGKILL what `find()` returns until it returns nothing (a fork storm takes a few rounds)."""
    for _ in range(200):
        pids = find()
        if not pids:
            return
        for p in pids:
            try:
                KILL(p, SIGKILL)
            except ProcessLookupError:
                pass
        _reap(pids, reap_any)
        SLEEP(0.005)


def reap_children() -> None:
    """Collect every child of ours that has ended, so none lingers as a zombie."""
    while True:
        try:
            if WAITPID(-1, WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _reap(pids: list[int], reap_any: bool) -> None:
    """Reap our own dead children, so they do not linger as zombies."""
    if reap_any:
        reap_children()
        return
    for p in pids:
        try:
            WAITPID(p, WNOHANG)
        except ChildProcessError:
            pass


def kill_descendants(root: int, zombies: bool = True) -> None:
    """Called by the subreaper `root` on itself: every process below it dies. Without `zombies`
    (COURSE_SANDBOX_WITHOUT=zombies), a process whose main thread ended is left to run."""
    _kill_all(lambda: descendants(root, zombies=zombies), reap_any=True)


def sweeper(zombies: bool = True) -> Callable[[int], None]:
    """`kill_descendants` with `zombies` settled, for a process to bind before any student code runs."""

    def sweep(root: int) -> None:
        kill_descendants(root, zombies)

    return sweep


def kill_tree(root: int) -> None:
    """Kill `root`'s descendants and session, then `root` (the grader ending a sandbox)."""
    try:
        sid = os.getsid(root)
    except ProcessLookupError:
        sid = root
    _kill_all(lambda: descendants(root, sid), reap_any=False)
    try:
        os.kill(root, signal.SIGKILL)
    except ProcessLookupError:
        pass
