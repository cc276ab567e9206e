"""Bounded, well-formed output: what the grader writes is valid UTF-8 whatever a student sent or
named a file, a reply cannot decode into millions of objects, and flags stay few and quick."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import ROOT, grade_files, make_submission, statuses

from autograder import config, notebook, report, utf8, wire
from autograder.grading import flags
from autograder.grading.reference import Reference
from autograder.outputs import exports, gradebook, lms, progress, summary

A = "02_init"  # the fewest exercises
MB = "03_minibatch_training"
LONE = "\ud800"  # a lone high surrogate, as JSON's "\ud800" decodes it
NAMED = "\udcff"  # a byte of a file name that is not UTF-8, as Python reads it (surrogateescape)


# ---------------------------------------------------------------- text made valid


@pytest.mark.parametrize(
    ("text", "made"),
    [
        ("plain", "plain"),
        ("é 😀 \ufffd", "é 😀 \ufffd"),  # valid text is left as it is
        ("a\ud800b", "a\ufffdb"),
        ("\udcff\udcfe", "\ufffd\ufffd"),
        ("\ude00\ud83d", "\ufffd\ufffd"),  # a pair the wrong way round is two lone halves
        ("\ud83d\ude00", "😀"),  # a pair still in two halves is the one character it encodes
    ],
)
def test_lone_surrogates_become_the_replacement_character(text, made):
    assert utf8.valid(text) == made
    made.encode("utf-8")


def test_every_string_of_a_value_is_repaired_in_place_keys_too():
    value = {"a\ud800": ["x\udfff", {"k": "\udc80", "\ud800": [1, None, "ok"]}], "n": 2.5}
    assert utf8.repair(value) is value
    assert value == {"a\ufffd": ["x\ufffd", {"k": "\ufffd", "\ufffd": [1, None, "ok"]}], "n": 2.5}


def assert_encodable(value) -> None:
    """Every string in `value`, at any depth, dict keys too, encodes as UTF-8 (strictly)."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            v.encode("utf-8")
        elif isinstance(v, dict):
            todo += [*v.keys(), *v.values()]
        elif isinstance(v, list):
            todo += v


# ---------------------------------------------------------------- the wire


def test_a_reply_with_lone_surrogates_comes_out_of_the_wire_as_valid_text():
    """The sandbox's sender writes ASCII JSON (ensure_ascii): a student's error text or string
    value with a lone surrogate arrives as a `\\ud800` escape, at any depth, in keys too."""
    reply = {
        "kind": "check",
        "error": "ValueError: bad \ud800 value",
        "value": ["\udfff", {"dict": [["key \udc80", "\ud83d\ude00 and \ud800"]]}],
        "\ud800": 1,
    }
    body = json.dumps(reply).encode()
    assert b"\\ud800" in body and body.isascii()
    message = wire.parse_message(body)
    assert_encodable(message)
    assert message["error"] == "ValueError: bad \ufffd value" and message["\ufffd"] == 1
    ((key, text),) = message["value"][1]["dict"]
    assert key == "key \ufffd" and text == "😀 and \ufffd"  # the escaped pair stays one character
    assert wire.decode(message["value"]) == ["\ufffd", {"key \ufffd": "😀 and \ufffd"}]


def test_surrogates_sent_as_raw_bytes_are_repaired_too():
    # json.loads reads bytes with surrogatepass: a forged reply can hold a surrogate's own bytes
    message = wire.parse_message(b'{"error": "x \xed\xa0\x80 y"}')
    assert message == {"error": "x \ufffd y"}


@pytest.mark.parametrize("unit", [b"[]", b"0", b"{}", b'{"a":0}'], ids=["lists", "zeros", "dicts", "objects"])
def test_a_reply_that_would_decode_into_too_many_values_is_refused_before_it_is(unit):
    over = b'{"kind": "check", "value": [' + b",".join([unit] * wire.MAX_VALUES) + b"]}"
    assert len(over) < 16 << 20  # within the byte cap: the count alone refuses it
    with pytest.raises(wire.WireError, match=r"a reply of up to \d+ values .* over the cap of 262144"):
        wire.parse_message(over)


def test_honest_replies_fit_the_bound_with_room_to_spare():
    n = wire.MAX_VALUES // 4  # 178 times the largest check reply there is (wire.MAX_VALUES)
    assert wire.parse_message(b'{"value": [' + b",".join([b"0.5"] * n) + b"]}")["value"] == [0.5] * n
    data = "A" * (12 << 20)  # a tensor of 9 MiB crosses as one base64 string: no value to count
    body = json.dumps({"value": {"tensor": {"dtype": "uint8", "shape": [9 << 20], "device": "cpu", "data": data}}})
    assert wire.decode(wire.parse_message(body.encode())["value"]).shape == (9 << 20,)


def test_the_sandbox_reads_its_jobs_whole(tmp_path):
    """The bound is the replies': a job carries the notebook's code, commas and all."""
    from autograder.sandbox.cells import job_reader

    body = json.dumps({"cells": [{"source": "x = [" + "0, " * wire.MAX_VALUES + "]"}]}).encode()
    path = tmp_path / "job"
    path.write_bytes(len(body).to_bytes(8, "little") + body)
    fd = os.open(path, os.O_RDONLY)
    try:
        read_job = job_reader()
        job = read_job(fd)
        assert read_job(fd) is None, "the end of the pipe is no job"
    finally:
        os.close(fd)
    assert job["cells"][0]["source"].count(",") == wire.MAX_VALUES


@pytest.mark.slow
def test_a_reply_over_the_bound_is_an_error_of_its_exercise_only(course, tmp_path):
    many = f"def logsumexp(x):\n    return [0] * {wire.MAX_VALUES + 1}\n"  # honest code, a huge reply
    (r,) = grade_files(course, MB, [make_submission(tmp_path, MB, "many", {"logsumexp": many})])
    ex = r["exercises"][0]
    assert ex["id"] == "logsumexp" and ex["status"] == "error" and ex["score"] == 0
    assert "malformed reply" in ex["message"] and "over the cap of 262144" in ex["message"]
    assert all(e["status"] == "passed" for e in r["exercises"][1:]), statuses(r)


# ---------------------------------------------------------------- every writer


def results(course: config.Course, odd: str) -> list[dict]:
    """Two results of A with `odd` in every place text from a submission reaches: the student id
    (a file name), messages and error texts (the sandbox), the notebook's errors, flags."""
    a = course.assignment(A)

    def exercise(ex: str, points: float) -> dict:
        check = {"name": "a check", "device": "cpu", "passed": False, "message": f"got {odd} ValueError: {odd}"}
        return {
            "id": ex,
            "score": 0.0,
            "max_score": points,
            "status": "failed",
            "message": f"0 of 1 checks passed: {odd}",
            "flags": [f"cell 9, line 1: code built at run time (exec) {odd}"],
            "checks": [check],
        }

    def result(student: str) -> dict:
        return {
            "student": student,
            "assignment": A,
            "score": 0.0,
            "max_score": sum(a.points.values()),
            "devices": ["cpu"],
            "seed": 1,
            "exercises": [exercise(ex, p) for ex, p in a.points.items()],
            "errors": [f"cell 3 raised ValueError: {odd}", f"/submitted/{student}.ipynb: {odd}"],
        }

    return [result(f"ann{odd}"), result(f"bob{odd}")]


def strict_utf8(data: bytes) -> str:
    """`data` as UTF-8, strictly: the bytes a surrogatepass writer would make do not decode."""
    text = data.decode("utf-8")
    assert "\ufffd" in text or "\\ufffd" in text or "&#65533;" in text  # the odd text, repaired
    return text


def write_table(rs: list[dict], out: Path, course) -> list[bytes]:
    text = io.StringIO()
    report.table(rs, text, detail=True)
    return [text.getvalue().encode("utf-8")]


def write_progress(rs: list[dict], out: Path, course) -> list[bytes]:
    lines = io.StringIO()
    show = progress.Progress(len(rs), lines)
    for r in rs:
        show(r)
    show.done()
    return [lines.getvalue().encode("utf-8")]


def write_json(rs: list[dict], out: Path, course) -> list[bytes]:
    report.write_json(out / "grades.json", rs)
    written = (out / "grades.json").read_bytes()
    assert_encodable(json.loads(written))  # no "\ud800" escape left for the next reader
    return [written]


def write_feedback(rs: list[dict], out: Path, course) -> list[bytes]:
    from autograder.outputs import feedback

    return [p.read_bytes() for p in feedback.write(rs, out)]


def write_junit(rs: list[dict], out: Path, course) -> list[bytes]:
    exports.write_junit(out / "junit.xml", rs)
    ET.parse(out / "junit.xml")  # well-formed XML too
    return [(out / "junit.xml").read_bytes()]


def write_gradescope(rs: list[dict], out: Path, course) -> list[bytes]:
    exports.write_gradescope(out / "results.json", rs[:1], course)
    written = (out / "results.json").read_bytes()
    assert_encodable(json.loads(written))
    return [written]


def report_file(rs: list[dict], out: Path) -> Path:
    """The results as a grade file: a hand-edited one, or one an older kit wrote, keeps a lone
    surrogate as a JSON escape, which reading decodes."""
    path = out / "in.json"
    path.write_text(json.dumps({"results": rs}))
    return path


def write_summary(rs: list[dict], out: Path, course) -> list[bytes]:
    paths = summary.write([report_file(rs, out)], out / "summary", notes=io.StringIO())
    with open(paths[0], newline="", encoding="utf-8") as f:
        assert [r[0] for r in csv.reader(f)][1:] == [utf8.valid(r["student"]) for r in rs]
    return [p.read_bytes() for p in paths]


def write_lms(rs: list[dict], out: Path, course) -> list[bytes]:
    roster = out / "roster.csv"
    roster.write_text(f"Student,ID,SIS User ID,SIS Login ID,Section\nAnn,1,S1,{utf8.valid(rs[0]['student'])},A\n")
    by_assignment = summary.gather([report_file(rs, out)])
    paths, _ = lms.write(by_assignment, lms.read_roster(roster, lms.FORMATS["canvas"]), "canvas", out)
    return [p.read_bytes() for p in paths]


def write_gradebook(rs: list[dict], out: Path, course) -> list[bytes]:
    """What the gradebook records (its database is nbgrader's; filling it runs nbgrader's
    generate_assignment, seconds per run): the students and scores `read_reports` hands it."""
    entries, _ = gradebook.read_reports(course, [report_file(rs, out)])
    return [json.dumps([e.student for e in entries], ensure_ascii=False).encode("utf-8")]


WRITERS = [
    write_table,
    write_progress,
    write_json,
    write_feedback,
    write_junit,
    write_gradescope,
    write_summary,
    write_lms,
    write_gradebook,
]


@pytest.mark.parametrize("writer", WRITERS, ids=[w.__name__.removeprefix("write_") for w in WRITERS])
@pytest.mark.parametrize(
    "odd",
    [
        "\ufffd",  # a lone surrogate as it comes out of the wire
        LONE,  # ... or as a notebook or a hand-edited grade file holds it
        NAMED,  # ... or as a file name that is not UTF-8 gives it
    ],
    ids=["after the wire", "lone surrogate", "file name"],
)
def test_every_writer_writes_valid_utf8(course, tmp_path, writer, odd):
    for data in writer(results(course, odd), tmp_path, course):
        strict_utf8(data)


def test_a_student_id_from_a_file_name_that_is_not_utf8_is_shown_as_valid_text(course, tmp_path):
    import os

    from autograder.grading import submissions

    name = os.fsencode(tmp_path) + b"/ann\xff.ipynb"
    os.close(os.open(name, os.O_CREAT | os.O_WRONLY))
    ((student, _),) = submissions.find([os.fsdecode(name)], A)  # as `course grade` is given it
    assert student == f"ann{NAMED}"
    rs = results(course, "")
    rs[0]["student"] = student
    shown = io.StringIO()
    report.table(rs, shown)
    assert "ann\ufffd" in shown.getvalue().encode("utf-8").decode("utf-8")


def test_a_report_read_back_holds_valid_text(course, tmp_path):
    (r, _) = report.read_json(report_file(results(course, LONE), tmp_path))
    assert_encodable(r)
    assert r["student"] == "ann\ufffd" and r["errors"][0] == "cell 3 raised ValueError: \ufffd"


def test_a_notebook_with_a_lone_surrogate_is_read_as_valid_text(course, tmp_path):
    """A cell's "\\ud800" would make the grader's own parsing (flags, forbidden) fail."""
    path = make_submission(tmp_path, MB, "odd", {"logsumexp": "def logsumexp(x):\n    return x  # \ud800\n"})
    assert b"\\ud800" in path.read_bytes()
    cell = notebook.read(path).solutions()["logsumexp"]
    assert cell.source == "def logsumexp(x):\n    return x  # \ufffd\n"
    assert flags.review(notebook.read(path), Reference(course, course.assignment(MB)))["logsumexp"] == []


# ---------------------------------------------------------------- flags, bounded


def never_run(lines: int) -> str:
    """A cell of `lines` flagged lines that never run: each would be a flag of every exercise."""
    return "if False:\n" + "    exec(x)\n" * lines


def with_flag_limits(course: config.Course, **limits) -> Reference:
    limited = dataclasses.replace(course, flag_limits=dataclasses.replace(course.flag_limits, **limits))
    return Reference(limited, limited.assignment(MB))


def test_flags_are_capped_per_exercise_and_per_notebook(course, tmp_path):
    own = "def logsumexp(x):\n    exec(x)\n    eval(x)\n    exec(x)\n    eval(x)\n    return x\n"
    path = make_submission(tmp_path, MB, "flagged", {"logsumexp": own}, extra_cells=[never_run(4), "import gc"])
    nb = notebook.read(path)
    added = nb.cells[-2].index
    found = flags.review(nb, with_flag_limits(course, most_per_exercise=3, most_per_notebook=5))
    more = "more (course.toml's [flags] lists 3 per exercise and keeps 5 per notebook)"
    # the notebook keeps 5, in notebook order, at most 3 of a cell: logsumexp's first 3 of 4, the
    # first added cell's first 2 of 4, none of the last cell's 1; the rest are counted
    assert found["logsumexp"] == [
        "line 2: code built at run time (exec)",
        "line 3: code built at run time (eval)",
        "line 4: code built at run time (exec)",
        f"... and 6 {more}",
    ]
    assert found["nll"] == [
        f"cell {added}, line 2: code built at run time (exec)",
        f"cell {added}, line 3: code built at run time (exec)",
        f"... and 3 {more}",
    ]


def test_the_scan_for_flags_stops_at_its_time_budget(course, tmp_path):
    path = make_submission(tmp_path, MB, "slow", extra_cells=[never_run(10)])
    nb = notebook.read(path)
    first = min(c.index for c in nb.solutions().values())
    found = flags.review(nb, with_flag_limits(course, scan_seconds=1e-9))
    cut = f"the scan for flags was cut short after 1e-09 s (course.toml's [flags] scan_seconds): cells from {first}"
    assert all(f[-1].startswith(cut) for f in found.values()) and len(found) == 12


def thousands_of_flags(tmp_path: Path) -> Path:
    """A notebook of A whose `gain` cell holds 2 000 flagged lines and whose added cell 20 000, none
    of them ever run. Flags were found again for every exercise, each listing every flagged line
    of every added cell: 5 exercises of 20 000 flags and more, 5.4 MB of report."""
    own = "def gain(a):\n" + "    exec('')\n" * 2_000 + "    return math.sqrt(2.0 / (1 + a**2))\n"
    return make_submission(tmp_path, A, "flagged", {"gain": own}, extra_cells=[never_run(20_000)])


def test_thousands_of_flagged_lines_are_scanned_once_into_a_few_flags(course, tmp_path):
    nb = notebook.read(thousands_of_flags(tmp_path))
    start = time.monotonic()
    found = flags.review(nb, Reference(course, course.assignment(A)))
    assert time.monotonic() - start < course.flag_limits.scan_seconds  # read in full, in time
    assert {ex: len(f) for ex, f in found.items()} == dict.fromkeys(course.assignment(A).points, 21)
    assert found["gain"][-1].startswith("... and 21980 more")  # 2 000 + 20 000 found, 20 listed
    assert found["deep_chain"][-1].startswith("... and 19980 more")
    assert len(json.dumps(found)) < 16 << 10


@pytest.mark.slow
def test_a_notebook_of_thousands_of_flagged_lines_makes_a_small_report(course, tmp_path):
    path = thousands_of_flags(tmp_path)
    (r,) = grade_files(course, A, [path])
    assert len(json.dumps(r)) < 32 << 10
    assert r["score"] == r["max_score"] and [len(e["flags"]) for e in r["exercises"]] == [21] * 5


def test_flag_limits_come_from_course_toml(course):
    assert course.flag_limits == config.FlagLimits(most_per_exercise=20, most_per_notebook=100, scan_seconds=5)


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("most_per_exercise = 0", "[flags] most_per_exercise = 0: not a whole number of 1 or more"),
        ("most_per_exercise = true", "[flags] most_per_exercise = True: not a whole number"),
        ("most_per_notebook = 2.5", "[flags] most_per_notebook = 2.5: not a whole number"),
        ("scan_seconds = 0", "[flags] scan_seconds = 0: not a number of seconds above 0"),
        ('scan_seconds = "5"', "[flags] scan_seconds = '5': not a number of seconds"),
        ("most_per_exercize = 3", "unexpected keyword argument 'most_per_exercize'"),  # a typo is no default
    ],
)
def test_flag_limits_that_cannot_be_used_are_refused(tmp_path, setting, says):
    key = setting.split(" = ")[0]
    text = re.sub(rf"\n{key} = .*\n", "\n", (ROOT / "course.toml").read_text())  # it may not be given twice
    assert text.count("\n[flags]\n") == 1
    (tmp_path / "course.toml").write_text(text.replace("\n[flags]\n", f"\n[flags]\n{setting}\n"))
    with pytest.raises(config.ConfigError) as refused:
        config.load(tmp_path)
    assert says in str(refused.value)
