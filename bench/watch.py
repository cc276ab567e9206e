"""Seconds from `nbgrader submit` to feedback the student can fetch, with `course watch` running.

    python bench/watch.py [--assignment 04_callbacks] [--submissions 5] [--json bench/watch.json]

In a scratch folder: an nbgrader exchange and course folder, the assignment released with
`nbgrader release_assignment`, one student who fetched it. `course watch` is started as an
instructor starts it (a fresh process, its own warm pool) and given one submission to warm up
on; then, one after another, the student hands in the perfect sample with `nbgrader submit`
(the real command, in a process of its own) and the bench waits for the feedback page to
appear where `nbgrader fetch_feedback` looks for it (the exchange's feedback folder, under the
hash of that submission's secret). A submission's time runs from the timestamp nbgrader's
submit wrote into timestamp.txt to the moment the page is there. Each notebook differs by a byte,
so that every one is graded afresh (none comes from the store). Timings are measurements for
the README, never assertions in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COURSE_ID = "bench"


def nbgrader(*args: str, cwd: Path, options: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, *options, "--log-level=WARN"], cwd=cwd, capture_output=True, text=True
    )
    if proc.returncode:
        sys.exit(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")


def feedback_path(exchange: Path, inbound: Path, notebook_id: str) -> Path:
    from nbgrader.utils import notebook_hash

    secret = (inbound / "submission_secret.txt").read_text()
    return exchange / COURSE_ID / "feedback" / f"{notebook_hash(secret=secret, notebook_id=notebook_id)}.html"


def submit(tmp: Path, a: str, options: list[str], n: int) -> tuple[Path, float]:
    """The student hands in the perfect sample (one byte their own); returns the new inbound folder
    and the submission's time as nbgrader recorded it (seconds since the epoch)."""
    from nbgrader.utils import parse_utc

    nb = json.loads((ROOT / "samples" / a / "perfect.ipynb").read_text())
    nb["metadata"]["attempt"] = n
    (tmp / "student" / a / f"{a}.ipynb").write_text(json.dumps(nb))
    inbound = tmp / "exchange" / COURSE_ID / "inbound"
    before = set(inbound.iterdir())
    nbgrader("submit", a, cwd=tmp / "student", options=options + ["--student=ada"])
    (folder,) = set(inbound.iterdir()) - before
    when = parse_utc((folder / "timestamp.txt").read_text().strip())
    return folder, when.replace(tzinfo=__import__("datetime").UTC).timestamp()


def wait_for(path: Path, watcher: subprocess.Popen, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if watcher.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"no feedback at {path}; course watch said:\n{watcher.communicate()[1][-3000:]}")
        time.sleep(0.01)
    return time.time()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assignment", default="04_callbacks")
    ap.add_argument("--submissions", type=int, default=5)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path, help="write the measurements here")
    args = ap.parse_args()
    a = args.assignment
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as t:
        tmp = Path(t)
        (tmp / "exchange").mkdir(mode=0o777)
        shutil.copytree(ROOT / "release" / a, tmp / "nbcourse" / "release" / a)
        (tmp / "student").mkdir()
        options = [
            f"--Exchange.root={tmp / 'exchange'}",
            f"--CourseDirectory.course_id={COURSE_ID}",
            f"--Exchange.cache={tmp / 'student' / '.cache'}",
        ]
        nbgrader("release_assignment", a, cwd=tmp / "nbcourse", options=options)
        nbgrader("fetch_assignment", a, cwd=tmp / "student", options=options)
        watch_cmd = [
            sys.executable,
            "-m",
            "autograder.cli",
            "watch",
            "--assignment",
            a,
            "--device",
            "cpu",
            "--workers",
            str(args.workers),
            "--db",
            f"sqlite:///{tmp / 'gradebook.db'}",
            "--store",
            str(tmp / "store"),
            "--",
            *options[:2],
            f"--CourseDirectory.root={tmp / 'nbcourse'}",
        ]
        start = time.time()
        watcher = subprocess.Popen(watch_cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            folder, _ = submit(tmp, a, options, 0)  # warm-up: the pool boots, the expected values fill
            cold = wait_for(feedback_path(tmp / "exchange", folder, a), watcher) - start
            times = []
            for n in range(1, args.submissions + 1):
                folder, submitted = submit(tmp, a, options, n)
                times.append(wait_for(feedback_path(tmp / "exchange", folder, a), watcher) - submitted)
                print(f"submission {n}: feedback {times[-1]:.2f} s after nbgrader submit", flush=True)
        finally:
            watcher.terminate()
            out, err = watcher.communicate(timeout=120)
        load = os.getloadavg()
        summary = {
            "command": f"python bench/watch.py --assignment {a} --submissions {args.submissions}",
            "assignment": a,
            "cpus": os.cpu_count(),
            "load_average_1_5_15": [round(x, 2) for x in load],
            "start_to_first_feedback_s": round(cold, 2),
            "submit_to_feedback_s": [round(x, 2) for x in times],
            "median_s": round(statistics.median(times), 2),
            "max_s": round(max(times), 2),
            "watch_log": out.splitlines(),
        }
        print(
            f"{a}: submit to feedback, warm: median {summary['median_s']} s, max {summary['max_s']} s over "
            f"{len(times)} (first one, from starting course watch: {summary['start_to_first_feedback_s']} s; "
            f"load average {load[0]:.1f} on {os.cpu_count()} cores)"
        )
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
