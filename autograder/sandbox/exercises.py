"""After the first student line: the cells' loop, each exercise's process, its probes.

The cells' process (`cells.child`) builds one frozen record, `Exercises`,
before any student code runs: every callable the steps below use and every
defence's configuration (each exercise's watch, the devices, the time limit,
the nonce). Then it runs the cells, and forks one process per exercise from
the notebook as the cells left it, until the grader closes the job pipe.

Each exercise's process stacks its own Landlock layer (a folder no other
exercise can read) and its own seccomp filter (no thread, no process), reads
its own job, binds the names of the exercises *before* it to their reference
code, runs its exercise's cell again and its probes, and streams plain
results back. The grader grades exercises in notebook order and sends an
exercise's process only the references of earlier exercises, so no process
that runs student code ever holds the reference of an exercise not yet
graded (README, "Security").

Everything in this module runs after student code, so it looks nothing up at
call time: it uses the record (`self`), `bound.K`, constants and its own
builtins (`bound`; `tests/test_bound.py` reads this file's syntax tree).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from ..wire import NO_MORE_JOBS
from .bound import K
from .private import own_builtins

__builtins__ = own_builtins()  # noqa: A001  (a student's `builtins.x = ...` reaches none of the code below)


class Exercises(NamedTuple):
    """One submission's far side, fixed before its first line ran (`cells.child`)."""

    nonce: str  # the cells' process's: its "gone" messages
    cell_timeout: float
    cells: tuple  # (index, code or the error it has instead), compiled before any ran
    watches: tuple  # (exercise, tripwire.Watched): every exercise's, from the cells' message
    no_watch: Any  # the empty Watched, for an exercise that forbids nothing
    checks: tuple  # (exercise, {check's name: check}), from the assignment's registry
    trusted: Any  # tripwire.Trusted: the given cells' code, and the references' once compiled
    job_fd: int
    read_job: Callable[[int], dict | None]  # `cells.job_reader`
    sender: Callable[[str], Callable[[dict], None]]  # `cells.sender`
    tripwire: type  # tripwire.Tripwire
    probes: type  # Probes, below
    namespace: type  # checks.Namespace
    inputs: Any  # checks.Inputs
    encode: Callable[[Any], Any]  # wire.encoder(K)
    reset_torch: Callable[[], None]
    enter_files: Callable[[tuple], str]  # isolation.ExerciseFiles.enter: the exercise's own folder
    no_tasks: Callable[[], str] | None  # seccomp's, prepared; None where the cells' process has no filter
    sweep: Callable[[int], None]  # procs.sweeper: every process below the given one ends
    device_files: tuple[str, ...]  # writable to an exercise's process (CUDA's device files)

    # -- the cells -------------------------------------------------------------------------------

    def run_cells(self, cells: tuple, names: dict) -> list[dict]:
        """Run each cell in `names`, in order; a cell that raises is reported and the next runs."""
        statuses = []
        K.set_handler(K.sigalrm, self.on_alarm)
        for index, code in cells:
            status = {"index": index, "ok": True, "error": ""}
            try:
                if isinstance(code, BaseException):
                    raise code
                K.setitimer(K.itimer_real, self.cell_timeout)
                try:
                    exec(code, names)
                finally:
                    K.setitimer(K.itimer_real, 0)
            except K.CellTimeout:
                status = {
                    "index": index,
                    "ok": False,
                    "error": f"timed out after {self.cell_timeout:g} s",
                    "timeout": True,
                }
            except BaseException as e:  # SystemExit and KeyboardInterrupt too: the next cell still runs
                status = {"index": index, "ok": False, "error": self.error_text(e)}
            statuses.append(status)
        return statuses

    @staticmethod
    def on_alarm(signum: int, frame: object) -> None:
        raise K.CellTimeout("cell time limit reached")

    @staticmethod
    def error_text(exc: BaseException) -> str:
        """An exception as the student reads it: type, first line of the message, notebook line."""
        try:
            text = str(exc).strip().splitlines()
        except BaseException:  # a student's __str__ that raises in turn
            text = ["(its message cannot be shown)"]
        first = text[0][:300] if text else ""
        where, tb = "", exc.__traceback__
        while tb is not None:  # the innermost frame in notebook code
            name = tb.tb_frame.f_code.co_filename
            if name.startswith(("<cell", "<given", "<reference")):
                where = f" ({name.strip('<>')}, line {tb.tb_lineno})"
            tb = tb.tb_next
        return f"{type(exc).__name__}{': ' + first if first else ''}{where}"

    def send(self, message: dict) -> None:
        """On the result pipe under the cells' process's nonce."""
        self.sender(self.nonce)(message)

    # -- one process per exercise ----------------------------------------------------------------

    def serve(self, names: dict, seal: Any) -> int:
        """Fork a process per exercise until the grader closes the job pipe. `names`: the notebook's
        globals as the cells left them (not held here: the seal would read their change as tampering)."""
        me = K.getpid()
        self.sweep(me)  # processes a cell left running: none outlives the notebook's run
        while True:
            pid = K.fork()
            if pid == 0:
                code = 1
                try:
                    code = self.exercise(names, seal)
                finally:
                    K.exit(code)
            _, status = K.waitpid(pid, 0)
            self.sweep(me)  # whatever the exercise left running, detached or not
            if (ended := self.exit_status(status))["code"] == NO_MORE_JOBS:
                return 0
            self.send({"kind": "gone", **ended})

    def inline(self, names: dict, seal: Any) -> int:
        """The exercises in this process itself, one job after another, until its device fails
        (`box.Sandbox(inline=True)`: CUDA, whose context a fork would not carry)."""
        self.sweep(K.getpid())  # processes a cell left running
        code = self.exercise(names, seal)
        if code != NO_MORE_JOBS:
            self.send({"kind": "gone", "code": code, "signal": None})
        return code

    @staticmethod
    def exit_status(status: int) -> dict:
        """How a process ended, from its wait status: an exit code or a signal's name."""
        signal = None
        if K.wifsignaled(status):
            number = K.wtermsig(status)
            signal = next((name for n, name in K.signal_names if n == number), str(number))
        return {"code": K.wexitstatus(status) if K.wifexited(status) else None, "signal": signal}

    def exercise(self, names: dict, seal: Any) -> int:
        """In a fork of the cells' process: its own folder, then its job: the earlier exercises'
        references, its own cell again, its probes. A job that may stay (another device than the
        CPU: one CUDA context per submission) is followed by the next exercise's, in this process,
        as long as its device still works."""
        self.enter_files(self.device_files)
        if self.no_tasks is not None:
            self.no_tasks()  # no thread, no process: the probing thread is the only one
        job = self.read_job(self.job_fd)
        while job is not None:
            if not job["stay"]:
                K.close(self.job_fd)  # before any student code: later jobs stay out of its reach
            healthy, seal = self.grade(job, names, seal)
            self.sender(job["nonce"])({"kind": "done", "more": job["stay"] and healthy})
            if not (job["stay"] and healthy):
                return 0
            job = self.read_job(self.job_fd)
        return NO_MORE_JOBS

    def grade(self, job: dict, names: dict, seal: Any) -> tuple[bool, Any]:
        """One exercise's replies. Returns whether its device still works (a CUDA error poisons the
        process's context for good), and the seal as it now stands, with the references' code."""
        send = self.sender(job["nonce"])
        tampered = seal is not None and seal.broken()  # by student code, before the references join the seal
        refs = self.compile_references(job["refs"])
        seal = seal and seal.renewed()
        watched = next((w for exercise, w in self.watches if exercise == job["exercise"]), self.no_watch)
        checks = next((c for exercise, c in self.checks if exercise == job["exercise"]), {})
        probes = self.probes(self, job, checks, watched, send)
        send({"kind": "refs", "failed": self.bind_references(refs, names)})
        own = [c for c in self.cells if c[0] == job["own_cell"]]
        if own:  # again, now that the earlier names are the reference's: a default argument
            send({"kind": "own_cell", "cells": self.run_cells(own, names)})  # or a closure captures those
        healthy = True
        for reply in probes.run(names, seal, tampered):
            send(reply)
            healthy = healthy and "CUDA error" not in reply.get("error", "")
        return healthy and self.device_works(job["devices"]), seal

    def compile_references(self, refs: list) -> list[tuple[str, Any]]:
        """The earlier exercises' reference code, compiled (and so trusted) by the compiler
        `Trusted` bound before any student code ran."""
        out = []
        for ref in refs:
            try:
                out.append((ref["exercise"], self.trusted.compile(ref["source"], f"<reference {ref['exercise']}>")))
            except BaseException as e:  # the course's code: never expected, still reported
                out.append((ref["exercise"], e))
        return out

    @staticmethod
    def bind_references(refs: list, names: dict) -> list[dict]:
        """Bind the earlier exercises' names to the reference code, so an exercise is graded on its
        own code alone. Returns those that could not be defined beside the student's code, without
        the error's text: student code that raised it (a decorator, a hooked `__build_class__`) had
        the reference's code in reach, and the text could carry it to the student's feedback."""
        failed = []
        for exercise, code in refs:
            try:
                if isinstance(code, BaseException):
                    raise code
                exec(code, names)
            except BaseException:  # e.g. `@annealer` when the student's annealer is wrong
                failed.append({"exercise": exercise, "error": "withheld"})
        return failed

    @staticmethod
    def device_works(devices: list) -> bool:
        """Whether the CUDA context, if this process made one, still takes work."""
        if not any(d.startswith("cuda") for d in devices) or K.cuda_initialized is None or not K.cuda_initialized():
            return True
        try:
            K.cuda_synchronize()
            return True
        except Exception:
            return False


class Probes(NamedTuple):
    """An exercise's probes. Each runs under a fresh tripwire, and so does all that may meet
    student code on the way back (resetting torch, encoding the value, the error's text): only
    plain data is left when the tripwire comes off. A forbidden call is sent to the grader the
    moment the tripwire sees it (`send`), before the probe's own reply."""

    far: Exercises
    job: dict
    checks: dict  # name -> check
    watched: Any  # tripwire.Watched
    send: Callable[[dict], None]

    def hit(self, what: str) -> None:
        self.send({"kind": "hit", "what": what})

    def run(self, names: dict, seal: Any, tampered: bool = False) -> Iterator[dict]:
        """Each asked-for check on each device, one reply each, in the order the grader expects.
        A generator: each reply is sent as soon as it is made, so a later probe that hangs or
        crashes the process loses none of those before it."""
        ns = self.far.namespace(names)
        for device in self.job["devices"]:
            for name in self.job["checks"]:
                reply = self.probe(self.checks[name], ns, device, seal, tampered)
                yield {"kind": "check", "name": name, "device": device, **reply}

    def probe(self, check: Any, ns: Any, device: str, seal: Any, tampered: bool = False) -> dict:
        """One probe: its value's plain encoding (`wire`) or its error, what the tripwire saw, and
        whether the kit's code is still what `seal` took before any student code ran."""
        far = self.far
        tripwire = far.tripwire(self.watched, far.trusted, self.hit)
        with tripwire:
            try:
                far.reset_torch()  # whatever the previous probe changed
                reply = {"value": far.encode(check.probe(ns, far.inputs(self.job["seed"], check.name, device)))}
            except BaseException as e:
                reply = {"error": far.error_text(e)}
            if not tripwire.intact():
                tripwire.paused()
            if tampered or seal is not None and seal.broken():
                self.hit("the grader's own code was changed at run time")
        return reply
