"""`course report --lms canvas|moodle --roster ROSTER.csv`: the gradebook CSV each LMS imports.

Rosters as the LMS exports them, with a student graded but not enrolled, a student listed twice,
an enrolled student who handed nothing in, and (Moodle) an id that could be two students.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from test_cli import course
from test_summary import exercise, result

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
    assert unmatched == {"ann": "matches 2 roster rows", "zed": "in no roster row", "cy": "in no roster row"}
    assert "ben@uni.edu is listed twice" in proc.stderr


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
