"""Malformed, crashing and hanging submissions get clear statuses; the batch goes on."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, grade_files, make_submission, statuses

A = "03_minibatch_training"
pytestmark = pytest.mark.slow


def test_malformed_files_get_a_result_naming_the_file(course, tmp_path):
    bad = {
        "not_json": b"this is not json",
        "empty": b"",
        "binary": bytes(range(256)),
        "truncated": (ROOT / "samples" / A / "perfect.ipynb").read_bytes()[:5000],
        "old_format": json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}).encode(),
        "no_cells": json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}}).encode(),
        "other_assignment": (ROOT / "samples" / "05_anneal" / "perfect.ipynb").read_bytes(),
    }
    paths = []
    for name, data in bad.items():
        (tmp_path / f"{name}.ipynb").write_bytes(data)
        paths.append(tmp_path / f"{name}.ipynb")
    paths.append(tmp_path / "does_not_exist.ipynb")
    paths.append(ROOT / "samples" / A / "perfect.ipynb")
    results = grade_files(course, A, paths)
    for r in results[:-1]:
        assert set(statuses(r).values()) == {"error"}, r["student"]
        assert r["score"] == 0
        assert r["errors"] and r["student"] in r["errors"][0], r["errors"]
    assert "05_anneal" in results[6]["errors"][0]
    assert results[-1]["score"] == results[-1]["max_score"]


def test_crash_and_hang_are_reported_per_exercise(course, tmp_path):
    crash = "import os\ndef logsumexp(x):\n    os._exit(3)\n"
    hang = "def nll(input, target):\n    while True: pass\n"
    segv = "def accuracy(out, yb):\n    import ctypes; ctypes.string_at(0)\n"
    exits = "import sys\ndef collate(b):\n    sys.exit(0)\n"
    path = make_submission(tmp_path, A, "bad", {"logsumexp": crash, "nll": hang, "accuracy": segv, "collate": exits})
    (r,) = grade_files(course, A, [path], exercise_timeout=8)
    st = statuses(r)
    assert st["logsumexp"] == "error" and "exit code 3" in r["exercises"][0]["message"]
    assert st["nll"] == "timeout"
    assert st["accuracy"] == "error" and "SIGSEGV" in r["exercises"][3]["message"]
    assert st["collate"] == "failed"
    assert "SystemExit" in r["exercises"][8]["checks"][0]["message"]
    others = {k: v for k, v in st.items() if k not in ("logsumexp", "nll", "accuracy", "collate")}
    assert set(others.values()) == {"passed"}


def test_a_raising_cell_is_reported_and_the_next_cells_run(course, tmp_path):
    path = make_submission(tmp_path, A, "raises", extra_cells=["raise SystemExit('bye')", "x = 1/0"])
    nb = json.loads(path.read_text())
    nb["cells"].insert(3, nb["cells"].pop())  # the 1/0 cell early in the notebook
    path.write_text(json.dumps(nb))
    (r,) = grade_files(course, A, [path])
    assert r["score"] == r["max_score"]
    assert any("ZeroDivisionError" in e for e in r["errors"]) and any("SystemExit" in e for e in r["errors"])


def test_missing_and_duplicated_and_tampered_cells(course, tmp_path):
    path = make_submission(tmp_path, A, "tampered")
    nb = json.loads(path.read_text())
    by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in nb["cells"]}
    by_id["nll"]["metadata"]["nbgrader"]["grade_id"] = "nll_renamed"
    by_id["Dataset"]["metadata"]["nbgrader"]["grade_id"] = "collate"
    locked = next(
        c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("locked") and c["cell_type"] == "code"
    )
    locked["source"] = "# changed\n" + "".join(locked["source"])
    path.write_text(json.dumps(nb))
    (r,) = grade_files(course, A, [path])
    assert statuses(r)["nll"] == "missing" and statuses(r)["Dataset"] == "missing"
    assert any("'collate' is used by 2 cells" in e for e in r["errors"])
    assert any("was changed" in e for e in r["errors"])


@pytest.mark.parametrize(
    "source",
    [
        "def logsumexp(x):\n    return torch.logsumexp(x, -1)\n",
        "def logsumexp(x):\n    return x.logsumexp(-1)\n",
        "from torch import logsumexp as lse\ndef logsumexp(x):\n    return lse(x, -1)\n",
        "def logsumexp(x):\n    return getattr(torch, 'logsumexp')(x, -1)\n",
        "from solutions.minibatch_training import logsumexp\n",
    ],
)
def test_forbidden_function_scores_zero_with_a_reason(course, tmp_path, source):
    (r,) = grade_files(course, A, [make_submission(tmp_path, A, "cheat", {"logsumexp": source})])
    ex = r["exercises"][0]
    assert ex["status"] == "forbidden" and ex["score"] == 0 and ex["message"]
    assert statuses(r)["log_softmax"] == "passed"


def test_a_solution_cell_that_hangs_is_a_timeout_of_its_own_exercise_only(course, tmp_path):
    # The cell hangs at top level, so it times out while the first exercise runs the notebook;
    # its own exercise must then say so, not report a malformed reply.
    hang = "while True: pass\n"
    path = make_submission(tmp_path, A, "hangs", {"nll": hang})
    (r,) = grade_files(course, A, [path], cell_timeout=1, exercise_timeout=20)
    st = statuses(r)
    assert st["nll"] == "timeout", r["exercises"]
    nll = next(e for e in r["exercises"] if e["id"] == "nll")
    assert "did not finish within the cell time limit" in nll["message"] and "malformed" not in nll["message"]
    assert all(s == "passed" for ex, s in st.items() if ex != "nll"), st


def test_a_hanging_cell_is_cut_and_the_submission_limit_holds(course, tmp_path):
    path = make_submission(tmp_path, A, "sleepy", extra_cells=["import time\nwhile True: time.sleep(0.1)"])
    (r,) = grade_files(course, A, [path], cell_timeout=1, exercise_timeout=20)
    assert r["score"] == r["max_score"]
    assert any("timed out after 1 s" in e for e in r["errors"])
    path = make_submission(
        tmp_path,
        A,
        "slow",
        {
            "logsumexp": "import time\ndef logsumexp(x):\n    time.sleep(3)\n",
            "log_softmax": "import time\ndef log_softmax(x):\n    time.sleep(3)\n",
        },
    )
    (r,) = grade_files(course, A, [path], exercise_timeout=2, submission_timeout=4)
    st = statuses(r)
    assert st["logsumexp"] == "timeout"
    assert "timeout" in st.values() and r["exercises"][-1]["status"] == "timeout"
    assert "time limit" in r["exercises"][-1]["message"]


def test_no_process_is_left_behind(course, tmp_path):
    import psutil

    spawn = "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    path = make_submission(tmp_path, A, "spawner", extra_cells=[spawn])
    before = {p.pid for p in psutil.process_iter()}
    grade_files(course, A, [path])

    def alive_sleeper(p):
        try:
            return p.status() != psutil.STATUS_ZOMBIE and "sleep(600)" in " ".join(p.cmdline())
        except psutil.Error:
            return False  # gone, or a zombie: dead either way

    assert [p for p in psutil.process_iter() if p.pid not in before and alive_sleeper(p)] == []


def test_a_forged_reply_voids_the_exercise(course, tmp_path):
    forger = """import sys
def logsumexp(x):
    f = sys._getframe()
    while f is not None and "send" not in f.f_locals:
        f = f.f_back
    if f is not None:   # the sandbox's own reply function: send a result ahead of the real one
        f.f_locals["send"]({"kind": "check", "name": "large inputs stay finite", "device": "cpu", "value": 0})
    m = x.max(-1)[0]
    return m + (x - m[:, None]).exp().sum(-1).log()
"""
    (r,) = grade_files(course, A, [make_submission(tmp_path, A, "forger", {"logsumexp": forger})])
    ex = r["exercises"][0]
    assert ex["status"] == "error" and ex["score"] == 0 and "malformed" in ex["message"]
    assert statuses(r)["log_softmax"] == "passed"


def test_a_memory_blow_up_is_an_error_of_its_exercise_only(course, tmp_path):
    hog = "def accuracy(out, yb):\n    return torch.ones(16 * 2**30).sum()  # 64 GiB\n"
    (r,) = grade_files(course, A, [make_submission(tmp_path, A, "hog", {"accuracy": hog})])
    ex = next(e for e in r["exercises"] if e["id"] == "accuracy")
    assert ex["score"] == 0 and ex["status"] in ("failed", "error")
    assert (
        any("memory" in c["message"].lower() or "alloc" in c["message"].lower() for c in ex["checks"])
        or "signal" in ex["message"]
    )
    assert all(e["status"] == "passed" for e in r["exercises"] if e["id"] != "accuracy")


def test_notebook_wide_settings_and_magics_do_not_change_the_grade(course, tmp_path):
    """A student's float64 default, disabled grad, magics and shell lines are their notebook's business."""
    path = make_submission(
        tmp_path,
        A,
        "settings",
        extra_cells=[
            "%matplotlib inline\n!echo hi\ntorch.set_default_dtype(torch.float64)\ntorch.set_grad_enabled(False)"
        ],
    )
    nb = json.loads(path.read_text())
    nb["cells"].insert(2, nb["cells"].pop())  # the settings cell first, before every exercise
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "nll":
            cell["source"] = "%%time\n" + "".join(cell["source"])
    path.write_text(json.dumps(nb))
    (r,) = grade_files(course, A, [path])
    assert r["score"] == r["max_score"], [(e["id"], e["message"]) for e in r["exercises"] if e["status"] != "passed"]


def test_cells_that_never_finish_cost_one_exercise_limit_not_one_per_exercise(course, tmp_path):
    # signal.alarm cannot interrupt this: it never returns to the interpreter's eval loop
    stuck = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nimport time\nwhile True: time.sleep(0.05)"
    path = make_submission(tmp_path, A, "stuck", extra_cells=[stuck])
    nb = json.loads(path.read_text())
    nb["cells"].insert(3, nb["cells"].pop())
    path.write_text(json.dumps(nb))
    import time

    start = time.monotonic()
    (r,) = grade_files(course, A, [path], cell_timeout=1, exercise_timeout=4)
    assert time.monotonic() - start < 30
    assert set(statuses(r).values()) == {"timeout"}
    assert "not run again" in r["exercises"][-1]["message"]


# A solution cell, which runs once with the notebook and again in its exercise's own process:
# logsumexp is right only where `check` ran to its end and set `_ok`. Anything the check raises,
# a write refused included, makes it wrong: a test that cannot see its own failure proves nothing.
LOGSUMEXP = "def logsumexp(x):\n    m = x.max(-1)[0]\n    return m + (x - m[:, None]).exp().sum(-1).log()\n"
WRONG = "def logsumexp(x):\n    return x.sum(-1)\n"


def _indent(code: str) -> str:
    return "".join("    " + line + "\n" for line in code.splitlines())


def _submission(tmp_path, name: str, first_cell: str, check: str):
    """logsumexp is right only where `check` (run in its cell) sets `_ok`; `first_cell` runs first."""
    cell = (
        "_ok = False\ntry:\n" + _indent(check) + "except BaseException:\n    _ok = False\n"
        "if _ok:\n" + _indent(LOGSUMEXP) + "else:\n" + _indent(WRONG)
    )
    path = make_submission(tmp_path, A, name, {"logsumexp": cell})
    nb = json.loads(path.read_text())
    nb["cells"].insert(
        0,
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "first",
            "metadata": {},
            "outputs": [],
            "source": first_cell,
        },
    )
    path.write_text(json.dumps(nb))
    return path


def test_the_cells_run_once_per_submission_and_a_hang_costs_its_time_once(course, tmp_path):
    """The first cell counts its runs in memory and in a file, then hangs until the cell time limit
    cuts it. Every exercise's process sees one run: the notebook ran once, not once per exercise.
    A write that fails counts as a second run, so the file cannot fail quietly."""
    first = (
        "_runs = globals().get('_runs', 0) + 1\n"
        "try:\n    with open('runs.txt', 'a') as f:\n        f.write('run\\n')\n"
        "except BaseException:\n    _runs += 1\n"
        "import time\nwhile True: time.sleep(0.05)\n"
    )
    check = "_ok = _runs == 1 and open('runs.txt').read().count('run') == 1\n"
    path = _submission(tmp_path, "once", first, check)
    (r,) = grade_files(course, A, [path], cell_timeout=1)
    assert statuses(r)["logsumexp"] == "passed", r["exercises"][0]
    assert r["score"] == r["max_score"]
    assert sum("timed out after 1 s" in e for e in r["errors"]) == 1, r["errors"]


def test_each_exercise_writes_to_a_folder_no_other_exercise_can_read(course, tmp_path):
    """logsumexp's process reads what the cells wrote (through its own folder), writes in its own
    folder and nowhere else; log_softmax's process, graded next, finds only what the cells' run of
    that cell left, not what logsumexp's process did (each writes a file named for its pid)."""
    first = "with open('from-cells.txt', 'w') as f:\n    f.write('cells')\n"
    check = (
        "import glob, os\n"
        "_ok = open('from-cells.txt').read() == 'cells'\n"
        "with open(f'mine-{os.getpid()}.txt', 'w') as f:\n    f.write('first')\n"
        "try:\n    open('../elsewhere.txt', 'w')\n    _ok = False\nexcept PermissionError:\n    pass\n"
        "_ok = _ok and os.path.exists(f'mine-{os.getpid()}.txt')\n"
    )
    path = _submission(tmp_path, "folders", first, check)
    # log_softmax, graded after logsumexp, looks for the file logsumexp's process left
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "log_softmax")
    cell["source"] = "".join(cell["source"]) + (
        "\nimport glob, os\n"
        "if len({os.path.realpath(p) for p in glob.glob('../*/mine-*.txt') + glob.glob('mine-*.txt')}) > 1:\n"
        "    def log_softmax(x):\n        return x\n"
    )
    path.write_text(json.dumps(nb))
    (r,) = grade_files(course, A, [path])
    st = statuses(r)
    assert st["logsumexp"] == "passed", r["exercises"][0]
    assert st["log_softmax"] == "passed", r["exercises"][1]
