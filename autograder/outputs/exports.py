"""The grade report in other tools' formats: Gradescope's results.json and JUnit XML for CI."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..config import Course
from ..report import ExerciseResult, Result, validate_result, write_atomically


def _checked(results: list[Result]) -> list[Result]:
    """The grader's results, of the shape `report.validate_result` checks (ReportError if not):
    an export in another tool's format is a bad place to find a malformed result."""
    return [validate_result(f"the grade report's results[{i}]", r) for i, r in enumerate(results)]


# Gradescope's format: https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format


def gradescope(results: list[Result], course: Course) -> dict:
    """One submission's results.json. Gradescope runs the autograder once per submission,
    so a report of several submissions has no single results.json."""
    if len(results) != 1:
        raise ValueError(f"Gradescope takes one submission's results, not {len(results)}")
    (r,) = _checked(results)
    passed = sum(e["status"] == "passed" for e in r["exercises"])
    summary = [
        f"{r['assignment']}: {r['score']:g} of {r['max_score']:g} points; "
        f"{passed} of {len(r['exercises'])} exercises passed all their checks."
    ]
    if r["errors"]:
        summary += ["", "Problems with the notebook as a whole:", *(f"- {e}" for e in r["errors"])]
    return {
        "score": r["score"],
        "output": "\n".join(summary),
        # Messages quote the student's code and errors: shown as plain text, never rendered as
        # HTML (the top-level default, "simple_format") or markdown.
        "output_format": "text",
        "test_output_format": "text",
        "visibility": course.gradescope.visibility,
        "stdout_visibility": course.gradescope.stdout_visibility,
        # what reproduces this grade: `course grade --seed` on the same devices
        "extra_data": {"seed": r.get("seed"), "devices": r["devices"]},
        "tests": [_gradescope_test(e, course.gradescope.visibility) for e in r["exercises"]],
    }


def _gradescope_test(e: ExerciseResult, visibility: str) -> dict:
    lines = [e["status"] + (f": {e['message']}" if e.get("message") else "")]
    lines += [f"{c['name']} [{c['device']}]: {c['message']}" for c in e["checks"] if not c["passed"]]
    return {
        "name": f"{e['id']}: {e['title']}" if e.get("title") else e["id"],
        "score": e["score"],
        "max_score": e["max_score"],
        # explicit, since Gradescope would call any full-score test passed
        "status": "passed" if e["status"] == "passed" else "failed",
        "output": "\n".join(lines),
        "visibility": visibility,
    }


def write_gradescope(path: Path, results: list[Result], course: Course) -> None:
    write_atomically(path, json.dumps(gradescope(results, course), indent=1))


# JUnit XML has no standard; this is the common subset Jenkins, GitLab and GitHub test reporters
# read: testsuites > testsuite(tests, failures, errors) > testcase(classname, name) > failure | error.

# XML 1.0 cannot hold most control characters (a traceback's ANSI colours, a NUL a student printed);
# ElementTree would write them and every parser would then reject the whole file.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(s: str) -> str:
    return _NOT_XML.sub("?", s)


# Consumers read `classname` as a dotted package path (Jenkins groups by it, GitLab shows it as a
# suite): a student id with dots (`ada.lovelace`, an email) would become a false package, so its
# dots (and the escape character itself) are percent-encoded, reversibly.
_CLASSNAME_ESCAPES = str.maketrans({"%": "%25", ".": "%2E"})


def classname_part(s: str) -> str:
    """One component of a dotted `classname`: no dots of its own."""
    return s.translate(_CLASSNAME_ESCAPES)


def _testcase(
    suite: ET.Element, counts: dict[str, int], classname: str, name: str, outcome: str | None, message: str, kind: str
) -> None:
    """One testcase in `suite`, counted; `outcome` "failure" is a wrong answer, "error" code that
    could not be judged, None a pass."""
    tc = ET.SubElement(suite, "testcase", classname=_text(classname), name=_text(name))
    counts["tests"] += 1
    if outcome:
        bad = ET.SubElement(tc, outcome, message=_text(message.splitlines()[0][:200] if message else kind), type=kind)
        bad.text = _text(message)
        counts["failures" if outcome == "failure" else "errors"] += 1


def junit(results: list[Result]) -> str:
    """One testsuite per submission; one testcase per check (per exercise when it has none),
    and one for the notebook as a whole (the report's `errors`)."""
    root = ET.Element("testsuites", name="course grade")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for r in _checked(results):
        suite = ET.SubElement(root, "testsuite", name=_text(r["student"]))
        counts = {"tests": 0, "failures": 0, "errors": 0}
        for e in r["exercises"]:
            cls = ".".join(classname_part(p) for p in (r["assignment"], r["student"], e["id"]))
            broken = e["status"] in ("error", "timeout")
            message = e.get("message", "")
            for c in e["checks"]:
                outcome = None if c["passed"] else "error" if broken else "failure"
                _testcase(
                    suite, counts, cls, f"{c['name']} [{c['device']}]", outcome, c["message"] or message, e["status"]
                )
            if not e["checks"]:  # missing, or never run: the exercise itself is the testcase
                outcome = None if e["status"] == "passed" else "error" if broken else "failure"
                _testcase(suite, counts, cls, e["id"], outcome, message, e["status"])
        errors = "\n".join(r["errors"])
        _testcase(
            suite,
            counts,
            f"{classname_part(r['assignment'])}.{classname_part(r['student'])}",
            "the notebook as a whole",
            "failure" if errors else None,
            errors,
            "notebook",
        )
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    # ASCII with character references: the same bytes whatever the locale that writes the file
    return ET.tostring(root, encoding="us-ascii", xml_declaration=True).decode("ascii") + "\n"


def write_junit(path: Path, results: list[Result]) -> None:
    write_atomically(path, junit(results))
