"""`course grade`'s progress: tqdm's bar on a terminal, one plain line per submission elsewhere
(tests/test_scale.py runs the command off a terminal)."""

from __future__ import annotations

import io

from autograder.outputs.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def result(student: str, score: float, errors=()) -> dict:
    return {"student": student, "score": score, "max_score": 2, "errors": list(errors), "exercises": []}


def test_a_bar_on_a_terminal():
    out = Terminal()
    show = Progress(3, out)
    for r in (result("ada", 2), result("ben", 1, ["unreadable"]), result("cy", 0)):
        show(r)
    show.done()
    text = out.getvalue()
    assert "\r" in text and "3/3" in text and "with problems: 1" in text
    assert "[1/3]" not in text  # no plain lines


def test_one_plain_line_per_submission_elsewhere():
    out = io.StringIO()
    show = Progress(2, out)
    show(result("ada", 2))
    show(result("ben", 1, ["unreadable"]))
    show.done()
    assert out.getvalue() == "[1/2] ada: 2/2\n[2/2] ben: 1/2  (problems: see the report)\n"


def test_silent_for_one_submission():
    for out in (io.StringIO(), Terminal()):
        show = Progress(1, out)
        show(result("ada", 2))
        show.done()
        assert out.getvalue() == ""
