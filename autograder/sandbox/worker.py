"""The sandbox side: per submission, a sandbox parent, a child that runs the notebook's cells once,
and one process per exercise forked from that child.

The pool server (`pool`) imports torch and the checks once (`preload`) and
forks a sandbox `parent` per submission, which forks the submission's
`child`. The child confines itself (`isolation`: namespaces, user, Landlock,
which hides the course folder and the kit's sources) before it reads any
student code, runs the notebook's cells once, and then (`Exercises`) forks
one process per exercise from the notebook as the cells left it. Each such
process stacks a Landlock layer of its own (`isolation.ExerciseFiles`: it
writes only to a fresh folder no other exercise can read), reads its own
job, binds the names of the exercises *before* it to their reference code,
runs its exercise's cell again and its probes, and streams plain results
back on RESULT_FD. The grader grades exercises in notebook order and sends
an exercise's process only the references of earlier exercises, so no
process that runs student code ever holds the reference of an exercise not
yet graded. Only the parent writes STATUS_FD (the child closes it first), so
"the child exited" is a fact the student cannot forge.

A CUDA context does not survive fork, so the CUDA probes do not fork: they
run after the CPU ones, in a second sandbox whose child runs the cells and
then the exercises itself (`Exercises.inline`), one job after another
(`stay`): one context per submission, made by the probes or by a cell. A
CUDA error poisons a context for good, so that child then ends, and the
next exercise's CUDA probes start a fresh sandbox: a device-side assert
costs only its own exercise.

Student code shares the child's interpreter, and a student can read this
file, so what the child relies on once student code has run is fixed before
it runs (`child`, in order): the given cells are compiled and trusted by
identity (`tripwire.Trusted`, whose compiler is bound then too, for the
references that arrive later); the fork, the exercises' folders, the
probes, the encoder and a sender made of C functions only are bound; the
kit's modules are sealed (`Seal`) and taken out of `sys.modules`, and
importing them is refused. Everything after the first student line but the
sending of plain data runs under the tripwire, so code a student slipped
into torch, the encoder or the error messages is watched like the rest.
"""

from __future__ import annotations

import _json
import builtins
import json
import os
import resource
import signal
import struct
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import CodeType, FunctionType, ModuleType

# All bound at import, in the pool server: before any student code, and before Landlock hides the
# kit's sources from a late import.
from .. import wire
from ..checks import Inputs, Namespace, registry
from . import isolation, seccomp
from .procs import become_subreaper, kill_descendants, sweeper
from .tripwire import Tripwire, Trusted, Watched, guard, watch

NO_MORE_JOBS = 113  # a child's exit code for 'the grader closed the job pipe'
PRELOAD = [
    "torch",
    "torch.nn.functional",
    "torch.optim",
    "numpy",
    "matplotlib.pyplot",  # these two only where the notebook's cells import them (`preload`)
    "sklearn.datasets",
    "autograder.sandbox.isolation",
    "autograder.sandbox.tripwire",
]  # once here, not once per child
KIT = "autograder"  # the kit's top package: out of the student's sight in a child


class CellTimeout(BaseException):
    """A cell ran past the cell time limit (BaseException: `except Exception` cannot swallow it)."""


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
    try:
        text = str(exc).strip().splitlines()
    except BaseException:  # a student's __str__ that raises in turn
        text = ["(its message cannot be shown)"]
    first = text[0][:300] if text else ""
    return f"{type(exc).__name__}{': ' + first if first else ''}{_notebook_line(exc)}"


def _on_alarm(signum, frame):
    raise CellTimeout("cell time limit reached")


Compiled = tuple[int, "CodeType | BaseException"]  # a cell's index, and its code or why it has none


def compile_cells(cells: list[dict], trusted: Trusted) -> list[Compiled]:
    """Every cell compiled before any runs. The grader marks a cell `given` when it is the release's
    own (by checksum): `trusted` compiles those, so the tripwire knows them by identity, whatever
    a student names their own code. A cell that does not compile keeps its error for its turn."""
    out: list[Compiled] = []
    for cell in cells:
        name = f"<{'given' if cell.get('given') else 'cell'} {cell['index']}>"
        try:
            code = trusted.compile(cell["source"], name) if cell.get("given") else compile(cell["source"], name, "exec")
        except BaseException as e:  # a syntax error, or a cell too deep or too large to compile
            code = e
        out.append((cell["index"], code))
    return out


def run_cells(cells: list[Compiled], names: dict, timeout: float) -> list[dict]:
    """Run each cell in `names`, in order; a cell that raises is reported and the next runs."""
    statuses = []
    signal.signal(signal.SIGALRM, _on_alarm)
    for index, code in cells:
        status = {"index": index, "ok": True, "error": ""}
        try:
            if isinstance(code, BaseException):
                raise code
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                exec(code, names)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except CellTimeout:
            status = {"index": index, "ok": False, "error": f"timed out after {timeout:g} s", "timeout": True}
        except BaseException as e:  # SystemExit and KeyboardInterrupt too: the next cell still runs
            status = {"index": index, "ok": False, "error": error_text(e)}
        statuses.append(status)
    return statuses


def reset_torch() -> None:
    """Undo global torch settings a notebook may change (default dtype, grad mode, default
    device, TF32 and cuDNN's autotuning), so that a probe builds the same inputs here as in the
    grader and computes at the same precision: a notebook that turns TF32 on must not make an
    honest float32 CUDA result differ from the reference's."""
    import torch

    # one thread: probes are small, and a submission that used up its process limit would
    # otherwise make OpenMP exit the process when it starts its threads
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float32)
    torch.set_grad_enabled(True)
    torch.set_default_device(None)
    # torch's own defaults (cuDNN's TF32 is on by default; matmul's is not)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("highest")
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = False


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
    if cuda:
        # The CUDA driver reserves far more address space than it uses (PROT_NONE mappings), so
        # RLIMIT_AS would stop it from starting. RLIMIT_DATA counts only private writable memory
        # (Linux >= 4.7): it bounds what the process allocates on the host, not the reservation.
        # GPU memory itself is not bounded (README, Known limits).
        resource.setrlimit(resource.RLIMIT_DATA, (limits["memory_mib"] * mib,) * 2)
    else:
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mib"] * mib,) * 2)


# -- one child per submission, one grandchild per exercise: the steps, in the order taken --------


JOB_BYTES = 1 << 30  # the grader's jobs, taken as they are: a notebook's code may be long


def job_reader() -> Callable[[int], dict | None]:
    """`read_job(fd)`: a job, or None when the grader has closed the pipe. Made of functions bound
    when the child starts: an exercise's process reads its job after the cells ran, and a cell may
    have patched json, os or struct. The pipe stays open: the cells' process keeps it for the
    exercises' processes it forks, and an exercise's process closes it itself before any student
    code runs (`Exercises.exercise`), unless the next job is its too."""
    read, unpack, decode, join = os.read, struct.Struct("<Q").unpack, json.JSONDecoder().decode, b"".join

    def read_exact(fd: int, n: int) -> bytes | None:
        chunks = []
        while n:
            chunk = read(fd, min(n, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return join(chunks)

    def read_job(fd: int) -> dict | None:
        head = read_exact(fd, 8)
        if head is None:
            return None
        if (size := unpack(head)[0]) > JOB_BYTES:
            raise wire.WireError(f"a job of {size} bytes is over the cap of {JOB_BYTES}")
        body = read_exact(fd, size)
        return decode(body.decode()) if body is not None else None

    return read_job


def one_thread(job: dict, without: frozenset[str]) -> str:
    """Student code in one thread, the tripwire's (`seccomp`), but where CUDA's driver needs threads."""
    if "threads" in without:
        return "none (turned off by COURSE_SANDBOX_WITHOUT)"
    if uses_cuda(job):
        return "none on CUDA (its driver starts threads; the tripwire watches the probing thread only)"
    return seccomp.no_threads()


def uses_cuda(job: dict) -> bool:
    """CUDA needs the GPUs' device files writable, and no cap on address space."""
    return any(d.startswith("cuda") for d in job["devices"])


def switched_off() -> frozenset[str]:
    """COURSE_SANDBOX_WITHOUT=...: the layers (isolation's, and "slots") and defences to leave out,
    to see how the kit behaves without them; the security tests show each attack is real this way.
    The defences: "tripwire" (no run-time watch), "seal" (the kit stays in sys.modules, and
    nothing checks that its code is unchanged), "threads" (no seccomp filter: student code may
    start threads and processes) and "zombies" (the sandbox's sweeps take a process whose main
    thread ended for dead, and leave its other threads running: `procs`)."""
    return frozenset(os.environ.get("COURSE_SANDBOX_WITHOUT", "").split(","))


def device_files(job: dict) -> list[str]:
    return isolation.DEVICES_RW + ([str(p) for p in Path("/dev").glob("nvidia*")] if uses_cuda(job) else [])


def confine(job: dict, plan: isolation.Plan, slot: int, without: frozenset[str]) -> dict[str, str]:
    """Put up the wall (`isolation`) before the first student line runs; returns each layer's
    state, which the grader checks (and, in strict mode, refuses to go on without)."""
    layers = isolation.confine(os.getcwd(), plan, device_files(job), job["limits"]["disk_mib"], slot, without)
    landlock = layers["filesystem"].startswith("landlock")
    layers["exercises"] = (
        "landlock: each exercise writes only to a folder of its own, which no other exercise can read"
        if landlock
        else f"none ({layers['filesystem'].removeprefix('none ').strip('()') or 'no Landlock'})"
    )
    return layers


def notebook_globals() -> dict:
    """The notebook's globals: the dict of a fresh `__main__` module, which takes the pool server's
    place in sys.modules (pickle and friends find the notebook's classes there, and no kit)."""
    main = ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    return main.__dict__


def _kit_modules() -> list[ModuleType]:
    return [m for name, m in sys.modules.items() if name == KIT or name.startswith(KIT + ".")]


def hide_kit() -> None:
    """The kit out of the student's sight: out of sys.modules, and refused by the import system
    (`_Blocked`, in place since the parent started). The worker keeps what it bound."""
    for module in _kit_modules():
        del sys.modules[module.__name__]


def _contents(cell) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # a closure's variable not bound yet
        return None


def _items(d: dict) -> list[object]:
    """Keys and values, but a module's warnings registry: Python adds it to the globals of code that
    warned (a probe's float() of a tensor that requires grad), the student has no part in it."""
    return [x for item in d.items() if item[0] != "__warningregistry__" for x in item]


def _parts(obj: object) -> list[object]:
    """What the seal looks inside `obj` for: the kit's modules, functions, classes and instances,
    and containers; nothing of torch's or the standard library's."""
    if isinstance(obj, ModuleType):
        if not obj.__name__.startswith(KIT):
            return []
        return _items(vars(obj))
    if isinstance(obj, FunctionType):
        cells = [_contents(c) for c in obj.__closure__ or ()]
        return [obj.__code__, obj.__defaults__, obj.__kwdefaults__, obj.__globals__, *cells]
    if isinstance(obj, (staticmethod, classmethod)):
        return [obj.__func__]
    if isinstance(obj, property):
        return [obj.fget, obj.fset, obj.fdel]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, dict):
        return _items(obj)
    if isinstance(obj, type):
        return [*vars(obj).values()] if obj.__module__.startswith(KIT) else []
    if type(obj).__module__.startswith(KIT):
        return [type(obj), *getattr(obj, "__dict__", {}).values()]
    return []


def _settle(modules: list[ModuleType]) -> None:
    """torch wraps an optimizer class's `step` on its first instance (for its profiler): the kit's
    own optimizers (a probe's counting SGD) get theirs now, so the seal sees them as they stay."""
    import torch

    for module in modules:
        for obj in list(vars(module).values()):
            if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer) and obj.__module__ == module.__name__:
                obj([torch.zeros(1, requires_grad=True)], lr=0.1)


class Seal:
    """The kit's code as it was before any student code ran: every object its modules hold, and
    what their functions, classes, instances and containers hold, a few levels down (kept alive,
    so an id is never reused). `broken()` says whether any of it was replaced since: a method of
    the tripwire, a probe, the encoder, a function's code or defaults. So the kit keeps no state
    that changes while it grades (a module-level cache would read as tampering)."""

    DEPTH = 5

    def __init__(self, roots: list[object]):
        self.roots = roots
        self.objects = self._walk()

    def _walk(self) -> list[object]:
        seen: set[int] = set()
        out: list[object] = []
        todo = [(root, 0) for root in reversed(self.roots)]
        while todo:
            obj, depth = todo.pop()
            out.append(obj)
            if depth < self.DEPTH and id(obj) not in seen:
                seen.add(id(obj))
                todo += [(part, depth + 1) for part in reversed(_parts(obj))]
        return out

    def renewed(self) -> Seal:
        """The same roots, walked again: after the worker itself added to them (an exercise's
        references, compiled into `Trusted`), checking `broken()` first."""
        return Seal(self.roots)

    def broken(self) -> bool:
        now = self._walk()
        return len(now) != len(self.objects) or any(a is not b for a, b in zip(now, self.objects, strict=True))


def _sender(result_fd: int) -> Callable[[str], Callable[[dict], None]]:
    """`sender(nonce)(message)`: one length-prefixed JSON message on the result pipe, tagged with
    the nonce. Made of C functions bound now, before any student code: a student's patch to json,
    os or struct cannot rewrite what goes out (and the tripwire is off while it is sent). The
    nonce comes later: each exercise's process sends under its own job's."""
    encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ", False, False, False)
    join, write, pack, length = "".join, os.write, struct.Struct("<Q").pack, len

    def sender(nonce: str) -> Callable[[dict], None]:
        def send(message: dict) -> None:
            data = join(encode({"nonce": nonce, **message}, 0)).encode()
            view = memoryview(pack(length(data)) + data)
            while view:
                view = view[write(result_fd, view) :]

        return send

    return sender


def run_notebook(cells: list[Compiled], names: dict, job: dict) -> list[dict]:
    """The submission's cells, once, in `names`, from torch's defaults."""
    reset_torch()
    return run_cells(cells, names, job["limits"]["cell_timeout"])


def compile_references(
    refs: list[dict], compile_trusted: Callable[[str, str], CodeType]
) -> list[tuple[str, CodeType | BaseException]]:
    """The earlier exercises' reference code, compiled (and so trusted) by a compiler bound before any
    student code ran."""
    out: list[tuple[str, CodeType | BaseException]] = []
    for ref in refs:
        try:
            out.append((ref["exercise"], compile_trusted(ref["source"], f"<reference {ref['exercise']}>")))
        except BaseException as e:  # the course's code: never expected, still reported
            out.append((ref["exercise"], e))
    return out


def bind_references(refs: list[tuple[str, CodeType | BaseException]], names: dict) -> list[dict]:
    """Bind the earlier exercises' names to the reference code, so an exercise is graded on its own
    code alone. Returns those that could not be defined beside the student's code, without the
    error's text: student code that raised it (a decorator, a hooked `__build_class__`) had the
    reference's code in reach, and the text could carry it to the student's feedback."""
    failed = []
    for exercise, code in refs:
        try:
            if isinstance(code, BaseException):
                raise code
            exec(code, names)
        except BaseException:  # e.g. `@annealer` when the student's annealer is wrong
            failed.append({"exercise": exercise, "error": "withheld"})
    return failed


def rerun_own_cell(cells: list[Compiled], job: dict, names: dict) -> list[dict] | None:
    """Run the exercise's own cell once more, now that the earlier names are the reference's: a
    default argument (`collate_fn=collate`) or a closure must capture those, not the student's.
    None when the cell is not among those run."""
    own = [c for c in cells if c[0] == job.get("own_cell")]
    return run_cells(own, names, job["limits"]["cell_timeout"]) if own else None


class Probes:
    """An exercise's probes with all they need: the checks, the encoder, the tripwire, all bound
    before any student code ran. Each probe runs under a fresh tripwire, and so does all that may
    meet student code on the way back (resetting torch, encoding the value, the error's text):
    only plain data is left when the tripwire comes off. A forbidden call is sent to the grader
    the moment the tripwire sees it (`send`), before the probe's own reply."""

    def __init__(self, job: dict, checks: list, trusted: Trusted, watched: Watched, send: Callable[[dict], None]):
        self.job, self.trusted, self.watched, self.send = job, trusted, watched, send
        self.checks = {c.name: c for c in checks}
        self.encode, self.error_text, self.reset, self.inputs = wire.encode, error_text, reset_torch, Inputs

    def hit(self, what: str) -> None:
        self.send({"kind": "hit", "what": what})

    def run(self, names: dict, seal: Seal | None, tampered: bool = False) -> Iterator[dict]:
        """Each asked-for check on each device, one reply each, in the order the grader expects.
        A generator: each reply is sent as soon as it is made, so a later probe that hangs or
        crashes the process loses none of those before it."""
        ns = Namespace(names)
        for device in self.job["devices"]:
            for name in self.job["checks"]:
                reply = self.probe(self.checks[name], ns, device, seal, tampered)
                yield {"kind": "check", "name": name, "device": device, **reply}

    def probe(self, check, ns: Namespace, device: str, seal: Seal | None, tampered: bool = False) -> dict:
        """One probe: its value's plain encoding (`wire`) or its error, what the tripwire saw, and
        whether the kit's code is still what `seal` took before any student code ran."""
        tripwire = Tripwire(self.watched, self.trusted, self.hit)
        with tripwire:
            try:
                self.reset()  # whatever the previous probe changed
                reply = {"value": self.encode(check.probe(ns, self.inputs(self.job["seed"], check.name, device)))}
            except BaseException as e:
                reply = {"error": self.error_text(e)}
            if not tripwire.intact():
                tripwire.paused()
            if tampered or seal is not None and seal.broken():
                self.hit("the grader's own code was changed at run time")
        return reply


def exit_status(status: int) -> dict:
    """How a process ended, from its wait status: an exit code or a signal's name."""
    return {
        "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None,
    }


class Exercises:
    """The cells' process, once the cells have run: it forks one process per exercise, each from
    the notebook as the cells left it, until the grader closes the job pipe.

    Everything here is bound before any student code runs (and sealed): the fork, the wait, the
    sender, the checks, the compiler the references are trusted through. Each exercise's process
    first closes itself in (`isolation.ExerciseFiles.enter`), then reads its own job: the references of the exercises
    *before* it alone. The grader grades exercises in notebook order, so no process that runs
    student code ever holds the reference of an exercise not yet graded: not this one's, not
    another's that a cell's thread could pass on (README, "Security")."""

    def __init__(
        self,
        job: dict,
        cells: list[Compiled],
        trusted: Trusted,
        io: tuple,
        files: isolation.ExerciseFiles,
        without: frozenset[str],
        one_task: bool,
    ):
        """`io`: the job pipe, its reader and the sender; `one_task`: each exercise's process
        forbids itself threads and processes (where the cells' process has its `seccomp` layer)."""
        self.job, self.cells, self.trusted, self.without, self.one_task = job, cells, trusted, without, one_task
        (self.job_fd, self.read_job, self.sender), self.send = io, io[2](job["nonce"])
        # every exercise's forbidden calls, from the cells' message: a later job cannot change them
        self.watches = {ex: watch([] if "tripwire" in without else names) for ex, names in job["forbidden"].items()}
        self.checks = registry(job["module"])
        self.compile = trusted.compile
        self.fork, self.wait, self.exit, self.close, self.pid = os.fork, os.waitpid, os._exit, os.close, os.getpid()
        self.files = files
        self.kill = sweeper("zombies" not in without)

    def serve(self, names: dict, seal: Seal | None) -> int:
        """`names`: the notebook's globals, as the cells left them (not held here: the seal would
        read their change as tampering)."""
        self.kill(self.pid)  # processes a cell left running: none outlives the notebook's run
        while True:
            pid = self.fork()
            if pid == 0:
                code = 1
                try:
                    code = self.exercise(names, seal)
                finally:
                    self.exit(code)
            _, status = self.wait(pid, 0)
            self.kill(self.pid)  # whatever the exercise left running, detached or not
            if (ended := exit_status(status))["code"] == NO_MORE_JOBS:
                return 0
            self.send({"kind": "gone", **ended})

    def inline(self, names: dict, seal: Seal | None) -> int:
        """The exercises in this process itself, one job after another, until its device fails
        (`box.Sandbox(inline=True)`: CUDA, whose context a fork would not carry)."""
        self.kill(self.pid)  # processes a cell left running
        code = self.exercise(names, seal)
        if code != NO_MORE_JOBS:
            self.send({"kind": "gone", "code": code, "signal": None})
        return code

    def exercise(self, names: dict, seal: Seal | None) -> int:
        """In a fork of the cells' process: its own folder, then its job: the earlier exercises'
        references, its own cell again, its probes. A job that may stay (another device than the
        CPU: one CUDA context per submission) is followed by the next exercise's, in this process,
        as long as its device still works."""
        self.files.enter(device_files(self.job))
        if self.one_task:
            seccomp.no_tasks()  # no thread, no process: the probing thread is the only one
        job = self.read_job(self.job_fd)
        while job is not None:
            job = {**self.job, **job}
            if not job["stay"]:
                self.close(self.job_fd)  # before any student code: later jobs stay out of its reach
            healthy, seal = self.grade(job, names, seal)
            self.sender(job["nonce"])({"kind": "done", "more": job["stay"] and healthy})
            if not (job["stay"] and healthy):
                return 0
            job = self.read_job(self.job_fd)
        return NO_MORE_JOBS

    def grade(self, job: dict, names: dict, seal: Seal | None) -> tuple[bool, Seal | None]:
        """One exercise's replies. Returns whether its device still works (a CUDA error poisons the
        process's context for good), and the seal as it now stands, with the references' code."""
        send = self.sender(job["nonce"])
        tampered = seal is not None and seal.broken()  # by student code, before the references join the seal
        refs = compile_references(job["refs"], self.compile)
        seal = seal and seal.renewed()
        watched = self.watches.get(job["exercise"], watch([]))
        probes = Probes(job, self.checks.for_exercise(job["exercise"]), self.trusted, watched, send)
        send({"kind": "refs", "failed": bind_references(refs, names)})
        own = rerun_own_cell(self.cells, job, names)
        if own is not None:
            send({"kind": "own_cell", "cells": own})
        healthy = True
        for reply in probes.run(names, seal, tampered):
            send(reply)
            healthy = healthy and "CUDA error" not in reply.get("error", "")
        return healthy and device_works(job["devices"]), seal


def device_works(devices: list[str]) -> bool:
    """Whether the CUDA context, if this process made one, still takes work."""
    import torch

    if not any(d.startswith("cuda") for d in devices) or not torch.cuda.is_initialized():
        return True
    try:
        torch.cuda.synchronize()
        return True
    except Exception:
        return False


def child(job_fd: int, result_fd: int, plan: isolation.Plan, slot: int) -> int:
    """One submission's cells, in a fresh fork of the sandbox parent, then its exercises
    (`Exercises`); returns the exit code.

    The order is the security argument: the process is confined and limited,
    then all the course's code it needs compiled and what runs after the
    student's code bound and sealed, before any student code runs. The
    replies go out in the one order the grader accepts (`box.Sandbox`).
    """
    read_job = job_reader()
    job = read_job(job_fd)
    if job is None:
        return NO_MORE_JOBS
    sender = _sender(result_fd)
    send = sender(job["nonce"])
    without = switched_off()
    layers = confine(job, plan, slot, without)
    layers["threads"] = one_thread(job, without)
    send({"kind": "isolation", "layers": layers})
    if job["strict"] and isolation.missing(layers):
        return 0  # the grader refuses to go on; no student code has run
    limit_resources(job["limits"], uses_cuda(job))
    become_subreaper()  # what an exercise's process leaves behind comes back to us, to be killed

    guard()  # from here on, a switch of the tripwire's profile hook is a hit
    names = notebook_globals()
    trusted = Trusted(names)
    cells = compile_cells(job["cells"], trusted)
    files = isolation.exercise_files(plan, layers)
    one_task = not layers["threads"].startswith("none")
    exercises = Exercises(job, cells, trusted, (job_fd, read_job, sender), files, without, one_task)
    _settle(_kit_modules())
    seal = None if "seal" in without else Seal([*_kit_modules(), exercises, send])
    if seal is not None:
        hide_kit()
    # the first student line runs here
    send({"kind": "cells", "cells": run_notebook(cells, names, job)})
    return exercises.inline(names, seal) if job.get("inline") else exercises.serve(names, seal)


def _warm_optim() -> None:
    """The first step of a torch optimizer imports dynamo machinery (about 1 s): pay it once, here."""
    import torch

    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.ones(1)
    torch.optim.SGD([p], lr=0.1).step()


class _Blocked:
    """A meta-path finder that refuses the reference solutions, and the kit once a child has hidden
    it, to student code."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ImportError(f"{name} is not available to submissions")
        return None


def preload(imported: set[str] | None = None) -> None:
    """What every sandbox needs, imported once in the pool server before it forks. `imported`:
    the top-level packages the notebooks' cells import (None: not known). matplotlib and
    scikit-learn (0.3 s and 0.6 s) are preloaded only for notebooks that import them: 03's and
    04's run cells never import matplotlib."""
    for name in PRELOAD:
        top = name.split(".")[0]
        if imported is not None and top in ("matplotlib", "sklearn") and top not in imported:
            continue
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
    sys.meta_path.insert(0, _Blocked(("solutions", KIT)))
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
        ended = exit_status(status)
        wire.write_message(status_fd, {"kind": "exit", **ended})
        # A student may exit with this code too: the grader then sees the exit and starts afresh.
        if ended["code"] == NO_MORE_JOBS:
            return
