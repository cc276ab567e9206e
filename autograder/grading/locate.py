"""Where a notebook's self-check data lies, and which sandbox it needs: without torch.

`course check` reads this first, so that it can start its sandbox pool (whose boot is the
critical path of one check) before it imports torch itself.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import ConfigError

FOLDER = ".checks"  # beside the release notebook, so it travels with the student's copy


class ShippedError(ConfigError):
    """No release data for a notebook, or data that does not fit the installed checker."""


def path_for(folder: Path, assignment: str) -> Path:
    """Where the release data of `assignment` lies, in the folder of its notebook."""
    return folder / FOLDER / f"{assignment}.json"


def find(notebook_path: Path, assignment: str | None, course_root: Path | None) -> Path:
    """The release data for a notebook: `.checks/` beside it (a student's folder), else the course's
    `release/<a>/.checks/` (an instructor checking a sample in the kit)."""
    here = Path(notebook_path).resolve().parent
    if assignment:
        candidates = [path_for(here, assignment)]
        if course_root is not None:
            candidates.append(path_for(course_root / "release" / assignment, assignment))
    else:
        beside = sorted((here / FOLDER).glob("*.json"))
        named = [p for p in beside if p.stem in (Path(notebook_path).stem, here.name)]
        candidates = named or (beside if len(beside) == 1 else [])
        if course_root is not None and not candidates:
            for name in (Path(notebook_path).stem, here.name):
                candidates.append(path_for(course_root / "release" / name, name))
    for path in candidates:
        if path.is_file():
            return path
    raise ShippedError(
        f"{notebook_path}: no expected values for its self-check (a {FOLDER}/<assignment>.json beside "
        "it, as in the assignment's release folder); pass --assignment if the notebook was renamed"
    )


def sandbox_of(path: Path) -> tuple[Path, str] | None:
    """The (folder, checks module) the self-check's sandbox pool is started with for the data at
    `path` (as `shipped.check` starts it), or None when the file does not say: `shipped.load`
    then says what is wrong with it."""
    try:
        module = json.loads(Path(path).read_text())["module"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (Path(path).resolve().parents[1], module) if isinstance(module, str) else None
