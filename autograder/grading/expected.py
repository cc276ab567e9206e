"""Expected values: what the reference solution (and, for oracle checks, torch) gives on each check.

`Expected` runs every check's probe on the reference (and on torch) in the grader, once per
grading run, and keeps the results in the form a student's result arrives in (`wire`'s plain
JSON, decoded). That takes the reference solutions' import and a few seconds of torch work,
which for one submission is more than grading it. For a given seed the values never change
while nothing that makes them does, so `fill` keeps them on disk (`cache_folder`), one JSON
file per key: the kit's code (`kit_digest`), course.toml, the assignment and its reference
code, the seed, the devices and the versions that do the arithmetic. A run with the same key
(a store's remembered seed, `--seed`, or a fixed `[course] seed`) reads them back instead:
no reference import, no probe run. The file holds the wire's plain JSON (never a pickle: reading
it runs no code) and is checked on reading like any reply (`wire.decode`); a file that is not
whole and right is ignored and written anew, never an error. Writes are atomic (a temporary
file, then a rename), so parallel runs and a run killed at any moment leave only whole files.
A per-run seed makes a new key each run: the folder keeps the `KEEP` newest files per assignment.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import wire
from ..checks import Check, Inputs, registry
from ..config import Course
from .reference import Reference
from .store import kit_digest

FORMAT = 2  # 2: with the reference's seconds per exercise
KEEP = 16  # newest cache files kept per assignment (per-run seeds make one a run)


def cache_folder(course: Course) -> Path:
    """Where expected values are kept: beside the store's default folder, in the course (gitignored)."""
    return course.root / ".grades" / ".expected"


@dataclass
class Expected:
    """Reference (and torch) results per check and device, computed once per grading run."""

    ref: Reference
    seed: int
    cache: dict[tuple[str, str, str], tuple[Any, Any]] = field(default_factory=dict)
    # what each exercise's checks took the reference on the CPU, here: its time limit scales with
    # it (`Limits.timeout_for`)
    seconds: dict[str, float] = field(default_factory=dict)
    # the same values as the wire's plain JSON, for the cache file: (want, torch_says)
    _plain: dict[tuple[str, str, str], tuple[Any, Any]] = field(default_factory=dict, repr=False)

    def checks(self) -> list[Check]:
        return [
            c for ex in self.ref.assignment.exercises for c in registry(self.ref.assignment.module).for_exercise(ex)
        ]

    def fill(self, devices: list[str], cache: Path | None = None) -> None:
        """Compute every check's expected values now, in this thread; with a `cache` folder, read
        them from there when they were kept for this key, and keep them there when computed."""
        file = self.cache_file(cache, devices) if cache is not None else None
        if file is not None:
            self._load(file, devices)
        computed = False
        for check in self.checks():
            for device in devices:
                computed |= (check.exercise, check.name, device) not in self.cache
                self.get(check, device)
        if file is not None and computed:
            self._save(file, devices)

    def get(self, check: Check, device: str) -> tuple[Any, Any]:
        key = (check.exercise, check.name, device)
        if key not in self.cache:
            start = time.perf_counter()
            want = self.plain(check, self.ref.namespace, device)
            if device == "cpu":
                self.seconds[check.exercise] = self.seconds.get(check.exercise, 0.0) + time.perf_counter() - start
            torch_says = self.plain(check, self.ref.oracle, device) if check.oracle else None
            self._plain[key] = (want, torch_says)
            # the same form the student's result arrives in
            self.cache[key] = (wire.decode(want), None if torch_says is None else wire.decode(torch_says))
        return self.cache[key]

    def plain(self, check: Check, ns, device: str) -> Any:
        """The probe's result on `ns` as the wire's plain JSON (what `course release` ships, `shipped`)."""
        import torch

        torch.set_num_threads(1)  # as in the sandbox (sandbox.limits.torch_resetter): the same arithmetic
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the reference's prints
            value = check.probe(ns, Inputs(self.seed, check.name, device))
        return wire.encode(value)

    # ---- the cache ------------------------------------------------------------------------------

    def key(self, devices: list[str]) -> str:
        """Everything the expected values depend on, hashed."""
        course, a = self.ref.course, self.ref.assignment
        h = hashlib.sha256(f"expected {FORMAT}\0{kit_digest()}\0".encode())
        source = course.root / "source" / a.name / f"{a.name}.ipynb"
        for part in (
            _read(course.root / "course.toml"),
            _read(source),
            _read(_solutions_file(a.module)),
            json.dumps([a.name, a.module, self.seed, list(devices), _versions(devices)]).encode(),
        ):
            h.update(hashlib.sha256(part).digest())
        return h.hexdigest()

    def cache_file(self, folder: Path, devices: list[str]) -> Path:
        return Path(folder) / self.ref.assignment.name / f"{self.key(devices)}.json"

    def _load(self, file: Path, devices: list[str]) -> None:
        """The values kept in `file`, if it is whole and made for this key; nothing otherwise."""
        try:
            doc = json.loads(file.read_text())
            if doc.get("format") != FORMAT or doc.get("key") != file.stem or doc.get("seed") != self.seed:
                return
            loaded, plain = {}, {}
            for entry in doc["checks"]:
                key = (entry["exercise"], entry["name"], entry["device"])
                want, torch_says = entry["expected"], entry["torch"]
                loaded[key] = (wire.decode(want), None if torch_says is None else wire.decode(torch_says))
                plain[key] = (want, torch_says)
            seconds = {str(ex): float(s) for ex, s in doc["seconds"].items() if 0 <= float(s) < 1e6}
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
            return  # missing, half-written by hand, corrupt: computed and written anew
        self.cache.update(loaded)
        self._plain.update(plain)
        self.seconds.update(seconds)
        with contextlib.suppress(OSError):
            os.utime(file)  # a file in use is among the newest: `_prune` keeps it

    def _save(self, file: Path, devices: list[str]) -> None:
        from ..report import write_atomically

        doc = {
            "format": FORMAT,
            "about": "the expected values of every check of this assignment for one seed and key, "
            "kept by `course grade` (autograder/grading/expected.py); safe to delete",
            "key": file.stem,
            "assignment": self.ref.assignment.name,
            "seed": self.seed,
            "devices": list(devices),
            "seconds": self.seconds,
            "checks": [
                {"exercise": ex, "name": name, "device": d, "expected": want, "torch": torch_says}
                for (ex, name, d), (want, torch_says) in self._plain.items()
            ],
        }
        try:
            write_atomically(file, json.dumps(doc, allow_nan=False))
            _prune(file.parent)
        except (OSError, ValueError):
            pass  # a read-only course folder: grading goes on, values are computed next time too


def _read(path: Path | None) -> bytes:
    try:
        return path.read_bytes() if path is not None else b""
    except OSError:
        return b""


def _solutions_file(module: str) -> Path | None:
    """The reference module's file, found without importing it (its import is what a hit saves)."""
    try:
        spec = importlib.util.find_spec(f"solutions.{module}")
    except (ImportError, ValueError):
        return None
    return Path(spec.origin) if spec and spec.origin else None


def _versions(devices: list[str]) -> list[str]:
    """What does the arithmetic: a new torch or numpy, or another machine, may change the last bits."""
    from importlib import metadata

    out = [platform.machine(), platform.python_version()]
    for dist in ("torch", "numpy"):
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(f"{dist} ?")
    torch = sys.modules.get("torch")
    if "cuda" in devices and torch is not None:  # CUDA is only in `devices` once torch has looked
        with contextlib.suppress(Exception):
            out.append(torch.cuda.get_device_name())
    return out


def _prune(folder: Path) -> None:
    """Keep the `KEEP` newest cache files of the folder."""
    files = []
    for p in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            files.append((p.stat().st_mtime, p))
    for _, p in sorted(files, reverse=True)[KEEP:]:
        with contextlib.suppress(OSError):
            p.unlink()
