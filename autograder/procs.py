"""Finding and ending the processes a submission started.

Everything a submission runs stays in the session its sandbox was started
in (unless it calls setsid itself, which the isolation of a later issue
must stop); ending a sandbox means killing every process of that session.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def session_members(sid: int) -> list[int]:
    """Live pids whose session id is `sid` (Linux /proc)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: fields follow the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid and fields[0] != "Z":  # a zombie is dead already
            pids.append(int(d.name))
    return pids


def kill_session(sid: int, spare: int | None = None) -> None:
    """SIGKILL every process of session `sid` but `spare`, until none is left."""
    for _ in range(50):
        pids = [p for p in session_members(sid) if p != spare]
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in pids:  # reap our own children so they do not linger as zombies
            try:
                os.waitpid(p, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.01)
