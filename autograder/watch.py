"""`course watch`: grade what students hand in through nbgrader's exchange, as it arrives.

For each submission in the exchange's inbound (`exchange.inbound`), oldest first:

1. grade it with a warm sandbox pool (one pool for the whole watch, the expected values of an
   assignment computed once), keeping the grade in the store (`grading.store`) as `course grade`
   does: a grade is never computed twice for the same notebook, also across restarts;
2. write the kit's feedback page and hand it back through nbgrader's own release_feedback,
   keyed to that submission (`exchange.release_feedback`): the student's `nbgrader fetch_feedback`
   gets it under the submission's timestamp. Past `[watch] full_feedbacks` in the window the page
   shows the visible checks only (`limited`);
3. if it is the submission that counts (the last one before the due date, else the last one, as
   `nbgrader collect --before-duedate` picks), record it in nbgrader's gradebook with its
   timestamp (late penalty by nbgrader's plugin) and write `autograded/`, as nbgrader's autograde
   would, so formgrader opens it;
4. then, and only then, write its record (`Ledger`), atomically: what was graded, when, with
   which feedback. A submission with a record is done; one without is taken up again by the
   next look, so a watcher killed at any moment (SIGKILL too) loses nothing when started again,
   and redoes at most the outputs of the one it was on (which are idempotent; its grade comes
   from the store).

One student's submissions of one assignment are taken one after another, in timestamp order (a
resubmission that arrives while the first is graded waits for it); different students' are
graded `workers` at a time. Outputs (the gradebook's database, the pages' matplotlib) are written
one at a time.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from . import report
from .config import Course
from .exchange import Nbgrader, Submission, inbound, release_feedback

Say = Callable[[str], None]


# ---------------------------------------------------------------- what was graded (durable)


class Ledger:
    """One record per graded submission: `<folder>/<assignment>/<digest of its inbound name>.json`,
    written atomically once everything else about the submission is done."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._records: dict[str, dict] = {}
        for path in sorted(self.folder.glob("*/*.json")):
            try:
                rec = json.loads(path.read_text(encoding="utf-8"))
                self._records[rec["submission"]] = rec
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not ours (or unreadable): that submission is graded again, from the store

    def _path(self, assignment: str, key: str) -> Path:
        return self.folder / assignment / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def done(self, key: str) -> bool:
        with self._lock:
            return key in self._records

    def put(self, record: dict) -> None:
        report.write_atomically(self._path(record["assignment"], record["submission"]), json.dumps(record, indent=1))
        with self._lock:
            self._records[record["submission"]] = record

    def records(self, student: str, assignment: str) -> list[dict]:
        with self._lock:
            return [r for r in self._records.values() if r["student"] == student and r["assignment"] == assignment]


# ---------------------------------------------------------------- the rate limit


def _utc(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def full_feedback_allowed(
    earlier: list[dict], when: datetime.datetime, most: int, window: datetime.timedelta
) -> tuple[bool, datetime.datetime | None]:
    """Whether a submission at `when` gets the hidden checks, given the student's earlier records of
    the assignment; if not, from when the next submission will (the oldest full feedback in the
    window leaves it then). Counted by submission timestamps, so the answer does not depend on
    when the watcher ran."""
    full = sorted(_utc(r["timestamp_utc"]) for r in earlier if r["full"] and when - window < _utc(r["timestamp_utc"]))
    full = [t for t in full if t <= when]
    if len(full) < most:
        return True, None
    return False, (full[-most] + window if most else None)  # most 0: never by submission


def limited(result: dict, visible: dict[str, set[str]]) -> dict:
    """A copy of `result` with only the visible checks (`visible`: exercise -> check names), each
    exercise scored on them: what a student sees past the rate limit. A hidden check's verdict
    must not show through the score, so no score here counts one."""
    out = json.loads(json.dumps(result))
    for e in out["exercises"]:
        names = visible.get(e["id"], set())
        hidden = [c for c in e.get("checks", []) if c["name"] not in names and c["device"] != "any"]
        if not hidden:
            continue
        e["checks"] = [c for c in e["checks"] if c not in hidden]
        passed, total = sum(c["passed"] for c in e["checks"]), len(e["checks"])
        e["score"] = round(e["max_score"] * passed / total, 6) if total else 0.0
        if e["status"] in ("passed", "partial", "failed"):
            e["status"] = "passed" if total and passed == total else "partial" if passed else "failed"
            e["message"] = f"{passed} of {total} visible checks passed"
        e.pop("flags", None)  # a flag may name a line only a hidden check ran into
    out["score"] = round(sum(e["score"] for e in out["exercises"]), 6)
    return out


# ---------------------------------------------------------------- which submission counts


def counts(new: datetime.datetime, old: datetime.datetime | None, due: datetime.datetime | None) -> bool:
    """Whether a submission at `new` replaces the one at `old` in the gradebook: the last one before
    the due date counts, else the last one (nbgrader's collect with --before-duedate)."""
    if old is None:
        return True
    if due is not None and (new <= due) != (old <= due):
        return new <= due
    return new >= old


# ---------------------------------------------------------------- grading with a warm pool


class Graders:
    """One sandbox pool for every watched assignment, and per assignment a grading run (its
    reference, seed and expected values), made on first use and then kept: a submission costs
    its own sandbox only."""

    def __init__(self, course: Course, assignments: list[str], devices: list[str], store_dir: Path):
        from .grading.expected import cache_folder
        from .sandbox.box import env
        from .sandbox.pool import Pool

        self.course, self.devices, self.store_dir = course, devices, Path(store_dir)
        self._cache = cache_folder(course)
        modules = sorted({course.assignment(a).module for a in assignments})
        self.pool = Pool(course.root, modules, env(Path(tempfile.gettempdir())))
        self._runs: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def run(self, assignment: str):
        """(GradingRun, Store) of `assignment`, made once."""
        with self._lock:
            if assignment not in self._runs:
                from . import notebook
                from .grading import store
                from .grading.expected import Expected
                from .grading.grade import GradingRun
                from .grading.reference import Reference

                course = self.course
                seed = (
                    course.seed
                    if course.seed is not None
                    else store.remembered_seed(self.store_dir, assignment, course.draw_seed())
                )
                ref = Reference(course, course.assignment(assignment))
                expected = Expected(ref, seed)
                expected.fill(self.devices, cache=self._cache)
                notebook.preload()
                kept = store.Store(self.store_dir, course, assignment, self.devices, seed)
                self._runs[assignment] = (GradingRun(ref, self.devices, seed, expected, self.pool), kept)
            return self._runs[assignment]

    def grade(self, path: Path, student: str, assignment: str) -> tuple[dict, bool]:
        """The result, and whether it came from the store (graded before: not run again)."""
        from .grading import grade

        grading_run, kept = self.run(assignment)
        stored = kept.get(path, student)
        if stored is not None:
            return stored, True
        result = grade.grade_one(path, student, grading_run)
        kept.put(path, result)
        return result, False

    def visible(self, assignment: str) -> dict[str, set[str]]:
        from .checks import registry

        module = self.course.assignment(assignment).module
        found: dict[str, set[str]] = {}
        for c in registry(module).checks:
            if c.visible:
                found.setdefault(c.exercise, set()).add(c.name)
        return found

    def close(self) -> None:
        self.pool.close()


# ---------------------------------------------------------------- the watcher


@dataclass
class Outcome:
    submission: Submission
    record: dict


def _ago(seconds: float) -> str:
    s = int(round(seconds))
    return (
        f"{s // 86400} d {s % 86400 // 3600} h {s % 3600 // 60} min"
        if s >= 86400
        else str(datetime.timedelta(seconds=s))
    )


class Watcher:
    def __init__(
        self,
        course: Course,
        nb: Nbgrader,
        assignments: list[str],
        devices: list[str],
        db_url: str,
        store_dir: Path,
        workers: int = 1,
        say: Say = print,
        graders: Graders | None = None,
    ):
        self.course, self.nb, self.assignments = course, nb, assignments
        self.devices, self.db_url, self.store_dir = devices, db_url, Path(store_dir)
        self.workers, self.say = max(1, workers), say
        self.ledger = Ledger(self.store_dir / ".watch")
        self._graders, self._own_graders = graders, graders is None  # tests share one warm pool
        self._outputs = threading.Lock()  # the gradebook's sqlite and matplotlib: one at a time
        self._busy: set[tuple[str, str]] = set()  # (student, assignment) with a chain in flight
        self._busy_lock = threading.Lock()

    @property
    def graders(self) -> Graders:
        if self._graders is None:
            self._graders = Graders(self.course, self.assignments, self.devices, self.store_dir)
        return self._graders

    def close(self) -> None:
        if self._graders is not None and self._own_graders:
            self._graders.close()

    def pending(self) -> list[Submission]:
        return [s for s in inbound(self.nb, self.assignments) if not self.ledger.done(s.key)]

    # ------------------------------------------------------------ one submission

    def process(self, sub: Submission) -> Outcome:
        start = time.monotonic()
        path = sub.notebooks[0]
        result, reused = self.graders.grade(path, sub.student, sub.assignment)
        with self._outputs:
            record = self._outputs_of(sub, path, result, reused, time.monotonic() - start)
            self.ledger.put(record)
        self.say(
            f"{sub.student} {sub.assignment} ({sub.timestamp_text}): {result['score']:g}/{result['max_score']:g}"
            + ("" if record["full"] else ", visible checks only")
            + (f", late by {_ago(record['late_seconds'])}" if record["late_seconds"] > 0 else "")
            + ("" if record["counts"] else ", not the one that counts")
            + (", grade from the store" if reused else "")
            + f" in {time.monotonic() - start:.1f} s"
        )
        return Outcome(sub, record)

    def _outputs_of(self, sub: Submission, path: Path, result: dict, reused: bool, seconds: float) -> dict:
        from .outputs import autograded, feedback, gradebook

        w = self.course.watch
        due = gradebook.due_date(self.db_url, sub.assignment)
        late = max(0.0, (sub.timestamp - due).total_seconds()) if due is not None else 0.0
        earlier = [r for r in self.ledger.records(sub.student, sub.assignment) if r["submission"] != sub.key]
        full, next_full = full_feedback_allowed(
            earlier, sub.timestamp, w.full_feedbacks, datetime.timedelta(hours=w.window_hours)
        )
        page = json.loads(json.dumps(result)) if full else limited(result, self.graders.visible(sub.assignment))
        page["notes"] = self._notes(sub, due, late, full, next_full)
        _strip_folder(page, sub.folder)  # the exchange's paths are the instructor's business
        html = feedback.render(page)
        names = [p.stem for p in sub.notebooks if p.exists()] or [sub.assignment]
        released = release_feedback(self.nb, sub, {n: html for n in names})
        old = gradebook.submission_timestamp(self.db_url, sub.assignment, sub.student)
        counted = counts(sub.timestamp, old, due)
        written = None
        if counted:
            gradebook.record(self.course, result, self.db_url, sub.timestamp, self.nb.config, where=str(sub.folder))
            coursedir = self.nb.coursedir()
            folder = Path(coursedir.format_path(coursedir.autograded_directory, sub.student, sub.assignment))
            written = autograded.write(path, result, folder, sub.folder / "timestamp.txt")
        return {
            "submission": sub.key,
            "student": sub.student,
            "assignment": sub.assignment,
            "timestamp": sub.timestamp_text,
            "timestamp_utc": sub.timestamp.isoformat(),
            "graded_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds, 3),
            "from_store": reused,
            "score": result["score"],
            "max_score": result["max_score"],
            "full": full,
            "next_full": next_full.isoformat() if next_full else None,
            "late_seconds": late,
            "counts": counted,
            "feedback": [str(p) for p in released],
            "autograded": str(written) if written else None,
            "result": result,
        }

    def _notes(
        self,
        sub: Submission,
        due: datetime.datetime | None,
        late: float,
        full: bool,
        next_full: datetime.datetime | None,
    ) -> list[str]:
        w = self.course.watch
        notes = [f"Graded on submission: your notebook handed in at {sub.timestamp_text}."]
        if late > 0:
            notes.append(
                f"Handed in {_ago(late)} after the due date ({due:%Y-%m-%d %H:%M:%S} UTC): it is marked late, "
                "and the course's late penalty applies if this is the submission that counts."
            )
        if not full and next_full is None:
            notes.append(
                "This feedback shows the visible checks only, and scores count them alone: the hidden "
                "checks' results come with your grade. Every submission is still graded in full."
            )
        elif not full:
            notes.append(
                f"This feedback shows the visible checks only, and scores count them alone: you have had "
                f"{w.full_feedbacks} full feedback(s) for this assignment in the last {w.window_hours:g} hours. "
                f"The next full feedback (hidden checks too) is for a submission handed in from "
                f"{next_full:%Y-%m-%d %H:%M:%S} UTC. Every submission is still graded in full."
            )
        return notes

    # ------------------------------------------------------------ looking and looping

    def _chain(self, subs: list[Submission]) -> list[Outcome]:
        """One student's submissions of one assignment, in timestamp order."""
        try:
            return [self.process(s) for s in subs]
        finally:
            with self._busy_lock:
                self._busy.discard((subs[0].student, subs[0].assignment))

    def _start(self, ex: ThreadPoolExecutor) -> list[Future]:
        """Start a chain for each (student, assignment) with pending submissions and none in flight."""
        chains: dict[tuple[str, str], list[Submission]] = {}
        for s in self.pending():
            chains.setdefault((s.student, s.assignment), []).append(s)
        futures = []
        with self._busy_lock:
            for key, subs in chains.items():
                if key not in self._busy:
                    self._busy.add(key)
                    futures.append(ex.submit(self._chain, subs))
        return futures

    def once(self) -> list[Outcome]:
        """Grade everything waiting now (and what arrives meanwhile for a student whose earlier one
        was in flight), then return."""
        done: list[Outcome] = []
        with ThreadPoolExecutor(self.workers) as ex:
            futures = self._start(ex)
            while futures:
                for f in futures:
                    done += f.result()
                futures = self._start(ex)
        return done

    def forever(self, stop: threading.Event) -> None:
        """Look every `[watch] poll_seconds` until `stop` is set; what is in flight then finishes."""
        with ThreadPoolExecutor(self.workers) as ex:
            futures: list[Future] = []
            while not stop.is_set():
                futures = [f for f in futures if not f.done() or _raise(f)]
                futures += self._start(ex)
                stop.wait(self.course.watch.poll_seconds)
            for f in futures:
                f.result()


def _raise(f: Future) -> bool:
    f.result()  # a chain's failure (the host cannot grade: SandboxError) stops the watcher
    return False


def _strip_folder(page: dict, folder: Path) -> None:
    """Errors name the graded file by its path in the exchange; the page names it by its own name."""
    prefix = f"{folder}/"
    page["errors"] = [e.replace(prefix, "") for e in page.get("errors", [])]
    for e in page["exercises"]:
        e["message"] = (e.get("message") or "").replace(prefix, "")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (systemd's stop, a container's, Ctrl-C): the watcher
    finishes what it is grading, records it, and returns."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop
