"""The grader's start-up: expected values kept on disk per key, the pool server started early,
and nbgrader's checksum without nbgrader's package import. No sandbox: each test takes well under
a few seconds."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import notebook
from autograder.grading import expected as expected_mod
from autograder.grading.expected import KEEP, Expected
from autograder.grading.reference import Reference
from autograder.sandbox import pool as pool_mod

ROOT = Path(__file__).resolve().parents[1]
A = "03_minibatch_training"
SOME = {"logsumexp": 2.0, "nll": 2.0, "accuracy": 1.0}  # a few exercises: quick, with an oracle check


def small(course, root: Path | None = None) -> Reference:
    a = dataclasses.replace(course.assignment(A), points=SOME)
    c = course if root is None else dataclasses.replace(course, root=root)
    return Reference(c, a)


@pytest.fixture
def counted(monkeypatch):
    """How many probe results `Expected` computed (each reference or torch run of a probe)."""
    calls = []
    plain = Expected.plain

    def spy(self, check, ns, device):
        calls.append(check.name)
        return plain(self, check, ns, device)

    monkeypatch.setattr(Expected, "plain", spy)
    return calls


def plain(e: Expected) -> str:
    return json.dumps(sorted(e._plain.items()), sort_keys=True)


def test_a_hit_gives_the_fresh_values_without_the_reference(course, tmp_path, counted):
    fresh = Expected(small(course), 7)
    fresh.fill(["cpu"])  # no cache: computed
    n = len(counted)
    assert n > 0 and not list(tmp_path.rglob("*.json"))

    first = Expected(small(course), 7)
    first.fill(["cpu"], cache=tmp_path)  # a miss: computed and kept
    assert len(counted) == 2 * n
    (file,) = tmp_path.rglob("*.json")
    assert file.parent.name == A and file.stem == first.key(["cpu"])

    ref = small(course)
    hit = Expected(ref, 7)
    hit.fill(["cpu"], cache=tmp_path)
    assert len(counted) == 2 * n  # nothing computed
    assert "namespace" not in ref.__dict__ and "oracle" not in ref.__dict__  # the reference was never needed
    assert plain(hit) == plain(fresh)
    assert hit.cache.keys() == fresh.cache.keys()
    for key, (want, torch_says) in fresh.cache.items():  # decoded alike: Arrays, numbers, lists
        assert repr(hit.cache[key]) == repr((want, torch_says))


@pytest.mark.parametrize(
    "damage",
    [
        "",
        "{not json",
        "[]",
        '{"format": 1}',
        "truncate",
        "bad tensor",
        "other key",
    ],
)
def test_a_corrupt_file_is_ignored_and_written_anew(course, tmp_path, counted, damage):
    good = Expected(small(course), 3)
    good.fill(["cpu"], cache=tmp_path)
    (file,) = tmp_path.rglob("*.json")
    text, n = file.read_text(), len(counted)
    if damage == "truncate":
        bad = text[: len(text) // 2]
    elif damage == "bad tensor":
        bad = text.replace('"data": "', '"data": "!!', 1)
        assert bad != text
    elif damage == "other key":
        doc = json.loads(text)
        doc["key"] = "0" * 64
        bad = json.dumps(doc)
    else:
        bad = damage
    file.write_text(bad)

    again = Expected(small(course), 3)
    again.fill(["cpu"], cache=tmp_path)  # no error
    assert len(counted) == 2 * n  # computed again
    assert plain(again) == plain(good)
    assert json.loads(file.read_text())["key"] == file.stem  # and written anew, whole

    third = Expected(small(course), 3)
    third.fill(["cpu"], cache=tmp_path)
    assert len(counted) == 2 * n  # a hit again


def test_another_seed_or_course_toml_is_a_miss(course, tmp_path, counted):
    Expected(small(course), 1).fill(["cpu"], cache=tmp_path)
    n = len(counted)
    Expected(small(course), 2).fill(["cpu"], cache=tmp_path)  # another seed
    assert len(counted) == 2 * n
    assert len(list((tmp_path / A).glob("*.json"))) == 2

    root = tmp_path / "course"
    root.mkdir()
    toml = (ROOT / "course.toml").read_text()
    for d in ("source", "release"):
        shutil.copytree(ROOT / d / A, root / d / A)
    (root / "course.toml").write_text(toml)
    same = Expected(small(course, root), 1).key(["cpu"])
    assert same == Expected(small(course), 1).key(["cpu"])  # the same files: the same key
    (root / "course.toml").write_text(toml.replace("rtol = 1e-5", "rtol = 2e-5", 1))
    changed = Expected(small(course, root), 1)
    assert changed.key(["cpu"]) != same
    changed.fill(["cpu"], cache=tmp_path)
    assert len(counted) == 3 * n  # course.toml changed: a miss
    assert Expected(small(course), 1).key(["cpu", "cuda"]) != same  # devices are in the key too


def test_the_folder_keeps_the_newest_files(course, tmp_path):
    e = Expected(small(course), 5)
    folder = tmp_path / A
    folder.mkdir()
    for i in range(KEEP + 5):
        (folder / f"{i:064x}.json").write_text("{}")
    e.fill(["cpu"], cache=tmp_path)
    left = sorted(p.name for p in folder.glob("*.json"))
    assert len(left) == KEEP and f"{e.key(['cpu'])}.json" in left


def test_grading_keeps_its_expected_values_in_the_course(course):
    assert expected_mod.cache_folder(course) == course.root / ".grades" / ".expected"  # gitignored with .grades/


# ---- the pool server, started before the grader imports torch ------------------------------------


def test_a_pool_takes_over_the_server_started_early(monkeypatch, tmp_path):
    started = []

    def launch(course_root, modules, env):  # a stand-in server: a process that waits
        ours, theirs = socket.socketpair()
        theirs.close()
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
        started.append(proc)
        return ours, proc

    monkeypatch.setattr(pool_mod, "_launch", launch)
    monkeypatch.setattr(pool_mod, "_early", {})
    env = {"PATH": "/bin"}
    pool_mod.start_early(tmp_path, ["minibatch_training"], env)
    pool_mod.start_early(tmp_path, ["minibatch_training"], env)  # once is enough
    pool_mod.start_early(tmp_path, ["callbacks"], env)  # one nobody takes
    assert len(started) == 2
    p = pool_mod.Pool(tmp_path, ["minibatch_training"], dict(env))
    assert p.proc is started[0] and len(started) == 2  # taken over, not started again
    other = pool_mod.Pool(tmp_path, ["anneal"], env)  # nothing started early for it: its own
    assert other.proc is started[2]
    for q in (p, other):
        q._sock.close()
        q.proc.kill()
        q.proc.wait()
    pool_mod.stop_early()  # at exit: the one nobody took is stopped
    assert started[1].poll() is not None and not pool_mod._early


def test_the_cli_imports_no_torch_before_it_starts_the_pool():
    code = "import sys, autograder.cli; print('torch' in sys.modules, 'nbgrader' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ---- nbgrader's checksum ----------------------------------------------------------------------------


def test_the_checksum_is_nbgraders_without_importing_nbgrader():
    code = (
        "import sys; from autograder import notebook; "
        f"nb = notebook.read({str(ROOT / 'release' / A / (A + '.ipynb'))!r}); "
        "print('nbgrader' in sys.modules, sum(c.checksum is not None for c in nb.cells))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "False" and int(out[1]) > 10

    import nbformat
    from nbgrader.utils import compute_checksum

    nb = nbformat.read(ROOT / "release" / A / f"{A}.ipynb", as_version=4)
    ours = notebook._load_nbgrader_utils().compute_checksum
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")]
    assert cells and all(ours(c) == compute_checksum(c) for c in cells)
