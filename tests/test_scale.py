"""Grading many: parallel, on a dask cluster and resumed after a kill, with the same grades as
one at a time; a hanging submission never holds a worker past its time limit."""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, make_submission

from autograder.grading import grade

A = "03_minibatch_training"
pytestmark = pytest.mark.slow
HANG = "def logsumexp(x):\n    while True:\n        pass\n"


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> list:
    """A realistic mix: correct, buggy, stubs, and one that hangs."""
    tmp = tmp_path_factory.mktemp("batch")
    samples = ROOT / "samples" / A
    return [
        samples / "perfect.ipynb",
        samples / "buggy.ipynb",
        samples / "stubs.ipynb",
        make_submission(tmp, A, "hangs", {"logsumexp": HANG}),
    ]


def _quick(course):
    return dataclasses.replace(course, limits=dataclasses.replace(course.limits, exercise_timeout=5))


@pytest.fixture(scope="module")
def sequential(course, batch) -> list[dict]:
    return grade.grade(_quick(course), A, [(p.stem, p) for p in batch], ["cpu"], 1, workers=1)


def test_parallel_grading_gives_the_same_report(course, batch, sequential):
    assert grade.grade(_quick(course), A, [(p.stem, p) for p in batch], ["cpu"], 1, workers=3) == sequential


def test_a_dask_cluster_gives_the_same_report(course, batch, sequential):
    distributed = pytest.importorskip("distributed")
    from autograder.grading import cluster

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1", dashboard_address=None
    ) as lc:
        remote = cluster.grade(lc.scheduler_address, _quick(course), A, [(p.stem, p) for p in batch], ["cpu"], 1)
    assert remote == sequential


def _course(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "--root", str(ROOT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _stored(folder) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (folder / A).glob("*.json")}


def test_a_killed_batch_resumes_without_losing_or_repeating(tmp_path):
    subs = []
    for i in range(6):  # distinct notebooks: a different extra cell each
        subs.append(make_submission(tmp_path, A, f"student{i}", extra_cells=[f"x_{i} = {i}"]))
    store, report = tmp_path / "store", tmp_path / "report.json"
    args = ["grade", A, *map(str, subs), "--store", str(store), "--workers", "1", "--json", str(report)]
    first = _course(args)
    deadline = time.monotonic() + 300
    while len(_stored(store)) < 2 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    kept = _stored(store)
    assert 2 <= len(kept) < 6, "the kill came too late to test anything"
    assert not report.exists()
    assert not [p for p in (store / A).iterdir() if p.name.startswith(".")], "a half-written grade was left"
    second = _course(args)
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, err
    after = _stored(store)
    assert len(after) == 6
    assert all(after[name] == kept[name] for name in kept), "a stored grade was graded again"
    results = json.loads(report.read_text())["results"]
    assert [r["student"] for r in results] == [f"student{i}" for i in range(6)]
    assert all(r["score"] == r["max_score"] for r in results)
    # nothing left to do: a third run grades nothing; --force grades everything again
    third = _course(args)
    third.communicate(timeout=600)
    assert _stored(store) == after
    forced = _course([*args, "--force"])
    forced.communicate(timeout=600)
    assert len(set(_stored(store)) - set(after)) == 6, "--force grades everything again (with a new seed)"


def test_a_hanging_submission_never_holds_a_worker_past_its_limit(course, tmp_path):
    # SIGALRM ignored: the cell time limit cannot stop it, only killing the process can
    stuck = "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.05)"
    hang = make_submission(tmp_path, A, "hang", extra_cells=[stuck])
    stubs = ROOT / "samples" / A / "stubs.ipynb"
    limits = dataclasses.replace(course.limits, cell_timeout=2, exercise_timeout=4, submission_timeout=8)
    arrived: dict[str, float] = {}
    start = time.monotonic()
    results = grade.grade(
        dataclasses.replace(course, limits=limits),
        A,
        [("hang", hang), *[(f"stubs{i}", stubs) for i in range(4)]],
        ["cpu"],
        1,
        workers=2,
        on_result=lambda r: arrived.setdefault(r["student"], time.monotonic() - start),
    )
    assert "timeout" in {e["status"] for e in results[0]["exercises"]}
    assert [r["score"] for r in results[1:]] == [0] * 4 and all(not r["errors"] for r in results[1:])
    # generous slack for a loaded machine; without the limit it would hang for good
    assert arrived["hang"] < limits.submission_timeout + 30


def test_progress_is_one_line_per_submission_off_a_terminal(tmp_path):
    p = _course(
        [
            "grade",
            A,
            str(ROOT / "samples" / A / "stubs.ipynb"),
            str(ROOT / "samples" / A / "perfect.ipynb"),
            "--no-store",
            "--workers",
            "2",
        ]
    )
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    lines = [line for line in err.splitlines() if line.startswith("[")]
    assert sorted(lines) == ["[1/2] perfect: 20/20", "[2/2] stubs: 0/20"] or sorted(lines) == [
        "[1/2] stubs: 0/20",
        "[2/2] perfect: 20/20",
    ], err
    assert "\r" not in err
