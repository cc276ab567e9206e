"""Finding submissions: notebook paths, or folders in nbgrader's `submitted/` layout."""

from __future__ import annotations

from pathlib import Path


def find(args: list[str], assignment: str) -> list[tuple[str, Path]]:
    """(student, notebook) pairs, in the order given; a path that does not exist is kept,
    so that its result says so and the rest of the batch is graded."""
    out: list[tuple[str, Path]] = []
    for arg in args:
        p = Path(arg)
        if not p.is_dir():
            out.append((p.stem, p))
        elif p.name == assignment:  # submitted/<student>/<assignment>
            out += [(p.parent.name, nb) for nb in _notebooks(p)]
        elif (p / assignment).is_dir():  # submitted/<student>
            out += [(p.name, nb) for nb in _notebooks(p / assignment)]
        else:  # submitted/
            for d in sorted(p.iterdir()):
                if (d / assignment).is_dir():
                    out += [(d.name, nb) for nb in _notebooks(d / assignment)]
    return out


def _notebooks(folder: Path) -> list[Path]:
    nbs = sorted(folder.glob("*.ipynb"))
    return nbs or [folder / f"{folder.name}.ipynb"]  # a missing notebook is reported, not skipped
