"""The grader side of the sandbox: runs one submission's exercises in other processes.

A `Sandbox` starts a warm parent process (`autograder.worker`) in its own
session, working directory and scrubbed environment, and asks it for one
forked child per exercise. The grader enforces every time limit itself: a
child that runs past its exercise's time, sends something malformed or
takes its parent down gets its whole session killed, and the next exercise
starts a fresh parent. What comes back is decoded and schema-checked plain
data (`wire`), never trusted beyond that.

A pool of pre-warmed parents can replace `_start` later without touching
the checks: they only see `Job`s and `ExerciseRun`s.
"""
from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import wire
from .config import Limits
from .procs import kill_session


@dataclass(frozen=True)
class Job:
    exercise: str
    module: str                      # autograder.checks.<module>
    checks: list[str]
    refs: list[dict]                 # [{"exercise", "source"}] of the *other* exercises
    devices: list[str]
    seed: int
    own_cell: int | None = None      # the exercise's solution cell, run again after the references


@dataclass
class ExerciseRun:
    outcome: str                     # "done", "timeout", "crashed", "malformed", "kit_error"
    message: str = ""
    cells: list[dict] | None = None
    own_cell: list[dict] | None = None  # the exercise's cell, run again after the references
    results: dict[tuple[str, str], Any] = field(default_factory=dict)   # (check, device) -> reply
    seconds: float = 0.0


class SandboxError(Exception):
    """The sandbox itself could not be started (a fault of the host, not of a submission)."""


def _env(workdir: Path) -> dict[str, str]:
    """A scrubbed environment: nothing of the grader's but what torch needs to find devices."""
    env = {
        "PATH": os.defpath, "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
        # matplotlib builds a font cache on first import; sharing it saves seconds per submission
        "MPLCONFIGDIR": str(Path(tempfile.gettempdir()) / f"course-kit-mpl-{os.getuid()}"),
        # torch.cuda.is_available() through NVML does not initialise CUDA, so the parent stays fork-safe
        "PYTORCH_NVML_BASED_CUDA_CHECK": "1",
    }
    for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH", "OMP_NUM_THREADS"):
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
            body, self.buf = self.buf[8:8 + size], self.buf[8 + size:]
            out.append(wire.parse_message(body))
        return out


class Sandbox:
    """The processes of one submission. Use as a context manager."""

    def __init__(self, cells: list[dict], limits: Limits, module: str):
        self.cells, self.limits, self.module = cells, limits, module
        self.skip: set[int] = set()          # cells that timed out once are not run again
        self.proc: subprocess.Popen | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="course-sandbox-"))

    # -- lifecycle ----------------------------------------------------------
    def _start(self) -> None:
        job_r, self.job_w = os.pipe()
        self.result_r, result_w = os.pipe()
        self.status_r, status_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "autograder.worker", str(job_r), str(result_w), str(status_w), self.module],
                pass_fds=(job_r, result_w, status_w), cwd=self.workdir, env=_env(self.workdir),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=None if os.environ.get("COURSE_SANDBOX_DEBUG") else subprocess.DEVNULL,
                start_new_session=True)
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
        if self.proc is None:
            return
        kill_session(self.proc.pid)
        self.proc.wait()
        for fd in (self.job_w, self.result_r, self.status_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc = None

    def close(self) -> None:
        self._stop()
        import shutil
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one exercise ---------------------------------------------------------
    def run(self, job: Job, timeout: float) -> ExerciseRun:
        """Run `job` in a fresh child; never raises for anything the submission does."""
        if self.proc is None:
            self._start()
        start = time.monotonic()
        nonce = uuid.uuid4().hex
        message = {
            "nonce": nonce, "exercise": job.exercise, "module": job.module, "checks": job.checks,
            "refs": job.refs, "devices": job.devices, "seed": job.seed, "own_cell": job.own_cell,
            "cells": [c for c in self.cells if c["index"] not in self.skip],
            "limits": {k: getattr(self.limits, k) for k in ("cell_timeout", "exercise_timeout", "memory_mib", "file_mib")},
        }
        # the pipe holds 64 KiB; a thread writes the rest while we read replies
        threading.Thread(target=self._send, args=(message,), daemon=True).start()
        run = self._collect(nonce, start + timeout)
        run.seconds = time.monotonic() - start
        if run.cells:
            self.skip |= {c["index"] for c in run.cells if c.get("timeout")}
        if run.outcome != "done":
            self._stop()
        return run

    def _send(self, message: dict) -> None:
        try:
            wire.write_message(self.job_w, message)
        except OSError:
            pass  # the sandbox died; _collect reports it

    def _collect(self, nonce: str, deadline: float) -> ExerciseRun:
        run = ExerciseRun("crashed")
        done, current = False, "running the notebook's cells"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return self._fail(run, "timeout", f"time limit reached while {current}")
            readable, _, _ = select.select([self.result_r, self.status_r], [], [], left)
            try:
                if self.result_r in readable:
                    for msg in self.results.pump():
                        if msg.get("nonce") != nonce:
                            raise wire.WireError("a reply that does not belong to this exercise")
                        kind = msg.get("kind")
                        if kind == "cells" and isinstance(msg.get("cells"), list):
                            run.cells = [_cell_status(c) for c in msg["cells"]]
                            current = "running the exercise's cell again"
                        elif kind == "own_cell" and isinstance(msg.get("cells"), list):
                            run.own_cell = [_cell_status(c) for c in msg["cells"]]
                            current = "running the checks"
                        elif kind == "check" and isinstance(msg.get("name"), str) and isinstance(msg.get("device"), str):
                            reply = {"error": str(msg["error"])[:500]} if "error" in msg else {"value": wire.decode(msg.get("value"))}
                            run.results[(msg["name"], msg["device"])] = reply
                            current = f"running the check after {msg['name']!r} on {msg['device']}"
                        elif kind == "kit_error":
                            return self._fail(run, "kit_error", str(msg.get("message"))[:500])
                        elif kind == "done":
                            done = True
                        else:
                            raise wire.WireError(f"unexpected reply {str(kind)[:40]!r}")
                if self.status_r in readable:
                    msgs = self.status.pump()
                    if self.status.eof and not msgs:
                        return self._fail(run, "crashed", f"the sandbox died while {current}")
                    for msg in msgs:
                        if done:
                            run.outcome = "done"
                            return run
                        how = f"signal {msg['signal']}" if msg.get("signal") else f"exit code {msg.get('code')}"
                        return self._fail(run, "crashed", f"the process ended ({how}) while {current}")
            except (wire.WireError, ValueError, TypeError, KeyError) as e:
                return self._fail(run, "malformed", f"malformed reply from the submission's process: {e}")

    def _fail(self, run: ExerciseRun, outcome: str, message: str) -> ExerciseRun:
        run.outcome, run.message = outcome, message
        return run


def _cell_status(c: Any) -> dict:
    if not isinstance(c, dict) or not isinstance(c.get("index"), int):
        raise wire.WireError("malformed cell status")
    return {"index": c["index"], "ok": bool(c.get("ok")), "error": str(c.get("error", ""))[:400],
            "timeout": bool(c.get("timeout"))}
