"""The cells' process: one per submission, forked by its sandbox parent (`parent`).

It reads the cells' message, confines itself (`isolation`, `limits`,
`seccomp`), compiles every cell, builds the frozen record of all it will use
once student code has run (`exercises.Exercises`), seals the kit and hides
it (`seal`), and only then runs the notebook's first line. The order in
`child` is the security argument; README's "Security" points here.

A CUDA context does not survive fork, so the CUDA probes do not fork: they
run after the CPU ones, in a second sandbox whose child runs the cells and
then the exercises itself (`Exercises.inline`), one job after another
(`stay`): one context per submission, made by the probes or by a cell. A
CUDA error poisons a context for good, so that child then ends, and the
next exercise's CUDA probes start a fresh sandbox: a device-side assert
costs only its own exercise.
"""

from __future__ import annotations

import _json
import builtins
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType, ModuleType

from .. import wire
from ..checks import Inputs, Namespace, registry
from ..wire import NO_MORE_JOBS
from . import isolation, limits, seccomp
from .bound import K
from .exercises import Exercises, Probes
from .private import own_builtins
from .procs import become_subreaper, sweeper
from .seal import Seal, hide_kit, kit_modules, sealed_modules, settle
from .tripwire import Tripwire, Trusted, guard, watch

__builtins__ = own_builtins()  # noqa: A001  (the job reader and the sender run after student code: `bound`)

JOB_BYTES = 1 << 30  # the grader's jobs, taken as they are: a notebook's code may be long


def job_reader() -> Callable[[int], dict | None]:
    """`read_job(fd)`: a job, or None when the grader has closed the pipe. Made of functions bound
    when the child starts: an exercise's process reads its job after the cells ran, and a cell may
    have patched json, os or struct. The pipe stays open: the cells' process keeps it for the
    exercises' processes it forks, and an exercise's process closes it itself before any student
    code runs (`Exercises.exercise`), unless the next job is its too."""
    decode, join, most = json.JSONDecoder().decode, b"".join, JOB_BYTES

    def read_exact(fd: int, n: int) -> bytes | None:
        chunks = []
        while n:
            chunk = K.read(fd, min(n, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            n -= len(chunk)
        return join(chunks)

    def read_job(fd: int) -> dict | None:
        head = read_exact(fd, 8)
        if head is None:
            return None
        if (size := K.unpack_length(head)[0]) > most:
            raise ValueError(f"a job of {size} bytes is over the cap of {most}")
        body = read_exact(fd, size)
        return decode(body.decode()) if body is not None else None

    return read_job


def sender(result_fd: int) -> Callable[[str], Callable[[dict], None]]:
    """`sender(nonce)(message)`: one length-prefixed JSON message on the result pipe, tagged with
    the nonce. Made of C functions bound now, before any student code: a student's patch to json,
    os or struct cannot rewrite what goes out (and the tripwire is off while it is sent). The
    nonce comes later: each exercise's process sends under its own job's."""
    encode = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ": ", ", ", False, False, False)
    join = "".join

    def make(nonce: str) -> Callable[[dict], None]:
        def send(message: dict) -> None:
            data = join(encode({"nonce": nonce, **message}, 0)).encode()
            view = memoryview(K.pack_length(len(data)) + data)
            while view:
                view = view[K.write(result_fd, view) :]

        return send

    return make


def uses_cuda(job: dict) -> bool:
    """CUDA needs the GPUs' device files writable, and no cap on address space."""
    return any(d.startswith("cuda") for d in job["devices"])


def switched_off() -> frozenset[str]:
    """COURSE_SANDBOX_WITHOUT=...: the layers (isolation's, and "slots") and defences to leave out,
    to see how the kit behaves without them; the security tests show each attack is real this way.
    The defences: "tripwire" (no run-time watch), "seal" (the kit stays in sys.modules, and
    nothing checks that its code is unchanged), "threads" (no seccomp filter: student code may
    start threads and processes), "zombies" (the sandbox's sweeps take a process whose main
    thread ended for dead, and leave its other threads running: `procs`) and "names" (given code
    is trusted whatever the notebook's globals now hold: `tripwire.Trusted`)."""
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
    if "threads" in without:
        layers["threads"] = "none (turned off by COURSE_SANDBOX_WITHOUT)"
    elif uses_cuda(job):
        layers["threads"] = "none on CUDA (its driver starts threads; the tripwire watches the probing thread only)"
    else:
        layers["threads"] = seccomp.no_threads()  # student code in one thread, the tripwire's
    return layers


def notebook_globals() -> dict:
    """The notebook's globals: the dict of a fresh `__main__` module, which takes the pool server's
    place in sys.modules (pickle and friends find the notebook's classes there, and no kit)."""
    main = ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    return main.__dict__


Compiled = tuple[int, "CodeType | BaseException"]  # a cell's index, and its code or why it has none


def compile_cells(cells: list[dict], trusted: Trusted) -> tuple[Compiled, ...]:
    """Every cell compiled before any runs. The grader marks a cell `given` when it is the release's
    own (by checksum): `trusted` compiles those, so the tripwire knows them by identity, whatever
    a student names their own code. A cell that does not compile keeps its error for its turn."""
    out: list[Compiled] = []
    for cell in cells:
        name = f"<{'given' if cell.get('given') else 'cell'} {cell['index']}>"
        try:
            code = trusted.given(cell["source"], name) if cell.get("given") else compile(cell["source"], name, "exec")
        except BaseException as e:  # a syntax error, or a cell too deep or too large to compile
            code = e
        out.append((cell["index"], code))
    return tuple(out)


def prepare(
    job: dict,
    io: tuple[int, Callable, Callable],
    plan: isolation.Plan,
    layers: dict,
    names: dict,
    without: frozenset[str],
) -> Exercises:
    """The submission's record (`Exercises`): all the far side uses once student code has run,
    bound and worked out now. `io`: the job pipe, its reader and the result pipe's sender. Every
    exercise's forbidden calls come from the cells' message: a later job cannot change them."""
    job_fd, read_job, send = io
    trusted = Trusted(names, check_names="names" not in without)
    checks = registry(job["module"])
    exercises = sorted({c.exercise for c in checks.checks})
    no_tasks = seccomp.prepare(threads_only=False) if not layers["threads"].startswith("none") else None
    return Exercises(
        nonce=job["nonce"],
        cell_timeout=float(job["limits"]["cell_timeout"]),
        cells=compile_cells(job["cells"], trusted),
        watches=tuple((ex, watch([] if "tripwire" in without else f)) for ex, f in job["forbidden"].items()),
        no_watch=watch([]),
        checks=tuple((ex, {c.name: c for c in checks.for_exercise(ex)}) for ex in exercises),
        trusted=trusted,
        job_fd=job_fd,
        read_job=read_job,
        sender=send,
        tripwire=Tripwire,
        probes=Probes,
        namespace=Namespace,
        inputs=Inputs,
        encode=wire.encoder(K),
        reset_torch=limits.torch_resetter(),
        enter_files=isolation.exercise_files(plan, layers).enter,
        no_tasks=no_tasks,
        sweep=sweeper("zombies" not in without),
        device_files=tuple(device_files(job)),
    )


def child(job_fd: int, result_fd: int, plan: isolation.Plan, slot: int) -> int:
    """One submission's cells, in a fresh fork of the sandbox parent, then its exercises
    (`Exercises`); returns the exit code.

    The order is the security argument: the process is confined and limited,
    then all the course's code it needs compiled and what runs after the
    student's code bound (`prepare`) and sealed, before any student code runs.
    The replies go out in the one order the grader accepts (`box.Sandbox`).
    """
    read_job = job_reader()
    job = read_job(job_fd)
    if job is None:
        return NO_MORE_JOBS
    send, without = sender(result_fd), switched_off()
    layers = confine(job, plan, slot, without)
    send(job["nonce"])({"kind": "isolation", "layers": layers})
    if job["strict"] and isolation.missing(layers):
        return 0  # the grader refuses to go on; no student code has run
    limits.limit_resources(job["limits"], uses_cuda(job))
    become_subreaper()  # what an exercise's process leaves behind comes back to us, to be killed

    guard()  # from here on, a switch of the tripwire's profile hook is a hit
    names = notebook_globals()
    far = prepare(job, (job_fd, read_job, send), plan, layers, names, without)
    settle(kit_modules())
    seal = None if "seal" in without else Seal([*sealed_modules(job["module"]), far])
    if seal is not None:
        hide_kit()
    # the first student line runs here
    far.reset_torch()
    far.send({"kind": "cells", "cells": far.run_cells(far.cells, names)})
    return far.inline(names, seal) if job.get("inline") else far.serve(names, seal)
