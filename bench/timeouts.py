"""How much room each exercise's scaled time limit leaves a correct answer.

    python bench/timeouts.py [--assignments A ...] [--seed 0] [--json bench/timeouts.json]

An exercise's time limit is `[limits] exercise_floor` plus `exercise_scale` times what its checks
take the reference in the grader, at most `exercise_timeout` (`config.Limits.timeout_for`). For
each assignment this grades, one at a time, every correct submission the kit has (the samples
`perfect` and `lesson`, and the hand-written ALTERNATIVES of samples/mutants/, which include
pure-Python loops), and prints per exercise: the reference's seconds, the limit they give, the
slowest correct answer's seconds in its process (the notebook's cells not included), and the
margin (limit / slowest). A margin near 1 means a correct but slow answer could time out: raise
the floor or the scale. Measurements for README, never assertions in tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import make_submission, mutants  # noqa: E402

from autograder import config  # noqa: E402
from autograder.grading import grade  # noqa: E402
from autograder.grading.expected import Expected  # noqa: E402
from autograder.grading.reference import Reference  # noqa: E402


def correct_submissions(course: config.Course, assignment: str, tmp: Path) -> list[tuple[str, Path]]:
    out = [(n, ROOT / "samples" / assignment / f"{n}.ipynb") for n in ("perfect", "lesson")]
    alternatives = mutants(course, assignment).get("ALTERNATIVES", {})
    if alternatives:
        out.append(("alternatives", make_submission(tmp, assignment, "alternatives", alternatives)))
    return out


def measure(course: config.Course, assignment: str, seed: int) -> list[dict]:
    expected = Expected(Reference(course, course.assignment(assignment)), seed)
    expected.fill(["cpu"])
    slowest: dict[str, tuple[float, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in correct_submissions(course, assignment, Path(tmp)):
            profile: dict[str, float] = {}
            (result,) = grade.grade(course, assignment, [(name, path)], ["cpu"], seed, profile=profile)
            for e in result["exercises"]:
                took = profile.get(f"exercise {e['id']}", 0.0)
                if e["status"] != "passed":
                    print(f"  {assignment} {name} {e['id']}: {e['status']} {e['message'][:120]}", file=sys.stderr)
                if took > slowest.get(e["id"], (0.0, ""))[0]:
                    slowest[e["id"]] = (took, name)
    rows = []
    for ex in course.assignment(assignment).exercises:
        ref = expected.seconds.get(ex, 0.0)
        limit = course.limits.timeout_for(ref)
        took, who = slowest.get(ex, (0.0, ""))
        rows.append(
            {
                "assignment": assignment,
                "exercise": ex,
                "reference_s": round(ref, 4),
                "limit_s": round(limit, 2),
                "slowest_correct_s": round(took, 3),
                "slowest": who,
                "margin": round(limit / took, 1) if took else None,
            }
        )
    return rows


def main() -> None:
    course = config.load(ROOT)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignments", nargs="+", default=list(course.assignments))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = [row for a in args.assignments for row in measure(course, a, args.seed)]
    print(f"{'exercise':<32} {'reference':>10} {'limit':>8} {'slowest correct':>16} {'margin':>7}")
    for r in rows:
        print(
            f"{r['assignment'][:2]} {r['exercise']:<29} {r['reference_s']:>9.4f}s {r['limit_s']:>7.1f}s "
            f"{r['slowest_correct_s']:>8.3f}s ({r['slowest'][:6]}) {r['margin'] or '-':>6}x"
        )
    least = min((r for r in rows if r["margin"]), key=lambda r: r["margin"])
    print(f"smallest margin: {least['margin']}x ({least['assignment']} {least['exercise']}, {least['slowest']})")
    if args.json:
        args.json.write_text(json.dumps({"limits": vars(course.limits), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
