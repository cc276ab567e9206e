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
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from .config import Course


@lru_cache(maxsize=1)
def kit_digest() -> str:
    """The kit's version, as a digest of its own sources: a changed check changes every key."""
    h = hashlib.sha256()
    for p in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


class Store:
    """`folder/<assignment>/<key>.json`, one file per graded submission."""

    def __init__(self, folder: Path, course: Course, assignment: str, devices: list[str], seed: int,
                 visible_only: bool = False, force: bool = False):
        self.folder, self.force = Path(folder) / assignment, force   # force: grade again, store anew
        source = course.root / "source" / assignment / f"{assignment}.ipynb"
        h = hashlib.sha256(kit_digest().encode())
        for part in ((course.root / "course.toml").read_bytes(), source.read_bytes() if source.exists() else b"",
                     json.dumps([devices, seed, visible_only]).encode()):
            h.update(hashlib.sha256(part).digest())
        self.salt = h.hexdigest()

    def _file(self, path: Path) -> Path | None:
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None   # unreadable files are graded (reported) again: it is instant
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
        return {**result, "student": student}

    def put(self, path: Path, result: dict) -> None:
        file = self._file(path)
        if file is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(result, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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
