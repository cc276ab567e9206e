"""The course, as `course.toml` describes it."""

from __future__ import annotations

import math
import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """course.toml is missing or says something the kit cannot use."""


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    module: str  # solutions.<module> holds its reference code
    points: dict[str, float]  # exercise id -> points, in notebook order

    @property
    def exercises(self) -> list[str]:
        return list(self.points)


@dataclass(frozen=True)
class Limits:
    exercise_timeout: float
    submission_timeout: float
    cell_timeout: float
    memory_mib: int
    reply_mib: int
    file_mib: int
    disk_mib: int
    notebook_mib: int
    processes: int
    open_files: int
    # An exercise's time limit scales with what its checks take the reference: `exercise_floor`
    # seconds plus `exercise_scale` times the reference's, never above `exercise_timeout`
    # (`timeout_for`). A hang then costs seconds, not the upper bound.
    exercise_floor: float = 10.0
    exercise_scale: float = 100.0

    def __post_init__(self):
        for key, kind in self.__annotations__.items():
            v = getattr(self, key)
            whole = kind == "int"
            if isinstance(v, bool) or not isinstance(v, int if whole else (int, float)) or not 0 < v < math.inf:
                raise ValueError(f"[limits] {key} = {v!r}: not {'a whole number' if whole else 'a number'} above 0")

    def timeout_for(self, reference_seconds: float | None) -> float:
        """An exercise's time limit, from what its checks take the reference (None: not known)."""
        if reference_seconds is None:
            return self.exercise_timeout
        return min(self.exercise_timeout, self.exercise_floor + self.exercise_scale * reference_seconds)


VISIBILITY = ("hidden", "after_due_date", "after_published", "visible")  # Gradescope's four settings


@dataclass(frozen=True)
class Gradescope:
    """When Gradescope shows students their results and the grader's stdout (course.toml's [gradescope])."""

    visibility: str = "after_published"  # hidden checks' verdicts wait until the instructor publishes
    stdout_visibility: str = "hidden"  # stdout is the instructor's debugging log

    def __post_init__(self):
        for key in ("visibility", "stdout_visibility"):
            if getattr(self, key) not in VISIBILITY:
                raise ValueError(f"[gradescope] {key} = {getattr(self, key)!r}: not one of {', '.join(VISIBILITY)}")


@dataclass(frozen=True)
class Similar:
    """`course similar` ([similar] of course.toml): how code is fingerprinted, what is too common
    to count, and from which score a pair is flagged."""

    k: int = 6  # tokens per fingerprint: shorter shared runs are noise
    window: int = 4  # winnowing window: any shared run of k + window - 1 tokens is found
    threshold: float = 0.5  # pair score (0..1) from which a pair is flagged
    ignore_share: float = 0.1  # a fingerprint more than this share of the class has is ignored...
    ignore_min: int = 5  # ...but never one this many students or fewer share (small classes, groups)
    pairs_shown: int = 30  # pairs the page details (at least every flagged one)

    def __post_init__(self):
        for key in ("k", "window", "ignore_min", "pairs_shown"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"[similar] {key} = {v!r}: not a whole number of 1 or more")
        for key in ("threshold", "ignore_share"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                raise ValueError(f"[similar] {key} = {v!r}: not a number above 0 and at most 1")


@dataclass(frozen=True)
class FlagLimits:
    """[flags] of course.toml: how many flags for review a report lists, and how long the scan for
    them may take. A notebook of thousands of never-run flagged lines must not make a report of
    megabytes, or keep the grader reading it."""

    most_per_exercise: int = 20  # flags an exercise lists; past them, "... and N more"
    most_per_notebook: int = 100  # flags kept from one notebook, all its cells together; the rest counted
    scan_seconds: float = 5.0  # wall-clock budget of one notebook's scan; past it, it stops and says so

    def __post_init__(self):
        for key in ("most_per_exercise", "most_per_notebook"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"[flags] {key} = {v!r}: not a whole number of 1 or more")
        v = self.scan_seconds
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
            raise ValueError(f"[flags] scan_seconds = {v!r}: not a number of seconds above 0")


@dataclass(frozen=True)
class Watch:
    """[watch] of course.toml: `course watch`, which grades what students hand in through nbgrader's
    exchange. Instant feedback invites guessing hidden checks by resubmitting, so only
    `full_feedbacks` graded feedbacks per student and assignment in any `window_hours` show the
    hidden checks; the others show the visible checks only, and say when the next full one is due.
    Every submission is graded and kept either way."""

    full_feedbacks: int = 3  # feedbacks with the hidden checks, per student, assignment and window
    window_hours: float = 24.0  # the sliding window, by the submissions' timestamps
    poll_seconds: float = 1.0  # how often the running watcher looks at the exchange's inbound

    def __post_init__(self):
        v = self.full_feedbacks
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"[watch] full_feedbacks = {v!r}: not a whole number of 0 or more")
        for key in ("window_hours", "poll_seconds"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise ValueError(f"[watch] {key} = {v!r}: not a number above 0")


@dataclass(frozen=True)
class Course:
    root: Path
    devices: list[str]
    seed: int | None  # None: a fresh seed per grading run
    tolerances: dict[str, Tolerance]
    limits: Limits
    assignments: dict[str, Assignment]
    forbidden: dict[str, list[str]] = field(default_factory=dict)
    strict: bool = False  # refuse to grade unless every isolation layer is in force
    flags_forbidden: bool = False  # [flags] forbidden: a flagged exercise scores 0 as `forbidden`
    flag_limits: FlagLimits = field(default_factory=FlagLimits)  # the rest of [flags]
    gradebook_db: str = "gradebook.db"  # [nbgrader] db: a file in the course folder, or a database URL
    # [classroom] what students' workflows `pip install`: the student package (`course student-package`),
    # published where students may read it; never the kit, which holds the answers
    student_package: str = "git+https://github.com/OWNER/REPO-check@main"
    gradescope: Gradescope = field(default_factory=Gradescope)
    similar: Similar = field(default_factory=Similar)
    watch: Watch = field(default_factory=Watch)

    @property
    def gradebook_url(self) -> str:
        """nbgrader's database URL (nbgrader's default: sqlite:///<course>/gradebook.db)."""
        db = self.gradebook_db
        return db if "://" in db else f"sqlite:///{(self.root / db).resolve()}"

    def assignment(self, name: str) -> Assignment:
        if name not in self.assignments:
            known = ", ".join(self.assignments)
            raise ConfigError(f"{self.root / 'course.toml'}: no assignment {name!r} (known: {known})")
        return self.assignments[name]

    def tolerance(self, dtype: str) -> Tolerance:
        """Tolerance for an expected value of `dtype` ('float32', 'float64', ...)."""
        return self.tolerances.get(dtype, self.tolerances["float32"])

    def draw_seed(self) -> int:
        return self.seed if self.seed is not None else random.SystemRandom().randrange(2**31)


def find_root(start: Path | None = None) -> Path:
    """The folder holding course.toml: `start` or one of its parents."""
    here = (start or Path.cwd()).resolve()
    for d in [here, *here.parents]:
        if (d / "course.toml").is_file():
            return d
    raise ConfigError(f"no course.toml in {here} or any folder above it")


def _check_data(data: dict) -> None:
    """[data] is read by the notebooks' own `get_data`, not by the kit; a malformed value is
    still reported here, once, rather than in every student's notebook."""
    if not isinstance(data.get("mnist") or "", str):
        raise TypeError(f"[data] mnist = {data['mnist']!r}: not a path")
    int(data.get("digits_train", 1300))  # ValueError or TypeError when it is not a whole number


def _flags_forbidden(flags: dict) -> bool:
    """[flags] forbidden: true or false, nothing else (a typo must not quietly zero a class)."""
    value = flags.get("forbidden", False)
    if not isinstance(value, bool):
        raise TypeError(f"[flags] forbidden = {value!r}: not true or false")
    return value


def _forbidden(table: dict, assignments: dict) -> dict[str, list[str]]:
    """[forbidden]: exercise id -> the names its cell may not use. A key is matched to the
    exercise ids exactly (case too): one that is no exercise's id would ban nothing, so it is an error."""
    exercises = {ex for a in assignments.values() for ex in a["points"]}
    for key, names in table.items():
        if key not in exercises:
            raise ValueError(f"[forbidden] {key}: no exercise has this id (ids: {', '.join(sorted(exercises))})")
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise TypeError(f"[forbidden] {key} = {names!r}: not a list of names")
    return {k: list(v) for k, v in table.items()}


def load(root: Path | None = None) -> Course:
    root = find_root(root)
    path = root / "course.toml"
    try:
        raw = tomllib.loads(path.read_text())
        course, limits = raw["course"], raw["limits"]
        seed = course.get("seed", "per-run")
        _check_data(raw.get("data", {}))
        return Course(
            root=root,
            devices=list(course.get("devices", ["cpu"])),
            seed=None if seed == "per-run" else int(seed),
            tolerances={k: Tolerance(float(v["rtol"]), float(v["atol"])) for k, v in raw["tolerance"].items()},
            limits=Limits(**limits),
            assignments={
                name: Assignment(
                    name, a.get("title", name), a["module"], {ex: float(p) for ex, p in a["points"].items()}
                )
                for name, a in raw["assignments"].items()
            },
            forbidden=_forbidden(raw.get("forbidden", {}), raw["assignments"]),
            strict=bool(raw.get("sandbox", {}).get("strict", False)),
            flags_forbidden=_flags_forbidden(raw.get("flags", {})),
            flag_limits=FlagLimits(**{k: v for k, v in raw.get("flags", {}).items() if k != "forbidden"}),
            gradebook_db=str(raw.get("nbgrader", {}).get("db", "gradebook.db")),
            student_package=str(raw.get("classroom", {}).get("student_package", Course.student_package)),
            gradescope=Gradescope(**raw.get("gradescope", {})),
            similar=Similar(**raw.get("similar", {})),
            watch=Watch(**raw.get("watch", {})),
        )
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{path}: missing or malformed setting: {e}") from None
