"""The `course` command as instructors and students use it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from autograder.grading import submissions

A = "03_minibatch_training"


def course(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_nbgrader_submitted_layout_is_found(tmp_path):
    for student in ("alice", "bob"):
        d = tmp_path / "submitted" / student / A
        d.mkdir(parents=True)
        (d / f"{A}.ipynb").write_text("{}")
    (tmp_path / "submitted" / "carol" / "04_callbacks").mkdir(parents=True)
    found = submissions.find([str(tmp_path / "submitted")], A)
    assert [s for s, _ in found] == ["alice", "bob"]
    assert submissions.find([str(tmp_path / "submitted" / "bob")], A)[0][0] == "bob"
    assert submissions.find([str(tmp_path / "submitted" / "bob" / A)], A)[0][0] == "bob"
    assert submissions.find(["x/dave.ipynb"], A) == [("dave", Path("x/dave.ipynb"))]


@pytest.mark.slow
def test_grade_writes_the_report_and_prints_the_table(tmp_path):
    sub = tmp_path / "submitted" / "erin" / A
    sub.mkdir(parents=True)
    shutil.copy(ROOT / "samples" / A / "buggy.ipynb", sub / f"{A}.ipynb")
    (tmp_path / "junk.ipynb").write_text("not a notebook")
    proc = course(
        "grade",
        A,
        str(tmp_path / "submitted"),
        str(tmp_path / "junk.ipynb"),
        "--json",
        str(tmp_path / "g.json"),
        "--seed",
        "5",
        "--no-store",
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "g.json").read_text())["results"]
    assert [r["student"] for r in results] == ["erin", "junk"]
    assert 0 < results[0]["score"] < results[0]["max_score"] and results[0]["seed"] == 5
    assert "erin" in proc.stdout and "junk" in proc.stdout and "invalid JSON" in proc.stdout


def test_unknown_assignment_and_device_are_clear_errors(tmp_path):
    proc = course("grade", "99_nope", "x.ipynb")
    assert proc.returncode == 2 and "no assignment '99_nope'" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "course.toml"
    bad.write_text("[course\n")
    proc = course("--root", str(tmp_path), "grade", A, "x.ipynb")
    assert proc.returncode == 2 and "course.toml: not valid TOML" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_self_check_prints_what_failed(tmp_path):
    proc = course("check", str(ROOT / "samples" / A / "buggy.ipynb"), "--assignment", A)
    assert proc.returncode == 1
    assert "fit_tests" in proc.stdout and "expected" in proc.stdout
    proc = course("check", str(ROOT / "samples" / A / "perfect.ipynb"), "--assignment", A)
    assert proc.returncode == 0, proc.stdout


def test_an_unwritable_report_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = course(
        "grade",
        A,
        str(ROOT / "samples" / A / "stubs.ipynb"),
        "--json",
        str(blocker / "g.json"),
        "--seed",
        "1",
        "--no-store",
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and str(blocker) in proc.stderr
