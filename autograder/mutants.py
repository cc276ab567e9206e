"""Known-wrong solutions (`samples/mutants/<module>.py`), for the tests and the buggy sample.

A mutant is either a whole cell's source or, more often, a list of edits
`(old, new)` to the reference cell: the edit *is* the bug, and it reads as
such. Each `old` must occur exactly once in the reference.
"""

from __future__ import annotations

import runpy
from pathlib import Path

from . import notebook
from .config import Assignment, Course


def reference_cells(course: Course, a: Assignment) -> dict[str, str]:
    """Exercise id -> its reference cell (the source notebook's solution, markers removed)."""
    src = course.root / "source" / a.name / f"{a.name}.ipynb"
    return {gid: notebook.strip_markers(c.source) for gid, c in notebook.read(src).solutions().items()}


def apply(reference: str, mutant: str | list[tuple[str, str]]) -> str:
    if isinstance(mutant, str):
        return mutant
    out = reference
    for old, new in mutant:
        if out.count(old) != 1:
            raise ValueError(f"a mutant's edit does not match the reference exactly once: {old!r}")
        out = out.replace(old, new)
    return out


def load(course: Course, a: Assignment) -> dict:
    """The file's MUTANTS (as whole cell sources), ALTERNATIVES, LESSON (the lesson's own code),
    EQUIVALENT (automatic mutants that cannot be told from the reference, each with why) and
    BUGGY_SAMPLE."""
    table = runpy.run_path(str(Path(course.root) / "samples" / "mutants" / f"{a.module}.py"))
    refs = reference_cells(course, a)
    return {
        "MUTANTS": {ex: {name: apply(refs[ex], m) for name, m in ms.items()} for ex, ms in table["MUTANTS"].items()},
        "ALTERNATIVES": table.get("ALTERNATIVES", {}),
        "LESSON": table.get("LESSON", {}),
        "EQUIVALENT": table.get("EQUIVALENT", {}),
        "BUGGY_SAMPLE": table["BUGGY_SAMPLE"],
    }


def behaviours(course: Course, a: Assignment) -> dict[str, dict[str, list[str]]]:
    """The file's BEHAVIOURS: exercise -> {what it must do: [names of the MUTANTS that lack it]}."""
    table = runpy.run_path(str(Path(course.root) / "samples" / "mutants" / f"{a.module}.py"))
    return table.get("BEHAVIOURS", {})
