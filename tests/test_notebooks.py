"""The release notebooks teach as the lesson does: sources to read, named schedules, documented stubs.

Fast: reads the notebooks with nbformat and parses their cells; runs nothing in a sandbox.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest
from conftest import ASSIGNMENTS, ROOT


def release_notebook(assignment):
    return nbformat.read(ROOT / "release" / assignment / f"{assignment}.ipynb", as_version=4)


def output_texts(cell):
    "Every text an output of `cell` carries: streams, plain text, HTML, errors."
    for out in cell.get("outputs", []):
        if "text" in out:
            yield out["text"]
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/"):
                yield value if isinstance(value, str) else "".join(value)
        if out.get("output_type") == "error":
            yield "\n".join(out.get("traceback", []))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_notebook_has_a_further_reading_cell(assignment):
    cells = [c for c in release_notebook(assignment).cells if c.cell_type == "markdown"]
    reading = [c for c in cells if c.source.lstrip().lower().startswith("## further reading")]
    assert len(reading) == 1, f"{assignment}: expected one '## Further reading' markdown cell"
    assert "https://github.com/fastai/course-v3" in reading[0].source, "it links to the original lesson notebooks"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_plot_is_titled_inner(assignment):
    "`annealer`'s wrapper must not show up as a schedule's name, in a title, a legend or an output."
    for i, cell in enumerate(release_notebook(assignment).cells):
        for text in output_texts(cell):
            assert "_inner" not in text, f"{assignment} cell {i}: an output names _inner"
        if cell.cell_type == "code":
            titled = re.search(r"(title|label)\([^)]*_inner", cell.source)
            assert not titled, f"{assignment} cell {i}: a plot titled _inner"


def test_annealer_keeps_the_schedules_names():
    "The stub of `annealer` (given part: `@wraps(f)`) already keeps names; so does the reference."
    nb = release_notebook("05_anneal")
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "annealer")
    ns: dict = {}
    # defines annealer only: the stub's body is never called
    exec("from functools import partial, wraps\n" + cell.source, ns)

    def sched_demo(start, end, pos):
        "A docstring."

    wrapped = ns["annealer"](sched_demo)
    assert (wrapped.__name__, wrapped.__doc__) == ("sched_demo", "A docstring.")

    from solutions import anneal

    for name in ("sched_lin", "sched_cos", "sched_no", "sched_exp"):
        assert getattr(anneal, name).__name__ == name


def stubbed(fn):
    "Whether the body of the function `fn` is nbgrader's stub."
    return any(
        isinstance(node, ast.Raise) and "NotImplementedError" in ast.unparse(node.exc or node) for node in fn.body
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_stubbed_function_has_a_docstring(assignment):
    """Each function or method the student writes says what it does: its own docstring, or, for a
    function nested in another (annealer's `_inner`), the enclosing function's docstring names it."""
    missing = []
    for cell in release_notebook(assignment).cells:
        if not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        tree = ast.parse(cell.source)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or not stubbed(fn):
                continue
            if ast.get_docstring(fn):
                continue
            outer = parents.get(fn)
            if isinstance(outer, ast.FunctionDef) and f"`{fn.name}" in (ast.get_docstring(outer) or ""):
                continue
            owner = outer.name if isinstance(outer, (ast.ClassDef, ast.FunctionDef)) else ""
            missing.append(f"{owner}.{fn.name}" if owner else fn.name)
    assert not missing, f"{assignment}: stubbed without a docstring: {missing}"


# ---------------------------------------------------------------- messages and flow (issue 26)

# Calls that compare and raise on a mismatch: without `msg=` they say only "Tensor-likes are not close!".
COMPARING = ("assert_close", "assert_equal", "assert_allclose", "assert_array_equal", "assert_array_almost_equal")


def unexplained(code: str) -> list[str]:
    """'line N: ...' for each `assert` without a message and each comparing call without `msg=`."""
    out = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Assert) and node.msg is None:
            out.append(f"line {node.lineno}: assert without a message")
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            if name in COMPARING and not any(k.arg == "msg" for k in node.keywords):
                out.append(f"line {node.lineno}: {name} without msg=")
    return out


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assertion_of_a_release_notebook_says_what_it_expected(assignment):
    """A failing test says what was expected and what came back: every `assert` has a message, and
    every assert_close (and kin) a `msg=`, in every code cell a student receives."""
    missing = [
        f"cell {i} ({cell.metadata.get('nbgrader', {}).get('grade_id', '')}) {where}"
        for i, cell in enumerate(release_notebook(assignment).cells)
        if cell.cell_type == "code"
        for where in unexplained(cell.source)
    ]
    assert not missing, f"{assignment}: assertions without a message:\n" + "\n".join(missing)


def test_the_message_finder_finds_what_lacks_one():
    code = (
        "assert x == 1\n"
        "assert x == 1, 'x: expected 1'\n"
        "torch.testing.assert_close(a, b)\n"
        "torch.testing.assert_close(a, b, msg=lambda m: m)\n"
        "assert_equal(a, b)\n"
    )
    assert unexplained(code) == [
        "line 1: assert without a message",
        "line 3: assert_close without msg=",
        "line 5: assert_equal without msg=",
    ]


def run_stubs(assignment: str, tmp_path, replace: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The release notebook, every exercise a stub but those `replace` writes, run top to bottom as
    a student first runs it."""
    from nbclient import NotebookClient

    folder = tmp_path / assignment
    folder.mkdir()
    nb = release_notebook(assignment)
    for cell in nb.cells:
        cell.source = (replace or {}).get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
    NotebookClient(nb, timeout=120, allow_errors=True, resources={"metadata": {"path": str(folder)}}).execute()
    return nb


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_with_stubs_no_cell_draws_a_figure_it_cannot_fill(assignment, tmp_path):
    """A demo that plots the student's code says in words that it cannot yet, rather than showing an
    empty grid above a traceback: no cell that raises has drawn a picture."""
    nb = run_stubs(assignment, tmp_path)
    empty = [
        f"cell {i} ({cell.metadata.get('nbgrader', {}).get('grade_id', '')})"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and any(o.output_type == "error" for o in cell.outputs)
        and any("image/png" in o.get("data", {}) for o in cell.outputs)
    ]
    assert not empty, f"{assignment}: cells that draw a figure and then fail on the stubs: {empty}"


@pytest.mark.slow
def test_a_dataset_that_raises_anything_leaves_the_demos_a_dataset(tmp_path):
    """03's demos fall back on torch's TensorDataset whatever the student's `Dataset` raises, not only
    NotImplementedError: no later cell fails for want of `train_ds`."""
    broken = "class Dataset():\n    def __init__(self, x, y): raise TypeError('a bug of the student')\n"
    nb = run_stubs("03_minibatch_training", tmp_path, {"Dataset": broken})
    names = [o.ename for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    said = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "NameError" not in names, f"a cell lacks a name the dataset demo should have defined: {names}"
    assert "a bug of the student" in said, "the demo does not say what the student's Dataset raised"
