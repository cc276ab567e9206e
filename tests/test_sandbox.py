"""The sandbox's protocol on its own: the notebook's cells run once, each exercise in a fork of
that process, and jobs that may stay (a device other than the CPU: one CUDA context per
submission) run in the cells' process itself, one after another, until a device error ends it
and the next starts a fresh sandbox. Runs on the CPU: a job may stay on any device, and a "CUDA
error" in a reply ends the process whatever raised it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, make_submission

from autograder import notebook
from autograder.checks import registry
from autograder.grading.grade import cells_to_run
from autograder.grading.reference import Reference
from autograder.sandbox.box import Job, Sandbox, env
from autograder.sandbox.pool import Pool

A = "03_minibatch_training"
pytestmark = pytest.mark.slow

PID = "import os, torch\n"
LOGSUMEXP = PID + "def logsumexp(x):\n    return torch.full(x.shape[:-1], float(os.getpid()))\n"
LOG_SOFTMAX = PID + "def log_softmax(x):\n    return torch.full_like(x, float(os.getpid()))\n"
POISONED = PID + "def log_softmax(x):\n    raise RuntimeError('CUDA error: device-side assert triggered (pretend)')\n"
NLL = PID + "def nll(input, target):\n    return torch.tensor(float(os.getpid()))\n"


def _runs(course, path: Path, stay: bool, exercises: list[str]) -> dict:
    """Each exercise's run, in one sandbox, in order. With `stay`, as the CUDA probes run: in the
    cells' process itself (`inline`), one job after another."""
    ref = Reference(course, course.assignment(A))
    nb = notebook.read(path)
    out = {}
    with Pool(course.root, [ref.assignment.module], env(Path(tempfile.gettempdir()))) as pool:
        with Sandbox(cells_to_run(nb, ref), course, ref.assignment.module, pool, inline=stay) as box:
            for ex in exercises:
                checks = [c.name for c in registry(ref.assignment.module).for_exercise(ex)]
                index = nb.solutions()[ex].index
                job = Job(ex, ref.assignment.module, checks, ref.refs_before(ex), ["cpu"], 1, index, stay=stay)
                out[ex] = box.run(job, 60)
                assert out[ex].outcome == "done", out[ex].message
    return out


def _pids(course, path: Path, stay: bool) -> dict[str, set[float]]:
    """Each exercise's pids, as its checks' replies say: the process that ran it."""
    runs = _runs(course, path, stay, ["logsumexp", "log_softmax", "nll"])
    return {
        ex: {
            float(np.asarray(r["value"].values).ravel()[0])
            for r in run.results.values()
            if hasattr(r.get("value"), "values")  # a tensor came back
        }
        for ex, run in runs.items()
    }


def test_each_exercise_runs_in_a_process_of_its_own(course, tmp_path):
    path = make_submission(tmp_path, A, "pids", {"logsumexp": LOGSUMEXP, "log_softmax": LOG_SOFTMAX, "nll": NLL})
    pids = _pids(course, path, stay=False)
    assert all(len(p) == 1 for p in pids.values()), pids
    assert len(set.union(*pids.values())) == 3, pids


def test_jobs_that_stay_share_one_process_until_a_device_error(course, tmp_path):
    path = make_submission(tmp_path, A, "shared", {"logsumexp": LOGSUMEXP, "log_softmax": LOG_SOFTMAX, "nll": NLL})
    pids = _pids(course, path, stay=True)
    assert len(set.union(*pids.values())) == 1, pids
    path = make_submission(tmp_path, A, "poisoned", {"logsumexp": LOGSUMEXP, "log_softmax": POISONED, "nll": NLL})
    pids = _pids(course, path, stay=True)
    assert pids["log_softmax"] == set()  # it raised
    assert pids["nll"] and pids["nll"] != pids["logsumexp"], pids  # a fresh process after the error


def _replies(course, stay: bool) -> dict:
    """Every exercise's replies for the perfect notebook, as plain lists."""
    path = ROOT / "samples" / A / "perfect.ipynb"
    runs = _runs(course, path, stay, course.assignment(A).exercises)
    return {key: _plain(r) for run in runs.values() for key, r in run.results.items()}


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "values") and hasattr(value, "dtype"):
        return [value.dtype, value.device, np.asarray(value.values).tolist()]
    return value


def test_the_cells_process_running_the_exercises_itself_gives_the_same_replies(course):
    """How the CUDA probes run (inline, one process for all exercises) against how the CPU's do
    (a process per exercise): on the CPU, every reply of the perfect notebook is the same."""
    assert _replies(course, stay=True) == _replies(course, stay=False)
