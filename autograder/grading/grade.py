"""From submissions to scores: plain results in, the report's dicts out.

For each exercise: a missing solution cell is `missing`; a cell using the
torch function it should rebuild is `forbidden`; otherwise its checks run in
the submission's sandbox (with the other exercises' names bound to the
reference) and each result is judged here, against the reference solution
and, for oracle checks, torch. Points are shared out by checks passed.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import notebook, wire
from ..checks import Check, Context, Inputs, registry
from ..checks.judges import describe_value, kind
from ..config import Assignment, Course
from ..sandbox.box import ExerciseRun, Job, Sandbox, SandboxError, env
from ..sandbox.pool import Pool
from . import flags, forbidden
from .reference import Reference
from .store import Store, reuse


def available_devices(wanted: list[str]) -> list[str]:
    import torch

    return [d for d in wanted if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]


@dataclass
class Expected:
    """Reference (and torch) results per check and device, computed once per grading run."""

    ref: Reference
    seed: int
    cache: dict[tuple[str, str, str], tuple[Any, Any]] = field(default_factory=dict)

    def fill(self, devices: list[str]) -> None:
        """Compute every check's expected values now, in this thread."""
        for ex in self.ref.assignment.exercises:
            for check in registry(self.ref.assignment.module).for_exercise(ex):
                for device in devices:
                    self.get(check, device)

    def get(self, check: Check, device: str) -> tuple[Any, Any]:
        key = (check.exercise, check.name, device)
        if key not in self.cache:
            want = self._run(check, self.ref.namespace, device)
            torch_says = self._run(check, self.ref.oracle, device) if check.oracle else None
            self.cache[key] = (want, torch_says)
        return self.cache[key]

    def _run(self, check: Check, ns, device: str) -> Any:
        return wire.decode(self.plain(check, ns, device))  # the same form the student's result arrives in

    def plain(self, check: Check, ns, device: str) -> Any:
        """The probe's result on `ns` as the wire's plain JSON (what `course release` ships, `shipped`)."""
        import torch

        torch.set_num_threads(1)  # as in the sandbox (worker.reset_torch): the same arithmetic
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the reference's prints
            value = check.probe(ns, Inputs(self.seed, check.name, device))
        return wire.encode(value)


@dataclass(frozen=True)
class GradingRun:
    """What every submission of one grading run shares, built once per run (per dask worker
    process on a cluster) and then only read, by as many threads as grade at once."""

    ref: Reference
    devices: list[str]
    seed: int
    expected: Expected  # filled before the run is shared: threads only read it
    pool: Pool
    visible_only: bool = False  # `course check`: the visible checks, and the notebook's own tests

    @property
    def course(self) -> Course:
        return self.ref.course

    @property
    def assignment(self) -> Assignment:
        return self.ref.assignment


def judge(check: Check, device: str, reply: dict | None, expected: Expected, course: Course, why_missing: str) -> dict:
    out = {"name": check.name, "device": device, "passed": False, "message": ""}
    if reply is None:
        out["message"] = f"not run: {why_missing}"
        return out
    want, torch_says = expected.get(check, device)
    got = reply.get("value")
    if "error" in reply:
        out["message"] = f"raised {reply['error']}"
    else:
        ctx = Context(device=device, tolerance=course.tolerance, visible=check.visible)
        try:
            msg = check.judge(got, want, ctx)
            if msg is None and check.oracle:
                msg = check.judge(got, torch_says, ctx)
                msg = msg and f"differs from torch: {msg}"
        except Exception as e:  # whatever came back, odd enough to trip a judge, is simply wrong
            msg = f"returned something that cannot be compared ({type(e).__name__})"
        out["passed"], out["message"] = msg is None, msg or ""
    # For the feedback page: what kind of value was expected and came back (never the values),
    # and a picture of both where the check draws one (the reference alone when the code raised).
    out["expected"] = describe_value(want) if check.visible else kind(want)  # a hidden check's: never its value
    out["got"] = "an exception" if "error" in reply else describe_value(got)
    # a hidden check's picture would draw the reference's outputs on its hidden inputs in full
    if check.plot is not None and check.visible and (picture := _picture(check, got, want)):
        out["plot"] = picture
    return out


def _picture(check: Check, got: Any, want: Any) -> dict | None:
    try:
        return check.plot(got, want)
    except Exception:  # an odd student value: no picture, the message says what came back
        return None


def _status(checks: list[dict], run: ExerciseRun | None, cell_failed: str | None) -> tuple[str, str]:
    passed = sum(c["passed"] for c in checks)
    if run is not None and run.outcome == "timeout":
        return "timeout", run.message
    if run is not None and run.outcome != "done":
        return "error", run.message
    if checks and passed == len(checks):
        return "passed", ""
    if passed:
        return "partial", f"{passed} of {len(checks)} checks passed"
    if cell_failed:
        return "error", f"the solution cell raised {cell_failed}"
    return "failed", f"0 of {len(checks)} checks passed"


def structure_errors(nb: notebook.Notebook, ref: Reference) -> list[str]:
    """Duplicated ids, and locked cells deleted or changed (nbgrader's checksums)."""
    errors = []
    ids = [c.grade_id for c in nb.cells if c.grade_id]
    for gid in sorted({i for i in ids if ids.count(i) > 1}):
        errors.append(f"grade_id {gid!r} is used by {ids.count(gid)} cells; only the first is graded")
    have = nb.by_grade_id()
    for gid, cell in ref.locked.items():
        if gid not in have:
            errors.append(f"locked cell {gid!r} was deleted")
        elif have[gid].checksum != cell.checksum:
            errors.append(f"locked cell {gid!r} was changed")
    return errors


def _runnable(c: notebook.Cell, given: bool = False) -> dict:
    return {"index": c.index, "source": notebook.runnable(c.source), "label": c.label, "given": given}


def cells_to_run(nb: notebook.Notebook, ref: Reference) -> list[dict]:
    """The submission's code cells, but for the release's demo and test cells left unchanged.
    A locked cell unchanged by its own checksum is `given`: the course's code, which the tripwire
    trusts. Each cell is judged on its own: one that borrows a locked cell's id is the student's."""
    return [
        _runnable(c, given=ref.unchanged(c))
        for c in nb.cells
        if c.code and not (ref.unchanged(c) and ref.skippable(c.grade_id))
    ]


def read_submission(path: Path, ref: Reference) -> notebook.Notebook:
    """The notebook, if it is a readable notebook of this assignment; NotebookError otherwise."""
    nb = notebook.read(path, ref.course.limits.notebook_mib)
    ids, a = set(nb.solutions()), ref.assignment
    if not ids & set(a.exercises):
        other = [n for n, o in ref.course.assignments.items() if ids & set(o.exercises)]
        raise notebook.NotebookError(
            f"{path}: not a notebook of {a.name}"
            + (f" (its exercises are those of {other[0]})" if other else " (it has none of its exercise cells)")
        )
    return nb


def grade_exercise(
    ex: str,
    points: float,
    nb: notebook.Notebook,
    box: Sandbox,
    grading_run: GradingRun,
    time_left: float,
) -> tuple[dict, ExerciseRun | None]:
    """One exercise: missing, forbidden, or its checks run in the sandbox and judged here."""
    ref, course, devices = grading_run.ref, grading_run.course, grading_run.devices
    cell = nb.solutions().get(ex)
    if cell is None:
        return _exercise(ex, points, "missing", f"no solution cell with grade_id {ex!r}", []), None
    if why := forbidden.find(cell.source, course.forbidden.get(ex, [])):
        msg = f"the solution cell {why}"
        return _exercise(
            ex,
            points,
            "forbidden",
            msg,
            [{"name": "does not use the function it rebuilds", "device": "any", "passed": False, "message": msg}],
        ), None
    checks = [c for c in registry(ref.assignment.module).for_exercise(ex) if c.visible or not grading_run.visible_only]
    if time_left <= 0:
        run = ExerciseRun("timeout", "the submission's time limit was reached before this exercise")
    else:
        job = Job(
            ex,
            ref.assignment.module,
            [c.name for c in checks],
            ref.refs_except(ex),
            devices,
            grading_run.seed,
            cell.index,
            course.forbidden.get(ex, []),
        )
        run = box.run(job, min(course.limits.exercise_timeout, time_left))
    if run.outcome == "malformed":
        run.results = {}  # a forged or garbled reply voids every result of the exercise
    # The second run of the exercise's cell (with the reference beside it) decides: a first
    # run that failed only because another exercise is wrong is not this exercise's error.
    failed_cell = next(
        (s["error"] for s in (run.own_cell or run.cells or []) if s["index"] == cell.index and not s["ok"]), None
    )
    judged = [
        judge(c, d, run.results.get((c.name, d)), grading_run.expected, course, run.message or "no result")
        for d in devices
        for c in checks
    ]
    hits = [h for r in run.results.values() for h in r.get("forbidden", [])]
    if hits:
        msg = f"at run time, {hits[0]}: the exercise rebuilds it"
        return _exercise(
            ex,
            points,
            "forbidden",
            msg,
            [
                {
                    "name": "does not use the function it rebuilds (at run time)",
                    "device": "any",
                    "passed": False,
                    "message": msg,
                }
            ]
            + judged,
        ), run
    status, message = _status(judged, run, failed_cell)
    if run.refs_failed:
        names = ", ".join(e for e, _ in run.refs_failed)
        message += f"; the reference {names} could not be defined with this code ({run.refs_failed[0][1]})"
    score = points * sum(c["passed"] for c in judged) / len(judged) if judged else 0.0
    return _exercise(ex, points, status, message, judged, score), run


def grade_notebook(path: Path, student: str, grading_run: GradingRun) -> dict:
    """One submission's result, in the shape of `report`; a notebook that cannot be read is
    graded `error` throughout."""
    ref, a = grading_run.ref, grading_run.assignment
    result = _result(grading_run, student)
    try:
        nb = read_submission(path, ref)
    except notebook.NotebookError as e:
        return _failed(a, result, str(e))

    result["errors"] += structure_errors(nb, ref)
    cells = cells_to_run(nb, ref)
    cell_report: list[dict] | None = None
    deadline = time.monotonic() + ref.course.limits.submission_timeout
    with Sandbox(cells, ref.course, a.module, grading_run.pool) as box:
        for ex, points in a.points.items():
            exercise, run = grade_exercise(ex, points, nb, box, grading_run, deadline - time.monotonic())
            flags.apply(exercise, flags.review(nb, ref, ex), ref.course.flags_forbidden)
            result["exercises"].append(exercise)
            if run is not None and run.cells is not None and cell_report is None:
                cell_report = run.cells
            if run is not None and run.isolation and "isolation" not in result:
                result["isolation"] = run.isolation
    if grading_run.visible_only:
        _add_notebook_tests(result, nb, grading_run)
    labels = {c["index"]: c["label"] for c in cells}
    result["errors"] += [
        f"{labels.get(s['index'], s['index'])} raised {s['error']}" for s in cell_report or [] if not s["ok"]
    ]
    result["score"] = sum(e["score"] for e in result["exercises"])
    return result


def _add_notebook_tests(result: dict, nb: notebook.Notebook, grading_run: GradingRun) -> None:
    """The self-check also runs the whole notebook once and reports each visible test cell."""
    course, a = grading_run.course, grading_run.assignment
    cells = [_runnable(c) for c in nb.cells if c.code]
    with Sandbox(cells, course, a.module, grading_run.pool) as box:
        run = box.run(Job("", a.module, [], [], ["cpu"], 0), course.limits.submission_timeout)
    status = {s["index"]: s for s in run.cells or []}
    tests = {c.grade_id: c for c in nb.cells if c.grade_id and c.grade_id.endswith("_tests")}
    for e in result["exercises"]:
        cell = tests.get(f"{e['id']}_tests")
        s = status.get(cell.index) if cell else None
        e["checks"].append(
            {
                "name": f"the notebook's tests ({e['id']}_tests)",
                "device": "cpu",
                "passed": bool(s and s["ok"]),
                "message": "" if s and s["ok"] else (s["error"] if s else run.message or "not run"),
            }
        )
        if e["status"] in ("passed", "partial", "failed"):  # the score and the count take the notebook's tests in
            passed, total = sum(c["passed"] for c in e["checks"]), len(e["checks"])
            e["score"] = round(e["max_score"] * passed / total, 6)
            e["message"] = re.sub(r"^\d+ of \d+ checks passed", f"{passed} of {total} checks passed", e["message"])
        if e["status"] == "passed" and not (s and s["ok"]):
            e["status"] = "partial"
            e["message"] = f"the notebook's tests ({e['id']}_tests) failed: {e['checks'][-1]['message']}"


def _result(grading_run: GradingRun, student: str) -> dict:
    """A result with no exercise graded yet."""
    a = grading_run.assignment
    return {
        "student": student,
        "assignment": a.name,
        "score": 0.0,
        "max_score": sum(a.points.values()),
        "devices": grading_run.devices,
        "seed": grading_run.seed,
        "exercises": [],
        "errors": [],
    }


def _failed(a: Assignment, result: dict, why: str) -> dict:
    """A submission that could not be graded: every exercise `error`, and why."""
    result["errors"].append(why)
    result["exercises"] = [_exercise(ex, p, "error", why, []) for ex, p in a.points.items()]
    result["score"] = 0.0
    return result


def _exercise(ex: str, points: float, status: str, message: str, checks: list[dict], score: float = 0.0) -> dict:
    return {
        "id": ex,
        "score": round(score, 6),
        "max_score": points,
        "status": status,
        "message": message,
        "checks": checks,
    }


Progress = Callable[[dict], None]


def grade_one(path: Path, student: str, grading_run: GradingRun) -> dict:
    """`grade_notebook`, but a bug of the kit's met on this submission is reported in its result."""
    try:
        return grade_notebook(path, student, grading_run)
    except SandboxError:
        raise  # the host cannot grade at all (or strict mode refuses): stop the batch
    except Exception as e:
        return _failed(
            grading_run.assignment,
            _result(grading_run, student),
            f"{path}: internal error of the grader ({type(e).__name__}: {str(e)[:200]}); please report it",
        )


def grade(
    course: Course,
    assignment: str,
    submissions: list[tuple[str, Path]],
    devices: list[str],
    seed: int,
    visible_only: bool = False,
    on_result: Progress | None = None,
    workers: int = 1,
    store: Store | None = None,
) -> list[dict]:
    """Grade every (student, notebook) pair, `workers` at a time; one submission's failure never
    stops the others. Results come back in the order of `submissions`, whatever `workers` is.
    With a `store`, a submission graded before (same notebook, course and kit) is not graded again."""
    ref = Reference(course, course.assignment(assignment))
    results, todo = reuse(store, submissions, on_result)
    if not todo:
        return results

    def one(i: int) -> dict:
        student, path = submissions[i]
        r = grade_one(path, student, grading_run)
        if store:
            store.put(path, r)
        return r

    # the pool server boots in its own process while this one computes the expected values
    with Pool(course.root, [ref.assignment.module], env(Path(tempfile.gettempdir()))) as pool:
        expected = Expected(ref, seed)
        expected.fill(devices)  # before any thread starts: every thread then only reads
        grading_run = GradingRun(ref, devices, seed, expected, pool, visible_only)
        notebook.preload()
        with ThreadPoolExecutor(max(1, workers)) as ex:
            futures = {ex.submit(one, i): i for i in todo}
            try:
                for f in as_completed(futures):
                    results[futures[f]] = f.result()
                    if on_result:
                        on_result(results[futures[f]])
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    return results
