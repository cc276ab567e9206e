"""`course report`: the instructor's class summary (CSV and HTML per assignment) from grade reports."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOT
from test_cli import course

from autograder import cli

A = "03_minibatch_training"


class Page(HTMLParser):
    """The parts of a summary page the tests look at: images, text, and the tables' rows."""

    def __init__(self, text: str):
        super().__init__()
        self.images: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self.scripts = 0
        self._table = self._row = self._cell = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self._table = self.tables.setdefault(a.get("class", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def rows(table: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(table[0], r, strict=True)) for r in table[1:]]


def check(name, passed, message="", device="cpu"):
    return {"name": name, "device": device, "passed": passed, "message": message}


def exercise(id, score, max_score, status, checks=(), message=""):
    return {
        "id": id,
        "score": score,
        "max_score": max_score,
        "status": status,
        "message": message,
        "checks": list(checks),
    }


def result(student, assignment, exercises, errors=()):
    return {
        "student": student,
        "assignment": assignment,
        "devices": ["cpu"],
        "seed": 1,
        "score": sum(e["score"] for e in exercises),
        "max_score": sum(e["max_score"] for e in exercises),
        "exercises": exercises,
        "errors": list(errors),
    }


def write(path: Path, results) -> Path:
    path.write_text(json.dumps({"results": results}))
    return path


# ------------------------------------------------------------------ real grades of the samples


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, list[dict]]:
    tmp = tmp_path_factory.mktemp("graded")
    out = tmp / "grades.json"
    proc = course(
        "grade",
        A,
        *(str(ROOT / "samples" / A / f"{n}.ipynb") for n in ("perfect", "buggy", "stubs")),
        "--no-store",
        "--seed",
        "1",
        "--json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(out.read_text())["results"]


@pytest.mark.slow
def test_report_of_the_samples(graded, tmp_path):
    grades, results = graded
    proc = course("report", str(grades), cwd=tmp_path)  # default --out: report/ where it runs
    assert proc.returncode == 0, proc.stderr
    csv_path, html_path = tmp_path / "report" / f"{A}.csv", tmp_path / "report" / f"{A}.html"
    assert str(Path("report") / f"{A}.csv") in proc.stdout and str(Path("report") / f"{A}.html") in proc.stdout
    ids = [e["id"] for e in results[0]["exercises"]]

    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["student", *ids, "total", "max_score", "problems"]
        table = list(reader)
    assert [r["student"] for r in table] == [r["student"] for r in results]
    for row, r in zip(table, results, strict=True):
        for e in r["exercises"]:
            assert float(row[e["id"]]) == pytest.approx(e["score"])
        assert float(row["total"]) == pytest.approx(r["score"]) == pytest.approx(sum(float(row[i]) for i in ids))
        assert float(row["max_score"]) == r["max_score"] and row["problems"] == ""

    page = Page(html_path.read_text())
    assert page.scripts == 0
    assert len(page.images) == 2 and all(
        src.startswith("data:image/png;base64,") and len(src) > 1000 for src in page.images
    )
    text = " ".join(page.text)
    assert "Class size" in text and "3" in text
    exercises = rows(page.tables["exercises"])
    assert [r["exercise"] for r in exercises] == ids  # notebook order
    for r in exercises:
        counts = [
            int(r[h]) for h in ("passed fully", "partly", "failed", "errored", "timed out", "forbidden", "missing")
        ]
        assert sum(counts) == 3
    by_id = {r["exercise"]: r for r in exercises}
    assert by_id["logsumexp"]["partly"] == "1" and by_id["logsumexp"]["failed"] == "1"

    failures = rows(page.tables["failures"])
    assert 0 < len(failures) <= 15
    counts = [int(r["students"]) for r in failures]
    assert counts == sorted(counts, reverse=True)
    buggy = next(r for r in results if r["student"] == "buggy")
    failed = {(e["id"], c["name"]) for e in buggy["exercises"] for c in e["checks"] if not c["passed"]}
    # buggy and stubs both fail these: they head the table with 2 students each
    assert any((r["exercise"], r["check"]) in failed and r["students"] == "2" for r in failures)
    assert all(len(r["example message"]) <= 200 for r in failures)


# ------------------------------------------------------------------ hand-made edge cases


def test_unreadable_submission_escaping_and_two_assignments(tmp_path):
    ok = [
        exercise("a", 2, 2, "passed", [check("one", True)]),
        exercise("b", 1, 3, "partial", [check("shape", True), check("long", False, "x" * 500)]),
    ]
    bad = [exercise("a", 0, 2, "error", message="no notebook"), exercise("b", 0, 3, "error", message="no notebook")]
    evil = "<script>alert(1)</script>"
    grades = write(
        tmp_path / "g.json",
        [
            result("alice", "01_one", ok),
            result(
                evil,
                "01_one",
                [
                    exercise("a", 2, 2, "passed"),
                    exercise("b", 0, 3, "failed", [check("long", False, "<b>bold</b> & more")]),
                ],
            ),
            result("junk", "01_one", bad, errors=["invalid JSON: Expecting value: line 1 column 1"]),
            result("alice", "02_two", [exercise("z", 1, 1, "passed"), exercise("y", 0, 1, "timeout")]),
        ],
    )
    out = tmp_path / "out"
    proc = course("report", str(grades), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["01_one.csv", "01_one.html", "02_two.csv", "02_two.html"]
    for name in ("01_one.csv", "01_one.html", "02_two.csv", "02_two.html"):
        assert str(out / name) in proc.stdout

    with open(out / "01_one.csv", newline="") as f:
        table = {r["student"]: r for r in csv.DictReader(f)}
    assert table["junk"]["a"] == "0" and table["junk"]["total"] == "0"
    assert "invalid JSON" in table["junk"]["problems"]
    assert table[evil]["total"] == "2" and table["alice"]["b"] == "1" and table["alice"]["total"] == "3"
    with open(out / "02_two.csv", newline="") as f:
        assert next(csv.DictReader(f)) == {
            "student": "alice",
            "z": "1",
            "y": "0",
            "total": "1",
            "max_score": "2",
            "problems": "",
        }

    raw = (out / "01_one.html").read_text()
    assert "<script>" not in raw and "<b>bold</b>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    page = Page(raw)
    assert page.scripts == 0 and len(page.images) == 2
    exercises = {r["exercise"]: r for r in rows(page.tables["exercises"])}
    assert list(exercises) == ["a", "b"]
    assert exercises["a"]["errored"] == "1" and exercises["b"]["errored"] == "1"
    assert exercises["b"]["partly"] == "1" and exercises["b"]["failed"] == "1"
    failures = rows(page.tables["failures"])
    assert failures[0]["exercise"] == "b" and failures[0]["check"] == "long" and failures[0]["students"] == "2"
    assert len(failures[0]["example message"]) <= 200 and failures[0]["example message"].endswith("…")
    students = {r["student"]: r for r in rows(page.tables["students"])}
    assert list(students) == ["alice", evil, "junk"]  # shown, as text
    assert "invalid JSON" in students["junk"]["problems"] and students[evil]["total"] == "2"
    two = Page((out / "02_two.html").read_text())
    assert [r["exercise"] for r in rows(two.tables["exercises"])] == ["z", "y"]
    assert rows(two.tables["exercises"])[1]["timed out"] == "1"


def test_a_student_in_two_files_keeps_the_later_result(tmp_path, capsys):
    first = write(
        tmp_path / "first.json",
        [
            result("bob", "01_one", [exercise("a", 0, 2, "failed")]),
            result("carol", "01_one", [exercise("a", 1, 2, "partial")]),
        ],
    )
    second = write(tmp_path / "second.json", [result("bob", "01_one", [exercise("a", 2, 2, "passed")])])
    assert cli.main(["report", str(first), str(second), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "bob" in err and "second.json" in err and "twice" in err
    with open(tmp_path / "out" / "01_one.csv", newline="") as f:
        table = {r["student"]: r for r in csv.DictReader(f)}
    assert table["bob"]["total"] == "2" and table["carol"]["total"] == "1" and len(table) == 2


@pytest.mark.parametrize(
    "content, says",
    [
        (None, "no such file"),
        ("not json {", "not JSON"),
        ('{"grades": []}', "no 'results' list"),
        ("[1, 2]", "no 'results' list"),
        ('{"results": [{"student": "x", "assignment": "a"}]}', "has no 'score'"),
        (
            '{"results": [{"student": "x", "assignment": "a", "score": 1, "max_score": 2, "errors": [],'
            ' "exercises": [{"id": "e", "score": 1, "max_score": 2}]}]}',
            "has no 'status'",
        ),
        ('{"results": []}', "'results' is empty"),
        (
            '{"results": [{"student": "x", "assignment": "../up", "score": 1, "max_score": 2, "errors": [],'
            ' "exercises": []}]}',
            "not a usable file name",
        ),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, capsys, content, says):
    good = write(tmp_path / "good.json", [result("bob", "01_one", [exercise("a", 2, 2, "passed")])])
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    out = tmp_path / "out"
    assert cli.main(["report", str(good), str(bad), "--out", str(out)]) == 2  # in-process: quicker
    err = capsys.readouterr().err
    assert f"course: {bad}: " in err and says in err
    assert not out.exists()


def test_a_student_id_that_looks_like_a_formula_stays_text_in_the_csv(tmp_path):
    formula = '=HYPERLINK("http://evil.example","click")'
    grades = write(
        tmp_path / "g.json",
        [result(formula, "01_one", [exercise("a", 1, 1, "passed")], errors=["-1+1 looks like a formula too"])],
    )
    proc = course("report", str(grades), "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "out" / "01_one.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert row["student"] == "'" + formula and row["problems"] == "'-1+1 looks like a formula too"
    assert row["a"] == "1" and row["total"] == "1"  # numbers stay numbers
