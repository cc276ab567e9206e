"""From submissions to scores: plain results in, the report's dicts out.

For each exercise: a missing solution cell is `missing`; a cell using the
torch function it should rebuild is `forbidden`; otherwise its checks run in
the submission's sandbox (with the names of the exercises before it bound to
the reference), in notebook order, on the CPU and then on each other device,
and each result is judged here, against the reference solution and, for
oracle checks, torch. Points are shared out by checks passed.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import notebook
from ..checks import Check, Context, registry
from ..checks.judges import describe_value, kind
from ..config import Assignment, Course
from ..sandbox.box import ExerciseRun, Job, Sandbox, SandboxError, env
from ..sandbox.pool import Pool
from . import flags, forbidden
from .expected import Expected, cache_folder
from .reference import Reference
from .store import Store, reuse


def available_devices(wanted: list[str]) -> list[str]:
    import torch

    return [d for d in wanted if d == "cpu" or (d == "cuda" and torch.cuda.is_available())]


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
    profile: dict[str, float] | None = None  # seconds per stage, summed over submissions (bench/compare.py)

    def timed(self, stage: str, seconds: float) -> None:
        if self.profile is not None:
            self.profile[stage] = self.profile.get(stage, 0.0) + seconds

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


@dataclass
class Attempt:
    """One exercise of a submission on its way to a result: `early` when it needs no sandbox
    (missing, forbidden by its source); otherwise its job and what the sandbox returned."""

    ex: str
    points: float
    early: dict | None = None
    job: Job | None = None
    run: ExerciseRun | None = None
    timeout: float = 0.0  # seconds for its process (`Limits.timeout_for`)
    seconds: float = 0.0  # what its process took (the notebook's cells not included), for the bench


def prepare(ex: str, points: float, nb: notebook.Notebook, grading_run: GradingRun) -> Attempt:
    """An exercise's job, or its result where the solution cell alone decides it."""
    ref, course = grading_run.ref, grading_run.course
    cell = nb.solutions().get(ex)
    if cell is None:
        return Attempt(ex, points, _exercise(ex, points, "missing", f"no solution cell with grade_id {ex!r}", []))
    if why := forbidden.find(cell.source, course.forbidden.get(ex, [])):
        msg = f"the solution cell {why}"
        check = {"name": "does not use the function it rebuilds", "device": "any", "passed": False, "message": msg}
        return Attempt(ex, points, _exercise(ex, points, "forbidden", msg, [check]))
    checks = [c for c in registry(ref.assignment.module).for_exercise(ex) if c.visible or not grading_run.visible_only]
    job = Job(
        ex,
        ref.assignment.module,
        [c.name for c in checks],
        ref.refs_before(ex),
        ["cpu"],
        grading_run.seed,
        cell.index,
    )
    timeout = course.limits.timeout_for(grading_run.expected.seconds.get(ex))
    return Attempt(ex, points, job=job, timeout=timeout)


def run_attempt(attempt: Attempt, box: Sandbox, time_left: float, device: str = "cpu") -> None:
    """Run the attempt's probes on `device` in the sandbox: on the CPU in a process of the
    exercise's own; on another device (CUDA) in `box`'s cells' process itself, which takes the
    exercises in notebook order (`Sandbox(inline=True)`), so a submission starts one CUDA context,
    not one per exercise. A process whose context a device-side assert poisoned ends after that
    exercise, and the next starts afresh."""
    if attempt.job is None or (attempt.run is not None and attempt.run.outcome != "done"):
        return  # decided already: by its source, or by the CPU run
    if time_left <= 0:
        attempt.run = ExerciseRun("timeout", "the submission's time limit was reached before this exercise")
        return
    job = replace(attempt.job, devices=[device], stay=device != "cpu")
    before = box.timings["probes"]
    run = box.run(job, min(attempt.timeout, time_left), min(box.limits.exercise_timeout, time_left))
    attempt.seconds += box.timings["probes"] - before
    if run.outcome == "timeout" and attempt.timeout < min(box.limits.exercise_timeout, time_left):
        run.message += (
            f" (this exercise's limit is {attempt.timeout:.0f} s: [limits] exercise_floor plus exercise_scale"
            " times what its checks take the reference)"
        )
    if attempt.run is None:
        attempt.run = run
        return
    attempt.run.results.update(run.results)  # the CPU run's cells and isolation stand
    attempt.run.outcome, attempt.run.message = run.outcome, run.message
    attempt.run.refs_failed += [f for f in run.refs_failed if f not in attempt.run.refs_failed]


def judge_attempt(attempt: Attempt, nb: notebook.Notebook, grading_run: GradingRun) -> dict:
    """The exercise's result: its probes' replies judged against the expected values."""
    if attempt.early is not None:
        return attempt.early
    ex, points, run, job = attempt.ex, attempt.points, attempt.run, attempt.job
    course, devices = grading_run.course, grading_run.devices
    if run.outcome == "malformed":
        run.results = {}  # a forged or garbled reply voids every result of the exercise
    # The second run of the exercise's cell (with the reference beside it) decides: a first
    # run that failed only because another exercise is wrong is not this exercise's error.
    failed_cell = next(
        (s["error"] for s in (run.own_cell or run.cells or []) if s["index"] == job.own_cell and not s["ok"]), None
    )
    checks = {c.name: c for c in registry(grading_run.assignment.module).for_exercise(ex)}
    judged = [
        judge(checks[name], d, run.results.get((name, d)), grading_run.expected, course, run.message or "no result")
        for d in devices
        for name in job.checks
    ]
    hits = [h for r in run.results.values() for h in r.get("forbidden", [])]
    if hits:
        msg = f"at run time, {hits[0]}: the exercise rebuilds it"
        name = "does not use the function it rebuilds (at run time)"
        return _exercise(
            ex,
            points,
            "forbidden",
            msg,
            [{"name": name, "device": "any", "passed": False, "message": msg}] + judged,
        )
    status, message = _status(judged, run, failed_cell)
    if run.refs_failed:
        names = ", ".join(e for e, _ in run.refs_failed)
        message += (
            f"; the reference {names} could not be defined beside this code (it raised while being"
            " defined; the error's text is not shown, since code of yours ran with the reference in reach)"
        )
    score = points * sum(c["passed"] for c in judged) / len(judged) if judged else 0.0
    return _exercise(ex, points, status, message, judged, score)


def grade_notebook(path: Path, student: str, grading_run: GradingRun) -> dict:
    """One submission's result, in the shape of `report`; a notebook that cannot be read is
    graded `error` throughout. The exercises run in notebook order, which the sandbox's security
    rests on (`Reference.refs_before`): on the CPU first, then on each other device, in a sandbox
    of its own."""
    ref, a = grading_run.ref, grading_run.assignment
    result = _result(grading_run, student)
    start = time.monotonic()
    try:
        nb = read_submission(path, ref)
    except notebook.NotebookError as e:
        return _failed(a, result, str(e))

    result["errors"] += structure_errors(nb, ref)
    cells = cells_to_run(nb, ref)
    deadline = start + ref.course.limits.submission_timeout
    attempts = [prepare(ex, points, nb, grading_run) for ex, points in a.points.items()]
    grading_run.timed("read", time.monotonic() - start)
    timed_out: set[int] = set()  # cells cut by the cell time limit: not run again in the next sandbox
    for device in grading_run.devices:
        with Sandbox(cells, ref.course, a.module, grading_run.pool, [device], device != "cpu", timed_out) as box:
            for attempt in attempts:
                run_attempt(attempt, box, deadline - time.monotonic(), device)
        for stage, seconds in box.timings.items():
            grading_run.timed(stage, seconds)
    start = time.monotonic()
    found = flags.review(nb, ref)  # once per notebook, not per exercise: its added cells count for each
    for attempt in attempts:
        grading_run.timed(f"exercise {attempt.ex}", attempt.seconds)  # bench/timeouts.py reads these
        exercise = judge_attempt(attempt, nb, grading_run)
        flags.apply(exercise, found[attempt.ex], ref.course.flags_forbidden)
        result["exercises"].append(exercise)
    runs = [t.run for t in attempts if t.run is not None]
    cell_report = next((r.cells for r in runs if r.cells is not None), None)
    if isolation := next((r.isolation for r in runs if r.isolation), None):
        result["isolation"] = isolation
    if grading_run.visible_only:
        _add_notebook_tests(result, nb, grading_run)
    labels = {c["index"]: c["label"] for c in cells}
    result["errors"] += [
        f"{labels.get(s['index'], s['index'])} raised {s['error']}" for s in cell_report or [] if not s["ok"]
    ]
    result["score"] = sum(e["score"] for e in result["exercises"])
    grading_run.timed("judging", time.monotonic() - start)
    return result


def _add_notebook_tests(result: dict, nb: notebook.Notebook, grading_run: GradingRun) -> None:
    """The self-check also runs the whole notebook once and reports each visible test cell."""
    course, a = grading_run.course, grading_run.assignment
    cells = [_runnable(c) for c in nb.cells if c.code]
    with Sandbox(cells, course, a.module, grading_run.pool) as box:
        run = box.notebook(course.limits.submission_timeout)
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
    profile: dict[str, float] | None = None,
) -> list[dict]:
    """Grade every (student, notebook) pair, `workers` at a time; one submission's failure never
    stops the others. Results come back in the order of `submissions`, whatever `workers` is.
    With a `store`, a submission graded before (same notebook, course and kit) is not graded again.
    With a `profile`, the seconds spent in each stage are added to it: 'expected' (the expected
    values, on the grader's side), then per submission 'read', 'start-up' (the sandbox: the pool's
    boot, its parent and confinement), 'cells', 'probes' (the exercises' processes) and 'judging'."""
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
        start = time.monotonic()
        expected = Expected(ref, seed)
        expected.fill(devices, cache=cache_folder(course))  # before any thread starts: every thread then only reads
        grading_run = GradingRun(ref, devices, seed, expected, pool, visible_only, profile)
        notebook.preload()
        grading_run.timed("expected", time.monotonic() - start)
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
