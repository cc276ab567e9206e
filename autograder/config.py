"""The course, as `course.toml` describes it."""

from __future__ import annotations

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
class Course:
    root: Path
    devices: list[str]
    seed: int | None  # None: a fresh seed per grading run
    tolerances: dict[str, Tolerance]
    limits: Limits
    assignments: dict[str, Assignment]
    forbidden: dict[str, list[str]] = field(default_factory=dict)
    strict: bool = False  # refuse to grade unless every isolation layer is in force
    gradebook_db: str = "gradebook.db"  # [nbgrader] db: a file in the course folder, or a database URL
    kit_repository: str = "OWNER/REPO"  # [classroom] the kit's repository students' workflows check out
    kit_ref: str = "main"  # [classroom] its branch, tag or commit
    gradescope: Gradescope = field(default_factory=Gradescope)

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
            limits=Limits(**{k: limits[k] for k in Limits.__dataclass_fields__}),
            assignments={
                name: Assignment(
                    name, a.get("title", name), a["module"], {ex: float(p) for ex, p in a["points"].items()}
                )
                for name, a in raw["assignments"].items()
            },
            forbidden={k: list(v) for k, v in raw.get("forbidden", {}).items()},
            strict=bool(raw.get("sandbox", {}).get("strict", False)),
            gradebook_db=str(raw.get("nbgrader", {}).get("db", "gradebook.db")),
            kit_repository=str(raw.get("classroom", {}).get("kit_repository", "OWNER/REPO")),
            kit_ref=str(raw.get("classroom", {}).get("kit_ref", "main")),
            gradescope=Gradescope(**raw.get("gradescope", {})),
        )
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ConfigError(f"{path}: missing or malformed setting: {e}") from None
