"""The grade report, the contract from grader to outputs: its shape, one validator, atomic writes.

SPEC.md ("The grade report") fixes the JSON: `{"results": [Result, ...]}`. The
TypedDicts below spell out every key the grader writes; `validate_result` is the
one check of that shape, and every reader of a report (`read_json`, the
exports) goes through it, so a page or an export never meets a half-formed
result. Keys a newer kit might add are let through: readers ignore them.
Every string of a report is valid text (`utf8`): the validator and the
writers here make it so, whatever a file name or a notebook held.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NotRequired, TextIO, TypedDict, cast, get_args

from . import utf8
from .config import ConfigError

Status = Literal["passed", "partial", "failed", "error", "timeout", "forbidden", "missing"]
STATUSES: tuple[str, ...] = get_args(Status)  # SPEC's seven, in the order pages list them


class CheckResult(TypedDict):
    """One check of an exercise on one device, as the grader judged it."""

    name: str
    device: str  # 'cpu', 'cuda', or 'any' for the static scan for forbidden functions
    passed: bool
    message: str  # what was expected and what came back; "" when it passed
    expected: NotRequired[str]  # the kind of value the reference gave (never the value itself)
    got: NotRequired[str]  # the kind of value that came back, or "an exception"
    plot: NotRequired[dict[str, Any]]  # a picture of both results, as `checks.plots` describes it


class ExerciseResult(TypedDict):
    id: str  # the solution cell's grade_id
    score: float
    max_score: float
    status: Status
    checks: list[CheckResult]
    message: NotRequired[str]  # why it is not `passed`; SPEC's example leaves it out
    flags: NotRequired[list[str]]  # reasons for an instructor to look at the cell (SPEC)
    title: NotRequired[str]  # a longer name, shown by the Gradescope export when present


class Result(TypedDict):
    """One submission's grades."""

    student: str
    assignment: str
    score: float
    max_score: float
    devices: list[str]  # where the checks ran
    exercises: list[ExerciseResult]  # every exercise of the assignment, in notebook order
    errors: list[str]  # problems with the notebook as a whole
    seed: NotRequired[int]  # what reproduces the grade, with the same devices
    isolation: NotRequired[dict[str, str]]  # the sandbox's layers of isolation, and how each went


class ReportError(ConfigError):
    """A grade report that is not one, or not of the shape SPEC fixes (the CLI prints it, exits 2)."""


# ---------------------------------------------------------------- the one validator

# Outputs name files and folders after the assignment (summary's <assignment>.csv, the gradebook's
# source/<assignment>/): a name like '../x' in a hand-edited report must not reach them.
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
MOST_PROBLEMS = 5  # a report broken everywhere: enough to see the pattern, not a screenful
SLACK = 1e-6  # scores are rounded to 6 places, so their sums may pass max_score by this much


def _number(v: object) -> bool:
    # bool is an int to Python but not a score; JSON has no NaN, but Python's json writes and reads it
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _points(v: object) -> bool:
    return _number(v) and v >= 0


def _strings(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


@dataclass(frozen=True)
class _Key:
    name: str
    ok: Callable[[object], bool]
    what: str  # what the value must be, as the message says it
    required: bool = True


_RESULT = [
    _Key("student", lambda v: isinstance(v, str) and v.strip() != "", "a non-empty string"),
    _Key("assignment", lambda v: isinstance(v, str) and bool(SAFE_NAME.fullmatch(v)), "a usable file name"),
    _Key("score", _points, "a finite number, 0 or more"),
    _Key("max_score", _points, "a finite number, 0 or more"),
    _Key("devices", _strings, "a list of strings"),
    _Key("exercises", lambda v: isinstance(v, list), "a list of exercises"),
    _Key("errors", _strings, "a list of strings"),
    _Key("seed", lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer", required=False),
    _Key(
        "isolation",
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "an object of strings",
        required=False,
    ),
]
_EXERCISE = [
    _Key("id", lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    _Key("score", _points, "a finite number, 0 or more"),
    _Key("max_score", _points, "a finite number, 0 or more"),
    _Key("status", lambda v: v in STATUSES, f"one of {', '.join(STATUSES)}"),
    _Key("checks", lambda v: isinstance(v, list), "a list of checks"),
    _Key("message", lambda v: isinstance(v, str), "a string", required=False),
    _Key("flags", _strings, "a list of strings", required=False),
    _Key("title", lambda v: isinstance(v, str), "a string", required=False),
]
_CHECK = [
    _Key("name", lambda v: isinstance(v, str), "a string"),
    _Key("device", lambda v: isinstance(v, str), "a string"),
    _Key("passed", lambda v: isinstance(v, bool), "true or false"),
    _Key("message", lambda v: isinstance(v, str), "a string"),
    _Key("expected", lambda v: isinstance(v, str), "a string", required=False),
    _Key("got", lambda v: isinstance(v, str), "a string", required=False),
    _Key("plot", lambda v: isinstance(v, dict), "an object", required=False),
]


def _show(v: object) -> str:
    text = repr(v)  # a value from a file: it may be long
    return text if len(text) <= 60 else text[:57] + "..."


def _object(where: str, obj: object, keys: list[_Key], problems: list[str]) -> dict:
    """Adds a problem for each of `keys` that `obj` lacks or holds a wrong kind of value for.
    Returns `obj`, or {} (nothing to look into) when it is not an object at all."""
    if not isinstance(obj, dict):
        problems.append(f"{where} is not an object")
        return {}
    for k in keys:
        if k.name not in obj:
            if k.required:
                problems.append(f"{where} has no '{k.name}'")
        elif not k.ok(obj[k.name]):
            problems.append(f"{where}.{k.name}: {_show(obj[k.name])} is not {k.what}")
    return obj


def _list(v: object) -> list:
    return v if isinstance(v, list) else []  # not a list: already a problem, nothing to look into


def _within(where: str, obj: dict, problems: list[str]) -> None:
    score, most = obj.get("score"), obj.get("max_score")
    if _number(score) and _number(most) and score > most + SLACK:
        problems.append(f"{where}.score: {score:g} is more than its max_score, {most:g}")


def validate_result(where: str, r: object) -> Result:
    """`r` itself, when it is a result of the shape SPEC fixes; otherwise ReportError naming each
    problem's place after `where` (e.g. `grades.json: results[3].exercises[1].status: 'pased' is
    not one of passed, ...`). Every problem is listed (up to MOST_PROBLEMS), not only the first:
    whoever edits the file by hand fixes them in one go. Its text is made valid in place
    (`utf8.repair`): a `"\\ud800"` in a file decodes to what no writer can encode."""
    problems: list[str] = []
    result = _object(where, r, _RESULT, problems)
    _within(where, result, problems)
    for j, e in enumerate(_list(result.get("exercises"))):
        at = f"{where}.exercises[{j}]"
        exercise = _object(at, e, _EXERCISE, problems)
        _within(at, exercise, problems)
        for k, c in enumerate(_list(exercise.get("checks"))):
            _object(f"{at}.checks[{k}]", c, _CHECK, problems)
    if problems:
        more = len(problems) - MOST_PROBLEMS
        raise ReportError("; ".join(problems[:MOST_PROBLEMS]) + (f"; and {more} more" if more > 0 else ""))
    return cast(Result, utf8.repair(r))


# ---------------------------------------------------------------- reading and writing


def write_atomically(path: Path, text: str) -> None:
    """Write `path` so that it holds either its old content or the whole new one, never half:
    a temporary file beside it, flushed to disk, then renamed over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); a report or a feedback page is meant to be read
        os.chmod(tmp, (os.stat(path).st_mode & 0o777) if path.exists() else 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as f:  # whatever the locale: pages say they are UTF-8
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, results: list[Result]) -> None:
    """The report, its text made valid (`utf8.repair`, in place) first: JSON would keep a lone
    surrogate as an escape, for the next reader to meet."""
    write_atomically(path, json.dumps({"results": utf8.repair(results)}, indent=1))


def read_json(path: Path) -> list[Result]:
    """The results of a report `write_json` wrote, each checked by `validate_result`;
    ReportError naming the file (and the place in it) when it is not one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReportError(f"{path}: is a folder, not a grade file") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not JSON (not UTF-8 text)") from None
    except OSError as e:
        raise ReportError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ReportError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ReportError(f"{path}: no 'results' list (is this a `course grade --json` report?)")
    return [validate_result(f"{path}: results[{i}]", r) for i, r in enumerate(data["results"])]


# ---------------------------------------------------------------- the console

SHORT = {  # a status in a table cell
    "passed": "ok",
    "partial": "part",
    "failed": "FAIL",
    "error": "ERR",
    "timeout": "TIME",
    "forbidden": "FORB",
    "missing": "MISS",
}


def table(results: list[Result], out: TextIO, detail: bool = False) -> None:
    """One row per submission, one column per exercise: score and a short status. The results'
    text is made valid first (`utf8.repair`, in place): a student id from a file name may not be."""
    utf8.repair(results)
    if not results:
        print("no submissions", file=out)
        return
    ids = [e["id"] for e in results[0]["exercises"]]
    width = max(7, *(len(r["student"]) for r in results))
    cols = [max(len(i), 9) for i in ids]
    print(
        f"{results[0]['assignment']}  (devices: {', '.join(results[0]['devices'])}, seed {results[0].get('seed')})",
        file=out,
    )
    print(
        f"{'student':<{width}}  {'score':>11}  " + "  ".join(f"{i:>{w}}" for i, w in zip(ids, cols, strict=True)),
        file=out,
    )
    for r in results:
        by_id = {e["id"]: e for e in r["exercises"]}
        cells = []
        for i, w in zip(ids, cols, strict=True):
            # looked up by id, not position: a result that lacks an exercise leaves its cell blank
            e = by_id.get(i)
            cells.append((f"{e['score']:.3g}/{e['max_score']:g} {SHORT[e['status']]}" if e else "").rjust(w))
        print(f"{r['student']:<{width}}  {r['score']:>5.4g}/{r['max_score']:<5g}  " + "  ".join(cells), file=out)
    for r in results:
        notes = list(r["errors"])
        if detail:
            for e in r["exercises"]:
                if e["status"] != "passed":
                    notes.append(f"{e['id']}: {e['status']}{' - ' + e['message'] if e.get('message') else ''}")
                    notes += _failing(e["checks"])
        if notes:
            print(f"\n{r['student']}:", file=out)
            for n in notes:
                print(f"  {n}", file=out)


def _failing(checks: list[CheckResult], most: int = 6) -> list[str]:
    """Failing checks, one line each; when they all failed the same way, one line for all."""
    bad = [c for c in checks if not c["passed"]]
    if len(bad) > 1 and len(bad) == len(checks) and len({c["message"] for c in bad}) == 1:
        return [f"  all {len(bad)} checks: {bad[0]['message']}"]
    lines = [f"  {c['name']} [{c['device']}]: {c['message']}" for c in bad[:most]]
    return lines + ([f"  ... and {len(bad) - most} more"] if len(bad) > most else [])
