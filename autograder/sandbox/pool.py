"""A warm process that forks a fresh sandbox parent for each submission.

Importing torch costs about 1.5 s and the first optimizer step another
second; paying that once per submission was most of the grading time. The
pool server pays it once per grading run: it imports torch (matplotlib and
scikit-learn where the notebooks import them) and the checks of every module,
works out the isolation plan, and then only forks. Each submission still gets
its own process (a fork, never a reused interpreter), in its own session and
working folder, whose child runs the notebook's cells once and forks a
process per exercise (`parent`), so speed costs no isolation. `course grade` starts the server before it
imports torch itself (`start_early`): for one submission, the server's boot
is the critical path.

The grader asks for a sandbox parent over a Unix socket, passing the three
pipe ends the parent will use (SCM_RIGHTS), and gets back its pid. Each
sandbox alive at once holds a slot (`take_slot`), the lowest free one: as
root, a slot is a uid of its own (`isolation.uid_for`), so submissions graded
side by side share no process budget, /proc or signals.

    python -I -m autograder.sandbox.server SOCKET_FD COURSE_ROOT MODULE...   (`server`)
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from .procs import kill_tree


class PoolError(Exception):
    """The pool server could not be started or stopped answering."""


def _launch(course_root: Path, modules: list[str], env: dict[str, str]) -> tuple[socket.socket, subprocess.Popen]:
    """Start a pool server; our end of its socket, and its process."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-m",
                "autograder.sandbox.server",
                str(theirs.fileno()),
                str(course_root),
                *modules,
            ],
            pass_fds=(theirs.fileno(),),
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("COURSE_SANDBOX_DEBUG") else subprocess.DEVNULL,
            start_new_session=True,
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    return ours, proc


# Servers started ahead of their `Pool` (`start_early`), by what they were started with.
_early: dict[tuple, tuple[socket.socket, subprocess.Popen]] = {}
_early_lock = threading.Lock()


def _key(course_root: Path, modules: list[str], env: dict[str, str]) -> tuple:
    return str(course_root), tuple(modules), tuple(sorted(env.items()))


def start_early(course_root: Path, modules: list[str], env: dict[str, str]) -> None:
    """Start the pool server now, for the next `Pool` made with the same arguments to take over.

    `course grade` calls it before it imports torch itself: the server's boot (the critical
    path of one submission) then overlaps the grader's whole start-up, not only what follows
    `Pool(...)`. A server no `Pool` takes over is stopped when this process exits."""
    key = _key(course_root, modules, env)
    with _early_lock:
        if key in _early:
            return
        if not _early:
            atexit.register(stop_early)
        _early[key] = _launch(course_root, modules, env)


def stop_early() -> None:
    """Stop the servers started early that no `Pool` took over."""
    with _early_lock:
        left = list(_early.values())
        _early.clear()
    for sock, proc in left:
        sock.close()
        kill_tree(proc.pid)
        proc.wait()


class Pool:
    """The grader's handle on the pool server. Thread-safe; use as a context manager."""

    def __init__(self, course_root: Path, modules: list[str], env: dict[str, str]):
        self._lock = threading.Lock()
        with _early_lock:
            early = _early.pop(_key(course_root, modules, env), None)
        if early is not None and early[1].poll() is None:
            self._sock, self.proc = early  # started by `start_early`, booting or ready
        else:
            if early is not None:  # it died before it was needed: start another
                early[0].close()
                early[1].wait()
            self._sock, self.proc = _launch(course_root, modules, env)
        self._sock.settimeout(300)
        self._slots: set[int] = set()  # of the sandboxes alive now
        self._slots_lock = threading.Lock()
        self._ready = False  # the server boots (about 3 s) while the grader gets ready too

    def _wait_ready(self) -> None:
        if not self._ready:
            if self._receive().get("kind") != "ready":
                raise PoolError("the sandbox pool did not start (run with COURSE_SANDBOX_DEBUG=1 to see why)")
            self._ready = True

    def _receive(self) -> dict:
        try:
            data = b""
            while not data.endswith(b"\n"):
                chunk = self._sock.recv(4096)
                if not chunk:
                    return {}
                data += chunk
            return json.loads(data)
        except (OSError, ValueError):
            return {}

    def take_slot(self) -> int:
        """The lowest slot no live sandbox holds; give it back with `free_slot`."""
        with self._slots_lock:
            slot = next(i for i in range(len(self._slots) + 1) if i not in self._slots)
            self._slots.add(slot)
            return slot

    def free_slot(self, slot: int) -> None:
        with self._slots_lock:
            self._slots.discard(slot)

    def spawn(self, module: str, workdir: Path, env: dict[str, str], fds: tuple[int, int, int], slot: int = 0) -> int:
        """Fork a sandbox parent for `module` working in `workdir` in `slot`; it owns `fds` (job,
        result, status)."""
        request = json.dumps({"module": module, "workdir": str(workdir), "env": env, "slot": slot}).encode() + b"\n"
        with self._lock:
            self._wait_ready()
            try:
                socket.send_fds(self._sock, [request], list(fds))
            except OSError as e:
                raise PoolError(f"the sandbox pool is gone ({e.strerror or e})") from None
            reply = self._receive()
        if "pid" not in reply:
            raise PoolError("the sandbox pool did not fork a sandbox")
        return int(reply["pid"])

    def close(self) -> None:
        self._sock.close()  # the server's recv ends: it exits
        kill_tree(self.proc.pid)
        self.proc.wait()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
