"""The grade report's one validator: reports of SPEC's shape pass, and each kind of malformed
result is refused with a message that names its place. Every reader goes through it."""

from __future__ import annotations

import copy
import json
import math

import pytest
from conftest import ROOT

from autograder import config, report
from autograder.outputs import exports, gradebook, summary

WHERE = "grades.json: results[3]"
DROP = object()  # in MALFORMED: the key is taken out rather than changed


def good() -> dict:
    """A result as the grader writes it, every optional key included."""
    return {
        "student": "alice",
        "assignment": "03_minibatch_training",
        "score": 2.5,
        "max_score": 4.0,
        "devices": ["cpu", "cuda"],
        "seed": 7,
        "isolation": {"network": "ok"},
        "exercises": [
            {
                "id": "logsumexp",
                "score": 2.0,
                "max_score": 2.0,
                "status": "passed",
                "message": "",
                "flags": ["line 3: code built at run time (compile)"],
                "checks": [
                    {
                        "name": "large inputs stay finite",
                        "device": "cpu",
                        "passed": True,
                        "message": "",
                        "expected": "tensor[4] float32 on cpu",
                        "got": "tensor[4] float32 on cpu",
                        "plot": {"title": "t", "panels": []},
                    }
                ],
            },
            {
                "id": "nll",
                "score": 0.5,
                "max_score": 2.0,
                "status": "partial",
                "message": "1 of 4 checks passed",
                "checks": [
                    {"name": "shape", "device": "cpu", "passed": False, "message": "expected [3], got [3, 1]"},
                ],
            },
        ],
        "errors": ["cell 4 raised ZeroDivisionError"],
    }


SPEC_EXAMPLE = {  # SPEC.md's own example, which leaves out every optional key
    "student": "alice",
    "assignment": "03_minibatch_training",
    "score": 17.0,
    "max_score": 20.0,
    "devices": ["cpu"],
    "exercises": [
        {
            "id": "logsumexp",
            "score": 2.0,
            "max_score": 2.0,
            "status": "passed",
            "checks": [{"name": "large inputs stay finite", "device": "cpu", "passed": True, "message": ""}],
        }
    ],
    "errors": [],
}


def changed(path: tuple, value: object) -> dict:
    """good(), with the value at `path` (keys and list indices) replaced, or dropped for DROP."""
    r = good()
    *outer, last = path
    holder = r
    for step in outer:
        holder = holder[step]
    if value is DROP:
        del holder[last]
    else:
        holder[last] = value
    return r


@pytest.mark.parametrize("result", [good(), SPEC_EXAMPLE], ids=["everything", "SPEC's example"])
def test_a_report_of_specs_shape_passes_unchanged(result):
    before = copy.deepcopy(result)
    assert report.validate_result(WHERE, result) is result
    assert result == before


@pytest.mark.parametrize(
    "path, value, says",
    [
        # the result
        (("student",), DROP, "results[3] has no 'student'"),
        (("student",), "  ", "results[3].student: '  ' is not a non-empty string"),
        (("assignment",), "../up", "results[3].assignment: '../up' is not a usable file name"),
        (("score",), "17", "results[3].score: '17' is not a finite number"),
        (("score",), math.nan, "results[3].score: nan is not a finite number"),
        (("max_score",), math.inf, "results[3].max_score: inf is not a finite number"),
        (("score",), True, "results[3].score: True is not a finite number"),
        (("score",), 9.0, "results[3].score: 9 is more than its max_score, 4"),
        (("devices",), "cpu", "results[3].devices: 'cpu' is not a list of strings"),
        (("errors",), [None], "results[3].errors: [None] is not a list of strings"),
        (("exercises",), {}, "results[3].exercises: {} is not a list of exercises"),
        (("exercises",), DROP, "results[3] has no 'exercises'"),
        (("seed",), "7", "results[3].seed: '7' is not an integer"),
        (("isolation",), {"network": 1}, "results[3].isolation: {'network': 1} is not an object of strings"),
        # an exercise
        (("exercises", 1), "nll", "results[3].exercises[1] is not an object"),
        (("exercises", 1, "id"), 5, "results[3].exercises[1].id: 5 is not a non-empty string"),
        (("exercises", 1, "status"), DROP, "results[3].exercises[1] has no 'status'"),
        (
            ("exercises", 1, "status"),
            "pased",
            "results[3].exercises[1].status: 'pased' is not one of passed, partial, failed, error, timeout, "
            "forbidden, missing",
        ),
        (("exercises", 1, "score"), -1, "results[3].exercises[1].score: -1 is not a finite number, 0 or more"),
        (("exercises", 1, "score"), 3.0, "results[3].exercises[1].score: 3 is more than its max_score, 2"),
        (("exercises", 1, "max_score"), None, "results[3].exercises[1].max_score: None is not a finite number"),
        (("exercises", 1, "checks"), "none", "results[3].exercises[1].checks: 'none' is not a list of checks"),
        (("exercises", 1, "checks"), DROP, "results[3].exercises[1] has no 'checks'"),
        (("exercises", 1, "message"), 0, "results[3].exercises[1].message: 0 is not a string"),
        (("exercises", 0, "flags"), "odd", "results[3].exercises[0].flags: 'odd' is not a list of strings"),
        # a check
        (("exercises", 1, "checks", 0), [], "results[3].exercises[1].checks[0] is not an object"),
        (("exercises", 1, "checks", 0, "passed"), "yes", "checks[0].passed: 'yes' is not true or false"),
        (("exercises", 1, "checks", 0, "message"), DROP, "results[3].exercises[1].checks[0] has no 'message'"),
        (("exercises", 0, "checks", 0, "plot"), "a picture", "checks[0].plot: 'a picture' is not an object"),
    ],
)
def test_a_malformed_result_is_refused_naming_the_place(path, value, says):
    with pytest.raises(report.ReportError) as refused:
        report.validate_result(WHERE, changed(path, value))
    message = str(refused.value)
    assert message.startswith(WHERE) and says in message
    assert isinstance(refused.value, config.ConfigError)  # what the CLI prints, exiting 2


@pytest.mark.parametrize("value", [None, [], "alice", 3])
def test_a_result_that_is_not_an_object_is_refused(value):
    with pytest.raises(report.ReportError, match=r"^grades\.json: results\[3\] is not an object$"):
        report.validate_result(WHERE, value)


def test_every_problem_is_named_not_only_the_first():
    r = changed(("devices",), DROP)
    r["exercises"][1]["status"] = "pased"
    r["exercises"][0]["checks"] = [{}] * 3  # four keys missing in each: more than are shown
    with pytest.raises(report.ReportError) as refused:
        report.validate_result(WHERE, r)
    problems = str(refused.value).split("; ")
    assert problems[0] == f"{WHERE} has no 'devices'"
    assert problems[1] == f"{WHERE}.exercises[0].checks[0] has no 'name'"
    assert len(problems) == report.MOST_PROBLEMS + 1 and problems[-1] == "and 9 more"


# ---------------------------------------------------------------- every reader uses it


def bad_file(tmp_path):
    bad = good()
    bad["exercises"][1]["status"] = "pased"
    path = tmp_path / "grades.json"
    path.write_text(json.dumps({"results": [good(), bad]}))
    return path


@pytest.mark.parametrize(
    "read",
    [
        report.read_json,
        summary.read,
        lambda path: gradebook.read_reports(config.load(ROOT), [path]),
        lambda path: exports.junit(json.loads(path.read_text())["results"]),
        lambda path: exports.gradescope(json.loads(path.read_text())["results"][1:], config.load(ROOT)),
    ],
    ids=["read_json", "summary", "gradebook", "junit", "gradescope"],
)
def test_every_reader_refuses_a_malformed_result(tmp_path, read):
    path = bad_file(tmp_path)
    with pytest.raises(config.ConfigError) as refused:
        read(path)
    assert "exercises[1].status: 'pased' is not one of passed" in str(refused.value)


def test_a_file_is_named_with_the_place_in_it(tmp_path):
    path = bad_file(tmp_path)
    with pytest.raises(report.ReportError) as refused:
        report.read_json(path)
    assert str(refused.value).startswith(f"{path}: results[1].exercises[1].status: 'pased' is not one of")
    path.write_text(json.dumps({"results": [good(), SPEC_EXAMPLE]}))
    assert report.read_json(path) == [good(), SPEC_EXAMPLE]
