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
    """The file's MUTANTS (as whole cell sources), ALTERNATIVES (one per exercise), MORE_ALTERNATIVES
    (exercise -> {name: cell}, further correct solutions), LESSON (the lesson's own code),
    EQUIVALENT (automatic mutants that cannot be told from the reference, each with why) and
    BUGGY_SAMPLE."""
    table = runpy.run_path(str(Path(course.root) / "samples" / "mutants" / f"{a.module}.py"))
    refs = reference_cells(course, a)
    return {
        "MUTANTS": {ex: {name: apply(refs[ex], m) for name, m in ms.items()} for ex, ms in table["MUTANTS"].items()},
        "ALTERNATIVES": table.get("ALTERNATIVES", {}),
        "MORE_ALTERNATIVES": table.get("MORE_ALTERNATIVES", {}),
        "LESSON": table.get("LESSON", {}),
        "EQUIVALENT": table.get("EQUIVALENT", {}),
        "BUGGY_SAMPLE": table["BUGGY_SAMPLE"],
    }


def alternatives(table: dict) -> dict[str, dict[str, str]]:
    """Every correct solution written differently: exercise -> {name: cell source}."""
    out = {ex: {"alternative": src} for ex, src in table["ALTERNATIVES"].items()}
    for ex, more in table["MORE_ALTERNATIVES"].items():
        out.setdefault(ex, {}).update(more)
    return out


def alternative_rounds(table: dict) -> list[dict[str, str]]:
    """The alternatives as whole submissions: round k holds the k-th alternative of each exercise
    that has one, so every alternative is graded once."""
    ways = alternatives(table)
    rounds = max((len(w) for w in ways.values()), default=0)
    return [{ex: list(w.values())[k] for ex, w in ways.items() if len(w) > k} for k in range(rounds)]


def behaviours(course: Course, a: Assignment) -> dict[str, dict[str, list[str]]]:
    """The file's BEHAVIOURS: exercise -> {what it must do: [names of the MUTANTS that lack it]}."""
    table = runpy.run_path(str(Path(course.root) / "samples" / "mutants" / f"{a.module}.py"))
    return table.get("BEHAVIOURS", {})
