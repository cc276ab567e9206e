"""What the grader knows about an assignment: reference code and the released notebook.

All of it comes from the repository (trusted): the source notebook's
solution cells (those before an exercise sent into its process),
the `solutions` package (run in the grader for expected values) and the
released notebook (which cells are locked, given, demo or tests, and their
nbgrader checksums).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property

from .. import notebook
from ..checks import Namespace
from ..config import Assignment, Course


@dataclass
class Reference:
    course: Course
    assignment: Assignment

    @cached_property
    def source(self) -> notebook.Notebook:
        return notebook.read(self.course.root / "source" / self.assignment.name / f"{self.assignment.name}.ipynb")

    @cached_property
    def release(self) -> notebook.Notebook:
        return notebook.read(self.course.root / "release" / self.assignment.name / f"{self.assignment.name}.ipynb")

    @cached_property
    def solution_sources(self) -> dict[str, str]:
        """Exercise id -> the reference code of its solution cell, in notebook order."""
        return {gid: notebook.strip_markers(c.source) for gid, c in self.source.solutions().items()}

    def refs_before(self, exercise: str) -> list[dict]:
        """The reference code of the exercises before `exercise`, in notebook order: what its process
        may hold. Exercises are graded in that order, so a reference only ever reaches a process
        once its own exercise has been graded (README, "Security")."""
        order = list(self.solution_sources)
        return [{"exercise": e, "source": self.solution_sources[e]} for e in order[: order.index(exercise)]]

    @cached_property
    def namespace(self) -> Namespace:
        module = importlib.import_module(f"solutions.{self.assignment.module}")
        return Namespace(vars(module))

    @cached_property
    def oracle(self) -> Namespace:
        from ..checks import oracle

        return Namespace(vars(oracle), fallback=self.namespace)

    @cached_property
    def locked(self) -> dict[str, notebook.Cell]:
        """Locked cells of the release by grade_id: the student may not change them."""
        return {c.grade_id: c for c in self.release.cells if c.locked and c.grade_id}

    def unchanged(self, cell: notebook.Cell) -> bool:
        """`cell` is a locked cell of the release, as released: its own checksum matches the one of
        that id (a cell that borrows a locked cell's id has another checksum)."""
        locked = self.locked.get(cell.grade_id or "")
        return locked is not None and cell.checksum == locked.checksum

    def skippable(self, grade_id: str | None) -> bool:
        """Released demo and test cells: not needed to grade, so not run when unchanged."""
        cell = self.locked.get(grade_id or "")
        return cell is not None and notebook.skippable(cell.locked, cell.tags, grade_id)
