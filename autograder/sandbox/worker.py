"""The sandbox side: a sandbox parent per submission that forks one process per exercise.

The pool server (`pool`) imports torch and the checks once (`preload`) and
forks a sandbox `parent` per submission, which forks a child per job. Each
child confines itself (`isolation`: namespaces, user, Landlock, which hides
the course folder and the kit's sources) before it reads any student code.
The parent never runs student code and never reads a job: each child reads its own
job, runs the notebook's cells, binds the other exercises' names to their
reference code, runs its exercise's probes and streams plain results back
on RESULT_FD. Only the parent writes STATUS_FD (the child closes it first),
so "the child exited" is a fact the student cannot forge. CUDA is never
touched in the parent: a CUDA context does not survive fork, and each child
starts its own, so a device-side assert poisons only that child.
"""

from __future__ import annotations

import builtins
import os
import pwd
import resource
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

# All bound at import, in the pool server: before any student code, which could swap a module
# in sys.modules, and before Landlock hides the kit's sources from a late import.
from .. import wire
from ..checks import Inputs, Namespace, registry
from . import isolation
from .tripwire import Tripwire

NO_MORE_JOBS = 113  # a child's exit code for 'the grader closed the job pipe'
PRELOAD = [
    "torch",
    "torch.nn.functional",
    "torch.optim",
    "numpy",
    "matplotlib.pyplot",
    "sklearn.datasets",
    "autograder.sandbox.isolation",
    "autograder.sandbox.tripwire",
]  # once here, not once per child


class CellTimeout(BaseException):
    """A cell ran past the cell time limit (BaseException: `except Exception` cannot swallow it)."""


def _read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _notebook_line(exc: BaseException) -> str:
    """' (cell 7, line 3)' for the innermost frame in notebook code."""
    where = ""
    for frame, line in traceback.walk_tb(exc.__traceback__):
        name = frame.f_code.co_filename
        if name.startswith(("<cell", "<given", "<reference")):
            where = f" ({name.strip('<>')}, line {line})"
    return where


def error_text(exc: BaseException) -> str:
    """An exception as the student reads it: type, first line of the message, notebook line."""
    text = str(exc).strip().splitlines()
    first = text[0][:300] if text else ""
    return f"{type(exc).__name__}{': ' + first if first else ''}{_notebook_line(exc)}"


def _on_alarm(signum, frame):
    raise CellTimeout("cell time limit reached")


def run_cells(cells: list[dict], names: dict, timeout: float) -> list[dict]:
    """Run each cell in `names`, in order; a cell that raises is reported and the next runs."""
    statuses = []
    signal.signal(signal.SIGALRM, _on_alarm)
    for cell in cells:
        status = {"index": cell["index"], "ok": True, "error": ""}
        try:
            # unchanged given cells are the course's code: the tripwire trusts them
            code = compile(cell["source"], f"<{'given' if cell.get('given') else 'cell'} {cell['index']}>", "exec")
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                exec(code, names)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except CellTimeout:
            status = {"index": cell["index"], "ok": False, "error": f"timed out after {timeout:g} s", "timeout": True}
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: the next cell still runs
            status = {"index": cell["index"], "ok": False, "error": error_text(e)}
        statuses.append(status)
    return statuses


def reset_torch() -> None:
    """Undo global torch settings a notebook may change (default dtype, grad mode, default
    device), so that a probe builds the same inputs here as in the grader."""
    import torch

    # one thread: probes are small, and a submission that used up its process limit would
    # otherwise make OpenMP exit the process when it starts its threads
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    torch.set_default_device(None)


def _tasks_of(uid: int) -> int:
    """Processes and threads of `uid` now: RLIMIT_NPROC counts them all, not just ours."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            continue  # the process ended while we read
    return count


def limit_resources(limits: dict, cuda: bool) -> None:
    """rlimits, so that a submission cannot fill the disk, fork-bomb or eat the machine's memory
    (the grader's timers still stop it first; these hold when its process ignores signals)."""
    mib = 1 << 20
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mib"] * mib,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    # on top of what the user runs already, and of torch's thread pool (one thread per core)
    nproc = _tasks_of(os.getuid()) + limits["processes"] + (os.cpu_count() or 1)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    cpu = int(limits["exercise_timeout"]) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    if not cuda:  # the CUDA driver reserves far more address space than it uses
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mib"] * mib,) * 2)


# -- one child, one exercise: the steps of `child`, in the order it takes them ---------------


def read_job(job_fd: int) -> dict | None:
    """This child's job, or None when the grader has closed the pipe. The pipe is closed at once,
    before any student code: the jobs of later exercises stay out of its reach."""
    try:
        job = wire.read_message(job_fd, 1 << 30, _read_exact)
    except EOFError:
        return None
    os.close(job_fd)
    return job


def uses_cuda(job: dict) -> bool:
    """CUDA needs the GPUs' device files writable, and no cap on address space."""
    return any(d.startswith("cuda") for d in job["devices"])


def confine(job: dict, plan) -> dict[str, str]:
    """Put up the wall (`isolation`) before the first student line runs; returns each layer's
    state, which the grader checks (and, in strict mode, refuses to go on without)."""
    writable = [str(p) for p in Path("/dev").glob("nvidia*")] if uses_cuda(job) else []
    # COURSE_SANDBOX_WITHOUT=landlock,... shows how the kit behaves on a host without those layers
    without = frozenset(os.environ.get("COURSE_SANDBOX_WITHOUT", "").split(","))
    return isolation.confine(os.getcwd(), plan, isolation.DEVICES_RW + writable, job["limits"]["disk_mib"], without)


def run_notebook(job: dict, names: dict) -> list[dict]:
    """The submission's cells, in `names`, from torch's defaults: every exercise runs the whole
    notebook afresh, so one exercise's run never leaks into another's."""
    reset_torch()
    return run_cells(job["cells"], names, job["limits"]["cell_timeout"])


def bind_references(refs: list[dict], names: dict) -> list[dict]:
    """Bind the other exercises' names to the reference code, so an exercise is graded on its own
    code alone. Returns those that could not be defined beside the student's code."""
    failed = []
    for ref in refs:
        try:
            exec(compile(ref["source"], f"<reference {ref['exercise']}>", "exec"), names)
        except BaseException as e:  # e.g. `@annealer` when the student's annealer is wrong
            failed.append({"exercise": ref["exercise"], "error": error_text(e)})
    return failed


def rerun_own_cell(job: dict, names: dict) -> list[dict] | None:
    """Run the exercise's own cell once more, now that the other names are the reference's: a
    default argument (`collate_fn=collate`) or a closure must capture those, not the student's.
    None when the cell is not among those run."""
    own = [c for c in job["cells"] if c["index"] == job.get("own_cell")]
    return run_cells(own, names, job["limits"]["cell_timeout"]) if own else None


def _probe(check, ns, job: dict, device: str) -> dict:
    """One probe under a fresh tripwire: its value or its error, and any forbidden call it saw.
    Only the value's plain encoding (`wire`) leaves; the grader judges it."""
    tripwire = Tripwire(job["forbidden"])
    try:
        with tripwire:
            value = check.probe(ns, Inputs(job["seed"], check.name, device))
            if not tripwire.intact():
                tripwire.hits.append("the grader's call tracing was switched off during the check")
        reply = {"value": wire.encode(value)}
    except BaseException as e:
        reply = {"error": error_text(e)}
    return {**reply, **({"forbidden": tripwire.hits} if tripwire.hits else {})}


def run_probes(job: dict, names: dict) -> Iterator[dict]:
    """Each asked-for check on each device, one reply each, in the order the grader expects.
    A generator: each reply is sent as soon as it is made, so a later probe that hangs or
    crashes the process loses none of those before it."""
    checks = {c.name: c for c in registry(job["module"]).for_exercise(job["exercise"])}
    ns = Namespace(names)
    for device in job["devices"]:
        for name in job["checks"]:
            reset_torch()  # whatever the previous probe changed
            yield {"kind": "check", "name": name, "device": device, **_probe(checks[name], ns, job, device)}


def child(job_fd: int, result_fd: int, plan) -> int:
    """One exercise in a fresh fork of the sandbox parent; returns the exit code.

    The order is the security argument: the job pipe is closed, then the
    process confined and limited, before any student code runs. The replies
    go out in the one order the grader accepts (`box.Sandbox._collect`).
    """
    job = read_job(job_fd)
    if job is None:
        return NO_MORE_JOBS

    def send(message: dict) -> None:
        wire.write_message(result_fd, {"nonce": job["nonce"], **message})

    layers = confine(job, plan)
    send({"kind": "isolation", "layers": layers})
    if job["strict"] and isolation.missing(layers):
        return 0  # the grader refuses to go on; no student code has run
    limit_resources(job["limits"], uses_cuda(job))

    names: dict = {"__name__": "__main__", "__builtins__": builtins}  # the notebook's globals
    send({"kind": "cells", "cells": run_notebook(job, names)})
    send({"kind": "refs", "failed": bind_references(job["refs"], names)})
    own = rerun_own_cell(job, names)
    if own is not None:
        send({"kind": "own_cell", "cells": own})
    for reply in run_probes(job, names):
        send(reply)
    send({"kind": "done"})
    return 0


def _warm_optim() -> None:
    """The first step of a torch optimizer imports dynamo machinery (about 1 s): pay it once, here."""
    import torch

    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.ones(1)
    torch.optim.SGD([p], lr=0.1).step()


class _Blocked:
    """A meta-path finder that refuses the reference solutions to student code."""

    def find_spec(self, name, path=None, target=None):
        if name == "solutions" or name.startswith("solutions."):
            raise ImportError(f"{name} is not available to submissions")
        return None


def preload() -> None:
    """What every sandbox needs, imported once in the pool server before it forks."""
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    _warm_optim()


def sandbox_plan(course_root: str):
    """Worked out once in the pool server, used by every child: what it may read, and as whom."""
    import importlib.util

    import torch

    from .. import KIT_DIR

    kit = KIT_DIR  # the whole installed kit, not just this folder
    solutions = importlib.util.find_spec("solutions")
    denied = [Path(course_root), kit] + ([Path(solutions.origin).parent] if solutions and solutions.origin else [])
    return isolation.plan(denied, probe=[os.__file__, torch.__file__])


def parent(job_fd: int, result_fd: int, status_fd: int, module: str, plan) -> None:
    """One submission's sandbox parent, forked by the pool server in the submission's folder."""
    from .procs import become_subreaper, kill_descendants

    registry(module)
    if plan.as_nobody:  # where no tmpfs can be mounted, nobody works in this folder
        nobody = pwd.getpwnam("nobody")
        os.chown(".", nobody.pw_uid, nobody.pw_gid)
    # orphans of a child (a double fork, setsid) become ours, so none escapes the cleanup
    become_subreaper()
    sys.meta_path.insert(0, _Blocked())
    wire.write_message(status_fd, {"kind": "ready"})
    while True:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(status_fd)
                code = child(job_fd, result_fd, plan)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        kill_descendants(os.getpid())  # whatever the child left running, detached or not
        wire.write_message(
            status_fd,
            {
                "kind": "exit",
                "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                "signal": signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None,
            },
        )
        # A student may exit with this code too: the grader then sees the exit and starts afresh.
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == NO_MORE_JOBS:
            return
