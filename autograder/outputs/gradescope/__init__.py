"""The zip Gradescope's programming-assignment autograder takes: setup.sh and run_autograder
at its root, beside the kit that grades (https://gradescope-autograders.readthedocs.io/en/latest/specs/)."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from ...config import ConfigError, Course

HERE = Path(__file__).parent

# What grading needs, relative to the course root: the installable kit, the course and the
# assignment's notebooks (the source for the reference, the release for its locked cells).
# Never samples/, tests/ or .grades: students' work and the instructor's tests stay home.
KIT = ["pyproject.toml", "README.md", "course.toml", "autograder", "solutions"]
SKIP = {"__pycache__", ".ipynb_checkpoints"}

# zip entries with a fixed date: the same kit makes the same bytes
EPOCH = (1980, 1, 1, 0, 0, 0)


def _entry(name: str, executable: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16  # Unix mode in the high bits
    return info


def _files(root: Path, rel: str) -> list[Path]:
    path = root / rel
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ConfigError(f"{path}: missing; the Gradescope autograder needs it")
    return sorted(
        p for p in path.rglob("*") if p.is_file() and not SKIP & set(p.relative_to(root).parts) and p.suffix != ".pyc"
    )


def build_zip(course: Course, assignment: str, out: Path) -> Path:
    course.assignment(assignment)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", assignment):  # it is pasted into a shell script
        raise ConfigError(f"assignment {assignment!r}: a Gradescope autograder needs a name of letters, digits, _ . -")
    files = [f for rel in [*KIT, f"source/{assignment}", f"release/{assignment}"] for f in _files(course.root, rel)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as z:
            z.writestr(_entry("setup.sh", executable=True), (HERE / "setup.sh").read_text())
            z.writestr(
                _entry("run_autograder", executable=True),
                (HERE / "run_autograder").read_text().replace("@ASSIGNMENT@", assignment),
            )
            for f in files:
                z.writestr(
                    _entry(f.relative_to(course.root).as_posix(), bool(f.stat().st_mode & 0o111)), f.read_bytes()
                )
        os.replace(tmp, out)  # never a half-written zip under the name the instructor uploads
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
