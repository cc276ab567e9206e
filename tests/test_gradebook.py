"""`course gradebook`: grade reports into nbgrader's gradebook, read back with nbgrader's own API."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from conftest import ROOT
from nbgrader.api import Gradebook

from autograder import config

A = "03_minibatch_training"
pytestmark = pytest.mark.slow


def course(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def course_config() -> config.Course:
    return config.load(ROOT)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The perfect and the buggy sample of A graded once, as an instructor would."""
    d = tmp_path_factory.mktemp("grades")
    for kind in ("perfect", "buggy"):
        shutil.copy(ROOT / "samples" / A / f"{kind}.ipynb", d / f"{kind}.ipynb")
    proc = course(
        "grade",
        A,
        str(d / "perfect.ipynb"),
        str(d / "buggy.ipynb"),
        "--no-store",
        "--seed",
        "1",
        "--device",
        "cpu",
        "--json",
        str(d / "grades.json"),
    )
    assert proc.returncode == 0, proc.stderr
    path = d / "grades.json"
    results = json.loads(path.read_text())["results"]
    assert [r["student"] for r in results] == ["perfect", "buggy"]
    assert results[0]["score"] == results[0]["max_score"] > results[1]["score"] > 0
    return path


def source_cells() -> tuple[dict[str, float], list[str]]:
    nb = json.loads((ROOT / "source" / A / f"{A}.ipynb").read_text())
    metas = [c["metadata"].get("nbgrader", {}) for c in nb["cells"]]
    return (
        {m["grade_id"]: float(m["points"]) for m in metas if m.get("grade")},
        [m["grade_id"] for m in metas if m.get("solution")],
    )


def assert_matches(db: str, results: list[dict], points: dict[str, float]) -> None:
    with Gradebook(db) as gb:
        assert sorted(s.id for s in gb.students) == sorted(r["student"] for r in results)
        assert len(gb.assignment_submissions(A)) == len(results)
        for r in results:
            sub = gb.find_submission(A, r["student"])
            assert sub.score == pytest.approx(r["score"], abs=1e-5)
            assert sub.max_score == r["max_score"] == sum(points.values())
            for e in r["exercises"]:
                grade = gb.find_grade(f"{e['id']}_tests", A, A, r["student"])
                assert grade.auto_score == pytest.approx(e["score"], abs=1e-6)
                assert grade.max_score == e["max_score"] == points[f"{e['id']}_tests"]
                assert grade.needs_manual_grade is False


def test_scores_land_in_nbgrader_gradebook_and_a_second_run_updates(report, tmp_path, course_config):
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    points, solutions = source_cells()
    assert points == {f"{ex}_tests": p for ex, p in course_config.assignment(A).points.items()}
    proc = course("gradebook", str(report), "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert "perfect" in proc.stdout and "buggy" in proc.stdout and "added" in proc.stdout
    results = json.loads(report.read_text())["results"]
    assert_matches(db, results, points)
    with Gradebook(db) as gb:  # the cells as generate_assignment records them
        nb = gb.find_notebook(A, A)
        assert {c.name: c.max_score for c in nb.grade_cells} == points
        assert sorted(c.name for c in nb.solution_cells) == sorted(solutions)
        assert all(c.locked for c in nb.source_cells if c.name in points)

    # graded again (a resubmission): the same rows, updated
    results[1]["exercises"][0]["score"] = 0.0
    results[1]["score"] = sum(e["score"] for e in results[1]["exercises"])
    again = tmp_path / "again.json"
    again.write_text(json.dumps({"results": results}))
    proc = course("gradebook", str(again), "--db", db)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("updated") == 2 and "added" not in proc.stdout
    assert_matches(db, results, points)


def test_a_bad_file_is_named_and_nothing_is_written(report, tmp_path):
    results = json.loads(report.read_text())["results"]
    results[1]["exercises"][0]["id"] = "not_an_exercise"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"results": results}))
    db_file = tmp_path / "gradebook.db"
    proc = course("gradebook", str(report), str(bad), "--db", f"sqlite:///{db_file}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr and "not_an_exercise" in proc.stderr and "logsumexp_tests" in proc.stderr
    assert not db_file.exists()  # the good file before it was not written either
    (tmp_path / "junk.json").write_text("[1, 2")
    proc = course("gradebook", str(tmp_path / "junk.json"), "--db", f"sqlite:///{db_file}")
    assert proc.returncode == 2 and "junk.json" in proc.stderr and "Traceback" not in proc.stderr
    assert not db_file.exists()


def test_a_gradebook_made_by_nbgrader_generate_assignment_is_kept(report, tmp_path):
    """An instructor who ran `nbgrader generate_assignment` first: its records stay, scores join them."""
    nbcourse = tmp_path / "nbcourse"
    shutil.copytree(ROOT / "source" / A, nbcourse / "source" / A)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbgrader",
            "generate_assignment",
            A,
            f"--CourseDirectory.root={nbcourse}",
            "--log-level=ERROR",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    db = f"sqlite:///{nbcourse / 'gradebook.db'}"
    with Gradebook(db) as gb:
        nb = gb.find_notebook(A, A)
        before = (
            nb.id,
            sorted((c.name, c.id, c.max_score) for c in nb.grade_cells),
            sorted((c.name, c.id) for c in nb.solution_cells),
            sorted((c.name, c.id) for c in nb.source_cells),
        )
    proc = course("gradebook", str(report), "--db", db)
    assert proc.returncode == 0, proc.stderr
    with Gradebook(db) as gb:
        nb = gb.find_notebook(A, A)
        after = (
            nb.id,
            sorted((c.name, c.id, c.max_score) for c in nb.grade_cells),
            sorted((c.name, c.id) for c in nb.solution_cells),
            sorted((c.name, c.id) for c in nb.source_cells),
        )
        assert len(gb.assignments) == 1 and len(gb.find_assignment(A).notebooks) == 1
    assert after == before
    assert_matches(db, json.loads(report.read_text())["results"], source_cells()[0])


def test_the_default_database_is_nbgraders_file_in_the_course(course_config, tmp_path):
    assert course_config.gradebook_url == f"sqlite:///{ROOT / 'gradebook.db'}"
    (tmp_path / "course.toml").write_text(
        (ROOT / "course.toml").read_text().replace('db = "gradebook.db"', 'db = "postgresql://grader@db/course"')
    )
    assert config.load(tmp_path).gradebook_url == "postgresql://grader@db/course"


def test_timestamps_and_failing_checks_reach_the_gradebook(report, tmp_path):
    """A report of nbgrader's submitted/ carries timestamp.txt's time; failing checks become the
    solution cells' auto_comment, which formgrader shows a grader."""
    from autograder.outputs.gradebook import MOST_CHECKS

    results = json.loads(report.read_text())["results"]
    results[1]["timestamp"] = "2026-03-01 12:30:00.000001 UTC"
    stamped = tmp_path / "stamped.json"
    stamped.write_text(json.dumps({"results": results}))
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    proc = course("gradebook", str(stamped), "--db", db)
    assert proc.returncode == 0, proc.stderr
    with Gradebook(db) as gb:
        assert gb.find_submission(A, "buggy").timestamp.isoformat() == "2026-03-01T12:30:00.000001"
        assert gb.find_submission(A, "perfect").timestamp is None
        wrong = [e for e in results[1]["exercises"] if e["status"] != "passed"]
        assert wrong
        for e in results[1]["exercises"]:
            comment = gb.find_comment(e["id"], A, A, "buggy").auto_comment
            if e["status"] == "passed":
                assert comment is None
            else:
                failing = [c["name"] for c in e["checks"] if not c["passed"]]
                assert comment.startswith(e["status"]) and all(n in comment for n in failing[:MOST_CHECKS])
    results[1]["timestamp"] = "the day after tomorrow"
    stamped.write_text(json.dumps({"results": results}))
    proc = course("gradebook", str(stamped), "--db", f"sqlite:///{tmp_path / 'other.db'}")
    assert proc.returncode == 2 and str(stamped) in proc.stderr and "timestamp" in proc.stderr
    assert "Traceback" not in proc.stderr
