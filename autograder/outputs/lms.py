"""Grades an LMS imports: the gradebook CSV of Canvas or Moodle, for the students of their roster.

The roster is the CSV the instructor exports from the LMS: Canvas's gradebook export (Grades >
Export), Moodle's gradebook export (Export > Plain text file) or participants list, in UTF-8 (with
or without Excel's BOM), separated by commas, semicolons or tabs. Each graded student (the id
`course grade` gave them: a login, an nbgrader folder name, an email) is matched to a roster row,
case aside: an exact login first, then an email, then a student number, then the part of an
email before the @. The file written has the roster's rows, in its order, with its columns that
name the student, and one column per assignment named as that LMS expects:

- Canvas: `Student` (or `LastName`, `FirstName`), `ID`, `SIS User ID`, `SIS Login ID`, `Section`,
  then the assignments. An assignment the roster already has a column for (`03_minibatch_training
  (12345)`, Canvas's name and id) keeps that header, so the import updates it; any other is a new
  column, which Canvas's import offers to create as a new assignment. The `Points Possible` row
  follows the header, as in Canvas's own export. No grade: an empty cell.
- Moodle: the roster's `First name`, `Last name`, `ID number`, `Username`, `Email address`
  (those it has), then the assignments (a column of Moodle's own export, `Assignment: <name>
  (Real)`, keeps its header); on import, map `Email address` (or `Username`) to the user and
  each assignment column to its grade item. No grade: `-`, as Moodle's own export writes it. The
  CSV cannot carry a grade item's maximum: the notes say what each should be.

Matching is one to one and never depends on the order of the grade files: a graded id that
matches two rows at its strongest level, or two graded ids that match one row, get no row; they
are listed (the return value, and `<lms>-unmatched.csv` beside the grades) and the row stays
empty, unless the mapping file (`--roster-map`) says which row is whose. A roster row with no
grade gets the LMS's "no grade" (0 only when asked), and a student listed twice in the roster is
noted and graded on their first row. Identifiers are written as they are; only names get the
spreadsheet-formula guard.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import config, report
from ..report import Result
from .summary import cell, num

# Canvas's export names a student in `Student` ("Last, First"), or, with separate names turned on,
# in `LastName` and `FirstName`; its importer finds the student by ID, SIS User ID or SIS Login ID.
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_SPLIT_NAMES = ["LastName", "FirstName"]
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Username", "Email address"]
POINTS_POSSIBLE = "Points Possible"  # the second row of Canvas's export: each assignment's points
# the separators a spreadsheet writes a CSV with: Excel in locales whose decimal mark is a comma
# writes ";" (and Canvas reads it), "Unicode text" is tab-separated
SEPARATORS = ",;\t"


class LmsError(config.ConfigError):
    """A roster (or mapping file) the export cannot use (the CLI prints it and exits 2)."""


@dataclass(frozen=True)
class Format:
    name: str
    identity: list[str]  # roster columns copied into the file, in this order
    # roster columns a student id is matched against, strongest first: an exact login beats an
    # email, an email beats a student number, and each beats the local part of an email
    logins: list[str]
    emails: list[str]
    numbers: list[str]
    names: list[str]  # free text (names): the only cells a formula guard may touch
    points_row: bool  # a "Points Possible" row under the header
    no_grade: str  # what the importer reads as "no grade" (Moodle's: "-"; an empty cell is 0 there)

    @property
    def keys(self) -> list[str]:
        return [*self.logins, *self.emails, *self.numbers]


FORMATS = {
    "canvas": Format(
        "canvas",
        CANVAS_IDENTITY,
        logins=["SIS Login ID", "Login ID"],
        emails=["Email", "Email address"],
        numbers=["SIS User ID", "ID"],
        names=["Student", *CANVAS_SPLIT_NAMES],
        points_row=True,
        no_grade="",  # Canvas's importer leaves a grade alone where the cell is empty
    ),
    "moodle": Format(
        "moodle",
        MOODLE_IDENTITY,
        logins=["Username"],
        emails=["Email address"],
        numbers=["ID number"],
        names=["First name", "Last name"],
        points_row=False,
        # Moodle's CSV import (grade/import/csv/classes/load_data.php) skips a cell holding "-"
        # and, for a new grade item, stores anything else as a grade: an empty cell becomes 0
        no_grade="-",
    ),
}


@dataclass
class Roster:
    header: list[str]
    rows: list[dict[str, str]]
    notes: list[str] = field(default_factory=list)  # e.g. a student listed twice
    # each row's number as a spreadsheet shows it (the header is row 1), for messages
    numbers: list[int] = field(default_factory=list)
    # the instructor's choices (--roster-map): graded id (lower case) -> roster row, or None for
    # "in no row"; they decide where automatic matching would be ambiguous or wrong
    mapping: dict[str, int | None] = field(default_factory=dict)
    path: Path | None = None


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


def _read_csv(path: Path, what: str, usable: Callable[[list[str]], bool]) -> tuple[list[str], list[list[str]]]:
    """The header and records of a CSV in UTF-8 (with or without Excel's BOM), its separator
    detected; LmsError naming the file when it cannot be read or is in another encoding."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise LmsError(f"{path}: cannot read the {what} ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as e:
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise LmsError(
            f"{path}: the {what} is not UTF-8 ({'UTF-16, as Excel saves Unicode text' if utf16 else ''}"
            f"{'' if utf16 else f'byte 0x{data[e.start]:02x} at offset {e.start}: perhaps Windows-1252 or Latin-1'}); "
            'save it again as UTF-8: in Excel, Save As "CSV UTF-8 (Comma delimited)"; in LibreOffice, '
            'Save As "Text CSV" with character set "Unicode (UTF-8)"; or '
            f"`iconv -f CP1252 -t UTF-8 {path} > roster-utf8.csv`"
        ) from None
    # The sniffer reads the whole sample first; a quoted name with a comma in it (`"O'Brien,
    # ""Jr."""`) can mislead it, so the header line alone (column names, no student's data) is
    # its second try. The first separator that gives the columns needed wins.
    separators = []
    for sample in (text[:65536], text.split("\n", 1)[0]):
        try:
            separators.append(csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter)
        except csv.Error:
            separators.append(",")  # one column, or too little to tell: the CSV default
    records: list[list[str]] = []
    for separator in dict.fromkeys(separators):
        # only the separator is taken from the sniffer: its guess of quoting rules from a sample
        # is weaker than the standard "" escaping every spreadsheet writes
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=separator) if any(c.strip() for c in r)]
        if not records or (rows and usable([h.strip() for h in rows[0]])):
            records = rows
        if records and usable([h.strip() for h in records[0]]):
            break
    if not records:
        raise LmsError(f"{path}: the {what} is empty")
    return [h.strip() for h in records[0]], records[1:]


def _sep_hint(header: list[str]) -> str:
    return (
        f"its columns: {', '.join(header) or 'none'}"
        if len(header) > 1
        else f"its one column: {header[0] if header else 'none'}; is it separated by something other than , ; or tab?"
    )


def read_roster(path: Path, fmt: Format, mapping: Path | None = None) -> Roster:
    """The roster's rows (Canvas's `Points Possible`, posting-policy and test-student rows left
    out), and the mapping file's choices; LmsError when either cannot be used."""
    header, records = _read_csv(path, "roster", lambda h: any(k in h for k in fmt.keys))
    if not any(k in header for k in fmt.keys):
        raise LmsError(
            f"{path}: no column to match students by: a {fmt.name} roster has one of "
            f"{', '.join(fmt.keys)} ({_sep_hint(header)})"
        )
    names = [h for h in header if h in fmt.names]
    rows, numbers = [], []
    for n, record in enumerate(records, start=2):  # spreadsheet numbering: the header is row 1
        row = {h: (record[i].strip() if i < len(record) else "") for i, h in enumerate(header)}
        first = record[0].strip() if record else ""
        if first == POINTS_POSSIBLE or [row.get(h) for h in names] in (["Student, Test"], ["Student", "Test"]):
            continue  # Canvas: the points row, and the test student every course has
        if not any(row.get(h) for h in [*fmt.keys, *fmt.names]):
            continue  # e.g. Canvas's "Manual Posting" row: no student in it
        rows.append(row)
        numbers.append(n)
    roster = Roster(header, rows, numbers=numbers, path=Path(path))
    if mapping is not None:
        roster.mapping = read_mapping(mapping, roster, fmt)
    return roster


def read_mapping(path: Path, roster: Roster, fmt: Format) -> dict[str, int | None]:
    """The mapping file: columns `student` (a graded id) and `roster` (the login, email or
    number of that student's roster row, or empty for "in no row"). Graded id (lower case) ->
    index into `roster.rows`; LmsError naming the file and line for anything it cannot place."""
    header, records = _read_csv(path, "mapping file", lambda h: {"student", "roster"} <= {c.lower() for c in h})
    lower = [h.lower() for h in header]
    if "student" not in lower or "roster" not in lower:
        raise LmsError(f"{path}: a mapping file has the columns student and roster ({_sep_hint(header)})")
    s, r = lower.index("student"), lower.index("roster")
    exact: dict[str, set[int]] = {}
    for i, row in enumerate(roster.rows):
        for k in fmt.keys:
            if value := row.get(k, "").lower():
                exact.setdefault(value, set()).add(i)
    out: dict[str, int | None] = {}
    taken: dict[int, str] = {}
    for n, record in enumerate(records, start=2):
        student = record[s].strip() if s < len(record) else ""
        key = record[r].strip() if r < len(record) else ""
        if not student:
            raise LmsError(f"{path}: row {n}: no student")
        if student.lower() in out:
            raise LmsError(f"{path}: row {n}: {student} is mapped twice")
        if not key:
            out[student.lower()] = None
            continue
        found = exact.get(key.lower(), set())
        if len(found) != 1:
            where = "no roster row" if not found else f"{len(found)} roster rows"
            raise LmsError(f"{path}: row {n}: {key} (for {student}) is in {where} of {roster.path}")
        (i,) = found
        if i in taken:
            raise LmsError(f"{path}: row {n}: {student} and {taken[i]} are both mapped to {key}")
        taken[i] = student
        out[student.lower()] = i
    return out


def _candidates(row: dict[str, str], fmt: Format) -> list[tuple[int, str]]:
    """What a student id may equal to mean this row, each with its strength (0 strongest): an
    exact login, an exact email, an exact student number, then an email's (or login's) local part."""
    out = []
    for tier, columns in enumerate((fmt.logins, fmt.emails, fmt.numbers)):
        for k in columns:
            if value := row.get(k, "").strip().lower():
                out.append((tier, value))
                if "@" in value and k not in fmt.numbers:
                    out.append((3, value.split("@", 1)[0]))
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


def _identity_columns(roster: Roster, fmt: Format) -> list[str]:
    if fmt.name == "moodle":  # Moodle's import: any columns that identify the user
        return [h for h in fmt.identity if h in roster.header]
    # Canvas's import wants its five columns, even empty; a roster with separate name columns
    # keeps them in place of Student
    if "Student" not in roster.header and all(h in roster.header for h in CANVAS_SPLIT_NAMES):
        return [*CANVAS_SPLIT_NAMES, *fmt.identity[1:]]
    return list(fmt.identity)


def _match(
    students: list[str], rows: list[dict[str, str]], numbers: list[int], fmt: Format, mapping: dict[str, int | None]
) -> tuple[dict[str, int], dict[str, str]]:
    """Each graded id's row, one to one, and why each other id has none. An id takes the rows
    it matches at its strongest level; two rows there, or a row two ids take, are left for the
    instructor (--roster-map), never settled by the order the grades came in."""
    owners: dict[tuple[int, str], list[int]] = {}
    for i, row in enumerate(rows):
        for key in _candidates(row, fmt):
            if i not in owners.setdefault(key, []):
                owners[key].append(i)
    chosen: dict[str, int] = {}
    why: dict[str, str] = {}
    for sid in students:
        low = sid.strip().lower()
        if low in mapping:
            if mapping[low] is None:
                why[sid] = "in no roster row, as the mapping file says"
            else:
                chosen[sid] = mapping[low]
            continue
        found: list[int] = []
        for tier in range(4):
            found = owners.get((tier, low), [])
            if found:
                break
        if len(found) == 1:
            chosen[sid] = found[0]
        else:
            why[sid] = (
                "in no roster row"
                if not found
                else f"matches {len(found)} roster rows ({', '.join(str(numbers[i]) for i in found)})"
            )
    claims: dict[int, list[str]] = {}
    for sid, i in chosen.items():
        claims.setdefault(i, []).append(sid)
    for i, sids in claims.items():
        if len(sids) < 2:
            continue
        mapped = [s for s in sids if s.strip().lower() in mapping]
        for sid in sids:
            if sid in mapped:
                continue  # the mapping file decides (read_mapping lets one id take a row)
            del chosen[sid]
            others = ", ".join(s for s in sids if s != sid)
            why[sid] = (
                f"roster row {numbers[i]} is mapped to {others} by the mapping file"
                if mapped
                else f"matches roster row {numbers[i]}, as {others} does too: choose with --roster-map"
            )
    return chosen, why


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
    identity = _identity_columns(roster, fmt)

    notes = []
    first: dict[str, int] = {}
    rows: list[dict[str, str]] = []
    numbers: list[int] = []
    kept: dict[int, int] = {}  # index in roster.rows -> index in rows
    for n, row in enumerate(roster.rows):
        number = roster.numbers[n] if n < len(roster.numbers) else n + 2
        ident = _identity(row, fmt)
        if ident and ident in first:
            where = f"rows {numbers[first[ident]]} and {number}"
            notes.append(f"{ident} is listed twice in the roster ({where}): graded on the first")
            kept[n] = first[ident]
            continue
        first[ident] = len(rows)
        kept[n] = len(rows)
        rows.append(row)
        numbers.append(number)
    mapping = {sid: (None if i is None else kept[i]) for sid, i in roster.mapping.items()}

    # one id per student, case aside (the same student's notebooks may spell it differently)
    spelled: dict[str, str] = {}
    for a in assignments:
        for r in by_assignment[a]:
            spelled.setdefault(r["student"].strip().lower(), r["student"])
    chosen, why = _match(sorted(spelled.values()), rows, numbers, fmt, mapping)

    scores: dict[int, dict[str, float]] = {}
    unmatched: dict[str, Unmatched] = {}
    for a in assignments:
        for r in by_assignment[a]:
            sid = spelled[r["student"].strip().lower()]
            if sid in chosen:
                scores.setdefault(chosen[sid], {})[a] = float(r["score"])
            else:
                unmatched.setdefault(sid, Unmatched(sid, why[sid], {})).scores[a] = float(r["score"])

    most = {a: max(float(r["max_score"]) for r in by_assignment[a]) for a in assignments}
    if fmt.name == "moodle":  # its CSV has no row for them
        notes += [
            f"Moodle's CSV carries no maximum: give the grade item {c} the maximum grade {num(most[a])} "
            "(a grade item the import creates gets 100)"
            for a, c in zip(assignments, columns, strict=True)
        ]
    header = identity + columns
    out_rows = []
    if fmt.points_row:
        out_rows.append([f"    {POINTS_POSSIBLE}", *[""] * (len(identity) - 1), *(num(most[a]) for a in assignments)])
    empty = "0" if missing_zero else fmt.no_grade
    for i, row in enumerate(rows):
        got = scores.get(i, {})
        # identifiers go as they are (a guard's apostrophe would make `-s3` a user no LMS knows);
        # only the names, free text, are kept from reading as a formula in a spreadsheet
        out_rows.append(
            [cell(row.get(h, "")) if h in fmt.names else row.get(h, "") for h in identity]
            + [num(got[a]) if a in got else empty for a in assignments]
        )
    return Export(header, out_rows, sorted(unmatched.values(), key=lambda u: u.student.lower()), notes)


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
