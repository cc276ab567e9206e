"""Shared helpers: the course, and submissions made from the released notebooks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from autograder import config
from autograder.grading import grade

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ["02_init", "03_minibatch_training", "04_callbacks", "05_anneal"]


@pytest.fixture(scope="session")
def course() -> config.Course:
    return config.load(ROOT)


def mutants(course: config.Course, assignment: str) -> dict:
    from autograder import mutants

    return mutants.load(course, course.assignment(assignment))


def make_submission(
    tmp: Path,
    assignment: str,
    name: str,
    replace: dict[str, str] | None = None,
    base: str = "perfect",
    extra_cells: list[str] = (),
) -> Path:
    """A copy of a sample notebook with some solution cells' sources replaced."""
    nb = json.loads((ROOT / "samples" / assignment / f"{base}.ipynb").read_text())
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if replace and gid in replace:
            cell["source"] = replace[gid]
    for src in extra_cells:
        nb["cells"].append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"extra-{len(nb['cells'])}",
                "metadata": {},
                "outputs": [],
                "source": src,
            }
        )
    path = tmp / f"{name}.ipynb"
    path.write_text(json.dumps(nb))
    return path


def grade_files(
    course: config.Course,
    assignment: str,
    paths: list[Path],
    seed: int = 1,
    devices: tuple[str, ...] = ("cpu",),
    **limits,
) -> list[dict]:
    if limits:
        course = dataclasses.replace(course, limits=dataclasses.replace(course.limits, **limits))
    return grade.grade(course, assignment, [(p.stem, p) for p in paths], list(devices), seed)


def scores(result: dict) -> dict[str, float]:
    return {e["id"]: e["score"] for e in result["exercises"]}


def statuses(result: dict) -> dict[str, str]:
    return {e["id"]: e["status"] for e in result["exercises"]}
