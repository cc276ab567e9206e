"""What the grader says of every sample, alternative and hand-written mutant: verdicts to compare
across a change of how grading runs (tests/test_same_reports.py).

    python tests/verdicts.py --write tests/data/verdicts.json

Each hand-written mutant of `samples/mutants/<module>.py` is graded alone, in a copy of the
perfect sample; so are the alternatives, together. A verdict is, per exercise, its status, its
score and which checks passed: not the messages, whose wording may change.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conftest import ASSIGNMENTS, ROOT, make_submission, mutants  # noqa: E402

from autograder import config  # noqa: E402
from autograder.grading import grade  # noqa: E402
from autograder.mutants import alternative_rounds  # noqa: E402


def submissions(course: config.Course, assignment: str, tmp: Path) -> list[tuple[str, Path]]:
    """(name, notebook): the samples, the alternatives together, each hand-written mutant alone."""
    out = [(kind, ROOT / "samples" / assignment / f"{kind}.ipynb") for kind in ("perfect", "buggy", "stubs", "lesson")]
    table = mutants(course, assignment)
    for k, plan in enumerate(alternative_rounds(table)):
        name = "alternatives" if k == 0 else f"alternatives {k + 1}"
        out.append((name, make_submission(tmp, assignment, name.replace(" ", "-"), plan)))
    for ex, bugs in table["MUTANTS"].items():
        for i, (bug, source) in enumerate(bugs.items()):
            out.append((f"{ex}: {bug}", make_submission(tmp, assignment, f"{ex}-{i}", {ex: source})))
    return out


def verdict(result: dict) -> dict:
    return {
        e["id"]: {
            "status": e["status"],
            "score": e["score"],
            "checks": {f"{c['name']} @ {c['device']}": c["passed"] for c in e["checks"]},
        }
        for e in result["exercises"]
    }


def verdicts(course: config.Course, assignment: str, workers: int = 2) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        subs = submissions(course, assignment, Path(tmp))
        results = grade.grade(course, assignment, subs, ["cpu"], seed=1, workers=workers)
    return {name: verdict(r) for (name, _), r in zip(subs, results, strict=True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    course = config.load(ROOT)
    out = {a: verdicts(course, a, args.workers) for a in ASSIGNMENTS}
    args.write.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"{sum(len(v) for v in out.values())} submissions -> {args.write}")


if __name__ == "__main__":
    main()
