"""How long grading takes: the bundled samples of each assignment, N times over.

    python bench/grade_samples.py [--copies N] [--workers W] [--json bench/results.json]

Prints, per assignment, the wall time of grading 3*N submissions (perfect,
buggy, stubs) in this process, W at a time (default: the machine's cores,
as `course grade`), the time per submission, and the grader's peak memory
(RSS of this process and, separately, of the largest of its children: the
warm pool and the sandboxes it forks). Timings are measurements for the
README, never assertions in tests. `bench/compare.py` compares the kit with
nbgrader on larger batches.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder import config  # noqa: E402
from autograder.grading import grade  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    course = config.load(ROOT)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in course.assignments:
            subs = []
            for k in range(args.copies):
                for kind in ("perfect", "buggy", "stubs"):
                    p = Path(tmp) / f"{name}-{kind}-{k}.ipynb"
                    shutil.copy(ROOT / "samples" / name / f"{kind}.ipynb", p)
                    subs.append((p.stem, p))
            start = time.perf_counter()
            grade.grade(course, name, subs, ["cpu"], seed=0, workers=args.workers)
            wall = time.perf_counter() - start
            rows.append(
                {
                    "assignment": name,
                    "submissions": len(subs),
                    "workers": args.workers,
                    "wall_s": round(wall, 2),
                    "per_submission_s": round(wall / len(subs), 2),
                }
            )
            print(f"{name}: {len(subs)} submissions in {wall:.1f} s ({wall / len(subs):.2f} s each)")
    peak = {
        "grader_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "largest_sandbox_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    print(
        f"peak RSS: grader {peak['grader_mib']:.0f} MiB, largest sandbox process {peak['largest_sandbox_mib']:.0f} MiB"
    )
    if args.json:
        args.json.write_text(json.dumps({"runs": rows, "peak": peak}, indent=1))


if __name__ == "__main__":
    main()
