"""The sandbox's protocol on its own: the notebook's cells run once, each exercise in a fork of
that process, and jobs that may stay (a device other than the CPU: one CUDA context per
submission) share one process until a device error ends it. Runs on the CPU: a job may stay on
any device, and a "CUDA error" in a reply ends the process whatever raised it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import make_submission

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


def _pids(course, path: Path, stay: bool) -> dict[str, set[float]]:
    """Each exercise's pids, as its first check's reply says: the process that ran it."""
    ref = Reference(course, course.assignment(A))
    nb = notebook.read(path)
    out = {}
    with Pool(course.root, [ref.assignment.module], env(Path(tempfile.gettempdir()))) as pool:
        with Sandbox(cells_to_run(nb, ref), course, ref.assignment.module, pool) as box:
            for ex in ("logsumexp", "log_softmax", "nll"):
                checks = [c.name for c in registry(ref.assignment.module).for_exercise(ex)]
                job = Job(
                    ex,
                    ref.assignment.module,
                    checks,
                    ref.refs_before(ex),
                    ["cpu"],
                    1,
                    nb.solutions()[ex].index,
                    stay=stay,
                )
                run = box.run(job, 30)
                assert run.outcome == "done", run.message
                values = [r["value"] for r in run.results.values() if "value" in r]
                out[ex] = {float(np.asarray(v.values).ravel()[0]) for v in values if hasattr(v, "values")}
    return out


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
