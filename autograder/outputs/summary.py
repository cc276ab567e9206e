"""`course report`: the instructor's class summary of one or more grade reports.

For each assignment found in the grade files: `<assignment>.csv` (one row per student, one
column per exercise) and `<assignment>.html` (class statistics, per-exercise status counts,
pictures of the score distribution, and the checks most of the class failed).
Everything that came from a submission (student ids, messages) is escaped in the page.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from .. import config, report
from ..report import STATUSES, Result

HEADINGS = {
    "passed": "passed fully",
    "partial": "partly",
    "failed": "failed",
    "error": "errored",
    "timeout": "timed out",
    "forbidden": "forbidden",
    "missing": "missing",
}
COLOURS = {
    "passed": "#2e7d32",
    "partial": "#f9a825",
    "failed": "#c62828",
    "error": "#6a1b9a",
    "timeout": "#1565c0",
    "forbidden": "#37474f",
    "missing": "#bdbdbd",
}
TOP_FAILURES = 15
MESSAGE_CHARS = 200


class SummaryError(config.ConfigError):
    """A grade file the summary cannot use (the CLI prints it and exits 2)."""


# ---------------------------------------------------------------- reading the input


def read(path: Path) -> list[Result]:
    """The results of one grade file, each checked by `report.validate_result`; SummaryError
    naming the file (and the place in it) when it is unusable."""
    try:
        results = report.read_json(path)
    except config.ConfigError as e:
        raise SummaryError(str(e)) from None
    if not results:
        raise SummaryError(f"{path}: 'results' is empty: no student to summarise")
    return results


def gather(paths: Iterable[Path], notes: TextIO | None = None) -> dict[str, list[Result]]:
    """Results by assignment, in first-seen order; a student graded twice for one assignment keeps
    the later result (a note says so)."""
    by: dict[str, dict[str, tuple[Result, Path]]] = {}
    paths = list(paths)
    for path in paths:
        for r in read(path):
            seen = by.setdefault(r["assignment"], {})
            if r["student"] in seen and notes is not None:
                print(
                    f"note: {r['student']} appears twice for {r['assignment']} "
                    f"({seen[r['student']][1]}, {path}): the later one, from {path}, is used",
                    file=notes,
                )
            seen.pop(r["student"], None)  # the later result also takes the later place
            seen[r["student"]] = (r, path)
    if not by:
        raise SummaryError(f"{', '.join(map(str, paths))}: no results")
    return {a: [r for r, _ in students.values()] for a, students in by.items()}


def exercise_ids(results: list[Result]) -> list[str]:
    """Every exercise id in notebook order (the results' order), also when some result lacks one."""
    ids: list[str] = []
    for r in results:
        prev = None
        for e in r["exercises"]:
            if e["id"] not in ids:
                ids.insert(ids.index(prev) + 1 if prev is not None else 0, e["id"])
            prev = e["id"]
    return ids


# ---------------------------------------------------------------- statistics


def num(x: float) -> str:
    """A score as people write it: 2, 0.75, 14.75."""
    x = round(float(x), 6)
    return str(int(x)) if x.is_integer() else repr(x)


def _exercise_stats(results: list[Result], ids: list[str]) -> list[dict]:
    rows = []
    for i in ids:
        es = [e for r in results for e in r["exercises"] if e["id"] == i]
        counts = {s: sum(e["status"] == s for e in es) for s in STATUSES}
        counts["missing"] += len(results) - len(es)  # a result without the exercise at all
        rows.append(
            {
                "id": i,
                "max": max((e["max_score"] for e in es), default=0),
                "mean": statistics.fmean([e["score"] for e in es] + [0.0] * (len(results) - len(es))),
                "counts": counts,
            }
        )
    return rows


def common_failures(results: list[Result], ids: list[str], top: int = TOP_FAILURES) -> list[dict]:
    """Failing checks grouped by (exercise, check name), most students first: what the class missed."""
    students: dict[tuple[str, str], set[str]] = defaultdict(set)
    example: dict[tuple[str, str], str] = {}
    first: dict[tuple[str, str], int] = {}  # checks in the order the notebook's tests list them
    for r in results:
        for e in r["exercises"]:
            for c in e["checks"]:
                if not c["passed"]:
                    key = (e["id"], c["name"])
                    first.setdefault(key, len(first))
                    students[key].add(r["student"])
                    if not example.get(key):
                        example[key] = c["message"]
    order = {i: n for n, i in enumerate(ids)}
    keys = sorted(students, key=lambda k: (-len(students[k]), order.get(k[0], len(order)), first[k]))
    return [
        {"exercise": k[0], "check": k[1], "students": len(students[k]), "example": _short(example[k])}
        for k in keys[:top]
    ]


def _short(text: str, most: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


# ---------------------------------------------------------------- the CSV


def cell(text: str) -> str:
    """Text from a submission as a CSV cell a spreadsheet shows as text: one starting with
    = + - @ (or a tab or return) would be read as a formula (OWASP's CSV injection), so it is
    quoted with a leading apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def flagged(r: Result) -> list[str]:
    """The exercises' flags for review (grading.flags), each with its exercise, as problems to look at."""
    return [f"{e['id']} flagged: {f}" for e in r["exercises"] for f in e.get("flags", [])]


def csv_text(results: list[Result], ids: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["student", *ids, "total", "max_score", "problems"])
    for r in results:
        scores = {e["id"]: num(e["score"]) for e in r["exercises"]}
        w.writerow(
            [
                cell(r["student"]),
                *(scores.get(i, "") for i in ids),
                num(r["score"]),
                num(r["max_score"]),
                cell("; ".join(r["errors"] + flagged(r))),
            ]
        )
    return buf.getvalue()


# ---------------------------------------------------------------- the page


def _status_chart(stats: list[dict], n: int):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.38 * len(stats)))
    y = list(range(len(stats)))
    left = [0] * len(stats)
    for s in STATUSES:
        counts = [row["counts"][s] for row in stats]
        if any(counts):
            ax.barh(y, counts, left=left, color=COLOURS[s], label=HEADINGS[s], edgecolor="white", height=0.75)
            for k, (c, start) in enumerate(zip(counts, left, strict=True)):
                if c and c / max(n, 1) >= 0.06:
                    ax.text(
                        start + c / 2,
                        k,
                        str(c),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="black" if s in ("partial", "missing") else "white",
                    )
            left = [start + c for start, c in zip(left, counts, strict=True)]
    ax.set_yticks(y, [row["id"] for row in stats])
    ax.invert_yaxis()  # notebook order, top to bottom
    ax.set_xlim(0, max(n, 1))
    ax.set_xlabel("students")
    ax.set_title("Status per exercise")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _totals_histogram(totals: list[float], max_score: float):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 2.8))
    top = max(max_score, max(totals, default=0), 1)
    bins = min(20, max(5, int(math.ceil(top))))
    ax.hist(totals, bins=bins, range=(0, top), color="#1565c0", edgecolor="white")
    ax.set_xlabel(f"total score (of {num(max_score)})")
    ax.set_ylabel("students")
    ax.set_title("Distribution of totals")
    ax.yaxis.get_major_locator().set_params(integer=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def html_text(assignment: str, results: list[Result], ids: list[str], similar_page: str | None = None) -> str:
    """The class page (template `summary.html.j2`); `similar_page`, the file name of `course similar`'s
    page beside it, is linked."""
    import matplotlib

    from .figures import png
    from .templating import render

    n = len(results)
    totals = [float(r["score"]) for r in results]
    max_score = max(float(r["max_score"]) for r in results)
    stats = _exercise_stats(results, ids)
    with matplotlib.rc_context({"text.parse_math": False}):  # a '$' in a label is just a dollar
        pictures = [png(_status_chart(stats, n)), png(_totals_histogram(totals, max_score))]
    students = [
        {
            "student": r["student"],
            "total": num(r["score"]),
            "missed": [e for e in r["exercises"] if e["status"] != "passed"],
            "problems": "; ".join(r["errors"] + flagged(r)),
        }
        for r in results
    ]
    return render(
        "summary.html.j2",
        title=f"Class summary: {assignment}",
        n=n,
        mean=num(round(statistics.fmean(totals), 2)),
        median=num(round(statistics.median(totals), 2)),
        max_score=num(max_score),
        similar_page=similar_page,
        statuses=STATUSES,
        headings=HEADINGS,
        stats=[{**row, "max": num(row["max"]), "mean": num(round(row["mean"], 2))} for row in stats],
        pictures=pictures,
        fails=common_failures(results, ids),
        top=TOP_FAILURES,
        students=students,
    )


# ---------------------------------------------------------------- the command


def similar_page(assignment: str) -> str:
    """The file name of `course similar`'s page (`similar.write`) for this assignment."""
    return f"{assignment}-similar.html"


def write(paths: Iterable[Path], out_dir: Path, notes: TextIO | None = None) -> list[Path]:
    """Read every grade file first (so a bad one writes nothing), then one CSV and one page per
    assignment. Returns the paths written. Notes (a student graded twice) go to `notes`, by
    default standard error as it is when this runs (not when the module was imported: a test's
    captured stderr, a redirected one)."""
    by_assignment = gather(paths, notes or sys.stderr)
    texts = []
    for assignment, results in by_assignment.items():
        ids = exercise_ids(results)
        texts.append((Path(out_dir) / f"{assignment}.csv", csv_text(results, ids)))
        page = similar_page(assignment)
        linked = page if (Path(out_dir) / page).is_file() else None  # written before by `course similar`
        texts.append((Path(out_dir) / f"{assignment}.html", html_text(assignment, results, ids, linked)))
    for path, text in texts:
        report.write_atomically(path, text)
    return [p for p, _ in texts]
