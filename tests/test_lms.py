"""`course report --lms canvas|moodle --roster ROSTER.csv`: the gradebook CSV each LMS imports.

Rosters as the LMS exports them, with a student graded but not enrolled, a student listed twice,
an enrolled student who handed nothing in, and (Moodle) an id that could be two students.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from test_cli import course
from test_summary import exercise, result

from autograder.outputs import lms

CANVAS_ROSTER = """\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,\
03_minibatch_training (4711),Quiz 1 (4712),Current Score
    Points Possible,,,,,20,5,(read only)
"Lovelace, Ada",101,S001,ada,Sec A,,4,80
"Babbage, Ben",102,S002,ben@uni.edu,Sec A,,,
"Hopper, Cy",103,S003,cy,Sec B,,,
"Hopper, Cy",103,S003,cy,Sec B,,,
"Curie, Dee",104,S004,dee,Sec B,,,
"Student, Test",999,,,,,,
"""

MOODLE_ROSTER = """First name,Last name,ID number,Institution,Department,Email address,\
Assignment: 03_minibatch_training (Real),Course total (Real),Last downloaded from this course
Ada,Lovelace,,,,ada@uni.edu,-,-,
Ann,One,,,,ann@a.edu,-,-,
Ann,Two,,,,ann@b.edu,-,-,
Ben,Babbage,,,,BEN@uni.edu,-,-,
Ben,Babbage,,,,ben@uni.edu,-,-,
Dee,Curie,,,,dee@uni.edu,-,-,
"""


def graded(tmp_path: Path) -> Path:
    def one(student, assignment, score, most):
        return result(student, assignment, [exercise("e", score, most, "passed" if score == most else "partial")])

    grades = tmp_path / "grades.json"
    grades.write_text(
        json.dumps(
            {
                "results": [
                    one("ada", "03_minibatch_training", 20, 20),
                    one("ben", "03_minibatch_training", 15.5, 20),
                    one("cy", "03_minibatch_training", 10, 20),
                    one("zed", "03_minibatch_training", 5, 20),  # not enrolled
                    one("ann", "03_minibatch_training", 3, 20),  # ann@a.edu or ann@b.edu?
                    one("ada", "05_anneal", 12, 13),
                ]
            }
        )
    )
    return grades


def read(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def run(tmp_path: Path, lms: str, roster_text: str, *more: str):
    roster = tmp_path / f"{lms}-roster.csv"
    roster.write_text(roster_text)
    out = tmp_path / "out"
    proc = course("report", str(graded(tmp_path)), "--out", str(out), "--lms", lms, "--roster", str(roster), *more)
    return proc, out


def test_canvas_gradebook_import(tmp_path):
    proc, out = run(tmp_path, "canvas", CANVAS_ROSTER)
    assert proc.returncode == 0, proc.stderr
    header, points, *rows = read(out / "canvas-grades.csv")
    # Canvas's five columns, the assignment it knows under its own name and id, the new one by name
    canvas = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert header == [*canvas, "03_minibatch_training (4711)", "05_anneal"]
    assert points == ["    Points Possible", "", "", "", "", "20", "13"]
    by_login = {r[3]: r for r in rows}
    assert list(by_login) == ["ada", "ben@uni.edu", "cy", "dee"]  # the roster's order; the test student left out
    assert by_login["ada"][:5] == ["Lovelace, Ada", "101", "S001", "ada", "Sec A"]
    assert by_login["ada"][5:] == ["20", "12"]
    assert by_login["ben@uni.edu"][5:] == ["15.5", ""]  # matched by the email's local part
    assert by_login["cy"][5:] == ["10", ""]  # listed twice in the roster: one row
    assert by_login["dee"][5:] == ["", ""]  # enrolled, nothing handed in: empty, not 0
    assert "cy is listed twice" in proc.stderr
    # nobody dropped: zed (not enrolled) and ann (no such login) are listed, with their scores
    assert "zed" in proc.stderr and "ann" in proc.stderr
    unmatched = {r[0]: r for r in read(out / "canvas-unmatched.csv")[1:]}
    assert unmatched["zed"] == ["zed", "in no roster row", "5", ""]
    assert set(unmatched) == {"zed", "ann"}
    assert (out / "03_minibatch_training.html").is_file() and (out / "05_anneal.csv").is_file()  # the summary too


def test_moodle_gradebook_import_and_missing_as_zero(tmp_path):
    proc, out = run(tmp_path, "moodle", MOODLE_ROSTER, "--missing-zero")
    assert proc.returncode == 0, proc.stderr
    header, *rows = read(out / "moodle-grades.csv")
    assert header == [
        "First name",
        "Last name",
        "ID number",
        "Email address",
        "Assignment: 03_minibatch_training (Real)",  # the grade item's own column: the import maps it
        "05_anneal",
    ]
    by_email = {r[3]: r[4:] for r in rows}
    assert list(by_email) == ["ada@uni.edu", "ann@a.edu", "ann@b.edu", "BEN@uni.edu", "dee@uni.edu"]
    assert by_email["ada@uni.edu"] == ["20", "12"]
    assert by_email["BEN@uni.edu"] == ["15.5", "0"]  # case aside; --missing-zero: 0 for what is missing
    assert by_email["dee@uni.edu"] == ["0", "0"]
    assert by_email["ann@a.edu"] == by_email["ann@b.edu"] == ["0", "0"]  # neither Ann gets the other's grade
    unmatched = {r[0]: r[1] for r in read(out / "moodle-unmatched.csv")[1:]}
    assert unmatched == {"ann": "matches 2 roster rows (3, 4)", "zed": "in no roster row", "cy": "in no roster row"}
    assert "ben@uni.edu is listed twice" in proc.stderr
    # Moodle's CSV has no maximum: the notes give each grade item's
    assert "grade item Assignment: 03_minibatch_training (Real) the maximum grade 20" in proc.stderr
    assert "grade item 05_anneal the maximum grade 13" in proc.stderr


def test_a_roster_it_cannot_use_stops_before_anything_is_written(tmp_path):
    proc, out = run(tmp_path, "canvas", "Name,Score\nAda,3\n")
    assert proc.returncode == 2 and "no column to match students by" in proc.stderr
    assert not out.exists()
    proc = course("report", str(graded(tmp_path)), "--out", str(out), "--lms", "moodle")
    assert proc.returncode == 2 and "needs --roster" in proc.stderr
    assert not out.exists()


def test_names_that_look_like_formulas_stay_text(tmp_path):
    roster = CANVAS_ROSTER.replace('"Curie, Dee"', '"=HYPERLINK(""http://x"")"')
    proc, out = run(tmp_path, "canvas", roster)
    assert proc.returncode == 0, proc.stderr
    rows = read(out / "canvas-grades.csv")
    assert rows[-1][0] == '\'=HYPERLINK("http://x")'


# ---------------------------------------------------------------- a real roster, as each importer reads it

A, B = "03_minibatch_training", "05_anneal"

# (last name, first name, number, login, email, section): 16 students as a roster really has them
STUDENTS = [
    ("Lovelace", "Ada", "S001", "ada", "ada@uni.edu", "Sec A"),
    ("Babbage", "Ben", "S002", "ben.b", "ben@uni.edu", "Sec A"),  # graded as "ben": the email's local part
    ("Hopper", "Cy", "S003", "cy", "cy@uni.edu", "Sec B"),
    ("Hopper", "Cy", "S003", "cy", "cy@uni.edu", "Sec B"),  # listed twice
    ("Curie", "Dee", "S004", "dee", "dee@uni.edu", "Sec B"),  # handed nothing in
    ("山田", "太郎", "S005", "yamada", "yamada@uni.edu", "Sec B"),
    ("Müller-Lüdenscheidt", "Zoë", "S006", "zoe.muller", "zoe.muller@uni.edu", "Sec A"),
    ('O\'Brien, "Jr."', "Eve, Marie", "S007", "eve", "eve@uni.edu", "Sec A"),  # commas and quotes
    ("Minus", "Sam", "-S015", "-s3", "-s3@uni.edu", "- Online"),  # what a formula guard would corrupt
    ("Smith", "Jo", "S009", "s1", "s1@uni.edu", "Sec A"),  # graded twice: as s1 and as S1@Uni.edu
    ("Ng", "Kim", "S011", "kim", "kim@uni.edu", "Sec A"),  # an exact login ...
    ("Other", "Kim", "S012", "kim2", "kim@other.edu", "Sec B"),  # ... beats this email's local part
    ("Lee", "Ann", "S013", "ann.a", "ann@a.edu", "Sec A"),  # "ann": the local part of two emails
    ("Lee", "Ann", "S014", "ann.b", "ann@b.edu", "Sec B"),
    ("Núñez", "José", "S016", "jose", "jose@uni.edu", "Sec B"),
    ("张", "伟", "S017", "wzhang", "wzhang@uni.edu", "Sec B"),
]
SCORES = {  # graded id -> (score of A, score of B); zed is graded but not enrolled
    "ada": (20, 12),
    "ben": (15.5, None),
    "cy": (10, 13),
    "yamada": (19, 1),
    "zoe.muller": (18, None),
    "eve": (17.25, 2),
    "-s3": (16, 3),
    "s1": (20, None),
    "S1@Uni.edu": (0, 4),
    "kim": (14, 5),
    "ann": (3, 6),
    "jose": (12, 7),
    "wzhang": (11, 8),
    "zed": (5, 9),
}
# what each roster student (by login) must end up with; s1's row is claimed by two ids and the
# two Anns cannot be told apart: those stay empty and their ids go to the unmatched file
EXPECTED = {
    "ada": (20, 12),
    "ben.b": (15.5, None),
    "cy": (10, 13),
    "yamada": (19, 1),
    "zoe.muller": (18, None),
    "eve": (17.25, 2),
    "-s3": (16, 3),
    "kim": (14, 5),
    "jose": (12, 7),
    "wzhang": (11, 8),
}
UNMATCHED = {"s1", "S1@Uni.edu", "ann", "zed"}
# Canvas's export has no email column; where an institution's login is the email, it is there
CANVAS_LOGIN = {k: v for *_, k, v, _ in STUDENTS if k in ("ben.b", "s1", "kim2", "ann.a", "ann.b")}


def canvas_roster(separator: str = ",", bom: bool = True, split_names: bool = False) -> str:
    names = ["LastName", "FirstName"] if split_names else ["Student"]
    header = [*names, "ID", "SIS User ID", "SIS Login ID", "Section", f"{A} (4711)", "Current Score"]
    rows = [header, ["    Points Possible", *[""] * (len(header) - 3), "20", "(read only)"]]
    for n, (last, first, number, login, _, section) in enumerate(STUDENTS):
        name = [last, first] if split_names else [f"{last}, {first}"]
        rows.append([*name, str(101 + n), number, CANVAS_LOGIN.get(login, login), section, "", ""])
    rows.append(["Student", "Test", "999", "", "", "", "", ""] if split_names else ["Student, Test", "999", *[""] * 6])
    buf = io.StringIO()
    csv.writer(buf, delimiter=separator).writerows(rows)
    return ("\ufeff" if bom else "") + buf.getvalue()


def moodle_roster(separator: str = ",", bom: bool = False) -> str:
    rows = [["First name", "Last name", "ID number", "Username", "Email address", f"Assignment: {A} (Real)"]]
    rows += [[first, last, number, login, email, "-"] for last, first, number, login, email, _ in STUDENTS]
    buf = io.StringIO()
    csv.writer(buf, delimiter=separator).writerows(rows)
    return ("\ufeff" if bom else "") + buf.getvalue()


def by_assignment(reverse: bool = False) -> dict:
    def one(student, assignment, score, most):
        return result(student, assignment, [exercise("e", score, most, "partial")])

    out = {
        A: [one(s, A, a, 20) for s, (a, _) in SCORES.items()],
        B: [one(s, B, b, 13) for s, (_, b) in SCORES.items() if b is not None],
    }
    return {k: v[::-1] for k, v in out.items()} if reverse else out


def canvas_import(text: str) -> dict[str, dict[str, float]]:
    """What Canvas's gradebook import does with the file: the header names the columns; the
    Points Possible row is not a student; a student is found by SIS Login ID (or ID, SIS User
    ID); an empty cell leaves the grade alone, a number sets it."""
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[-2:] == [f"{A} (4711)", B]
    got = {}
    for row in rows:
        if row[0].strip() == "Points Possible":
            continue
        record = dict(zip(header, row, strict=True))
        login = record["SIS Login ID"]
        assert login and record["ID"] and login not in got
        got[login] = {a: float(record[h]) for a, h in ((A, f"{A} (4711)"), (B, B)) if record[h] != ""}
    return got


def moodle_import(text: str) -> dict[str, dict[str, float]]:
    """What Moodle's CSV import does: the user found by Email address; "-" skipped; any other
    cell is the grade (an empty one would be 0, so there must be none)."""
    header, *rows = list(csv.reader(io.StringIO(text)))
    got = {}
    for row in rows:
        record = dict(zip(header, row, strict=True))
        email = record["Email address"]
        assert email and email not in got
        cells = {a: record[h] for a, h in ((A, f"Assignment: {A} (Real)"), (B, B)) if h in record}
        assert "" not in cells.values(), f"an empty cell imports as 0 for a new grade item: {row}"
        got[email] = {a: float(v) for a, v in cells.items() if v != "-"}
    return got


def expected(key: int) -> dict[str, dict[str, float]]:
    """EXPECTED by the roster's column `key` (3: Canvas's login, 4: email), every student in the roster."""
    out = {}
    for s in STUDENTS:
        a, b = EXPECTED.get(s[3], (None, None))
        out[CANVAS_LOGIN.get(s[3], s[3]) if key == 3 else s[key]] = {k: v for k, v in ((A, a), (B, b)) if v is not None}
    return out


def export(tmp_path: Path, name: str, text: str, lms_name: str, reverse: bool = False, mapping: str | None = None):
    roster = tmp_path / name
    roster.write_text(text, encoding="utf-8", newline="")
    map_path = None
    if mapping is not None:
        map_path = tmp_path / "map.csv"
        map_path.write_text(mapping)
    fmt = lms.FORMATS[lms_name]
    return lms.build(by_assignment(reverse), lms.read_roster(roster, fmt, map_path), fmt)


def csv_of(e: lms.Export) -> str:
    return lms._csv(e.header, e.rows)


@pytest.mark.parametrize(
    "variant",
    [
        {"separator": ",", "bom": True},
        {"separator": ";", "bom": False},  # European Excel; Canvas reads it
        {"separator": "\t", "bom": True},
        {"separator": ",", "bom": False, "split_names": True},  # Canvas's separate name columns
    ],
)
def test_canvas_real_roster_no_grade_lost_or_swapped(tmp_path, variant):
    text = canvas_roster(**variant)
    e = export(tmp_path, "canvas.csv", text, "canvas")
    assert canvas_import(csv_of(e)) == expected(3)
    assert {u.student for u in e.unmatched} == UNMATCHED
    # the same output whatever order the grades come in
    assert csv_of(export(tmp_path, "canvas.csv", text, "canvas", reverse=True)) == csv_of(e)
    names = ["LastName", "FirstName"] if variant.get("split_names") else ["Student"]
    assert e.header == [*names, "ID", "SIS User ID", "SIS Login ID", "Section", f"{A} (4711)", B]
    assert e.rows[0][0] == "    Points Possible" and e.rows[0][-2:] == ["20", "13"]
    by_login = {r[len(names) + 2]: r for r in e.rows[1:]}
    assert len(e.rows) == 1 + 15  # the duplicate and the test student left out
    # identifiers exactly as the roster has them (no formula guard: Canvas would not find "'-s3")
    assert by_login["-s3"][len(names) :][:4] == ["109", "-S015", "-s3", "- Online"]
    if variant.get("split_names"):
        assert by_login["yamada"][:2] == ["山田", "太郎"]
        assert by_login["eve"][:2] == ['O\'Brien, "Jr."', "Eve, Marie"]
    else:
        assert by_login["zoe.muller"][0] == "Müller-Lüdenscheidt, Zoë"
        assert by_login["eve"][0] == 'O\'Brien, "Jr.", Eve, Marie'
    assert by_login["dee"][-2:] == ["", ""]  # nothing handed in: empty, not 0
    why = {u.student: u.why for u in e.unmatched}
    assert why["s1"] == "matches roster row 12, as S1@Uni.edu does too: choose with --roster-map"
    assert why["ann"] == "matches 2 roster rows (15, 16)"
    assert "cy is listed twice in the roster (rows 5 and 6): graded on the first" in e.notes


@pytest.mark.parametrize("variant", [{"separator": ",", "bom": False}, {"separator": ";", "bom": True}])
def test_moodle_real_roster_no_grade_lost_or_swapped(tmp_path, variant):
    text = moodle_roster(**variant)
    e = export(tmp_path, "moodle.csv", text, "moodle")
    assert moodle_import(csv_of(e)) == expected(4)
    assert {u.student for u in e.unmatched} == UNMATCHED
    assert csv_of(export(tmp_path, "moodle.csv", text, "moodle", reverse=True)) == csv_of(e)
    by_user = {r[3]: r for r in e.rows}
    assert by_user["-s3"][:5] == ["Sam", "Minus", "-S015", "-s3", "-s3@uni.edu"]  # as Moodle knows them
    assert by_user["dee"][-2:] == ["-", "-"]  # Moodle's "no grade"
    assert by_user["s1"][-2:] == ["-", "-"]  # claimed by two graded ids: nobody's grade
    assert by_user["kim"][-2:] == ["14", "5"] and by_user["kim2"][-2:] == ["-", "-"]  # exact login first
    assert by_user["yamada"][:2] == ["太郎", "山田"]
    assert any("maximum grade 20" in n for n in e.notes)


def test_a_mapping_file_decides_what_matching_cannot(tmp_path):
    mapping = "student,roster\nS1@Uni.edu,s1@uni.edu\nann,ann.b\nzed,\n"
    e = export(tmp_path, "moodle.csv", moodle_roster(), "moodle", mapping=mapping)
    got = moodle_import(csv_of(e))
    assert got["s1@uni.edu"] == {A: 0, B: 4}  # the mapped id takes the row ...
    assert got["ann@b.edu"] == {A: 3, B: 6} and got["ann@a.edu"] == {}
    why = {u.student: u.why for u in e.unmatched}  # ... and the other id is listed
    assert why == {
        "s1": "roster row 11 is mapped to S1@Uni.edu by the mapping file",
        "zed": "in no roster row, as the mapping file says",
    }


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("who,where\nann,ann.a\n", "map.csv: a mapping file has the columns student and roster"),
        ("student,roster\nann,nobody\n", "map.csv: row 2: nobody (for ann) is in no roster row"),
        ("student,roster\nann,S003\n", "map.csv: row 2: S003 (for ann) is in 2 roster rows"),  # Cy's duplicate
        ("student,roster\nann,ann.a\nkim,ann@a.edu\n", "map.csv: row 3: kim and ann are both mapped to ann@a.edu"),
        ("student,roster\nann,ann.a\nANN,ann.b\n", "map.csv: row 3: ANN is mapped twice"),
    ],
)
def test_a_mapping_file_it_cannot_use_is_refused(tmp_path, mapping, message):
    with pytest.raises(lms.LmsError, match=re.escape(message)):
        export(tmp_path, "moodle.csv", moodle_roster(), "moodle", mapping=mapping)


def test_rosters_in_other_encodings_or_separators_are_explained(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(moodle_roster().encode("cp1252", errors="replace"))
    with pytest.raises(lms.LmsError) as e:
        lms.read_roster(roster, lms.FORMATS["moodle"])
    assert str(e.value).startswith(f"{roster}: the roster is not UTF-8 (byte 0xeb at offset")
    assert "CSV UTF-8" in str(e.value)
    roster.write_bytes(moodle_roster().encode("utf-16"))
    with pytest.raises(lms.LmsError, match="not UTF-8 \\(UTF-16"):
        lms.read_roster(roster, lms.FORMATS["moodle"])
    roster.write_text("First name|Last name|Email address\nAda|Lovelace|ada@uni.edu\n")
    with pytest.raises(lms.LmsError, match="separated by something other than , ; or tab"):
        lms.read_roster(roster, lms.FORMATS["moodle"])


def test_roster_map_from_the_command_line(tmp_path):
    roster = tmp_path / "moodle.csv"
    roster.write_text(moodle_roster())
    grades = tmp_path / "grades.json"
    grades.write_text(json.dumps({"results": by_assignment()[A]}))
    mapping = tmp_path / "map.csv"
    mapping.write_text("student;roster\nS1@Uni.edu;s1\n")  # any separator, a login names the row
    out = tmp_path / "out"
    args = ("report", str(grades), "--out", str(out), "--lms", "moodle", "--roster", str(roster))
    proc = course(*args, "--roster-map", str(mapping))
    assert proc.returncode == 0, proc.stderr
    assert "not in the moodle gradebook: s1 (roster row 11 is mapped to S1@Uni.edu" in proc.stderr
    assert moodle_import((out / "moodle-grades.csv").read_text())["s1@uni.edu"] == {A: 0}
    mapping.write_text("student,roster\nS1@Uni.edu,nobody\n")
    proc = course(*args[:3], str(tmp_path / "out2"), *args[4:], "--roster-map", str(mapping))
    assert proc.returncode == 2 and "nobody (for S1@Uni.edu) is in no roster row" in proc.stderr
    assert not (tmp_path / "out2").exists()
