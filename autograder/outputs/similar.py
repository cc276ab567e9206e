"""`course similar`: which students' solutions are suspiciously alike.

Each submission is read once and each of its solution cells fingerprinted once (`fingerprint`).
What everyone shares is then set aside: the released starter code, the reference solution, and
any fingerprint more than a set share of the class has (MOSS's `-m`). What is left goes into an
inverted index, fingerprint -> the students who have it, and a pair is only ever scored through
the fingerprints it shares: no comparison of every pair with every other.

A shared fingerprint counts ln((N + 1) / df), N the class size and df the students who have it:
a choice two students alone made weighs most, one half the class made weighs little. A pair's
score is the weighted Dice coefficient of its two sets of fingerprints over the whole notebook,
2 * shared / (mine + yours): an exercise weighs what its code weighs, so two lines of
`logsumexp` everybody writes alike move it little. The same score per exercise shows where.

Code set aside as common still says who has it: when one and the same set of students (more than
the cutoff, at most half the class) shares set-aside fingerprints in `RING_EXERCISES` exercises or
more, that is no common way of writing an exercise but a ring copying from one source, and the
page lists it apart.

The page is bounded, whatever the class: the `pairs_shown` most alike pairs in detail, the first
`LISTED` pairs, groups and rings in tables, the `PER_EXERCISE` most alike pairs of each exercise
(a copy of one exercise shows there even when its whole-notebook score is low); the CSV beside it
has every pair.
"""

from __future__ import annotations

import csv
import heapq
import io
import math
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import config, notebook, report
from .fingerprint import Prints, fingerprints
from .summary import cell, similar_page

PARALLEL_FROM = 40  # submissions from which fingerprinting is spread over processes
# A set of students sharing set-aside code in this many exercises is a ring, not a common style:
# independent students agree on a whole exercise's code one exercise at a time, with a different
# set of them each time.
RING_EXERCISES = 3
LISTED = 100  # rows of the page's tables of pairs, groups and rings (a class of 500 has thousands)
PER_EXERCISE = 10  # pairs ranked per exercise on the page


@dataclass
class Submission:
    student: str
    path: Path
    cells: dict[str, str] = field(default_factory=dict)  # exercise -> the solution cell's source
    prints: dict[str, Prints] = field(default_factory=dict)  # exercise -> its fingerprints
    problem: str = ""  # why it could not be compared (an unreadable notebook)


@dataclass(frozen=True)
class Pair:
    a: int  # indices into the submissions
    b: int
    score: float
    exercises: dict[str, float]  # exercise -> the pair's score on it (only where they share code)


@dataclass(frozen=True)
class Group:
    members: list[int]
    mean: float  # the mean score of every pair of members
    exercises: list[str]  # where all members share code


@dataclass(frozen=True)
class Ring:
    members: list[int]  # more students than the cutoff, who all have the same set-aside code
    exercises: list[str]  # where
    prints: int  # how many set-aside fingerprints exactly these students share


@dataclass
class Comparison:
    assignment: str
    exercises: list[str]
    submissions: list[Submission]
    pairs: list[Pair]  # every pair sharing anything, highest score first
    groups: list[Group]
    settings: config.Similar
    common: int  # fingerprints set aside because too many students have them
    cutoff: int  # ... more than this many
    kept: dict[tuple[str, int], list[int]]  # the inverted index: (exercise, fingerprint) -> students
    rings: list[Ring] = field(default_factory=list)

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.score >= self.settings.threshold]

    def shared_lines(self, pair: Pair, exercise: str) -> tuple[set[int], set[int]]:
        """The lines of each side's cell that the pair's shared fingerprints cover."""
        a, b = self.submissions[pair.a], self.submissions[pair.b]
        pa, pb = a.prints.get(exercise, {}), b.prints.get(exercise, {})
        shared = [h for h in pa.keys() & pb.keys() if (exercise, h) in self.kept]
        return {n for h in shared for n in pa[h]}, {n for h in shared for n in pb[h]}


# ---------------------------------------------------------------- reading


def solution_sources(path: Path, strip: bool = False) -> dict[str, str]:
    """Solution cells by exercise id; `strip` removes nbgrader's markers (the source notebook)."""
    cells = notebook.read(path).solutions()
    return {i: notebook.strip_markers(c.source) if strip else c.source for i, c in cells.items()}


def _read(job: tuple[str, Path, list[str], int, int]) -> Submission:
    student, path, exercises, k, window = job
    sub = Submission(student, Path(path))
    try:
        cells = solution_sources(path)
    except notebook.NotebookError as e:
        sub.problem = str(e)
        return sub
    for ex in exercises:
        if ex in cells:
            sub.cells[ex] = cells[ex]
            sub.prints[ex] = fingerprints(cells[ex], k, window)
    return sub


def read_all(
    subs: Sequence[tuple[str, Path]], exercises: list[str], settings: config.Similar, workers: int = 0
) -> list[Submission]:
    """Every submission read and fingerprinted once, in the order given (in `workers` processes
    for a class; fingerprints are stable hashes, the same in any process)."""
    jobs = [(s, p, exercises, settings.k, settings.window) for s, p in _unique(subs)]
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(jobs) < PARALLEL_FROM:
        return [_read(j) for j in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_read, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


def _unique(subs: Sequence[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """Two notebooks of one student (or two files named alike) stay two rows: the second is `id#2`."""
    seen: dict[str, int] = {}
    out = []
    for student, path in subs:
        seen[student] = seen.get(student, 0) + 1
        out.append((student if seen[student] == 1 else f"{student}#{seen[student]}", path))
    return out


def shared_by_all(course: config.Course, assignment: str) -> dict[str, set[int]]:
    """Per exercise, the fingerprints of the released starter code and of the reference solution."""
    s = course.similar
    try:
        release = solution_sources(course.root / "release" / assignment / f"{assignment}.ipynb")
        source = solution_sources(course.root / "source" / assignment / f"{assignment}.ipynb", strip=True)
    except notebook.NotebookError as e:
        raise config.ConfigError(f"{e} (the starter code and the reference are left out of the comparison)") from None
    return {
        ex: set(fingerprints(release.get(ex, ""), s.k, s.window)) | set(fingerprints(source.get(ex, ""), s.k, s.window))
        for ex in course.assignment(assignment).exercises
    }


# ---------------------------------------------------------------- comparing


def compare(
    assignment: str,
    exercises: list[str],
    submissions: list[Submission],
    given: dict[str, set[int]],
    settings: config.Similar,
) -> Comparison:
    """Scores of every pair that shares a fingerprint nobody was given and few have."""
    import numpy as np
    from scipy import sparse

    n = len(submissions)
    index: dict[tuple[str, int], list[int]] = {}
    for i, sub in enumerate(submissions):
        for ex, prints in sub.prints.items():
            for h in prints:
                if h not in given.get(ex, ()):
                    index.setdefault((ex, h), []).append(i)
    cutoff = max(math.floor(settings.ignore_share * n), settings.ignore_min)
    kept = {key: who for key, who in index.items() if len(who) <= cutoff}
    common = len(index) - len(kept)

    columns = list(kept)
    weights = np.array([math.log((n + 1) / len(kept[c])) for c in columns])
    rows = [i for c in columns for i in kept[c]]
    cols = [j for j, c in enumerate(columns) for _ in kept[c]]
    has = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(columns)))
    column_exercise = np.array([exercises.index(ex) for ex, _ in columns], dtype=int)

    def scores(mask: np.ndarray) -> tuple[sparse.coo_matrix, np.ndarray]:
        """Shared weight of each pair (upper triangle) and each student's own weight, over `mask`'s columns."""
        x = has[:, np.flatnonzero(mask)]
        w = weights[mask]
        shared = sparse.triu(x @ sparse.diags(w) @ x.T, k=1).tocoo()
        return shared, np.asarray(x @ w).ravel()

    shared, own = scores(np.ones(len(columns), dtype=bool))
    per_exercise = {}
    for e, ex in enumerate(exercises):
        s, o = scores(column_exercise == e)
        per_exercise[ex] = {(a, b): 2 * v / (o[a] + o[b]) for a, b, v in zip(s.row, s.col, s.data, strict=True)}
    pairs = [
        Pair(
            int(a),
            int(b),
            float(2 * v / (own[a] + own[b])),
            {ex: float(by[(a, b)]) for ex, by in per_exercise.items() if (a, b) in by},
        )
        for a, b, v in zip(shared.row, shared.col, shared.data, strict=True)
    ]
    names = [s.student for s in submissions]
    pairs.sort(key=lambda p: (-p.score, names[p.a], names[p.b]))
    comparison = Comparison(assignment, exercises, submissions, pairs, [], settings, common, cutoff, kept)
    comparison.groups = groups(comparison)
    comparison.rings = rings(index, cutoff, n, exercises)
    return comparison


def rings(index: dict[tuple[str, int], list[int]], cutoff: int, n: int, exercises: list[str]) -> list[Ring]:
    """Sets of students sharing set-aside (too common) fingerprints in `RING_EXERCISES` exercises
    or more, each set exactly the same; largest reach first."""
    by_set: dict[tuple[int, ...], dict[str, int]] = {}
    for (ex, _), who in index.items():
        if cutoff < len(who) <= n // 2:  # more than half the class: the usual way, not a ring
            where = by_set.setdefault(tuple(sorted(set(who))), {})
            where[ex] = where.get(ex, 0) + 1
    out = [
        Ring(list(members), sorted(where, key=exercises.index), sum(where.values()))
        for members, where in by_set.items()
        if len(where) >= RING_EXERCISES
    ]
    return sorted(out, key=lambda r: (-len(r.exercises), -len(r.members), -r.prints, r.members))


def groups(c: Comparison) -> list[Group]:
    """Three or more students joined by flagged pairs (connected components), largest first."""
    parent = list(range(len(c.submissions)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for p in c.flagged:
        parent[root(p.a)] = root(p.b)
    members: dict[int, list[int]] = {}
    for i in range(len(c.submissions)):
        members.setdefault(root(i), []).append(i)
    score = {(p.a, p.b): p for p in c.pairs}
    out = []
    for group in (m for m in members.values() if len(m) >= 3):
        inside = [score.get((a, b)) for k, a in enumerate(group) for b in group[k + 1 :]]
        mean = sum(p.score for p in inside if p) / len(inside)
        everywhere = [
            ex for ex in c.exercises if all(p and ex in p.exercises for p in inside)
        ]  # each pair of members shares code in it
        out.append(Group(group, mean, everywhere))
    return sorted(out, key=lambda g: (-len(g.members), -g.mean))


# ---------------------------------------------------------------- writing


def csv_text(c: Comparison) -> str:
    """One row per pair that shares anything: both students, the score, flagged, and per exercise."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["student_a", "student_b", "score", "flagged", *c.exercises])
    for p in c.pairs:
        w.writerow(
            [
                cell(c.submissions[p.a].student),
                cell(c.submissions[p.b].student),
                f"{p.score:.4f}",
                "yes" if p.score >= c.settings.threshold else "no",
                *(f"{p.exercises[ex]:.4f}" if ex in p.exercises else "" for ex in c.exercises),
            ]
        )
    return buf.getvalue()


def html_text(c: Comparison) -> str:
    from .templating import render

    shown = c.pairs[: c.settings.pairs_shown]
    names = [s.student for s in c.submissions]
    details = []
    per_exercise = {
        ex: heapq.nsmallest(
            PER_EXERCISE, (p for p in c.pairs if ex in p.exercises), key=lambda p: (-p.exercises[ex], -p.score)
        )
        for ex in c.exercises
    }
    for rank, p in enumerate(shown, 1):
        sides = []
        for ex in sorted(p.exercises, key=c.exercises.index):
            la, lb = c.shared_lines(p, ex)
            sides.append(
                {
                    "exercise": ex,
                    "score": p.exercises[ex],
                    "a": _lines(c.submissions[p.a].cells.get(ex, ""), la),
                    "b": _lines(c.submissions[p.b].cells.get(ex, ""), lb),
                }
            )
        details.append({"rank": rank, "pair": p, "a": names[p.a], "b": names[p.b], "exercises": sides})
    anchor = {(d["pair"].a, d["pair"].b): d["rank"] for d in details}
    return render(
        "similar.html.j2",
        title=f"Similar solutions: {c.assignment}",
        c=c,
        names=names,
        listed=[(rank, p, anchor.get((p.a, p.b))) for rank, p in enumerate(c.pairs[:LISTED], 1)],
        limit=LISTED,
        details=details,
        per_exercise=[(ex, [(p, anchor.get((p.a, p.b))) for p in ps]) for ex, ps in per_exercise.items() if ps],
        table=similar_page(c.assignment).replace(".html", ".csv"),
        problems=[s for s in c.submissions if s.problem],
    )


def _lines(source: str, hits: set[int]) -> list[tuple[str, bool]]:
    return [(line, n in hits) for n, line in enumerate(source.splitlines(), 1)]


def write(c: Comparison, out_dir: Path) -> list[Path]:
    """`<assignment>-similar.html` and `<assignment>-similar.csv` in `out_dir`; the class summary
    (`course report` into the same folder) links to the page."""
    out_dir = Path(out_dir)
    page = out_dir / similar_page(c.assignment)
    table = page.with_suffix(".csv")
    report.write_atomically(table, csv_text(c))
    report.write_atomically(page, html_text(c))
    return [page, table]


def run(course: config.Course, assignment: str, subs: Sequence[tuple[str, Path]], workers: int = 0) -> Comparison:
    """Read, fingerprint and compare a class's submissions of `assignment`."""
    exercises = course.assignment(assignment).exercises
    submissions = read_all(subs, exercises, course.similar, workers)
    return compare(assignment, exercises, submissions, shared_by_all(course, assignment), course.similar)
