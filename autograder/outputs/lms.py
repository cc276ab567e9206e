"""Grades an LMS imports: the gradebook CSV of Canvas or Moodle, for the students of their roster.

The roster is the CSV the instructor exports from the LMS: Canvas's gradebook export (Grades >
Export), Moodle's gradebook export (Export > Plain text file) or participants list. Each graded
student (the id `course grade` gave them: a login, an nbgrader folder name, an email) is matched
to a roster row by login or email, case aside; an id that is the part of an email before the @
matches that email too. The file written has the roster's rows, in its order, with its columns
that name the student, and one column per assignment named as that LMS expects:

- Canvas: `Student`, `ID`, `SIS User ID`, `SIS Login ID`, `Section`, then the assignments. An
  assignment the roster already has a column for (`03_minibatch_training (12345)`, Canvas's
  name and id) keeps that header, so the import updates it; any other is a new column, which
  Canvas's import offers to create as a new assignment. The `Points Possible` row follows the
  header, as in Canvas's own export.
- Moodle: the roster's `First name`, `Last name`, `ID number`, `Username`, `Email address`
  (those it has), then the assignments (a column of Moodle's own export, `Assignment: <name>
  (Real)`, keeps its header); on import, map `Email address` (or `Username`) to the user and
  each assignment column to its grade item.

Nothing is dropped: a graded student who matches no roster row, or several, is listed (the
return value, and `<lms>-unmatched.csv` beside the grades); a roster row with no grade gets an
empty cell (not 0, unless asked), and a student listed twice in the roster is noted and graded
on their first row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import config, report
from ..report import Result
from .summary import cell, num

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Username", "Email address"]
# the roster columns a graded student's id may equal (the first are the likeliest)
CANVAS_KEYS = ["SIS Login ID", "SIS User ID", "Email", "Email address", "Login ID", "ID"]
MOODLE_KEYS = ["Username", "Email address", "ID number"]
POINTS_POSSIBLE = "Points Possible"  # the second row of Canvas's export: each assignment's points


class LmsError(config.ConfigError):
    """A roster the export cannot use (the CLI prints it and exits 2)."""


@dataclass(frozen=True)
class Format:
    name: str
    identity: list[str]  # roster columns copied into the file, in this order
    keys: list[str]  # roster columns a student id is matched against
    points_row: bool  # a "Points Possible" row under the header


FORMATS = {
    "canvas": Format("canvas", CANVAS_IDENTITY, CANVAS_KEYS, True),
    "moodle": Format("moodle", MOODLE_IDENTITY, MOODLE_KEYS, False),
}


@dataclass
class Roster:
    header: list[str]
    rows: list[dict[str, str]]
    notes: list[str] = field(default_factory=list)  # e.g. a student listed twice


@dataclass(frozen=True)
class Unmatched:
    student: str
    why: str
    scores: dict[str, float]  # assignment -> score


@dataclass
class Export:
    header: list[str]
    rows: list[list[str]]
    unmatched: list[Unmatched]
    notes: list[str]


# ---------------------------------------------------------------- the roster


def read_roster(path: Path, fmt: Format) -> Roster:
    """The roster's rows (Canvas's `Points Possible` and test-student rows left out); LmsError when
    the file is not a CSV with a column to match students by."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # Excel's exports start with a BOM
    except (OSError, UnicodeDecodeError) as e:
        raise LmsError(f"{path}: cannot read the roster ({getattr(e, 'strerror', None) or e})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if not any(k in header for k in fmt.keys):
        raise LmsError(
            f"{path}: no column to match students by: a {fmt.name} roster has one of "
            f"{', '.join(fmt.keys)} (its columns: {', '.join(header) or 'none'})"
        )
    rows = []
    for raw in reader:
        row = {h: (raw.get(orig) or "").strip() for h, orig in zip(header, reader.fieldnames or [], strict=True)}
        if row.get("Student", "").strip() == POINTS_POSSIBLE or row.get("Student") == "Student, Test":
            continue  # Canvas: the points row, and the test student every course has
        if any(row.values()):
            rows.append(row)
    return Roster(header, rows)


def _keys(row: dict[str, str], fmt: Format) -> set[str]:
    """What a student id may equal to mean this row: each login or email, and an email's local part."""
    out = set()
    for k in fmt.keys:
        value = row.get(k, "").strip().lower()
        if value:
            out.add(value)
            if "@" in value:
                out.add(value.split("@", 1)[0])
    return out


def _identity(row: dict[str, str], fmt: Format) -> str:
    """The row's strongest key (a login, else an email, else an id): two rows with it are one student."""
    return next((row[k].strip().lower() for k in fmt.keys if row.get(k, "").strip()), "")


# ---------------------------------------------------------------- matching


def _column(assignment: str, roster: Roster, titles: dict[str, str]) -> str:
    """The roster's column for the assignment (by its id or title, whatever the LMS added to it),
    else the assignment's id as a new column."""
    names = {assignment.lower(), titles.get(assignment, assignment).lower()}
    for h in roster.header:
        bare = re.sub(r"\s*\(\d+\)$", "", h)  # Canvas: "Name (12345)"
        bare = re.sub(r"^[^:]+:\s*|\s*\((Real|Percentage|Letter)\)$", "", bare)  # Moodle: "Assignment: Name (Real)"
        if bare.strip().lower() in names or h.strip().lower() in names:
            return h
    return assignment


def build(
    by_assignment: dict[str, list[Result]],
    roster: Roster,
    fmt: Format,
    missing_zero: bool = False,
    titles: dict[str, str] | None = None,
) -> Export:
    """The LMS's gradebook rows for the roster, and the graded students it could not place."""
    titles = titles or {}
    assignments = list(by_assignment)
    columns = [_column(a, roster, titles) for a in assignments]
    # Canvas's import wants its five columns, even empty; Moodle's, any that identify the user
    identity = list(fmt.identity) if fmt.name == "canvas" else [h for h in fmt.identity if h in roster.header]

    notes = []
    first: dict[str, int] = {}
    rows: list[dict[str, str]] = []
    for n, row in enumerate(roster.rows):
        ident = _identity(row, fmt)
        if ident and ident in first:
            where = f"rows {first[ident] + 2} and {n + 2}"  # as a spreadsheet numbers them, header first
            notes.append(f"{ident} is listed twice in the roster ({where}): graded on the first")
            continue
        first[ident] = n
        rows.append(row)
    owners: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        for key in _keys(row, fmt):
            owners.setdefault(key, []).append(i)

    scores: dict[int, dict[str, float]] = {}
    unmatched: list[Unmatched] = []
    for a in assignments:
        for r in by_assignment[a]:
            sid = r["student"].strip().lower()
            candidates = sorted(set(owners.get(sid, [])) or set(owners.get(sid.split("@", 1)[0], [])))
            if len(candidates) == 1:
                scores.setdefault(candidates[0], {})[a] = float(r["score"])
                continue
            why = "in no roster row" if not candidates else f"matches {len(candidates)} roster rows"
            previous = next((u for u in unmatched if u.student == r["student"]), None)
            if previous:
                previous.scores[a] = float(r["score"])
            else:
                unmatched.append(Unmatched(r["student"], why, {a: float(r["score"])}))

    header = identity + columns
    out_rows = []
    if fmt.points_row:
        most = {a: max(float(r["max_score"]) for r in by_assignment[a]) for a in assignments}
        out_rows.append([f"    {POINTS_POSSIBLE}", *[""] * (len(identity) - 1), *(num(most[a]) for a in assignments)])
    empty = "0" if missing_zero else ""
    for i, row in enumerate(rows):
        got = scores.get(i, {})
        out_rows.append(
            [cell(row.get(h, "")) for h in identity] + [num(got[a]) if a in got else empty for a in assignments]
        )
    return Export(header, out_rows, unmatched, notes)


# ---------------------------------------------------------------- writing


def _csv(header: list[str], rows: Iterable[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def unmatched_csv(e: Export, assignments: list[str]) -> str:
    return _csv(
        ["student", "why", *assignments],
        (
            [cell(u.student), u.why, *(num(u.scores[a]) if a in u.scores else "" for a in assignments)]
            for u in e.unmatched
        ),
    )


def write(
    by_assignment: dict[str, list[Result]],
    roster: Roster,
    lms: str,
    out_dir: Path,
    missing_zero: bool = False,
    titles: dict[str, str] | None = None,
) -> tuple[list[Path], Export]:
    """`<lms>-grades.csv` (and `<lms>-unmatched.csv` when a graded student found no row) in `out_dir`."""
    export = build(by_assignment, roster, FORMATS[lms], missing_zero, titles)
    paths = [Path(out_dir) / f"{lms}-grades.csv"]
    report.write_atomically(paths[0], _csv(export.header, export.rows))
    if export.unmatched:
        paths.append(Path(out_dir) / f"{lms}-unmatched.csv")
        report.write_atomically(paths[1], unmatched_csv(export, list(by_assignment)))
    return paths, export
