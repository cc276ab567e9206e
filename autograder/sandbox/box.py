"""The grader side of the sandbox: runs one submission's notebook, then its exercises, in other processes.

A `Sandbox` has the pool server (`pool`) fork a sandbox parent
(`parent`) in its own session, working directory and scrubbed
environment; the parent forks the submission's child, which runs the
notebook's cells once (`notebook`) and then forks one process per
exercise (`run`). The grader enforces every time limit itself: a process
that runs past its time, sends something malformed or takes the child
down gets the whole session killed, and the next exercise starts a fresh
sandbox, whose cells run again (but those that timed out). What comes
back is decoded and schema-checked plain data (`wire`), never trusted
beyond that.

Before any student code runs, the child confines itself (`isolation`) and
says which layers are in force; in strict mode a missing layer stops the
grading with `SandboxError`.
"""

from __future__ import annotations

import os
import select
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import wire
from ..config import Course
from .isolation import missing
from .pool import Pool, PoolError
from .procs import kill_tree


@dataclass(frozen=True)
class Job:
    exercise: str
    module: str  # autograder.checks.<module>
    checks: list[str]
    refs: list[dict]  # [{"exercise", "source"}] of the exercises before this one, in notebook order
    devices: list[str]
    seed: int
    own_cell: int | None = None  # the exercise's solution cell, run again after the references
    stay: bool = False  # the process may take the next exercise's job too (one CUDA context for all)


@dataclass
class ExerciseRun:
    outcome: str  # "done", "timeout", "crashed", "malformed"
    message: str = ""
    isolation: dict[str, str] | None = None  # layer -> what was in force
    cells: list[dict] | None = None
    own_cell: list[dict] | None = None  # the exercise's cell, run again after the references
    refs_failed: list[tuple[str, str]] = field(default_factory=list)  # references that could not be defined beside it
    results: dict[tuple[str, str], Any] = field(default_factory=dict)  # (check, device) -> reply


LIMITS = ("cell_timeout", "exercise_timeout", "memory_mib", "file_mib", "disk_mib", "processes", "open_files")


class SandboxError(Exception):
    """The sandbox itself could not be started (a fault of the host, not of a submission)."""


def env(workdir: Path) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's but what torch needs to find devices."""
    env = {
        "PATH": os.defpath,
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        # matplotlib builds a font cache on first import; sharing it saves seconds per submission
        "MPLCONFIGDIR": str(Path(tempfile.gettempdir()) / f"course-kit-mpl-{os.getuid()}"),
        # torch.cuda.is_available() through NVML does not initialise CUDA, so the parent stays fork-safe
        "PYTORCH_NVML_BASED_CUDA_CHECK": "1",
        # Student code runs in one thread (`seccomp`): the math libraries must never try to start
        # one (OpenMP ends the process, OpenBLAS hangs, when they cannot)
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "COURSE_SANDBOX_WITHOUT"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


class _Frames:
    """Length-prefixed messages from a non-blocking read end."""

    def __init__(self, fd: int, cap: int):
        self.fd, self.cap, self.buf, self.eof = fd, cap, b"", False

    def pump(self) -> list[dict]:
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.eof = True
        self.buf += chunk
        out = []
        while len(self.buf) >= 8:
            size = int.from_bytes(self.buf[:8], "little")
            if size > self.cap:
                raise wire.WireError(f"a reply of {size} bytes is over the cap of {self.cap}")
            if len(self.buf) < 8 + size:
                break
            body, self.buf = self.buf[8 : 8 + size], self.buf[8 + size :]
            out.append(wire.parse_message(body))
        return out


class Sandbox:
    """The processes of one submission. Use as a context manager."""

    def __init__(
        self,
        cells: list[dict],
        course: Course,
        module: str,
        pool: Pool,
        devices: list[str] = ("cpu",),
        inline: bool = False,
        skip: set[int] | None = None,
    ):
        """`inline`: the cells' process runs the exercises itself, one job after another (`Job.stay`),
        rather than forking a process per exercise: a device other than the CPU (one CUDA context
        per submission, made after the cells, which may have made it themselves). `skip`: cells
        that timed out in an earlier sandbox of the submission, not run again (shared, and added to)."""
        self.cells, self.limits, self.module, self.pool = cells, course.limits, module, pool
        self.forbidden = dict(course.forbidden)  # every exercise's, sent before any student code runs
        self.strict = course.strict
        self.skip: set[int] = set() if skip is None else skip  # cells that timed out once are not run again
        self.cells_hung = False  # the cells never finished: every exercise would wait again
        self.pid: int | None = None  # the sandbox parent
        self.slot: int | None = pool.take_slot()  # as root, the uid its processes run as
        self.workdir = Path(tempfile.mkdtemp(prefix="course-sandbox-"))
        self.devices, self.inline = list(devices), inline
        self.nonce = ""  # the cells' process's, for this sandbox's current start
        self.cells_run: ExerciseRun | None = None  # the notebook's run in the current start
        self.timings = {"start-up": 0.0, "cells": 0.0, "probes": 0.0}  # seconds, for a profile

    # -- lifecycle ----------------------------------------------------------
    def _start(self) -> None:
        job_r, self.job_w = os.pipe()
        self.result_r, result_w = os.pipe()
        self.status_r, status_w = os.pipe()
        try:
            self.pid = self.pool.spawn(
                self.module, self.workdir, env(self.workdir), (job_r, result_w, status_w), self.slot or 0
            )
        except PoolError as e:
            raise SandboxError(str(e)) from None
        finally:
            for fd in (job_r, result_w, status_w):
                os.close(fd)
        cap = self.limits.reply_mib << 20
        self.results, self.status = _Frames(self.result_r, cap), _Frames(self.status_r, 1 << 16)
        os.set_blocking(self.result_r, False)
        os.set_blocking(self.status_r, False)
        ready = self._wait(self.status, time.monotonic() + 300)
        if not ready or ready[0].get("kind") != "ready":
            self._stop()
            raise SandboxError("the sandbox process did not start (run with COURSE_SANDBOX_DEBUG=1 to see why)")

    def _wait(self, frames: _Frames, deadline: float) -> list[dict]:
        while time.monotonic() < deadline and not frames.eof:
            r, _, _ = select.select([frames.fd], [], [], max(0.0, deadline - time.monotonic()))
            if r and (msgs := frames.pump()):
                return msgs
        return []

    def _stop(self) -> None:
        if self.pid is None:
            return
        kill_tree(self.pid)  # the pool server, its parent, reaps it
        for fd in (self.job_w, self.result_r, self.status_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.pid = None

    def close(self) -> None:
        self._stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self.slot is not None:  # only once its processes are gone: the next sandbox may take it
            self.pool.free_slot(self.slot)
            self.slot = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the notebook, once --------------------------------------------------
    def notebook(self, timeout: float) -> ExerciseRun:
        """Start the sandbox and run the notebook's cells in it (once: later calls return the same
        run). Its outcome is "done" when the cells' process is ready for the exercises."""
        if self.cells_run is None:
            self.cells_run = self._run_cells(time.monotonic() + timeout)
            if self.cells_run.outcome == "timeout":
                self.cells_hung = True
            if self.cells_run.outcome != "done":
                self._stop()
        return self.cells_run

    def _run_cells(self, deadline: float) -> ExerciseRun:
        start = time.monotonic()
        self._start()
        self.timings["start-up"] += time.monotonic() - start
        start = time.monotonic()
        self.nonce = uuid.uuid4().hex
        message = wire.job(
            "cells",
            nonce=self.nonce,
            devices=self.devices,
            module=self.module,
            strict=self.strict,
            inline=self.inline,
            cells=[c for c in self.cells if c["index"] not in self.skip],
            limits={k: getattr(self.limits, k) for k in LIMITS},
            forbidden=self.forbidden,
        )
        self._send(message)
        run = ExerciseRun("crashed")
        state = {"doing": "running the notebook's cells"}
        run = self._collect(run, wire.cells_replies(self.nonce), state, deadline)
        if self.strict and run.isolation is not None and (gaps := missing(run.isolation)):
            self._stop()
            raise SandboxError(
                "strict mode: this host cannot isolate submissions; missing: "
                + "; ".join(f"{k}: {run.isolation[k]}" for k in gaps)
            )
        if run.cells:
            self.skip |= {c["index"] for c in run.cells if c.get("timeout")}
        self.timings["cells"] += time.monotonic() - start
        return run

    # -- one exercise ---------------------------------------------------------
    def run(self, job: Job, timeout: float, cells_timeout: float | None = None) -> ExerciseRun:
        """Run `job` in a fresh fork of the cells' process, within `timeout`; never raises for
        anything the submission does. The first call runs the cells (with a time limit of their
        own, `cells_timeout`, by default `timeout`); when an exercise does not end well, its
        sandbox is torn down and the next exercise runs the cells again in a fresh one, but for
        those that timed out."""
        if self.cells_hung:
            return ExerciseRun(
                "timeout",
                "the notebook's cells did not finish within an earlier exercise's "
                "time limit, so they were not run again",
            )
        if job.own_cell in self.skip:
            # The exercise's own cell hung when the notebook ran: running it again would hang again.
            return ExerciseRun(
                "timeout",
                f"the exercise's cell (cell {job.own_cell}) did not finish within the cell time limit "
                f"({self.limits.cell_timeout:g} s) when the notebook ran, so it was not run again",
            )
        cells = self.notebook(timeout if cells_timeout is None else cells_timeout)
        if cells.outcome != "done":
            self.cells_run = None  # the next exercise starts afresh
            return cells
        start = time.monotonic()
        nonce = uuid.uuid4().hex
        message = wire.job(
            "exercise",
            nonce=nonce,
            exercise=job.exercise,
            checks=job.checks,
            refs=job.refs,
            devices=job.devices,
            seed=job.seed,
            own_cell=job.own_cell,
            stay=job.stay,
        )
        self._send(message)
        # then the cells' process's "gone", unless the process stays (`_take`)
        expected = wire.exercise_replies(nonce, job.checks, job.devices, job.own_cell is not None)
        run = ExerciseRun("crashed", isolation=cells.isolation, cells=cells.cells)
        state = {"doing": "binding the earlier exercises' names", "stay": job.stay}
        run = self._collect(run, expected, state, time.monotonic() + timeout)
        self.timings["probes"] += time.monotonic() - start
        if run.outcome != "done" or self.inline and expected[-1] == (self.nonce, "gone"):
            # inline, the process that ended was the cells' own: the next exercise starts afresh
            self._stop()
            self.cells_run = None
        return run

    def _send(self, message: dict) -> None:
        # the pipe holds 64 KiB; a thread writes the rest while we read replies
        threading.Thread(target=self._write, args=(message,), daemon=True).start()

    def _write(self, message: dict) -> None:
        try:
            wire.write_message(self.job_w, message)
        except OSError:
            pass  # the sandbox died; _collect reports it

    def _collect(self, run: ExerciseRun, expected: list, state: dict, deadline: float) -> ExerciseRun:
        """Replies must come in the one order the protocol has (`wire`, "the protocol"); anything
        else (a forged or repeated reply) makes the run malformed."""
        state["next"] = 0
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return self._fail(run, "timeout", f"time limit reached while {state['doing']}")
                readable, _, _ = select.select([self.result_r, self.status_r], [], [], left)
                if self.result_r in readable:
                    for msg in self.results.pump():
                        self._take(run, msg, expected, state)
                        if state["next"] == len(expected):
                            run.outcome = "done"
                            return run
                        if state.get("gone"):
                            how = _how(state["gone"])
                            return self._fail(run, "crashed", f"the process ended ({how}) while {state['doing']}")
                if self.status_r in readable:
                    msgs = self.status.pump()
                    if not msgs and not self.status.eof:
                        continue
                    while select.select([self.result_r], [], [], 0)[0] and not self.results.eof:
                        for msg in self.results.pump():  # what the child wrote before it ended
                            self._take(run, msg, expected, state)
                    if state["next"] == len(expected):
                        run.outcome = "done"
                        return run
                    if not msgs:
                        return self._fail(run, "crashed", f"the sandbox died while {state['doing']}")
                    return self._fail(run, "crashed", f"the process ended ({_how(msgs[0])}) while {state['doing']}")
        except (wire.WireError, ValueError, TypeError, KeyError) as e:
            return self._fail(run, "malformed", f"malformed reply from the submission's process: {e}")

    def _take(self, run: ExerciseRun, msg: dict, expected: list, state: dict) -> None:
        want = expected[state["next"]] if state["next"] < len(expected) else None
        kind = wire.check_reply(msg)
        if kind == "hit" and want is not None and msg.get("nonce") == want[0] != self.nonce:
            # a forbidden call, sent by the tripwire when it happened: it belongs to the next check
            hits = state.setdefault("hits", [])
            if len(hits) < 5 and (hit := str(msg.get("what"))[:300]) not in hits:
                hits.append(hit)
            return
        if kind == "gone" and msg.get("nonce") == self.nonce and want != (self.nonce, "gone"):
            state["gone"] = msg  # the exercise's process ended before it was done
            return
        if want is None or msg.get("nonce") != want[0]:
            raise wire.WireError("a reply that does not belong to this exercise")
        got = ("check", msg.get("name"), msg.get("device")) if kind == "check" else kind
        if got != want[1]:
            raise wire.WireError(f"expected {want[1]!r}, got {str(got)[:80]}")
        state["next"] += 1
        if kind == "done" and not (state.get("stay") and msg.get("more") is True):
            expected.append((self.nonce, "gone"))  # the exercise's process ends: wait until it is gone
        if kind == "isolation":
            run.isolation = {str(k)[:40]: str(v)[:300] for k, v in list(msg["layers"].items())[:10]}
        elif kind in ("cells", "own_cell"):
            statuses = [_cell_status(c) for c in msg["cells"]]
            if kind == "cells":
                run.cells = statuses
                run.outcome = "done"
            else:
                run.own_cell = statuses
            state["doing"] = "running the checks" if kind == "own_cell" else "running the exercise's cell again"
        elif kind == "refs":
            run.refs_failed = [(str(f["exercise"])[:40], str(f["error"])[:300]) for f in msg["failed"][:50]]
            state["doing"] = "running the exercise's cell again"
        elif kind == "check":
            run.results[(msg["name"], msg["device"])] = (
                {"error": str(msg["error"])[:500]} if "error" in msg else {"value": wire.decode(msg.get("value"))}
            )
            if hits := state.pop("hits", None):
                run.results[(msg["name"], msg["device"])]["forbidden"] = hits
            state["doing"] = f"running the check after {msg['name']!r} on {msg['device']}"

    def _fail(self, run: ExerciseRun, outcome: str, message: str) -> ExerciseRun:
        run.outcome, run.message = outcome, message
        return run


def _how(status: dict) -> str:
    return f"signal {status.get('signal')}" if status.get("signal") else f"exit code {status.get('code')}"


def _cell_status(c: Any) -> dict:
    if not isinstance(c, dict) or not isinstance(c.get("index"), int):
        raise wire.WireError("malformed cell status")
    return {
        "index": c["index"],
        "ok": bool(c.get("ok")),
        "error": str(c.get("error", ""))[:400],
        "timeout": bool(c.get("timeout")),
    }
