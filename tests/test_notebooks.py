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
