"""Attacks on the grader. Each attack gains nothing, the honest rest of its notebook is still
graded in full, and the machine is left clean. See README, "Security".

An attack is one submission: the reference notebook with one exercise (`target`) replaced and
perhaps cells added. Its expectation says what the target must end as:

- "blocked": the target is a *correct* function that first tries the attack and raises
  "attack succeeded: ..." if it worked; so it passes exactly when the defence held;
- "no gain": the target is *wrong* (all zeros) and the attack tries to make it look right;
  it must still score 0;
- a status ("forbidden", "error", "timeout", "missing"): the fault is reported as that, with
  a message, and scores 0.

Resource attacks are bounded (at most a few hundred processes, a GiB written, one huge
allocation refused by the address-space limit), so the suite is safe on a grader without
a sandbox: there the "blocked" attacks fail their test instead of harming the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from conftest import ROOT, grade_files, make_submission, statuses

A = "03_minibatch_training"
pytestmark = pytest.mark.slow

CORRECT = "    m = x.max(-1)[0]\n    return m + (x - m[:, None]).exp().sum(-1).log()\n"
ZEROS = "    return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)\n"
SECRET = "course-test-secret-1c0ffee"
CANARY = "/tmp/course-attack-canary"
IMPORTS = (
    "import builtins, ctypes, gc, glob, importlib, inspect, json, math, os, signal, socket, sys, time\n"
    "import numpy as np\nimport torch\n"
)


@dataclass
class Attack:
    name: str
    expect: str  # "blocked", "no gain", "unreadable" (every exercise error) or a status
    target: str = "logsumexp"
    source: str | None = None  # the target cell; None keeps the reference
    extra: list[str] = field(default_factory=list)
    edit: Callable[[dict], None] | None = None  # changes the notebook's JSON
    raw: bytes | None = None  # the whole file, instead of a notebook
    error: str = ""  # what the report's `errors` must mention


def blocked(name: str, attack: str, once: bool = False, extra: list[str] = ()) -> Attack:
    """A correct logsumexp that first tries `attack`; the attack sets `won` (what leaked) when it works."""
    body = textwrap.indent(textwrap.dedent(attack), " " * 8)
    guard = (
        "    if globals().get('_tried'):\n        return _finish(x, None)\n    globals()['_tried'] = True\n"
        if once
        else ""
    )
    source = (
        IMPORTS
        + "def _finish(x, won):\n    assert not won, 'attack succeeded: ' + str(won)[:200]\n"
        + CORRECT
        + f"def logsumexp(x):\n{guard}    won = None\n    try:\n{body}\n    except Exception:\n        pass\n"
        "    return _finish(x, won)\n"
    )
    return Attack(name, "blocked", source=source, extra=list(extra))


def wrong(name: str, attack: str = "", extra: list[str] = ()) -> Attack:
    """A wrong logsumexp (all zeros) that tries `attack` to look right."""
    body = textwrap.indent(textwrap.dedent(attack), "    ")
    return Attack(name, "no gain", source=IMPORTS + f"def logsumexp(x):\n{body}\n{ZEROS}", extra=list(extra))


def grader_pid() -> str:
    """Code finding the grader: the parent of the sandbox's parent."""
    return "int(open(f'/proc/{os.getppid()}/stat').read().rsplit(')', 1)[1].split()[1])"


LIAR_SUBCLASS = """
class Liar(torch.Tensor):
    def __eq__(self, other): return True
    def allclose(self, *a, **k): return True
    def equal(self, *a, **k): return True
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func.__name__ in ("allclose", "equal", "__eq__"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})
"""

ATTACKS = [
    # -- nothing from the sandbox is believed ------------------------------------------------------
    wrong(
        "prints a fake report", extra=['import json\nprint(json.dumps({"results": [{"score": 20, "max_score": 20}]}))']
    ),
    wrong(
        "writes results.json and grade files",
        attack=f'''
        for p in ["results.json", "grades.json", os.path.expanduser("~/results.json"), "{CANARY}-results.json",
                  "{ROOT}/results.json", "{ROOT}/gradebook.db"]:
            try:
                open(p, "w").write('{{"results": [{{"score": 20}}]}}')
            except OSError:
                pass''',
    ),
    wrong(
        "patches torch.allclose, torch.equal and Tensor.__eq__",
        extra=[
            "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
            "torch.isclose = lambda a, b, *r, **k: torch.ones_like(a, dtype=torch.bool)"
        ],
    ),
    wrong("patches torch.testing", extra=["import torch.testing\ntorch.testing.assert_close = lambda *a, **k: None"]),
    wrong(
        "patches numpy's comparisons",
        extra=[
            "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
            "np.array_equal = lambda *a, **k: True\n"
            "np.testing.assert_allclose = lambda *a, **k: None"
        ],
    ),
    wrong(
        "patches math and builtins while checked",
        attack="""
        math.isclose = lambda *a, **k: True
        math.isfinite = lambda *a: True
        builtins.all = lambda *a: True
        builtins.abs = lambda v: 0""",
    ),
    Attack(
        "returns a tensor subclass that lies",
        "no gain",
        source=IMPORTS + LIAR_SUBCLASS + "def logsumexp(x):\n"
        "    return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device).as_subclass(Liar)\n",
    ),
    Attack(
        "returns an object that equals everything",
        "no gain",
        source=IMPORTS
        + """
class Everything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __float__(self): return 0.0
    def __array__(self, *a, **k): return np.zeros(1)
def logsumexp(x):
    return Everything()
""",
    ),
    wrong(
        "hunts expected values with gc",
        attack="""
        want = tuple(x.shape[:-1])
        for o in gc.get_objects():
            if isinstance(o, torch.Tensor) and tuple(o.shape) == want and o is not x:
                return o.clone()""",
    ),
    wrong(
        "walks frames for expected values",
        attack="""
        f = sys._getframe()
        while f is not None:
            for k, v in f.f_locals.items():
                if k in ("expected", "want", "reference", "truth") and isinstance(v, torch.Tensor):
                    return v
            f = f.f_back""",
    ),
    wrong(
        "forges every remaining reply with the job's nonce",
        attack="""
        nonce = next(o["nonce"] for o in gc.get_objects() if isinstance(o, dict) and "nonce" in o and "checks" in o)
        job = next(o for o in gc.get_objects() if isinstance(o, dict) and o.get("nonce") == nonce and "checks" in o)
        for fd in range(3, 32):
            for d in job["devices"]:
                for n in job["checks"]:
                    msg = json.dumps({"nonce": nonce, "kind": "check", "name": n, "device": d, "value": 2.0}).encode()
                    try:
                        os.write(fd, len(msg).to_bytes(8, "little") + msg)
                    except OSError:
                        pass
            done = json.dumps({"nonce": nonce, "kind": "done"}).encode()
            try:
                os.write(fd, len(done).to_bytes(8, "little") + done)
            except OSError:
                pass
        os._exit(0)""",
    ),
    wrong(
        "replaces the worker's encoder",
        attack="""
        wire = sys.modules["autograder.wire"]
        wire.encode = lambda v: {"type": "float", "value": 1.0}""",
    ),
    # -- reference, checks and sources are out of reach -------------------------------------------
    blocked(
        "reads the reference solutions from disk",
        """
        won = open(os.path.join(sys.argv[5], "solutions", "minibatch_training.py")).read()""",
    ),
    blocked(
        "imports the reference solutions",
        """
        won = importlib.import_module("solu" + "tions.minibatch_training")""",
    ),
    blocked(
        "reads the checks' and grader's sources",
        """
        won = inspect.getsource(sys.modules["autograder.checks.minibatch_training"])""",
    ),
    blocked(
        "reads the source notebook's hidden tests and course.toml",
        """
        root = sys.argv[5]
        for p in glob.glob(root + "/source/*/*.ipynb") + [root + "/course.toml"]:
            won = open(p).read()""",
    ),
    blocked(
        "lists other submissions' sandboxes",
        """
        mine = os.path.realpath(os.getcwd())
        won = [p for p in glob.glob("/tmp/course-sandbox-*") if os.path.realpath(p) != mine and os.listdir(p)]""",
    ),
    blocked(
        "carries other exercises' references over to its own exercise",
        """
        won = open("refs.txt").read() if "def logsumexp" in open("refs.txt").read() else None""",
        extra=[
            """import gc, os
refs = [r["source"] for o in gc.get_objects() if isinstance(o, dict) and "refs" in o and isinstance(o["refs"], list)
        for r in o["refs"] if isinstance(r, dict)]
for p in ["refs.txt", os.path.expanduser("~/refs.txt")]:
    try:
        if refs:
            open(p, "a").write("\\n".join(refs))
    except OSError:
        pass"""
        ],
    ),
    blocked(
        "reads the grader's environment",
        f'''
        won = [k for k in os.environ if "{SECRET}" in os.environ[k]]
        won = won or ("{SECRET}" in open(f"/proc/{{{grader_pid()}}}/environ").read() and "/proc environ")''',
    ),
    # -- isolation of the process -----------------------------------------------------------------
    blocked(
        "connects to a server on the host",
        '''
        s = socket.create_connection(("127.0.0.1", PORT), timeout=2)
        s.sendall(b"pwned")
        won = "a TCP connection to the host"''',
        once=True,
    ),
    blocked(
        "sends UDP to the host",
        '''
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"pwned", ("127.0.0.1", UDP_PORT))
        won = "a UDP datagram sent"''',
        once=True,
    ),
    blocked(
        "writes outside its folder",
        f'''
        # existing files of the grader's are opened for appending but not written: harmless without a sandbox
        for p in ["{ROOT}/course.toml", "{ROOT}/autograder/__init__.py",
                  os.environ.get("MPLCONFIGDIR", "/nonexistent") + "/fontlist-v390.json"]:
            try:
                open(p, "a").close()
                won = p
            except OSError:
                pass
        for p in ["{CANARY}", "{ROOT}/course-attack-canary", os.path.expanduser("~/../course-attack-canary")]:
            try:
                open(p, "w").write("pwned")
                won = p
            except OSError:
                pass''',
        once=True,
    ),
    blocked(
        "takes privileges: chown, mount, /etc/passwd",
        """
        for attempt in (lambda: os.chown(".", 1, 1), lambda: open("/etc/passwd", "a"),
                        lambda: ctypes.CDLL(None, use_errno=True).mount(
                            b"none", b"/", None, 0x4000 | (1 << 18), None) == 0 or 1/0,
                        lambda: ctypes.CDLL(None, use_errno=True).unshare(0x40000000) == 0 or 1/0):
            try:
                attempt()
                won = "a privileged call worked"
            except Exception:
                pass""",
        once=True,
    ),
    blocked(
        "signals the grader and kills its sandbox parent",
        f'''
        try:
            os.kill({grader_pid()}, 0)
            won = "could signal the grader"
        except OSError:
            pass
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(1)
        won = won or "killed the sandbox parent"''',
        once=True,
    ),
    blocked(
        "reads the grader's memory",
        f'''
        won = open(f"/proc/{{{grader_pid()}}}/mem", "rb") and "opened /proc/<grader>/mem"''',
    ),
    blocked(
        "opens thousands of files",
        '''
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(5000)]
        won = f"{len(fds)} files open"''',
        once=True,
    ),
    blocked(
        "writes one huge file",
        '''
        with open("big", "wb") as f:
            for _ in range(100):
                f.write(b"x" * (1 << 20))
        won = "a 100 MiB file"''',
        once=True,
    ),
    blocked(
        "fills the disk",
        '''
        for i in range(20):
            with open(f"fill{i}", "wb") as f:
                for _ in range(50):
                    f.write(b"x" * (1 << 20))
        won = "1000 MiB written"''',
        once=True,
    ),
    # -- processes ends with the exercise ---------------------------------------------------------
    Attack(
        "starts a process storm",
        "passed",
        source=IMPORTS
        + """
def logsumexp(x):
    if not globals().get("_tried"):
        globals()["_tried"] = True
        for _ in range(300):   # bounded: safe on a grader without a sandbox
            try:
                if os.fork() == 0:
                    time.sleep(600)
                    os._exit(0)
            except OSError:
                break
"""
        + CORRECT,
    ),
    Attack(
        "leaves a detached daemon",
        "passed",
        source=IMPORTS
        + """
def logsumexp(x):
    if not globals().get("_tried"):
        globals()["_tried"] = True
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)  # course-attack-daemon"])
            os._exit(0)
"""
        + CORRECT,
    ),
    Attack(
        "floods stdout and stderr",
        "passed",
        source=IMPORTS
        + """
def logsumexp(x):
    if not globals().get("_tried"):
        globals()["_tried"] = True
        for _ in range(200):
            sys.stdout.write("x" * 100_000 + "\\n")
            sys.stderr.write("y" * 100_000 + "\\n")
"""
        + CORRECT,
    ),
    # -- faults are reported, never fatal ---------------------------------------------------------
    Attack("loops forever", "timeout", source="def logsumexp(x):\n    while True:\n        pass\n"),
    Attack("sleeps forever", "timeout", source="import time\ndef logsumexp(x):\n    time.sleep(10**6)\n"),
    Attack("calls os._exit", "error", source="import os\ndef logsumexp(x):\n    os._exit(0)\n"),
    Attack(
        "raises a BaseException of its own",
        "failed",
        source="class Escape(BaseException):\n    pass\ndef logsumexp(x):\n    raise Escape('out')\n",
    ),
    Attack("raises KeyboardInterrupt", "failed", source="def logsumexp(x):\n    raise KeyboardInterrupt\n"),
    Attack(
        "raises an exception whose str raises",
        "error",
        source="class Evil(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
        "def logsumexp(x):\n    raise Evil()\n",
    ),
    Attack(
        "segfaults by deep recursion",
        "error",
        # repr recurses in C: the C stack overflows
        source="import sys\ndef logsumexp(x):\n    sys.setrecursionlimit(10**8)\n    deep = []\n"
        "    for _ in range(10**6):\n        deep = [deep]\n    return repr(deep)\n",
    ),
    Attack(
        "allocates 1 TiB", "failed", source="import torch\ndef logsumexp(x):\n    return torch.empty(2**38).sum()\n"
    ),
    Attack(
        "returns a reply over the size cap",
        "error",
        source="import torch\ndef logsumexp(x):\n    return torch.zeros(8_000_000, dtype=torch.float64)\n",
    ),
    # -- forbidden functions, found at run time ---------------------------------------------------
    Attack(
        "getattr with a built name",
        "forbidden",
        source="import torch\ndef logsumexp(x):\n    return getattr(torch, 'logsum' + 'exp')(x, -1)\n",
    ),
    Attack(
        "an alias made in another cell",
        "forbidden",
        source="def logsumexp(x):\n    return _lse(x, -1)\n",
        extra=["import torch\n_lse = torch.logsumexp"],
    ),
    Attack("eval", "forbidden", source="import torch\ndef logsumexp(x):\n    return eval('x.logsum' + 'exp(-1)')\n"),
    Attack(
        "functools.partial bound to the name",
        "forbidden",
        source="import functools, torch\nlogsumexp = functools.partial(getattr(torch, 'logsum' + 'exp'), dim=-1)\n",
    ),
    Attack(
        "a torch module that calls it",
        "forbidden",
        target="log_softmax",
        source="import torch\ndef log_softmax(x):\n    return torch.nn.LogSoftmax(dim=-1)(x)\n",
    ),
    Attack(
        "torch.optim through importlib",
        "forbidden",
        target="Optimizer",
        source="""import importlib
class Optimizer():
    def __init__(self, params, lr=0.5):
        self.params, self.lr = list(params), lr
        self._opt = importlib.import_module("torch.op" + "tim").SGD(self.params, lr=lr)
    def step(self):
        self._opt.step()
    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()
""",
    ),
    Attack(
        "default_collate through importlib",
        "forbidden",
        target="collate",
        source="""import importlib
def collate(b):
    return importlib.import_module("torch.utils.da" + "ta").default_collate(b)
""",
    ),
    Attack(
        "a subclass of torch's DataLoader",
        "forbidden",
        target="DataLoader",
        source="""import importlib
_data = importlib.import_module("torch.utils.da" + "ta")
class DataLoader(_data.DataLoader):
    def __init__(self, ds, sampler, collate_fn=collate):
        super().__init__(ds, batch_sampler=sampler, collate_fn=collate_fn)
""",
    ),
    Attack(
        "switches the tracing off",
        "forbidden",
        source=IMPORTS
        + """
def logsumexp(x):
    sys.setprofile(None)
    return getattr(torch, "logsum" + "exp")(x, -1)
""",
    ),
    # -- tampering --------------------------------------------------------------------------------
    Attack(
        "edits its visible test cell to pass",
        "no gain",
        source=IMPORTS + "def logsumexp(x):\n" + ZEROS,
        edit=lambda nb: _cell(nb, "logsumexp_tests").update(source="assert True"),
    ),
    Attack("deletes its solution cell", "missing", edit=lambda nb: nb["cells"].remove(_cell(nb, "logsumexp"))),
    Attack("renames its solution cell's id", "missing", edit=lambda nb: _grade_id(nb, "logsumexp", "logsumexp_v2")),
    Attack(
        "gives two cells one id",
        "missing",
        target="collate",
        error="'Dataset' is used by 2 cells",
        edit=lambda nb: _grade_id(nb, "collate", "Dataset"),
    ),
    Attack(
        "changes a locked given cell",
        "passed",
        error="was changed",
        edit=lambda nb: _cell(nb, "given_data").update(
            source="# mine now\n" + "".join(_cell(nb, "given_data")["source"])
        ),
    ),
    # -- malformed input --------------------------------------------------------------------------
    Attack("is not JSON", "unreadable", raw=b"print('hello')", error="invalid JSON"),
    Attack("is empty", "unreadable", raw=b"", error="empty"),
    Attack("is binary", "unreadable", raw=bytes(range(256)) * 4, error="binary"),
    Attack(
        "is truncated",
        "unreadable",
        raw=(ROOT / "samples" / A / "perfect.ipynb").read_bytes()[:3000],
        error="invalid JSON",
    ),
    Attack(
        "is an old nbformat",
        "unreadable",
        raw=b'{"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "metadata": {}}',
        error="nbformat 3",
    ),
    Attack(
        "is another assignment's notebook",
        "unreadable",
        raw=(ROOT / "samples" / "05_anneal" / "perfect.ipynb").read_bytes(),
        error="05_anneal",
    ),
    Attack(
        "is JSON nested 200 000 deep",
        "unreadable",
        raw=b'{"cells": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        error="nested too deeply",
    ),
    Attack(
        "is over the size limit", "unreadable", raw=b'{"cells": [], "pad": "' + b"x" * (65 << 20) + b'"}', error="MiB"
    ),
    Attack(
        "is not a valid notebook",
        "unreadable",
        raw=b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}',
        error="not a valid notebook",
    ),
]


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _grade_id(nb: dict, old: str, new: str) -> None:
    _cell(nb, old)["metadata"]["nbgrader"]["grade_id"] = new


TARGETS = [
    ROOT / "course.toml",
    ROOT / "autograder" / "__init__.py",
    ROOT / "results.json",
    ROOT / "gradebook.db",
    ROOT / "course-attack-canary",
]


def _files_digest() -> str:
    """The grader's files that the attacks try to write (the whole tree would also see other work
    in a checkout being edited)."""
    h = hashlib.sha256()
    for p in TARGETS:
        h.update(str(p).encode() + (p.read_bytes() if p.exists() else b"<absent>"))
    return h.hexdigest()


def _listener(kind: int) -> tuple[socket.socket, list]:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    got: list = []
    if kind == socket.SOCK_STREAM:
        s.listen()
        threading.Thread(target=lambda: got.append(s.accept()), daemon=True).start()
    else:
        s.settimeout(0.1)
    return s, got


def _sleepers() -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in out if ("sleep(600)" in line or "course-attack" in line) and " Z" not in line]


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """Every attack graded in one batch, with the machine's state before and after."""
    tmp = tmp_path_factory.mktemp("attacks")
    tcp, tcp_got = _listener(socket.SOCK_STREAM)
    udp, _ = _listener(socket.SOCK_DGRAM)
    ports = {"PORT": str(tcp.getsockname()[1]), "UDP_PORT": str(udp.getsockname()[1])}
    paths = []
    for i, attack in enumerate(ATTACKS):
        source = attack.source
        for k, v in ports.items():
            source = source.replace(f"({k})", f"({v})").replace(f", {k})", f", {v})") if source else source
        path = make_submission(
            tmp, A, f"attack{i:02d}", {attack.target: source} if source else None, extra_cells=attack.extra
        )
        if attack.edit:
            nb = json.loads(path.read_text())
            attack.edit(nb)
            path.write_text(json.dumps(nb))
        if attack.raw is not None:
            path.write_bytes(attack.raw)
        paths.append(path)
    before = {"files": _files_digest(), "sleepers": _sleepers()}
    os.environ["COURSE_TEST_SECRET"] = SECRET  # the grader's environment holds a secret
    try:
        results = grade_files(course, A, paths, exercise_timeout=15)
    finally:
        del os.environ["COURSE_TEST_SECRET"]
    try:
        udp_got = udp.recv(100)
    except OSError:
        udp_got = b""
    after = {"files": _files_digest(), "sleepers": _sleepers(), "tcp": tcp_got, "udp": udp_got}
    tcp.close()
    udp.close()
    return dict(zip((a.name for a in ATTACKS), results, strict=True)), before, after


def test_there_are_enough_attacks():
    assert len(ATTACKS) >= 30


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_the_attack_gains_nothing_and_the_rest_is_graded(graded, course, attack):
    results, _, _ = graded
    r = results[attack.name]
    assert not attack.error or any(attack.error in e for e in r["errors"]), r["errors"]
    if attack.expect == "unreadable":
        assert set(statuses(r).values()) == {"error"} and r["score"] == 0
        assert f"{r['student']}.ipynb" in r["errors"][0], "the error names the file"
        return
    ex = next(e for e in r["exercises"] if e["id"] == attack.target)
    why = [(c["name"], c["message"]) for c in ex["checks"] if not c["passed"]][:3]
    if attack.expect == "blocked":
        assert ex["status"] == "passed", f"the attack was not blocked: {ex['message']} {why}"
    elif attack.expect == "no gain":
        assert ex["score"] == 0, f"the attack gained points: {ex}"
    else:
        assert ex["status"] == attack.expect and ex["score"] == (ex["max_score"] if attack.expect == "passed" else 0), (
            ex["status"],
            ex["message"],
            why,
        )
        assert attack.expect == "passed" or ex["message"] or why
    honest = {k: v for k, v in statuses(r).items() if k != attack.target}
    assert set(honest.values()) == {"passed"}, [
        (e["id"], e["message"]) for e in r["exercises"] if e["id"] in honest and e["status"] != "passed"
    ]


def test_the_machine_is_left_clean(graded):
    _, before, after = graded
    assert after["files"] == before["files"], "the grader's files changed"
    assert after["sleepers"] == before["sleepers"], "processes of a submission outlived its grading"
    assert not os.path.exists(CANARY) and not os.path.exists(CANARY + "-results.json")
    assert after["tcp"] == [] and after["udp"] == b"", "a submission reached the network"


def test_the_report_says_which_isolation_was_in_force(graded):
    results, _, _ = graded
    layers = results["getattr with a built name"]["isolation"]
    assert set(layers) == {"namespaces", "user", "filesystem", "signals", "network"}
    assert all(isinstance(v, str) and v for v in layers.values())


def _grade_perfect(tmp_path, *flags: str) -> tuple[int, str, dict | None]:
    import contextlib
    import io

    from autograder import cli

    report, err = tmp_path / "report.json", io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = cli.main(
            [
                "--root",
                str(ROOT),
                "grade",
                A,
                str(ROOT / "samples" / A / "perfect.ipynb"),
                "--seed",
                "1",
                "--device",
                "cpu",
                "--no-store",
                "--json",
                str(report),
                *flags,
            ]
        )
    return rc, err.getvalue(), json.loads(report.read_text())["results"][0] if report.exists() else None


def test_a_missing_layer_is_reported_and_strict_mode_refuses_to_grade(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_SANDBOX_WITHOUT", "landlock")
    rc, _, result = _grade_perfect(tmp_path)
    assert rc == 0 and result["score"] == result["max_score"]
    assert result["isolation"]["filesystem"].startswith("none (turned off")
    (tmp_path / "report.json").unlink()
    rc, err, result = _grade_perfect(tmp_path, "--strict")
    assert rc == 2 and result is None
    assert "strict mode" in err and "filesystem" in err and "Traceback" not in err


def test_strict_mode_grades_where_every_layer_is_in_force(tmp_path):
    from autograder.sandbox.isolation import missing

    rc, _, result = _grade_perfect(tmp_path)
    if missing(result["isolation"]):
        pytest.skip(f"this host lacks {missing(result['isolation'])}")
    (tmp_path / "report.json").unlink()
    rc, err, result = _grade_perfect(tmp_path, "--strict")
    assert rc == 0 and result["score"] == result["max_score"], err
