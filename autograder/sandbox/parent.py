"""A submission's sandbox parent: forked by the pool server, it forks the submission's cells' process.

The parent never runs student code. It settles the slot's uid, makes itself
the subreaper of everything the submission starts, refuses the reference
solutions and the kit to the import system, and then, once per start, forks
the cells' process (`cells.child`), waits for it, kills whatever it left
behind and reports how it ended on the status pipe. Only the parent writes
that pipe (the child closes it first), so "the child exited" is a fact the
student cannot forge.
"""

from __future__ import annotations

import os
import sys

from .. import wire
from ..checks import registry
from ..wire import NO_MORE_JOBS
from . import isolation
from .cells import child, switched_off
from .exercises import Exercises
from .procs import become_subreaper, kill_descendants
from .seal import KIT


class Blocked:
    """A meta-path finder that refuses the reference solutions, and the kit once a child has hidden
    it, to student code."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ImportError(f"{name} is not available to submissions")
        return None


def parent(job_fd: int, result_fd: int, status_fd: int, module: str, plan: isolation.Plan, slot: int) -> None:
    """One submission's sandbox parent, forked by the pool server in the submission's folder;
    `slot` is the submission's among those graded at once (its children's uid)."""
    isolation.let_go(plan)
    registry(module)
    without = switched_off()
    uid = isolation.uid_for(plan, slot, without)
    if uid is not None and not plan.closed:  # where no tmpfs can be mounted, the slot's uid works here
        os.chown(".", uid, uid)  # (with Python in a closed folder, it stays uid 0 there: see isolation)
    # orphans of a child (a double fork, setsid) become ours, so none escapes the cleanup
    become_subreaper()
    sys.meta_path.insert(0, Blocked(("solutions", KIT)))
    wire.write_message(status_fd, {"kind": "ready"})
    while True:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(status_fd)
                code = child(job_fd, result_fd, plan, slot)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        kill_descendants(os.getpid(), "zombies" not in without)  # whatever the child left running, detached or not
        ended = Exercises.exit_status(status)
        wire.write_message(status_fd, {"kind": "exit", **ended})
        # A student may exit with this code too: the grader then sees the exit and starts afresh.
        if ended["code"] == NO_MORE_JOBS:
            return
