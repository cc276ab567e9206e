"""The autograded notebook formgrader opens: `autograded/<student>/<assignment>/<notebook>.ipynb`.

`nbgrader autograde` leaves there the student's notebook as it ran, beside the submission's
`timestamp.txt`; formgrader's submission view renders it, with the gradebook's scores and
comments against its grade and solution cells. The kit writes the same file from a grade
report: the student's notebook (read and written with nbformat), each exercise's test cell
`<id>_tests` holding the grading outcome as outputs: the verdict and failing checks as text, and
the score as the cell's result, which is nbgrader's own partial-credit convention (a number as a
grade cell's output: `nbgrader.utils.determine_grade` reads the kit's score back from it).

The other cells keep the outputs the student saved: the kit runs the notebook in its sandbox,
not in a Jupyter kernel, so there is no run of nbgrader's to copy them from.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import report
from .gradebook import TESTS


def outcome_outputs(exercise: dict) -> list:
    """A test cell's outputs for one graded exercise: a text summary, then the score."""
    import nbformat

    lines = [
        f"{exercise['id']}: {exercise['status']}, {exercise['score']:g} / {exercise['max_score']:g} points"
        + (f" ({exercise['message']})" if exercise.get("message") else "")
    ]
    for c in exercise.get("checks", []):
        verdict = "passed" if c["passed"] else "FAILED"
        lines.append(f"  {verdict}: {c['name']} [{c['device']}]" + (f": {c['message']}" if c.get("message") else ""))
    return [
        nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines) + "\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": repr(float(exercise["score"]))}),
    ]


def write(notebook: Path, result: report.Result, folder: Path, timestamp_txt: Path | None = None) -> Path | None:
    """Write the autograded copy of `notebook` into `folder` (nbgrader's
    `autograded/<student>/<assignment>/`), with `timestamp_txt` beside it as nbgrader's autograde
    copies it. None, and nothing written, when the notebook cannot be read as one (the report
    says why; formgrader has nothing to show)."""
    import nbformat

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # nbformat raises many kinds for a file that is not a notebook
        return None
    by_id = {e["id"]: e for e in result["exercises"]}
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type == "code" and gid.endswith(TESTS) and gid[: -len(TESTS)] in by_id:
            cell.outputs = outcome_outputs(by_id[gid[: -len(TESTS)]])
    out = Path(folder) / Path(notebook).name
    report.write_atomically(out, nbformat.writes(nb))
    if timestamp_txt is not None and Path(timestamp_txt).is_file():
        tmp = out.parent / ".timestamp.txt.tmp"
        shutil.copyfile(timestamp_txt, tmp)
        tmp.replace(out.parent / "timestamp.txt")  # nbgrader's get_existing_timestamp reads it
    return out
