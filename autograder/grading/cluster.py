"""Grading on a dask.distributed cluster: the same grades, computed on other machines.

Each submission is one task. The notebook travels as bytes (workers need no
shared folder for submissions) and its grade comes back as the same plain
dict `grade.grade` makes; workers need the kit installed and the course
folder at the same path (one container image, or a shared file system);
the course's settings travel with each task. Each worker process keeps one
warm sandbox pool and the reference results for the run, so a task costs
what a submission costs locally.

dask is imported only here: `course grade` without `--scheduler` never needs it.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import tempfile
import threading
from pathlib import Path

from ..config import Course
from ..sandbox.box import env
from ..sandbox.pool import Pool
from . import grade as local  # as `local`: this module's own `grade` is the cluster's
from .grade import Expected, GradingRun, Progress
from .reference import Reference
from .store import Store, reuse

_runs: dict = {}
_runs_lock = threading.Lock()  # a worker runs several tasks at once; one builds, the others wait


def _grading_run(course: Course, assignment: str, devices: tuple[str, ...], seed: int) -> GradingRun:
    """One per worker process and run, kept for its later tasks: the reference results and a warm pool."""
    key = (repr(course), assignment, devices, seed)
    with _runs_lock:
        if key not in _runs:
            _runs[key] = _build(course, assignment, devices, seed)
        return _runs[key]


def _build(course: Course, assignment: str, devices: tuple[str, ...], seed: int) -> GradingRun:
    ref = Reference(course, course.assignment(assignment))
    expected = Expected(ref, seed)
    expected.fill(list(devices))
    pool = Pool(course.root, [ref.assignment.module], env(Path(tempfile.gettempdir())))
    atexit.register(pool.close)  # the pool lives as long as the worker process
    return GradingRun(ref, list(devices), seed, expected, pool)


def grade_one(
    course: Course,
    assignment: str,
    student: str,
    shown: str,
    data: bytes,
    devices: tuple[str, ...],
    seed: int,
    visible_only: bool = False,
) -> dict:
    """A dask task: one submission's grade, as plain data. `shown` is the notebook's path on the
    machine that asked: messages name it, not the task's copy, so reports match local grading."""
    # visible_only is the task's: the cached run shares its pool and expected values either way
    grading_run = dataclasses.replace(_grading_run(course, assignment, devices, seed), visible_only=visible_only)
    with tempfile.TemporaryDirectory(prefix="course-task-") as tmp:
        path = Path(tmp) / Path(shown).name
        path.write_bytes(data)
        result = local.grade_one(path, student, grading_run)
    return json.loads(json.dumps(result).replace(json.dumps(str(path))[1:-1], json.dumps(shown)[1:-1]))


def grade(
    address: str,
    course: Course,
    assignment: str,
    submissions: list[tuple[str, Path]],
    devices: list[str],
    seed: int,
    visible_only: bool = False,
    on_result: Progress | None = None,
    store: Store | None = None,
) -> list[dict]:
    """Like `grade.grade`, on the cluster whose scheduler is at `address`."""
    from distributed import Client, as_completed

    results, todo = reuse(store, submissions, on_result)
    with Client(address) as client:
        futures = {}
        for i in todo:
            student, path = submissions[i]
            try:
                data = Path(path).read_bytes()
            except OSError:
                data = None
            if data is None:  # reported by the local reader, with the file's name
                results[i] = local.grade(course, assignment, [(student, path)], devices, seed, visible_only)[0]
                continue
            f = client.submit(
                grade_one, course, assignment, student, str(path), data, tuple(devices), seed, visible_only, pure=False
            )
            futures[f] = i
        for f in as_completed(list(futures)):
            i = futures[f]
            results[i] = f.result()
            if store:
                store.put(submissions[i][1], results[i])
            if on_result:
                on_result(results[i])
    return results
