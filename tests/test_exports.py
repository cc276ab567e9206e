"""Gradescope and JUnit exports, checked by their consumers: Gradescope's documented results.json
format (as a JSON Schema), junitparser, and the autograder zip run the way Gradescope runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import jsonschema
import pytest
from conftest import ROOT
from junitparser import Error, Failure, JUnitXml

from autograder import config
from autograder.outputs import exports

A = "03_minibatch_training"
SAMPLES = ROOT / "samples" / A
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope_results.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def course_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "autograder.cli", *args]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict]:
    """perfect and buggy, each graded once by the CLI (both at the same time) with every export."""
    out = tmp_path_factory.mktemp("graded")
    procs = {}
    for name in ("perfect", "buggy"):
        procs[name] = subprocess.Popen(
            course_cmd(
                "grade",
                A,
                str(SAMPLES / f"{name}.ipynb"),
                "--no-store",
                "--seed",
                "1",
                "--json",
                str(out / f"{name}.json"),
                "--gradescope",
                str(out / f"{name}.gs.json"),
                "--junit",
                str(out / f"{name}.xml"),
            ),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    graded = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        graded[name] = {
            "report": json.loads((out / f"{name}.json").read_text())["results"][0],
            "gradescope": json.loads((out / f"{name}.gs.json").read_text()),
            "junit": out / f"{name}.xml",
        }
    return graded


# --- the schema is a real check ---------------------------------------------------------------


def test_the_schema_accepts_the_documented_examples_and_rejects_malformed_results():
    VALIDATOR.check_schema(SCHEMA)
    documented = {
        "score": 44.0,
        "execution_time": 136,
        "output": "Text relevant to the entire submission",
        "output_format": "simple_format",
        "visibility": "after_due_date",
        "stdout_visibility": "visible",
        "extra_data": {},
        "tests": [
            {
                "score": 2.0,
                "max_score": 2.0,
                "status": "passed",
                "name": "Your name",
                "number": "1.1",
                "output": "x",
                "tags": ["t"],
                "visibility": "visible",
            }
        ],
        "leaderboard": [{"name": "Accuracy", "value": 0.926}, {"name": "Time", "value": 15.1, "order": "asc"}],
    }
    VALIDATOR.validate(documented)
    VALIDATOR.validate({"tests": [{"name": "Test 3", "score": 5, "max_score": 10}]})  # scores on the tests only
    malformed = [
        {"score": "17"},  # a string score
        {"score": 1, "tests": [{"name": "t", "score": "2", "max_score": 2}]},
        {"tests": [{"name": "t", "max_score": 2}]},  # no score anywhere
        {"output": "no score, no tests"},
        {"score": 1, "visibility": "students"},  # not a visibility
        {"score": 1, "tests": [{"score": 1, "max_points": 2}]},  # a misspelt key
        {"score": 1, "tests": [{"score": 1, "status": "partial"}]},
    ]
    for bad in malformed:
        assert not VALIDATOR.is_valid(bad), bad


# --- Gradescope's results.json ----------------------------------------------------------------


def _check_gradescope(gs: dict, report: dict, course: config.Course) -> None:
    VALIDATOR.validate(gs)
    assert gs["score"] == pytest.approx(report["score"])
    assert gs["visibility"] == course.gradescope.visibility
    assert gs["stdout_visibility"] == course.gradescope.stdout_visibility
    assert [t["name"] for t in gs["tests"]] == [e["id"] for e in report["exercises"]]
    for t, e in zip(gs["tests"], report["exercises"], strict=True):
        assert (t["score"], t["max_score"]) == (e["score"], e["max_score"])  # max_score is optional: ours has it
        assert t["status"] == ("passed" if e["status"] == "passed" else "failed")
        assert t["output"].startswith(e["status"])
        for c in e["checks"]:
            assert (f"{c['name']} [{c['device']}]: " in t["output"]) == (not c["passed"])
    assert sum(t["score"] for t in gs["tests"]) == pytest.approx(gs["score"])


@pytest.mark.slow
def test_gradescope_results_of_a_perfect_submission(graded, course):
    gs, report = graded["perfect"]["gradescope"], graded["perfect"]["report"]
    _check_gradescope(gs, report, course)
    assert gs["score"] == report["max_score"] == sum(course.assignment(A).points.values())
    assert all(t["status"] == "passed" for t in gs["tests"])
    assert f"{gs['score']:g} of {gs['score']:g} points" in gs["output"]


@pytest.mark.slow
def test_gradescope_results_of_a_buggy_submission_name_the_failing_checks(graded, course):
    gs, report = graded["buggy"]["gradescope"], graded["buggy"]["report"]
    _check_gradescope(gs, report, course)
    assert 0 < gs["score"] < report["max_score"]
    failed = {t["name"]: t["output"] for t in gs["tests"] if t["status"] == "failed"}
    assert "logsumexp" in failed and "large inputs stay finite [cpu]" in failed["logsumexp"]
    assert "fit" in failed and "validation averages over samples" in failed["fit"]


def test_gradescope_puts_the_notebook_errors_in_the_output_and_takes_one_submission(course):
    r = _result("eve", [_ex("nll", "error", "cell 3 raised NameError", [])], errors=["cell 3 raised NameError: x"])
    gs = exports.gradescope([r], course)
    VALIDATOR.validate(gs)
    assert "cell 3 raised NameError: x" in gs["output"] and gs["score"] == 0
    with pytest.raises(ValueError):
        exports.gradescope([r, r], course)


@pytest.mark.slow
def test_gradescope_with_two_submissions_is_a_clear_error(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        course_cmd(
            "grade",
            A,
            str(SAMPLES / "perfect.ipynb"),
            str(SAMPLES / "buggy.ipynb"),
            "--no-store",
            "--seed",
            "1",
            "--gradescope",
            str(out),
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--gradescope" in proc.stderr and "one submission at a time" in proc.stderr and "2 were given" in proc.stderr
    assert not out.exists()


def test_gradescope_visibility_comes_from_course_toml(tmp_path):
    text = (ROOT / "course.toml").read_text()
    head, _, _ = text.partition("\n[gradescope]")
    (tmp_path / "course.toml").write_text(head)  # a course.toml from before [gradescope]
    assert config.load(tmp_path).gradescope == config.Gradescope("after_published", "hidden")
    (tmp_path / "course.toml").write_text(head + '\n[gradescope]\nvisibility = "visible"\n')
    assert config.load(tmp_path).gradescope.visibility == "visible"
    (tmp_path / "course.toml").write_text(head + '\n[gradescope]\nvisibility = "later"\n')
    with pytest.raises(config.ConfigError, match="visibility"):
        config.load(tmp_path)


# --- JUnit XML --------------------------------------------------------------------------------


def _expected_counts(results: list[dict]) -> tuple[int, int, int]:
    tests = failures = errors = 0
    for r in results:
        tests += 1  # the notebook as a whole
        failures += bool(r["errors"])
        for e in r["exercises"]:
            broken = e["status"] in ("error", "timeout")
            bad = [c for c in e["checks"] if not c["passed"]] or (
                [e] if not e["checks"] and e["status"] != "passed" else []
            )
            tests += len(e["checks"]) or 1
            errors += len(bad) if broken else 0
            failures += 0 if broken else len(bad)
    return tests, failures, errors


def _check_junit(xml: JUnitXml, results: list[dict]) -> None:
    suites = list(xml)
    assert [s.name for s in suites] == [r["student"] for r in results]
    for suite, r in zip(suites, results, strict=True):
        cases = list(suite)
        assert (
            (suite.tests, suite.failures, suite.errors)
            == _expected_counts([r])
            == (
                len(cases),
                sum(isinstance(x, Failure) for c in cases for x in c.result),
                sum(isinstance(x, Error) for c in cases for x in c.result),
            )
        )
        checks = [
            (
                f"{r['assignment']}.{exports.classname_part(r['student'])}.{e['id']}",
                f"{c['name']} [{c['device']}]",
                c["passed"],
            )
            for e in r["exercises"]
            for c in e["checks"]
        ]
        by_name = {(c.classname, c.name): c for c in cases}
        for cls, name, passed in checks:
            assert by_name[cls, name].is_passed == passed


@pytest.mark.slow
def test_junit_of_graded_samples_matches_the_report(graded):
    for name in ("perfect", "buggy"):
        results = [graded[name]["report"]]
        xml = JUnitXml.fromfile(str(graded[name]["junit"]))
        _check_junit(xml, results)
        assert (xml.tests, xml.failures, xml.errors) == _expected_counts(results)
        root = ET.parse(graded[name]["junit"]).getroot()  # the standard library reads it too
        assert root.tag == "testsuites" and int(root.get("tests")) == len(root.findall("./testsuite/testcase"))
    assert JUnitXml.fromfile(str(graded["perfect"]["junit"])).failures == 0
    assert JUnitXml.fromfile(str(graded["buggy"]["junit"])).failures == sum(
        not c["passed"] for e in graded["buggy"]["report"]["exercises"] for c in e["checks"]
    )


def _ex(id: str, status: str, message: str, checks: list[dict], score: float = 0.0) -> dict:
    return {"id": id, "score": score, "max_score": 2.0, "status": status, "message": message, "checks": checks}


def _check(name: str, passed: bool, message: str = "") -> dict:
    return {"name": name, "device": "cpu", "passed": passed, "message": message}


def _result(student: str, exercises: list[dict], errors: list[str] = ()) -> dict:
    return {
        "student": student,
        "assignment": A,
        "score": sum(e["score"] for e in exercises),
        "max_score": 2.0 * len(exercises),
        "devices": ["cpu"],
        "seed": 1,
        "exercises": exercises,
        "errors": list(errors),
    }


def test_junit_statuses_escaping_and_several_submissions(tmp_path):
    nasty = 'expected <1 & "2">, got \x1b[31m3\x1b[0m\x00'
    results = [
        _result(
            "ann",
            [
                _ex("logsumexp", "partial", "1 of 2", [_check("finite", True), _check("exact", False, nasty)], 1.0),
                _ex("nll", "timeout", "took too long", [_check("a", False, "not run: timeout")]),
                _ex("fit", "missing", "no solution cell with grade_id 'fit'", []),
                _ex(
                    "Optimizer",
                    "forbidden",
                    "the solution cell uses torch.optim",
                    [_check("does not use the function it rebuilds", False, "uses torch.optim")],
                ),
            ],
            errors=["cell 4 raised ZeroDivisionError"],
        ),
        _result("bob <&>", [_ex("logsumexp", "error", "not a notebook", [])], errors=["not a notebook"]),
        _result("ada.lovelace@uni.edu", [_ex("nll", "passed", "", [_check("a", True)], 2.0)]),
        _result("ada_lovelace%2E", [_ex("nll", "passed", "", [_check("a", True)], 2.0)]),
    ]
    path = tmp_path / "junit.xml"
    exports.write_junit(path, results)
    xml = JUnitXml.fromfile(str(path))
    _check_junit(xml, results)
    assert (xml.tests, xml.failures, xml.errors) == _expected_counts(results) == (12, 5, 2)
    # a student id's dots are no package path: the classname keeps three dotted parts, and two
    # ids stay two classnames (the escape is reversible)
    classes = [c.classname for suite in list(xml)[2:] for c in suite]
    assert classes[0] == f"{A}.ada%2Elovelace@uni%2Eedu.nll" and classes[2] == f"{A}.ada_lovelace%252E.nll"
    assert all(len(c.split(".")) == 3 for c in classes[::2])
    ann = {c.name: c for c in list(xml)[0]}
    failure = ann["exact [cpu]"].result[0]
    assert isinstance(failure, Failure) and failure.message == 'expected <1 & "2">, got ?[31m3?[0m?'
    assert isinstance(ann["a [cpu]"].result[0], Error)  # timeout: an error
    assert isinstance(ann["fit"].result[0], Failure) and "no solution cell" in ann["fit"].result[0].message
    assert isinstance(ann["does not use the function it rebuilds [cpu]"].result[0], Failure)
    assert "ZeroDivisionError" in ann["the notebook as a whole"].result[0].message
    assert list(xml)[1].name == "bob <&>"
    ET.parse(path)


# --- the Gradescope autograder zip ------------------------------------------------------------


@pytest.fixture(scope="module")
def autograder_dir(tmp_path_factory) -> Path:
    """The zip `course gradescope-zip` makes, unpacked where Gradescope unpacks it."""
    tmp = tmp_path_factory.mktemp("gradescope")
    proc = subprocess.run(
        course_cmd("gradescope-zip", A, "--out", str(tmp / "ag.zip")), cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(tmp / "ag.zip") as z:
        z.extractall(tmp / "autograder" / "source")
    return tmp / "autograder"


def run_autograder(root: Path, notebooks: dict[str, bytes], command: str | None = None) -> dict:
    sub = root / "submission"
    if sub.exists():
        for f in sub.rglob("*.ipynb"):
            f.unlink()
    for name, data in notebooks.items():
        (sub / name).parent.mkdir(parents=True, exist_ok=True)
        (sub / name).write_bytes(data)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "COURSE": command or f"{sys.executable} -m autograder.cli"}
    proc = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    VALIDATOR.validate(results)
    return results


def test_gradescope_zip_holds_the_scripts_and_the_kit_and_nothing_else(autograder_dir):
    zips = list(autograder_dir.parent.glob("*.zip"))
    with zipfile.ZipFile(zips[0]) as z:
        names = z.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    assert {
        "setup.sh",
        "run_autograder",
        "pyproject.toml",
        "course.toml",
        "autograder/cli.py",
        "solutions/minibatch_training.py",
        f"source/{A}/{A}.ipynb",
        f"release/{A}/{A}.ipynb",
    } <= set(names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not [
        n
        for n in names
        if n.split("/")[0] in ("tests", "samples", ".grades", ".git")
        or "__pycache__" in n
        or n.startswith(("source/02", "release/02"))
    ]
    for script in ("setup.sh", "run_autograder"):
        proc = subprocess.run(["bash", "-n", str(autograder_dir / "source" / script)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert f'ASSIGNMENT="{A}"' in (autograder_dir / "source" / "run_autograder").read_text()


@pytest.mark.slow
def test_run_autograder_grades_a_submission_as_gradescope_would(autograder_dir, course):
    results = run_autograder(
        autograder_dir, {f"{A}.ipynb": (SAMPLES / "perfect.ipynb").read_bytes(), "notes/scratch.ipynb": b"{}"}
    )  # the assignment's name wins
    failing = [t["output"] for t in results["tests"] if t["status"] != "passed"]
    assert results["score"] == sum(course.assignment(A).points.values()), (results["extra_data"], failing)
    assert not failing


@pytest.mark.slow
def test_run_autograder_on_garbage_still_writes_a_result(autograder_dir):
    results = run_autograder(autograder_dir, {"mine.ipynb": b"\x00 not a notebook"})
    assert results["score"] == 0 and "not a notebook" in results["output"]


def test_run_autograder_explains_when_it_cannot_grade(autograder_dir):
    results = run_autograder(autograder_dir, {})
    assert results["score"] == 0 and f"Please upload {A}.ipynb" in results["output"]
    results = run_autograder(autograder_dir, {"a.ipynb": b"{}"}, command="false")  # the grader itself fails
    assert results["score"] == 0 and "autograder failed" in results["output"] and "not a verdict" in results["output"]
