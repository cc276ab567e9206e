"""Grades kept per submission as they finish, so a stopped batch resumes where it was.

A grade is stored under a key made of the notebook's bytes and of
everything else that decides its grade: the kit's own code, course.toml,
the assignment's source notebook, the seed, the devices and the mode. A
submission whose key is already stored is not graded again; change any of
those and it is. Each grade is written atomically (a temporary file, then
a rename), so a batch killed at any moment, even with SIGKILL, leaves only
whole grades behind.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from .. import KIT_DIR
from ..config import Course
from ..report import write_atomically
from ..sandbox.isolation import missing


@lru_cache(maxsize=1)
def kit_digest() -> str:
    """The kit's version, as a digest of its own sources: a changed check changes every key."""
    h = hashlib.sha256()
    for p in sorted(KIT_DIR.rglob("*.py")):
        h.update(p.relative_to(KIT_DIR).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


class Store:
    """`folder/<assignment>/<key>.json`, one file per graded submission."""

    def __init__(
        self,
        folder: Path,
        course: Course,
        assignment: str,
        devices: list[str],
        seed: int,
        visible_only: bool = False,
        force: bool = False,
    ):
        self.folder, self.force = Path(folder) / assignment, force  # force: grade again, store anew
        self.strict = course.strict
        source = course.root / "source" / assignment / f"{assignment}.ipynb"
        h = hashlib.sha256(kit_digest().encode())
        for part in (
            (course.root / "course.toml").read_bytes(),
            source.read_bytes() if source.exists() else b"",
            json.dumps([devices, seed, visible_only]).encode(),
        ):
            h.update(hashlib.sha256(part).digest())
        self.salt = h.hexdigest()

    def _file(self, path: Path) -> Path | None:
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None  # unreadable files are graded (reported) again: it is instant
        return self.folder / f"{hashlib.sha256(self.salt.encode() + data).hexdigest()}.json"

    def get(self, path: Path, student: str) -> dict | None:
        """The stored grade of this notebook, for `student`, or None."""
        file = None if self.force else self._file(path)
        try:
            result = json.loads(file.read_text()) if file else None
        except (OSError, ValueError):
            return None
        if not isinstance(result, dict):
            return None
        if self.strict and missing(result.get("isolation") or {"all": "none"}):
            return None  # graded where isolation was incomplete: strict mode grades it again
        return {**result, "student": student}

    def put(self, path: Path, result: dict) -> None:
        file = self._file(path)
        if file is not None:
            write_atomically(file, json.dumps(result))


def reuse(store: Store | None, submissions: list[tuple[str, Path]], on_result=None) -> tuple[list, list[int]]:
    """The results list with the stored grades filled in (and shown), and the indices still to grade."""
    results: list[dict | None] = [None] * len(submissions)
    todo = []
    for i, (student, path) in enumerate(submissions):
        results[i] = store.get(path, student) if store else None
        if results[i] is None:
            todo.append(i)
        elif on_result:
            on_result(results[i])
    return results, todo


def remembered_seed(folder: Path, assignment: str, draw: int, renew: bool = False) -> int:
    """The seed this store's batch of `assignment` runs with: the first run's draw, kept, so that a
    batch started again matches what was stored (a per-run seed would change every key)."""
    file = Path(folder) / assignment / "seed"
    try:
        if not renew:
            return int(file.read_text())
    except (OSError, ValueError):
        pass
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(str(draw))
    return draw
