"""What the grader trusts, without a sandbox: flags for review, given cells by checksum, the
tripwire's trusted code by identity, the seal on the kit, and uid slots."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import ASSIGNMENTS, ROOT, make_submission

from autograder import config, notebook
from autograder.grading import flags
from autograder.grading.grade import cells_to_run
from autograder.grading.reference import Reference

A = "03_minibatch_training"

FLAGGED = [
    ("exec(compile(src, '<given 0>', 'exec'))", ["code built at run time (compile)", "code built at run time (exec)"]),
    ("eval('x.logsum' + 'exp(-1)')", ["code built at run time (eval)"]),
    ("m = __import__('torch')", ["imports at run time (__import__)"]),
    ("import torch\nf = getattr(torch, 'logsum' + 'exp')", ["looks up a name built at run time (getattr)"]),
    ("import torch\nf = getattr(torch, name)", ["looks up a name built at run time (getattr)"]),
    ("f = getattr(x, f'{a}exp')", ["looks up a name built at run time (getattr)"]),
    ("import torch\nf = vars(torch)[n]", ["looks up a name built at run time (vars)"]),
    ("import torch.nn.functional as G\nf = G.__dict__[n]", ["looks up a name built at run time (__dict__)"]),
    ("f = globals()['logsum' + 'exp']", ["looks up a name built at run time (globals())"]),
    ("import sys\nsys.setprofile(None)", ["switches the call tracing (setprofile)"]),
    ("import threading\nthreading.settrace(None)", ["switches the call tracing (settrace)"]),
    ("import sys\nm = sys.modules['autograder.wire']", ["reaches loaded modules (sys.modules)"]),
    ("from sys import _getframe", ["inspects frames (sys._getframe)"]),
    ("import gc", ["walks the interpreter's objects (gc)"]),
    ("import ctypes", ["calls C directly (ctypes)"]),
    ("import importlib.util", ["imports at run time (importlib)"]),
    ("import inspect", ["inspects frames and sources (inspect)"]),
    ("g = f.__globals__", ["reaches the interpreter's internals (__globals__)"]),
    ("t = object.__subclasses__()", ["reaches the interpreter's internals (__subclasses__)"]),
    ("b = __builtins__['exec']", ["reaches the built-in functions (__builtins__)"]),
    (
        "import torch\nwith torch._C._DisableTorchDispatch(): pass",
        [
            f"switches torch's dispatch, where forbidden calls are watched ({n})"
            for n in ("_C", "_DisableTorchDispatch")
        ],
    ),
    (
        "from torch.utils import _python_dispatch as d\nm = d._disable_current_modes()",
        ["switches torch's dispatch, where forbidden calls are watched (_disable_current_modes)"],
    ),
]
# What lesson code does, and must never be flagged for.
CLEAN = [
    "f = getattr(cb, cb_name, None)",  # Runner.__call__
    "setattr(self, cb.name, cb)",
    "import re\n_camel_re1 = re.compile('(.)([A-Z][a-z]+)')",
    "self.model.eval()",
    "import torch\nx = torch.tensor([1.])\nv = getattr(x, 'grad')",
    "def __getattr__(self, k):\n    return getattr(self.run, k)",
]


@pytest.mark.parametrize(("source", "why"), FLAGGED, ids=[s for s, _ in FLAGGED])
def test_a_flag_names_what_and_where(source, why):
    found = flags.find(source)
    line = source.count("\n") + 1  # every case does it on its last line
    assert found == [f"line {line}: {w}" for w in why]


@pytest.mark.parametrize("source", CLEAN)
def test_lesson_code_is_not_flagged(source):
    assert flags.find(source) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_reference_solution_is_flagged(course, assignment):
    ref = Reference(course, course.assignment(assignment))
    assert {ex: flags.find(src) for ex, src in ref.solution_sources.items() if flags.find(src)} == {}


def test_a_cell_the_student_added_is_flagged_on_every_exercise(course, tmp_path):
    path = make_submission(tmp_path, A, "gc", extra_cells=["import gc"])
    ref = Reference(course, course.assignment(A))
    nb = notebook.read(path)
    index = nb.cells[-1].index
    found = flags.review(nb, ref)
    for ex in ref.assignment.exercises:
        assert found[ex] == [f"cell {index}, line 1: walks the interpreter's objects (gc)"]


def test_flags_forbid_only_where_course_toml_says_so():
    flagged = {"status": "passed", "score": 2.0, "message": "", "checks": []}
    assert flags.apply(dict(flagged), ["line 1: x"], forbidden=False) == {**flagged, "flags": ["line 1: x"]}
    forbidden = flags.apply(dict(flagged), ["line 1: x"], forbidden=True)
    assert forbidden["status"] == "forbidden" and forbidden["score"] == 0.0 and forbidden["flags"] == ["line 1: x"]
    assert flags.apply(dict(flagged), [], forbidden=True) == flagged


@pytest.mark.parametrize(("value", "ok"), [("true", True), ("false", True), ('"yes"', False), ("1", False)])
def test_flags_forbidden_must_be_true_or_false(tmp_path, value, ok):
    text = (ROOT / "course.toml").read_text()
    assert text.count("\nforbidden = false\n") == 1
    text = text.replace("\nforbidden = false\n", f"\nforbidden = {value}\n")
    (tmp_path / "course.toml").write_text(text)
    if ok:
        assert config.load(tmp_path).flags_forbidden is (value == "true")
    else:
        with pytest.raises(config.ConfigError, match=r"\[flags\] forbidden"):
            config.load(tmp_path)


def test_a_cell_that_borrows_a_given_cells_id_is_not_given(course, tmp_path):
    path = make_submission(tmp_path, A, "borrow")
    nb = json.loads(path.read_text())
    given = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "given_imports")
    nb["cells"].append({**given, "id": "borrowed", "source": "import torch\n_lse = torch.logsumexp\n"})
    path.write_text(json.dumps(nb))
    ref = Reference(course, course.assignment(A))
    cells = {c["index"]: c for c in cells_to_run(notebook.read(path), ref)}
    assert cells[len(nb["cells"]) - 1]["given"] is False  # the borrower
    assert [c["given"] for c in cells.values() if "import gzip" in c["source"]] == [True]  # the real one


def test_the_tripwire_trusts_code_by_identity_not_by_name():
    from autograder.sandbox.tripwire import Trusted

    names: dict = {}
    trusted = Trusted(names)
    exec(trusted.compile("def given():\n    return sys._getframe()\nimport sys\n", "<given 1>"), names)
    assert trusted.ran(names["given"]())
    # the same source under the same name, compiled by a student: an equal code object, not ours
    exec(compile("def forged():\n    return sys._getframe()\nimport sys\n", "<given 1>", "exec"), names)
    assert not trusted.ran(names["forged"]())
    # our code run in globals of the student's making
    own = {"sys": sys}
    exec(compile("pass", "<x>", "exec"), own)
    assert not trusted.ran(type(names["given"])(names["given"].__code__, own)())


def test_the_seal_sees_a_method_of_the_tripwire_replaced():
    from autograder.sandbox import tripwire
    from autograder.sandbox.seal import Seal

    seal = Seal([tripwire])
    assert not seal.broken()
    original = tripwire.Tripwire.__torch_dispatch__
    tripwire.Tripwire.__torch_dispatch__ = lambda self, func, types, args=(), kwargs=None: func(*args)
    try:
        assert seal.broken()
    finally:
        tripwire.Tripwire.__torch_dispatch__ = original
    assert not seal.broken()


def test_each_slot_has_its_own_uid_and_without_slots_they_share_one():
    from autograder.sandbox import isolation

    plan = isolation.Plan([], {}, isolation.FIRST_UID)
    assert [isolation.uid_for(plan, s) for s in range(3)] == [isolation.FIRST_UID + s for s in range(3)]
    assert {isolation.uid_for(plan, s, frozenset({"slots"})) for s in range(3)} == {isolation.FIRST_UID}
    assert isolation.uid_for(isolation.Plan([], {}, None), 1) is None  # not root: the grader's own uid
    assert isolation.FIRST_UID + isolation.SLOTS * isolation.BLOCKS < 2147352576  # inside systemd's unused range


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_exercise_process_is_handed_a_later_exercises_reference(course, assignment):
    """The promise the sandbox's design rests on (README, "Security"): exercises are graded in
    notebook order, and an exercise's job carries the references of the exercises before it
    alone, so no process that runs student code holds an answer not yet graded. Read from the
    jobs the grader builds for a real submission, against the order of the release notebook's
    solution cells (not against `Reference.refs_before`, which makes them)."""
    from autograder.grading.expected import Expected
    from autograder.grading.grade import GradingRun, prepare, read_submission

    a = course.assignment(assignment)
    release = json.loads((ROOT / "release" / assignment / f"{assignment}.ipynb").read_text())
    order = [
        c["metadata"]["nbgrader"]["grade_id"]
        for c in release["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c["cell_type"] == "code"
    ]
    assert list(a.points) == order, "the grader runs the exercises in course.toml's order: it must be the notebook's"
    ref = Reference(course, a)
    run = GradingRun(ref, ["cpu"], 0, Expected(ref, 0), pool=None)
    nb = read_submission(ROOT / "samples" / assignment / "perfect.ipynb", ref)
    for ex, points in a.points.items():
        job = prepare(ex, points, nb, run).job
        assert [r["exercise"] for r in job.refs] == order[: order.index(ex)], ex
