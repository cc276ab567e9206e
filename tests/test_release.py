"""release/, solutions/ and samples/ are what `course release` makes from source/, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ASSIGNMENTS, ROOT

from autograder import notebook, release


@pytest.mark.slow
def test_release_is_not_stale(course):
    assert release.stale(course, ASSIGNMENTS) == []


def test_release_check_exits_non_zero_when_stale(tmp_path):
    import shutil

    for part in ("course.toml", "source", "release", "solutions", "samples"):
        (shutil.copytree if (ROOT / part).is_dir() else shutil.copy)(ROOT / part, tmp_path / part)
    nb = tmp_path / "release" / "05_anneal" / "05_anneal.ipynb"
    nb.write_text(nb.read_text().replace("raise NotImplementedError()", "pass", 1))
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "--root", str(tmp_path), "release", "--check", "05_anneal"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "stale: release/05_anneal/05_anneal.ipynb" in proc.stdout


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_stubs_every_exercise_and_keeps_its_signature(course, assignment):
    a = course.assignment(assignment)
    src = notebook.read(ROOT / "source" / assignment / f"{assignment}.ipynb").solutions()
    rel = notebook.read(ROOT / "release" / assignment / f"{assignment}.ipynb")
    stubs = rel.solutions()
    assert list(stubs) == list(src) == a.exercises
    for ex, cell in stubs.items():
        assert "raise NotImplementedError()" in cell.source, ex
        assert "### BEGIN SOLUTION" not in cell.source
        first = src[ex].source.splitlines()[0]
        assert cell.source.splitlines()[0] == first, f"{ex}: the stub lost its signature line"
    source_text = json.dumps(
        [c.source for c in notebook.read(ROOT / "source" / assignment / f"{assignment}.ipynb").cells]
    )
    if "### BEGIN HIDDEN TESTS" in source_text:
        assert "HIDDEN TESTS" not in json.dumps([c.source for c in rel.cells]), "nbgrader left hidden tests in"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_points_in_test_cells_match_course_toml(course, assignment):
    a = course.assignment(assignment)
    raw = json.loads((ROOT / "source" / assignment / f"{assignment}.ipynb").read_text())
    points = {
        c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
        for c in raw["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade")
    }
    assert {k.removesuffix("_tests"): float(v) for k, v in points.items()} == a.points


def test_given_code_shared_between_notebooks_does_not_drift():
    """A name defined in two notebooks' exported cells (05 gives 04's Runner) has one definition."""
    import ast

    defs: dict[str, dict[str, str]] = {}
    for a in ASSIGNMENTS:
        nb = notebook.read(ROOT / "source" / a / f"{a}.ipynb")
        for c in nb.cells:
            if c.code and (c.solution or "export" in c.tags):
                for node in ast.parse(notebook.strip_markers(c.source)).body:
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                        defs.setdefault(node.name, {})[a] = ast.dump(node)
    drift = {n: list(v) for n, v in defs.items() if len(set(v.values())) > 1}
    assert not drift, f"defined differently in several notebooks: {drift}"


def test_solutions_package_imports_every_exercise(course):
    import importlib

    for a in course.assignments.values():
        module = importlib.import_module(f"solutions.{a.module}")
        for ex in a.exercises:
            assert hasattr(module, ex), f"solutions.{a.module} lacks {ex}"


def test_every_exercise_has_checks_and_a_visible_one(course):
    from autograder.checks import registry

    for a in course.assignments.values():
        reg = registry(a.module)
        for ex in a.exercises:
            mine = reg.for_exercise(ex)
            assert len(mine) >= 3, f"{ex} has {len(mine)} checks"
            assert any(c.visible for c in mine), f"{ex} has no check in the student's self-check"
        assert {c.exercise for c in reg.checks} <= set(a.exercises), "a check for an unknown exercise"


def test_readme_names_every_earlier_answer_each_release_holds(course):
    """What `course release` notes (`release.revealed`, read from the release notebooks) is in
    README, for instructors (a line per release folder) and for students (a line per notebook),
    each line naming every earlier answer that release holds; and a release said to hold nothing
    holds nothing."""
    readme = (ROOT / "README.md").read_text()
    students = readme[readme.index("## For students") :]
    students = students[: students.index("\n## ", 1)]
    instructors = readme[: readme.index("## For students")]
    for a, shown in release.revealed(course).items():
        answers = [(earlier, ex) for earlier, exercises in shown.items() for ex in exercises]
        for part, key in ((instructors, f"`release/{a}`"), (students, f"`{a}` holds")):
            entry = _bullet(part, key)
            if not answers:
                assert entry is None or "no earlier answer" in entry, f"README says {a} holds answers: {entry}"
                continue
            assert entry is not None, f"README does not say what {a} holds ({key})"
            missing = [f"{earlier}'s {ex}" for earlier, ex in answers if earlier not in entry or f"`{ex}`" not in entry]
            assert not missing, f"README's line for {a} does not name {missing}: {entry}"


def test_each_classroom_template_says_what_its_notebook_gives_away(course):
    """The template's own README (what students see first in their repository) lists every
    earlier answer its notebook holds, read from the release notebooks themselves, and says
    "no earlier assignment's answers" exactly where there are none; and it lists every exercise."""
    for a, shown in release.revealed(course).items():
        text = (ROOT / "release" / a / "README.md").read_text()
        given_away = text[text.index("## What this notebook gives away") :]
        for earlier, exercises in shown.items():
            line = next((line for line in given_away.splitlines() if line.startswith(f"- {earlier}:")), "")
            assert all(ex in line for ex in exercises), f"{a}'s README: {earlier}'s {exercises} not in {line!r}"
        assert ("holds no earlier" in given_away) == (not shown), given_away
        assert all(f"`{ex}`" in text for ex in course.assignment(a).exercises)


def _bullet(text: str, key: str) -> str | None:
    """The list item of `text` that mentions `key`, with its continuation lines; None if none does."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("- ") and key in line:
            indent = len(line) - len(line.lstrip()) + 2
            item = [line]
            for more in lines[i + 1 :]:
                if not more.strip() or len(more) - len(more.lstrip()) < indent:
                    break
                item.append(more)
            return " ".join(s.strip() for s in item)
    return None
