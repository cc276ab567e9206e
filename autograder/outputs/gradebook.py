"""Grade reports into nbgrader's gradebook, through nbgrader's own API.

`course gradebook GRADES.json...` puts each result of `course grade --json`
into the database nbgrader's formgrader reads: the assignment, its notebook
`<a>` and its grade and solution cells as nbgrader's `generate_assignment`
records them (it is run for that, on a scratch copy of the source notebook,
unless the database already holds them), the student, the submission, and
per exercise the `auto_score` of its grade cell `<id>_tests` and, on its solution cell `<id>`,
an `auto_comment` naming the failing checks (formgrader shows it beside the cell). `record`
does the same for one result with its submission's timestamp (`course watch`), and applies
nbgrader's own late penalty (`AssignLatePenalties`, with the course's `LateSubmissionPlugin`).

Every file is read and checked before anything is written, so a bad file
leaves the database as it was. A student graded before is updated in place.
"""

from __future__ import annotations

import datetime
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import report
from ..config import ConfigError, Course

TESTS = "_tests"  # the grade cell of exercise <id> is <id>_tests
COURSE_ID = ""  # nbgrader's CourseDirectory.course_id default: what its apps and formgrader use


class GradebookError(ConfigError):
    """A grades file the gradebook cannot take, or nbgrader refused to record the assignment."""


@dataclass(frozen=True)
class Cells:
    """What the source notebook of an assignment says nbgrader records."""

    grade: dict[str, float]  # grade cell id -> points
    solution: list[str]  # solution cell ids


@dataclass(frozen=True)
class Entry:
    source: Path  # the grades file it came from
    student: str
    assignment: str
    scores: dict[str, float]  # grade cell id -> auto_score
    score: float
    max_score: float
    comments: dict[str, str]  # solution cell id -> auto_comment ("" when every check passed)
    timestamp: datetime.datetime | None = None  # the submission's, from nbgrader's timestamp.txt (UTC)


MOST_CHECKS = 5  # failing checks an auto_comment names; the feedback page has them all


def auto_comment(exercise: dict) -> str:
    """What formgrader shows a grader on the exercise's solution cell: its status and failing checks."""
    if exercise["status"] == "passed":
        return ""
    lines = [f"{exercise['status']}: {exercise.get('message') or ''}".rstrip(": ")]
    failing = [c for c in exercise.get("checks", []) if not c["passed"]]
    for c in failing[:MOST_CHECKS]:
        lines.append(f"- {c['name']} [{c['device']}]: {c['message']}".rstrip(": "))
    if len(failing) > MOST_CHECKS:
        lines.append(f"- ... and {len(failing) - MOST_CHECKS} more failing checks")
    return "\n".join(lines)


def _read_cells(course: Course, name: str) -> Cells:
    """Grade and solution cells of `source/<name>/<name>.ipynb`, checked against course.toml."""
    path = course.root / "source" / name / f"{name}.ipynb"
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise GradebookError(f"{path}: cannot read the source notebook ({e})") from None
    grade, solution = {}, []
    for cell in raw.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            grade[meta["grade_id"]] = float(meta.get("points") or 0)
        if meta.get("solution"):
            solution.append(meta["grade_id"])
    want = {f"{ex}{TESTS}": p for ex, p in course.assignment(name).points.items()}
    if grade != want:
        raise GradebookError(
            f"{path}: its grade cells and points {grade} differ from course.toml's [assignments.{name}.points] {want}"
        )
    return Cells(grade, solution)


def read_reports(course: Course, paths: list[Path]) -> tuple[list[Entry], dict[str, Cells]]:
    """Every result of every file, checked, and the cells of the assignments they grade;
    GradebookError naming the file at the first problem."""
    cells: dict[str, Cells] = {}
    entries: list[Entry] = []
    for path in paths:
        try:
            results = report.read_json(path)  # the report's shape: `report.validate_result`
        except ConfigError as e:
            raise GradebookError(str(e)) from None
        for i, r in enumerate(results):
            entries.append(_entry(course, f"{path}: results[{i}] ({r['student']})", Path(path), r, cells))
    return entries, cells


def _entry(course: Course, where: str, path: Path, r: report.Result, cells: dict[str, Cells]) -> Entry:
    """A result of the report's shape, checked against what this course's gradebook records."""
    name = r["assignment"]
    if name not in course.assignments:
        raise GradebookError(
            f"{where}: assignment {name!r} is not one of course.toml's ({', '.join(course.assignments)})"
        )
    if name not in cells:
        cells[name] = _read_cells(course, name)
    grade = cells[name].grade
    ids = [e["id"] for e in r["exercises"]]
    want = [g[: -len(TESTS)] for g in grade]
    if sorted(ids) != sorted(want):
        extra, lacking = sorted(set(ids) - set(want)), sorted(set(want) - set(ids))
        raise GradebookError(
            f"{where}: its exercises do not match the grade cells of {name}"
            + (f"; no grade cell for {', '.join(extra)}" if extra else "")
            + (f"; no score for {', '.join(g + TESTS for g in lacking)}" if lacking else "")
            + ("; an exercise is listed twice" if len(set(ids)) != len(ids) else "")
        )
    scores = {}
    for e in r["exercises"]:
        cell = e["id"] + TESTS
        if e["max_score"] != grade[cell]:
            raise GradebookError(
                f"{where}: exercise {e['id']} was graded out of {e['max_score']:g}, "
                f"but its grade cell {cell} is worth {grade[cell]:g}"
            )
        scores[cell] = float(e["score"])  # within 0 and max_score: `report.validate_result` saw to it
    comments = {e["id"]: auto_comment(e) for e in r["exercises"] if e["id"] in cells[name].solution}
    stamp = None
    if r.get("timestamp") is not None:  # `course grade` of nbgrader's submitted/: its timestamp.txt
        from nbgrader.utils import parse_utc

        try:
            stamp = parse_utc(str(r["timestamp"]))
        except (ValueError, OverflowError):
            raise GradebookError(f"{where}: timestamp {r['timestamp']!r} is not a time nbgrader can read") from None
    return Entry(path, r["student"], name, scores, sum(scores.values()), sum(grade.values()), comments, stamp)


def _has_cells(gb, name: str, cells: Cells) -> bool:
    """Whether the gradebook holds `name`'s notebook with these grade and solution cells."""
    from nbgrader.api import MissingEntry

    try:
        nb = gb.find_notebook(name, name)
    except MissingEntry:
        return False
    have = {c.name: c.max_score for c in nb.grade_cells}
    return all(have.get(g) == p for g, p in cells.grade.items()) and set(cells.solution) <= {
        c.name for c in nb.solution_cells
    }


def record_assignment(course: Course, name: str, db_url: str) -> None:
    """Record `name` as `nbgrader generate_assignment` does: it is what runs, on a scratch copy."""
    with tempfile.TemporaryDirectory(prefix="course-gradebook-") as tmp:
        src = course.root / "source" / name
        shutil.copytree(src, Path(tmp) / "source" / name)
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                "generate_assignment",
                name,
                "--force",
                f"--db={db_url}",
                f"--CourseDirectory.root={tmp}",
                "--log-level=ERROR",
            ],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise GradebookError(
                f"nbgrader generate_assignment {name} could not record it in {db_url}:\n"
                f"{proc.stdout}{proc.stderr}".rstrip()
            )


def _ensure_assignments(course: Course, db_url: str, cells: dict[str, Cells]) -> None:
    """Record every assignment of `cells` the gradebook lacks (nbgrader's generate_assignment)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, COURSE_ID) as gb:
        missing = [n for n in cells if not _has_cells(gb, n, cells[n])]
    for n in missing:
        record_assignment(course, n, db_url)
    with Gradebook(db_url, COURSE_ID) as gb:
        for n in missing:
            if not _has_cells(gb, n, cells[n]):
                raise GradebookError(f"nbgrader generate_assignment {n} did not record its cells in {db_url}")


def _store_entry(gb, e: Entry) -> str:
    """Put one checked entry into an open gradebook: 'added' or 'updated'."""
    from nbgrader.api import MissingEntry

    gb.update_or_create_student(e.student)
    stamp = {"timestamp": e.timestamp} if e.timestamp is not None else {}
    try:
        sub = gb.find_submission(e.assignment, e.student)
        how = "updated"
        if e.timestamp is not None:
            sub.timestamp = e.timestamp
    except MissingEntry:
        with warnings.catch_warnings():  # nbgrader's add_submission makes SQLAlchemy warn; harmless
            warnings.simplefilter("ignore")
            gb.add_submission(e.assignment, e.student, **stamp)
        how = "added"
    for cell, score in e.scores.items():
        grade = gb.find_grade(cell, e.assignment, e.assignment, e.student)
        grade.auto_score = score
        # as nbgrader's SaveAutoGrades: a grader's manual score asks for a look again
        grade.needs_manual_grade = grade.manual_score is not None
    for cell, text in e.comments.items():
        try:
            comment = gb.find_comment(cell, e.assignment, e.assignment, e.student)
        except MissingEntry:  # a gradebook whose assignment was recorded without this solution cell
            continue
        comment.auto_comment = text or None
    gb.db.commit()
    return how


def _late_penalty(db_url: str, e: Entry, nbgrader_config) -> None:
    """nbgrader's own AssignLatePenalties, as `nbgrader autograde` runs it after saving the
    scores: the configured LateSubmissionPlugin's penalty from the gradebook's timestamp and
    due date (none when on time), stored on the submitted notebook."""
    import nbformat
    from nbgrader.preprocessors import AssignLatePenalties

    resources = {
        "nbgrader": {"notebook": e.assignment, "assignment": e.assignment, "student": e.student, "db_url": db_url}
    }
    AssignLatePenalties(config=nbgrader_config).preprocess(nbformat.v4.new_notebook(), resources)


def record(
    course: Course,
    result: report.Result,
    db_url: str,
    timestamp: datetime.datetime | None,
    nbgrader_config=None,
    where: str = "",
) -> float:
    """Record one result (`course watch`: a submission from nbgrader's exchange) with its
    submission's timestamp, and apply nbgrader's late penalty. Returns the seconds it was late
    by the gradebook's due date (0 when on time or with no due date)."""
    from nbgrader.api import Gradebook

    cells: dict[str, Cells] = {}
    entry = _entry(course, where or f"{result['student']}'s {result['assignment']}", Path(where), result, cells)
    entry = Entry(**{**entry.__dict__, "timestamp": timestamp})
    _ensure_assignments(course, db_url, cells)
    with Gradebook(db_url, COURSE_ID) as gb:
        _store_entry(gb, entry)
        late = gb.find_submission(entry.assignment, entry.student).total_seconds_late
    _late_penalty(db_url, entry, nbgrader_config)
    return float(late or 0.0)


def due_date(db_url: str, assignment: str) -> datetime.datetime | None:
    """The assignment's due date in the gradebook (UTC), as nbgrader's collect reads it; None
    when it has none or the gradebook does not know the assignment yet."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, COURSE_ID) as gb:
        try:
            return gb.find_assignment(assignment).duedate
        except MissingEntry:
            return None


def submission_timestamp(db_url: str, assignment: str, student: str) -> datetime.datetime | None:
    """The timestamp of the student's submission the gradebook holds (None: none, or none given)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, COURSE_ID) as gb:
        try:
            return gb.find_submission(assignment, student).timestamp
        except MissingEntry:
            return None


def fill(
    course: Course, paths: list[Path], db_url: str | None = None, say: Callable[[str], None] = print
) -> list[Entry]:
    """Check every file, then record every result in the gradebook at `db_url`."""
    from nbgrader.api import Gradebook

    db_url = db_url or course.gradebook_url
    entries, cells = read_reports(course, paths)  # nothing is written before all of them are read
    _ensure_assignments(course, db_url, cells)
    with Gradebook(db_url, COURSE_ID) as gb:
        for e in entries:
            how = _store_entry(gb, e)
            total = gb.find_submission(e.assignment, e.student).score
            say(f"{e.student}: {e.assignment} {total:g}/{e.max_score:g} ({how}, from {e.source})")
    return entries
