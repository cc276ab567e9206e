"""The CUDA path: every check runs with inputs on the GPU. Skipped where no GPU exists."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import ASSIGNMENTS, ROOT, grade_files, make_submission, statuses

from autograder.checks import Context
from autograder.checks.judges import close
from autograder.wire import Array

BOTH = ("cpu", "cuda")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def test_a_result_on_the_wrong_device_fails_the_judge(course):
    ctx = Context(device="cuda", tolerance=course.tolerance)
    want = Array(np.zeros(3, np.float32), "float32", "cuda:0")
    got = Array(np.zeros(3, np.float32), "float32", "cpu")
    assert "on cuda:0, got one on cpu" in close(got, want, ctx)


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_full_marks_on_cuda(course, assignment):
    (r,) = grade_files(course, assignment, [ROOT / "samples" / assignment / "perfect.ipynb"], 3, BOTH)
    assert r["score"] == r["max_score"], [e for e in r["exercises"] if e["status"] != "passed"]
    assert {c["device"] for e in r["exercises"] for c in e["checks"]} == {"cpu", "cuda"}


@pytest.mark.cuda
@needs_cuda
def test_moving_data_to_the_cpu_fails_the_cuda_checks_only(course, tmp_path):
    sneaky = (
        "def logsumexp(x):\n"
        "    x = x.cpu()\n"
        "    m = x.max(-1)[0]\n"
        "    return m + (x - m[:, None]).exp().sum(-1).log()\n"
    )
    path = make_submission(tmp_path, "03_minibatch_training", "sneaky", {"logsumexp": sneaky})
    (r,) = grade_files(course, "03_minibatch_training", [path], 3, BOTH)
    checks = r["exercises"][0]["checks"]
    assert all(c["passed"] for c in checks if c["device"] == "cpu")
    assert not any(c["passed"] for c in checks if c["device"] == "cuda")
    assert statuses(r)["log_softmax"] == "passed"


@pytest.mark.cuda
@needs_cuda
def test_a_device_side_assert_stays_in_its_exercise(course, tmp_path):
    poison = "def nll(input, target):\n    return -input[range(target.shape[0]), target + 1000].mean()\n"
    path = make_submission(tmp_path, "03_minibatch_training", "poison", {"nll": poison})
    (r,) = grade_files(course, "03_minibatch_training", [path], 3, BOTH)
    st = statuses(r)
    assert st["nll"] in ("failed", "error")
    assert all(s == "passed" for ex, s in st.items() if ex != "nll")


TF32_ON = (
    "import torch\n"
    "torch.backends.cuda.matmul.allow_tf32 = True\n"
    "torch.backends.cudnn.allow_tf32 = True\n"
    "torch.set_float32_matmul_precision('medium')\n"
)
CUDNN_FAST = "import torch\ntorch.backends.cudnn.benchmark = True\ntorch.backends.cudnn.deterministic = False\n"


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("cell", [TF32_ON, CUDNN_FAST], ids=["tf32", "cudnn-benchmark"])
def test_a_notebooks_cuda_precision_settings_do_not_cost_marks(course, tmp_path, assignment, cell):
    """TF32 (about 3 decimal digits in a float32 matmul) and cudnn's autotuner are process-wide switches
    a notebook may turn on in any cell; the probes run with the defaults (sandbox.limits.torch_resetter), so a
    correct notebook keeps full marks on CUDA."""
    path = make_submission(tmp_path, assignment, "fast", extra_cells=[cell])
    (r,) = grade_files(course, assignment, [path], 3, BOTH)
    assert r["score"] == r["max_score"], [e for e in r["exercises"] if e["status"] != "passed"]
    assert {c["device"] for e in r["exercises"] for c in e["checks"]} == {"cpu", "cuda"}
