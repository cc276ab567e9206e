"""Attacks on the grader. Each attack gains nothing, the honest rest of its notebook is still
graded in full, and the machine is left clean. See README, "Security".

An attack is one submission: the reference notebook with one exercise (`target`) replaced and
perhaps cells added. Its expectation says what the target must end as:

- "blocked": the target is a *correct* function that first tries the attack, which must end in
  the defence's own error (the PermissionError of a read, the ImportError of an import...); it
  passes exactly when it did, and otherwise fails saying how the attack ended;
- "no gain": the target is *wrong* (all zeros) and the attack tries to make it look right;
  it must still score 0;
- "flagged": an attack no in-process defence can stop (README, "Security"): it wins (full marks),
  and the report flags it for review; course.toml can make flags cost the exercise;
- a status ("forbidden", "error", "timeout", "missing"): the fault is reported as that, with
  a message, and scores 0.

An attack that names layers in `real` is graded once more with those layers or defences
turned off (COURSE_SANDBOX_WITHOUT), and must then work: the attack is real, and it is that
layer that stops it. Submissions are graded two at a time, as a class is.

Resource attacks are bounded (at most a few hundred processes, a GiB written, one huge
allocation refused by the address-space limit), so the suite is safe on a grader without
a sandbox: there the "blocked" attacks fail their test instead of harming the machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import io
import json
import os
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import ROOT, make_submission, statuses

from autograder.grading import grade
from autograder.sandbox import procs

A = "03_minibatch_training"
pytestmark = pytest.mark.slow

CORRECT = "    m = x.max(-1)[0]\n    return m + (x - m[:, None]).exp().sum(-1).log()\n"
ZEROS = "    return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)\n"
SECRET = "course-test-secret-1c0ffee"
# This run's own names, so that runs on one machine at once never see each other's: the canary a
# write must not leave, the mark on every process an attack leaves running (a task's name holds 15
# characters), the host's Unix socket and the host's SysV IPC key (a segment and a queue; the next
# key is the sandbox's own segment, which must not outlive it).
RUN = uuid.uuid4().hex[:6]
CANARY = f"/tmp/course-attack-{RUN}-canary"
MARK = f"course-{RUN}"
UNIX_SOCKET = f"/tmp/course-attack-{RUN}.sock"
IPC_KEY = 0x5A000000 + int(RUN, 16)
IMPORTS = (
    "import builtins, ctypes, gc, glob, importlib, inspect, json, math, os, signal, socket, sys, time\n"
    "import numpy as np\nimport torch\n"
)
SEED = 1


@dataclass
class Attack:
    name: str
    expect: str  # "blocked", "no gain", "flagged", "unreadable" (every exercise error) or a status
    target: str = "logsumexp"
    source: str | None = None  # the target cell; None keeps the reference
    extra: list[str] = field(default_factory=list)
    edit: Callable[[dict], None] | None = None  # changes the notebook's JSON
    raw: bytes | None = None  # the whole file, instead of a notebook
    error: str = ""  # what the report's `errors` must mention
    message: str = ""  # what the target's message must say
    flag: str = ""  # what one of the target's flags must say
    # COURSE_SANDBOX_WITHOUT: with these layers off the attack must work ("blocked": it says it
    # succeeded; "forbidden", "no gain": the target passes). It is real, and they stop it.
    real: str = ""


# Correct code for the targets of "blocked" attacks: (arguments, body).
CORRECTS = {
    "logsumexp": ("x", CORRECT),
    "nll": ("input, target", "    return -input[range(target.shape[0]), target].mean()\n"),
}
PRELUDE = (
    IMPORTS
    + """
class _Won(Exception):
    "The attack went through."

def _expect(errors, attempt, what):
    "`attempt` must raise one of `errors`: the defence at work."
    try:
        attempt()
    except errors:
        return
    raise _Won(what)
"""
)


def blocked(
    name: str,
    attack: str,
    raises: str = "",
    once: bool = False,
    extra: list[str] = (),
    target: str = "logsumexp",
    real: str = "",
    edit: Callable[[dict], None] | None = None,
) -> Attack:
    """A correct `target` that first tries `attack`, which must end in the defence's own error:
    it raises `raises` ("PermissionError"), or, with `raises` empty, it checks each of its
    attempts with `_expect`. It names what leaked in `won`. Any other end (it went through, or
    broke some other way) fails the target, saying which: a broken attack never passes."""
    args, correct = CORRECTS[target]
    body = textwrap.indent(textwrap.dedent(attack), " " * 8)
    caught = f"    except ({raises}):\n        return 'blocked'\n" if raises else ""
    ending = "'attack succeeded: ' + repr(won)[:200]" if raises else "'blocked'"
    source = (
        PRELUDE
        + f"def _attack():\n    won = None\n    try:\n{body}\n{caught}"
        + "    except _Won as e:\n        return 'attack succeeded: ' + str(e)[:200]\n"
        + "    except Exception as e:\n        return f'unexpected {type(e).__name__}: {e}'[:200]\n"
        + f"    return {ending}\n"
        + f"def _{target}({args}):\n{correct}"
        + f"def {target}({args}):\n"
        + ("    if '_outcome' not in globals():\n        globals()['_outcome'] = _attack()\n" if once else "")
        + f"    outcome = {'_outcome' if once else '_attack()'}\n"
        + "    assert outcome == 'blocked', outcome\n"
        + f"    return _{target}({args})\n"
    )
    return Attack(name, "blocked", target=target, source=source, extra=list(extra), real=real, edit=edit)


def wrong(name: str, attack: str = "", extra: list[str] = ()) -> Attack:
    """A wrong logsumexp (all zeros) that tries `attack` to look right."""
    body = textwrap.indent(textwrap.dedent(attack), "    ")
    return Attack(name, "no gain", source=IMPORTS + f"def logsumexp(x):\n{body}\n{ZEROS}", extra=list(extra))


def given_cell(grade_id: str, source: str) -> Callable[[dict], None]:
    """An edit that adds, before the logsumexp cell, a cell with locked cell `grade_id`'s metadata."""

    def add(nb: dict) -> None:
        meta = json.loads(json.dumps(_cell(nb, grade_id)["metadata"]))
        cell = {"cell_type": "code", "execution_count": None, "id": "borrowed", "metadata": meta, "outputs": []}
        nb["cells"].insert(nb["cells"].index(_cell(nb, "logsumexp")), {**cell, "source": source})

    return add


# A forbidden call that no static scan sees: its name is built at run time.
LSE = "getattr(torch, 'logsum' + 'exp')(x, -1)"
PASS_THROUGH = "lambda self, func, types, args=(), kwargs=None: func(*args, **(kwargs or {}))"
# Forged replies that carry the reference's own values (@FORGED@: filled in by `forged_values`).
FORGER = (
    IMPORTS
    + """
VALUES = json.loads(@FORGED@)
def logsumexp(x):
    job = next(o for o in gc.get_objects() if isinstance(o, dict) and "nonce" in o and "checks" in o)
    def put(message):
        data = json.dumps({"nonce": job["nonce"], **message}).encode()
        for fd in range(3, 32):
            try:
                os.write(fd, len(data).to_bytes(8, "little") + data)
            except OSError:
                pass
    for d in job["devices"]:
        for n in job["checks"]:
            put({"kind": "check", "name": n, "device": d, "value": VALUES[n]})
    put({"kind": "done", "more": False})  # the protocol as wire.py declares it
    os._exit(0)
"""
)
# Runs before every exercise's checks: leaves, for the exercises graded after it, a file that
# holds the references it was given.
# In log_softmax's cell, which runs again in log_softmax's own process once the references of the
# exercises before it are bound: leaves that process's job (its references) in a file.
LEAVE_REFS = """
import gc as _gc, json as _json
_job = next(o for o in _gc.get_objects() if isinstance(o, dict) and "refs" in o and "exercise" in o)
with open(f"left-by-{_job['exercise']}.txt", "w") as _f:
    _json.dump(_job["refs"], _f)
"""


def _leave_refs(nb: dict) -> None:
    """Appends LEAVE_REFS to log_softmax's solution cell."""
    cell = _cell(nb, "log_softmax")
    cell["source"] = "".join(cell["source"]) + LEAVE_REFS


# In every exercise: starts processes up to the limit and signals every process it may, for 1.5 s.
STORM = """import os, signal, time
_end = time.time() + 1.5
while time.time() < _end:
    for _ in range(50):
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
        except OSError:
            break
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    time.sleep(0.01)
"""

# A cell that leaves a process whose main thread has ended (the exit system call, not exit_group:
# the main thread alone) while a thread named by this run's mark sleeps on. ps shows it as a zombie;
# the cell waits until it is one, so that the sweep after the cells meets it as such.
ZOMBIE = """import ctypes, os, platform, threading, time
def _linger():
    ctypes.CDLL(None).prctl(15, b"@MARK@z", 0, 0, 0)  # PR_SET_NAME: this thread's, to be found by
    time.sleep(600)
_pid = os.fork()
if _pid == 0:
    try:
        threading.Thread(target=_linger).start()
        ctypes.CDLL(None).syscall({"x86_64": 60, "aarch64": 93}[platform.machine()], 0)
    finally:
        os._exit(0)
_end = time.time() + 5
while time.time() < _end and open(f"/proc/{_pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
    time.sleep(0.01)
"""
# Finds the thread ZOMBIE leaves, from an exercise's process: the cells' sweep is past by then.
ZOMBIE_FOUND = """
left = []
for comm in glob.glob("/proc/[0-9]*/task/[0-9]*/comm"):
    try:
        if open(comm).read().strip() == "@MARK@z":
            left.append(comm)
    except OSError:
        pass
if not left:
    raise ProcessLookupError("nothing the cells started runs on")
won = f"{left[0]}: a thread the cells started, past the sweep"
"""
# Reads a SysV shared-memory segment and a message queue the host holds under @IPC_KEY@, after
# making a segment of its own under the next key, left for the machine-clean test to look for.
SYSV_IPC = """
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
def ipc(ret, call):
    if ret is None or ret < 0 or ret == ctypes.c_void_p(-1).value:
        raise OSError(ctypes.get_errno(), call)  # ENOENT: FileNotFoundError
    return ret
ipc(libc.shmget(@IPC_KEY@ + 1, 4096, 0o1000 | 0o666), "shmget of its own")  # IPC_CREAT
def shared_memory():
    return ctypes.string_at(ipc(libc.shmat(ipc(libc.shmget(@IPC_KEY@, 0, 0), "shmget"), None, 0), "shmat"), 64)
def message():
    buf = ctypes.create_string_buffer(8 + 64)
    ipc(libc.msgrcv(ipc(libc.msgget(@IPC_KEY@, 0), "msgget"), buf, 64, 0, 0o4000), "msgrcv")  # IPC_NOWAIT
    return buf.raw[8:]
_expect(FileNotFoundError, shared_memory, "the host's shared memory")
_expect(FileNotFoundError, message, "the host's message queue")
"""
# In logsumexp's own process, where its cell runs again once the probes are made and before they
# run: the answers, worked out with the forbidden function while no check runs (nothing watches
# then), from the probes' own inputs; then the submission's record (found through gc: the kit is
# out of sys.modules, and the record is a tuple no one can change in place) is given an encoder
# that sends them, whatever the function returned, by a property on its class.
ENCODER = (
    IMPORTS
    + """
import types

def logsumexp(x):
    return x

def _swap_encoder():
    probes = next((o for o in gc.get_objects() if type(o).__name__ == "Probes"), None)
    if probes is None:
        return  # the cells' run: every exercise's process is forked from it
    lse = getattr(torch, "logsum" + "exp")
    truth = types.SimpleNamespace(**{"logsum" + "exp": lambda x: lse(x, -1)})
    job, far = probes.job, probes.far
    answers = iter([
        far.encode(probes.checks[n].probe(truth, far.inputs(job["seed"], n, d)))
        for d in job["devices"] for n in job["checks"]
    ])
    type(probes.far).encode = property(lambda self: lambda value, depth=0: next(answers))

_swap_encoder()
"""
)

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


# A built name: the static scan (`forbidden`) must not see it, so it is the run-time watch that does.
def _aliased(call: str) -> str:
    return IMPORTS + f"def logsumexp(x):\n    return {call}\n"


PAUSE_MODE = """
    if not torch._C._len_torch_dispatch_stack():  # no watch to pause
        return getattr(torch, 'logsum' + 'exp')(x, -1)
    mode = torch._C._pop_torch_dispatch_stack(None)
    y = getattr(torch, 'logsum' + 'exp')(x, -1)
    torch._C._push_on_torch_dispatch_stack(mode)
    return y"""
PAUSE_PROFILE = """
    old = sys.getprofile()
    sys.setprofile(None)
    y = getattr(importlib.import_module('torch._refs'), 'logsum' + 'exp')(x, -1)
    sys.setprofile(old)
    return y"""

# In log_softmax's process the name `logsumexp` is the reference's (trusted code), which computes
# `m + (x - m[:, None]).exp().sum(-1).log()`. With `Tensor.exp` made torch's log_softmax, it is the
# reference that calls the forbidden function (log_softmax(x - m) is log_softmax(x));
# `Tensor.sum` hands the student the result.
GIVEN_ALIAS = """
    NAME = [108, 111, 103, 95, 115, 111, 102, 116, 109, 97, 120]  # the static scan must not see it
    kept, got = (torch.Tensor.exp, torch.Tensor.sum), []
    torch.Tensor.exp = property(lambda t: functools.partial(getattr(torch, ''.join(map(chr, NAME))), t, -1))
    torch.Tensor.sum = property(lambda t: (got.append(t), lambda *a, **k: t[:, 0])[1])
    try:
        logsumexp(x)
    finally:
        torch.Tensor.exp, torch.Tensor.sum = kept
    return got[0]"""

ATTACKS = [
    # -- forbidden is a computation: every spelling, every thread, the watch paused and put back ----
    Attack(
        "calls torch._C's own entry point",
        "forbidden",
        source=_aliased("getattr(torch._C._VariableFunctions, 'logsum' + 'exp')(x, -1)"),
        real="tripwire",
    ),
    Attack(
        "calls the special namespace's C function",
        "forbidden",
        source=_aliased("getattr(torch._C._special, 'special_logsum' + 'exp')(x, -1)"),
        real="tripwire",
    ),
    Attack(
        "calls the aten operator through torch.ops",
        "forbidden",
        source=_aliased("getattr(torch.ops.aten, 'logsum' + 'exp').default(x, [-1])"),
        real="tripwire",
    ),
    Attack(
        "calls torch's Python reference implementation",
        "forbidden",
        source=_aliased("getattr(importlib.import_module('torch._refs'), 'logsum' + 'exp')(x, -1)"),
        real="tripwire",
    ),
    Attack(
        "pops the operator watch and puts it back",
        "forbidden",
        source=IMPORTS + "def logsumexp(x):" + PAUSE_MODE + "\n",
        real="tripwire",
    ),
    Attack(
        "pauses the call tracing and puts it back",
        "forbidden",
        source=IMPORTS + "def logsumexp(x):" + PAUSE_PROFILE + "\n",
        real="tripwire",
    ),
    blocked(
        "computes in another thread",
        """
        import threading
        done = []
        t = threading.Thread(target=lambda: done.append(getattr(torch, 'logsum' + 'exp')(torch.ones(2, 2), -1)))
        t.start()
        t.join()
        won = done""",
        raises="RuntimeError",
        real="threads",
    ),
    blocked(
        "forks a helper process during a check",
        """
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        won = pid""",
        raises="PermissionError",
        real="threads",
    ),
    Attack(
        "patches json.loads so that later jobs forbid nothing",
        "forbidden",
        source=_aliased("getattr(torch, 'logsum' + 'exp')(x, -1)"),
        extra=[
            "import json\n_loads = json.loads\n"
            "json.loads = lambda s, *a, **k: {**_loads(s, *a, **k), 'forbidden': {}, 'checks': []}"
        ],
    ),
    Attack(
        "makes trusted code call the forbidden function under a name it rebinds",
        "forbidden",
        target="log_softmax",
        source=IMPORTS + "import functools\n\ndef log_softmax(x):" + GIVEN_ALIAS + "\n",
        real="names",
    ),
    # -- nothing from the sandbox is believed ------------------------------------------------------
    wrong(
        "prints a fake report", extra=['import json\nprint(json.dumps({"results": [{"score": 20, "max_score": 20}]}))']
    ),
    wrong(
        "writes results.json and grade files",
        attack=f'''
        for p in ["results.json", "grades.json", os.path.expanduser("~/results.json"), "@CANARY@-results.json",
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
    Attack("forges every remaining reply with the job's nonce", "flagged", source=FORGER, flag="(gc)"),
    Attack(
        "replaces the worker's encoder",
        "forbidden",
        source=ENCODER,
        message="the grader's own code was changed",
        flag="(gc)",
        real="seal",
    ),
    # -- reference, checks, sources and the kit are out of reach ----------------------------------
    blocked(
        "reads the reference solutions from disk",
        f'won = open("{ROOT}/solutions/minibatch_training.py").read()',
        raises="PermissionError",
        real="landlock",
    ),
    blocked(
        "imports the reference solutions",
        'won = importlib.import_module("solu" + "tions.minibatch_training")',
        raises="ImportError",
    ),
    blocked(
        "reads the checks' and grader's sources",
        f'won = open("{ROOT}/autograder/checks/minibatch_training.py").read()',
        raises="PermissionError",
        real="landlock",
    ),
    blocked(
        "reads the source notebook's hidden tests and course.toml",
        f"""
        _expect(PermissionError, lambda: open("{ROOT}/source/{A}/{A}.ipynb").read(), "the source notebook")
        _expect(PermissionError, lambda: open("{ROOT}/course.toml").read(), "course.toml")""",
        real="landlock",
    ),
    blocked(
        "finds the kit's modules",
        'won = sys.modules["autograder.checks.minibatch_training"]',
        raises="KeyError",
        real="seal",
    ),
    blocked("imports the kit", 'won = importlib.import_module("autograder.checks")', raises="ImportError", real="seal"),
    blocked(
        "lists other submissions' sandboxes",
        'won = [n for n in os.listdir("/tmp") if n.startswith("course-sandbox-")]',
        raises="PermissionError",
        real="landlock",
    ),
    blocked(
        "carries other exercises' references over to its own exercise",
        """
        won = [open(p).read()[:100] for p in glob.glob("../*/left-by-*.txt") + glob.glob("left-by-*.txt")]
        if not won:
            raise FileNotFoundError("nothing left by the exercises graded before")""",
        raises="FileNotFoundError",
        target="nll",
        edit=_leave_refs,
        real="landlock",
    ),
    blocked(
        "reads the grader's environment",
        f"""
        if any("{SECRET}" in v for v in os.environ.values()):
            raise _Won("the grader's secret, in its own environment")
        won = open("/proc/@GRADER@/environ", "rb").read()""",
        raises="PermissionError",
        real="user,landlock",
    ),
    # -- isolation of the process -----------------------------------------------------------------
    blocked(
        "connects to a server on the host",
        """
        s = socket.create_connection(("127.0.0.1", @PORT@), timeout=2)
        s.sendall(b"pwned")
        won = "a TCP connection to the host\"""",
        raises="OSError",
        once=True,
        real="namespaces,landlock",
    ),
    blocked(
        "sends UDP to the host",
        """
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"pwned", ("127.0.0.1", @UDP_PORT@))
        won = "a UDP datagram sent\"""",
        raises="OSError",
        once=True,
        real="namespaces",
    ),
    blocked(
        "writes outside its folder",
        f"""
        for p in ["{ROOT}/course.toml", "{ROOT}/autograder/__init__.py", "{ROOT}/course-attack-canary", "@CANARY@"]:
            _expect(PermissionError, lambda: open(p, "a").close(), p)""",
        once=True,
        # the view's /tmp is not the host's either: without both, the canary lands in the host's
        real="namespaces,landlock",
    ),
    blocked(
        "takes privileges: chown, mount, unshare, /etc/passwd",
        """
        libc = ctypes.CDLL(None, use_errno=True)
        def privileged(call, *args):
            if getattr(libc, call)(*args) != 0:
                raise PermissionError(ctypes.get_errno(), call)
        _expect(PermissionError, lambda: os.chown(".", 1, 1), "chown")
        _expect(PermissionError, lambda: open("/etc/passwd", "a"), "/etc/passwd")
        _expect(PermissionError, lambda: privileged("mount", b"none", b"/", None, 0x4000 | (1 << 18), None), "mount")
        _expect(PermissionError, lambda: privileged("unshare", 0x40000000), "unshare")""",
        once=True,
        real="user",
    ),
    blocked(
        "signals the grader",
        'os.kill(@GRADER@, 0)\nwon = "could signal the grader"',
        raises="PermissionError",
        real="user,landlock",
    ),
    blocked(
        "kills its sandbox parent",
        """
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(1)
        won = "killed the sandbox parent\"""",
        raises="PermissionError",
        once=True,
    ),
    blocked(
        "reads the grader's memory",
        'won = open("/proc/@GRADER@/mem", "rb") and "opened /proc/<grader>/mem"',
        raises="PermissionError",
        real="user,landlock",
    ),
    blocked(
        "opens thousands of files",
        """
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(5000)]
        won = f"{len(fds)} files open\"""",
        raises="OSError",
        once=True,
    ),
    blocked(
        "writes one huge file",
        """
        with open("big", "wb") as f:
            for _ in range(100):
                f.write(b"x" * (1 << 20))
        won = "a 100 MiB file\"""",
        raises="OSError",
        once=True,
    ),
    blocked(
        "fills the disk",
        """
        for i in range(20):
            with open(f"fill{i}", "wb") as f:
                for _ in range(50):
                    f.write(b"x" * (1 << 20))
        won = "1000 MiB written\"""",
        raises="OSError",
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
                    ctypes.CDLL(None).prctl(15, b"@MARK@s", 0, 0, 0)  # PR_SET_NAME: marked for `_sleepers`
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
        # from a cell: an exercise's process may start no process at all (seccomp)
        extra=[
            IMPORTS
            + """
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)  # @MARK@-daemon"])
    os._exit(0)
"""
        ],
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
    # -- the kernel's other channels ---------------------------------------------------------------
    blocked("reads the host's SysV IPC", SYSV_IPC, once=True, real="namespaces"),
    blocked(
        "connects to a Unix socket of the host",
        """
        s = socket.socket(socket.AF_UNIX)
        s.connect("@UNIX_SOCKET@")
        s.sendall(b"pwned")
        won = "a connection to the host's Unix socket\"""",
        raises="FileNotFoundError",
        once=True,
        real="namespaces",
    ),
    blocked(
        "leaves a process whose main thread exited",
        ZOMBIE_FOUND,
        raises="ProcessLookupError",
        once=True,
        extra=[ZOMBIE],
        real="threads,zombies",
    ),
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
        "failed",
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
        real="tripwire",
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
        target="collate",
        # default_collate is plain Python, seen by the profile hook alone: with the hook off, only
        # the watch on the hook itself is left to catch it (the operator watch sees torch.stack,
        # which collate may use)
        source=IMPORTS + "def collate(b):\n    sys.setprofile(None)\n"
        "    data = importlib.import_module('torch.utils.da' + 'ta')\n"
        "    return tuple(getattr(data, 'default_' + 'collate')(b))\n",
        message="call tracing was switched off",
        real="tripwire",
    ),
    Attack(
        "forges a given cell's file name",
        "forbidden",
        source=IMPORTS
        + f'_src = "def _lse(x):\\n    return {LSE}\\n"\n'
        + 'exec(compile(_src, "<given 1>", "exec"))\n'
        + "def logsumexp(x):\n    return _lse(x)\n",
        flag="code built at run time (compile)",
        real="tripwire",
    ),
    Attack(
        "borrows a given cell's id",
        "forbidden",
        source="def logsumexp(x):\n    return _lse(x)\n",
        edit=given_cell("given_imports", f"import torch\ndef _lse(x):\n    return {LSE}\n"),
        error="'given_imports' is used by 2 cells",
        real="tripwire",
    ),
    Attack(
        "forges a torch file name",
        "forbidden",
        target="nll",
        # the reference Dataset (trusted) indexes an object whose __getitem__ claims to be torch's
        source=IMPORTS
        + "import torch.nn.functional as F\n"
        + "_src = \"def _item(self, i):\\n    return getattr(F, 'nll_' + 'loss')(self.input, self.target)\\n\"\n"
        + "_ns = {'F': F}\n"
        + "exec(compile(_src, torch.__file__, 'exec'), _ns)\n"
        + "class _Box:\n    __getitem__ = _ns['_item']\n    def __len__(self):\n        return 1\n"
        + "def nll(input, target):\n    box = _Box()\n    box.input, box.target = input, target\n"
        + "    return Dataset(box, box)[0][0]\n",
        real="tripwire",
    ),
    Attack(
        "patches the tripwire through sys.modules",
        "forbidden",
        source=IMPORTS
        + f"""
_tw = sys.modules.get("autograder.sandbox.tripwire")
if _tw is not None:
    _tw.Tripwire.__torch_dispatch__ = {PASS_THROUGH}
    _tw.Tripwire._profile = lambda self, frame, event, arg: None
def logsumexp(x):
    return {LSE}
""",
        real="seal",
    ),
    Attack(
        "reaches the tripwire through gc",
        "forbidden",
        source=IMPORTS
        + f"""
def logsumexp(x):
    for o in gc.get_objects():
        if isinstance(o, type) and o.__name__ == "Tripwire":
            o.__torch_dispatch__ = {PASS_THROUGH}
    return {LSE}
""",
        message="the grader's own code was changed",
        flag="(gc)",
        real="seal",
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


def _unix_listener(path: str) -> tuple[socket.socket, list]:
    """A Unix socket of the host's at `path`, open to every uid: only the view can keep it out of reach."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    os.chmod(path, 0o777)
    s.listen()
    got: list = []
    threading.Thread(target=lambda: got.append(s.accept()), daemon=True).start()
    return s, got


_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
IPC_CREAT, IPC_RMID, IPC_NOWAIT = 0o1000, 0, 0o4000


@contextlib.contextmanager
def _host_ipc(key: int) -> Iterator[None]:
    """The host's SysV shared-memory segment and message queue under `key`, open to every uid,
    each holding SECRET; removed afterwards, with whatever a sandbox left under the next key."""
    shm = _libc.shmget(key, 4096, IPC_CREAT | 0o666)
    addr = _libc.shmat(shm, None, 0)
    ctypes.memmove(addr, SECRET.encode(), len(SECRET))
    _libc.shmdt(ctypes.c_void_p(addr))
    queue = _libc.msgget(key, IPC_CREAT | 0o666)
    _libc.msgsnd(queue, struct.pack("q", 1) + SECRET.encode(), len(SECRET), IPC_NOWAIT)
    try:
        yield
    finally:
        for k in (key, key + 1):
            _libc.shmctl(_libc.shmget(k, 0, 0), IPC_RMID, None)
            _libc.msgctl(_libc.msgget(k, 0), IPC_RMID, None)


def _ipc_keys() -> set[int]:
    """The keys of the host's SysV shared-memory segments and message queues."""
    keys = set()
    for table in ("shm", "msg"):
        for line in Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:]:
            keys.add(int(line.split()[0]))
    return keys


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:  # the process ended while we looked
        return []


def _sleepers(mark: str = MARK) -> list[str]:
    """Every live thread that carries `mark` (this run's) in its name or its command line, read from
    /proc task by task: so it sees what a sandbox left (another uid, other namespaces; a fork keeps
    the pool server's command line, so an attack names what it leaves), and a process whose main
    thread has exited (a zombie to ps) by the threads of it that still run."""
    found = []
    for pid in filter(str.isdigit, _listdir("/proc")):
        for tid in _listdir(f"/proc/{pid}/task"):
            task = f"/proc/{pid}/task/{tid}"
            try:
                state = Path(f"{task}/stat").read_text().rsplit(")", 1)[1].split()[0]
                comm = Path(f"{task}/comm").read_text().strip()
                cmdline = Path(f"{task}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError):
                continue
            if state not in ("Z", "X") and (mark in comm or mark in cmdline):
                found.append(f"{pid}/{tid} {state} {comm} {cmdline[:100]}")
    return sorted(found)


def _fill(text: str | None, blanks: dict[str, str]) -> str | None:
    """`text` with each @NAME@ replaced: ports, the grader's pid, the canary, this run's mark and
    host channels, forged values."""
    for k, v in blanks.items():
        text = text.replace(f"@{k}@", v) if text else text
    return text


def _submissions(tmp: Path, attacks: list[Attack], blanks: dict[str, str]) -> list[Path]:
    paths = []
    for i, attack in enumerate(attacks):
        source = _fill(attack.source, blanks)
        extra = [_fill(e, blanks) for e in attack.extra]
        path = make_submission(tmp, A, f"attack{i:02d}", {attack.target: source} if source else None, extra_cells=extra)
        if attack.edit:
            nb = json.loads(path.read_text())
            attack.edit(nb)
            path.write_text(json.dumps(nb))
        if attack.raw is not None:
            path.write_bytes(attack.raw)
        paths.append(path)
    return paths


def _grade(course, paths: list[Path], workers: int = 2) -> list[dict]:
    """Graded two at a time, as a class is: other submissions' sandboxes exist beside each one."""
    course = dataclasses.replace(course, limits=dataclasses.replace(course.limits, exercise_timeout=15))
    return grade.grade(course, A, [(p.stem, p) for p in paths], ["cpu"], SEED, workers=workers)


@contextlib.contextmanager
def _without(layers: str) -> Iterator[None]:
    """COURSE_SANDBOX_WITHOUT=layers while grading (the pool passes it to the sandbox)."""
    old = os.environ.get("COURSE_SANDBOX_WITHOUT")
    os.environ["COURSE_SANDBOX_WITHOUT"] = layers
    try:
        yield
    finally:
        if old is None:
            del os.environ["COURSE_SANDBOX_WITHOUT"]
        else:
            os.environ["COURSE_SANDBOX_WITHOUT"] = old


@pytest.fixture(scope="module")
def forged(course) -> str:
    """The reference's own values for logsumexp's checks, as the wire carries them: what a forger
    would need, handed to it (a Python literal of JSON)."""
    from autograder import wire
    from autograder.checks import Inputs, registry
    from autograder.grading.reference import Reference

    ref = Reference(course, course.assignment(A))
    checks = registry(ref.assignment.module).for_exercise("logsumexp")
    return repr(json.dumps({c.name: wire.encode(c.probe(ref.namespace, Inputs(SEED, c.name, "cpu"))) for c in checks}))


@pytest.fixture(scope="module")
def graded(course, forged, tmp_path_factory):
    """Every attack graded in one batch, with the machine's state before and after."""
    tmp = tmp_path_factory.mktemp("attacks")
    tcp, tcp_got = _listener(socket.SOCK_STREAM)
    udp, _ = _listener(socket.SOCK_DGRAM)
    unix, unix_got = _unix_listener(UNIX_SOCKET)
    blanks = {
        "PORT": str(tcp.getsockname()[1]),
        "UDP_PORT": str(udp.getsockname()[1]),
        "GRADER": str(os.getpid()),
        "CANARY": CANARY,
        "FORGED": forged,
        "MARK": MARK,
        "UNIX_SOCKET": UNIX_SOCKET,
        "IPC_KEY": str(IPC_KEY),
    }
    paths = _submissions(tmp, ATTACKS, blanks)
    before = {"files": _files_digest(), "sleepers": _sleepers(), "ipc": IPC_KEY + 1 in _ipc_keys()}
    os.environ["COURSE_TEST_SECRET"] = SECRET  # the grader's environment holds a secret
    try:
        with _host_ipc(IPC_KEY):
            results = _grade(course, paths)
            left_ipc = IPC_KEY + 1 in _ipc_keys()
    finally:
        del os.environ["COURSE_TEST_SECRET"]
        unix.close()
        os.unlink(UNIX_SOCKET)
    try:
        udp_got = udp.recv(100)
    except OSError:
        udp_got = b""
    after = {"files": _files_digest(), "sleepers": _sleepers(), "tcp": tcp_got, "udp": udp_got}
    after |= {"unix": unix_got, "ipc": left_ipc}
    tcp.close()
    udp.close()
    return dict(zip((a.name for a in ATTACKS), results, strict=True)), before, after


REAL = [a for a in ATTACKS if a.real]


@pytest.fixture(scope="module")
def graded_without(course, forged, tmp_path_factory) -> dict[str, dict]:
    """Each attack with `real` graded again with those layers off, one batch per set of layers."""
    tmp = tmp_path_factory.mktemp("attacks-without")
    tcp, _ = _listener(socket.SOCK_STREAM)
    udp, _ = _listener(socket.SOCK_DGRAM)
    canary = CANARY + "-without"
    unix, _ = _unix_listener(UNIX_SOCKET + "-without")
    blanks = {
        "PORT": str(tcp.getsockname()[1]),
        "UDP_PORT": str(udp.getsockname()[1]),
        "GRADER": str(os.getpid()),
        "CANARY": canary,
        "FORGED": forged,
        "MARK": MARK,
        "UNIX_SOCKET": UNIX_SOCKET + "-without",
        "IPC_KEY": str(IPC_KEY),
    }
    out = {}
    try:
        with _host_ipc(IPC_KEY):
            for layers in sorted({a.real for a in REAL}):
                group = [a for a in REAL if a.real == layers]
                (tmp / layers).mkdir()
                with _without(layers):
                    results = _grade(course, _submissions(tmp / layers, group, blanks))
                out.update(zip((a.name for a in group), results, strict=True))
    finally:
        tcp.close()
        udp.close()
        unix.close()
        os.unlink(UNIX_SOCKET + "-without")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(canary)
    return out


def _target(result: dict, attack: Attack) -> dict:
    return next(e for e in result["exercises"] if e["id"] == attack.target)


def test_there_are_enough_attacks():
    assert len(ATTACKS) >= 30


# Layers shown real by tests other than the attacks: each such test registers, with `shows`, the
# layers it turns off, and is handed them to turn off.
SHOWN_BY_TESTS: dict[str, str] = {}


def shows(layers: str) -> Callable:
    """Registers the test it decorates as one that shows `layers` real; its `without` is `layers`."""

    def register(test: Callable) -> Callable:
        SHOWN_BY_TESTS[test.__name__] = layers
        return pytest.mark.parametrize("without", [layers])(test)

    return register


def test_every_layer_and_defence_has_attacks_shown_to_be_real():
    shown = {layer for layers in [a.real for a in REAL] + list(SHOWN_BY_TESTS.values()) for layer in layers.split(",")}
    assert shown >= {"namespaces", "user", "landlock", "slots", "tripwire", "seal", "threads", "zombies", "names"}


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_the_attack_gains_nothing_and_the_rest_is_graded(graded, course, attack):
    results, _, _ = graded
    r = results[attack.name]
    assert not attack.error or any(attack.error in e for e in r["errors"]), r["errors"]
    if attack.expect == "unreadable":
        assert set(statuses(r).values()) == {"error"} and r["score"] == 0
        assert f"{r['student']}.ipynb" in r["errors"][0], "the error names the file"
        return
    ex = _target(r, attack)
    why = [(c["name"], c["message"]) for c in ex["checks"] if not c["passed"]][:3]
    if attack.expect == "blocked":
        assert ex["status"] == "passed", f"the attack was not blocked: {ex['message']} {why}"
    elif attack.expect == "no gain":
        assert ex["score"] == 0, f"the attack gained points: {ex}"
    elif attack.expect == "flagged":
        # it wins, full marks: no in-process defence stops it, and the flag below is all that shows it
        assert ex["status"] == "passed" and ex["score"] == ex["max_score"], (ex["status"], ex["message"], why)
    else:
        assert ex["status"] == attack.expect and ex["score"] == (ex["max_score"] if attack.expect == "passed" else 0), (
            ex["status"],
            ex["message"],
            why,
        )
        assert attack.expect == "passed" or ex["message"] or why
    assert attack.message in ex["message"], ex["message"]
    assert not attack.flag or any(attack.flag in f for f in ex.get("flags", [])), ex.get("flags")
    honest = {k: v for k, v in statuses(r).items() if k != attack.target}
    assert set(honest.values()) == {"passed"}, [
        (e["id"], e["message"]) for e in r["exercises"] if e["id"] in honest and e["status"] != "passed"
    ]


@pytest.mark.parametrize("attack", REAL, ids=[f"{a.name} (without {a.real})" for a in REAL])
def test_the_attack_works_without_its_defence(graded_without, attack):
    """The same attack with its layers off: it works, so the attack is real and they stop it."""
    ex = _target(graded_without[attack.name], attack)
    messages = [c["message"] for c in ex["checks"] if not c["passed"]]
    if attack.expect == "blocked":
        assert any("attack succeeded" in m for m in messages), (ex["status"], messages[:3])
    else:
        assert ex["status"] == "passed", (ex["status"], ex["message"], messages[:3])


def test_the_machine_is_left_clean(graded):
    _, before, after = graded
    assert after["files"] == before["files"], "the grader's files changed"
    assert after["sleepers"] == before["sleepers"] == [], "processes of a submission outlived its grading"
    assert not os.path.exists(CANARY) and not os.path.exists(CANARY + "-results.json")
    assert after["tcp"] == [] and after["udp"] == b"", "a submission reached the network"
    assert after["unix"] == [], "a submission reached a Unix socket of the host"
    assert not before["ipc"] and not after["ipc"], "a submission's SysV IPC outlived its sandbox"


def test_the_clean_check_sees_what_a_sandbox_leaves(tmp_path):
    """What `_sleepers` must see, left by this test itself: a process whose main thread exited (a
    zombie to ps) while a marked thread runs on, and a plain fork, marked by its name only (the
    command line, a script's path, does not hold the mark). The sweep counts the first alive, as
    it once did not (`zombies=False`), and ends both."""
    mark = f"course-{uuid.uuid4().hex[:6]}"
    fork = f"if os.fork() == 0:\n    ctypes.CDLL(None).prctl(15, b'{mark}s', 0, 0, 0)\n    time.sleep(600)\n"
    script = tmp_path / "leaves.py"
    script.write_text(_fill(ZOMBIE, {"MARK": mark}) + fork + "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while len(left := _sleepers(mark)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(line.split()[2] for line in left) == [mark + "s", mark + "z"], left
        zombie = int(next(line for line in left if line.split()[2] == mark + "z").split("/")[0])
        assert Path(f"/proc/{zombie}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
        assert zombie in procs.descendants(proc.pid, proc.pid)
        assert zombie not in procs.descendants(proc.pid, proc.pid, zombies=False)
    finally:
        procs.kill_tree(proc.pid)
        proc.wait(10)
    deadline = time.monotonic() + 10
    while _sleepers(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _sleepers(mark) == []


def test_the_report_says_which_isolation_was_in_force(graded):
    results, _, _ = graded
    layers = results["getattr with a built name"]["isolation"]
    if not layers["namespaces"].startswith("none"):
        assert "IPC" in layers["namespaces"], layers["namespaces"]
    assert set(layers) >= {"namespaces", "user", "filesystem", "signals", "network", "exercises", "threads"}
    assert all(isinstance(v, str) and v for v in layers.values())


def test_flags_cost_the_exercise_where_course_toml_says_so(course, forged, tmp_path):
    """The forger wins in its own process; flagged, it scores 0 where flags are forbidden."""
    forger = next(a for a in ATTACKS if a.source == FORGER)
    path = _submissions(tmp_path, [forger], {"FORGED": forged})
    strict = dataclasses.replace(course, flags_forbidden=True)
    (r,) = _grade(strict, path, workers=1)
    ex = _target(r, forger)
    assert ex["status"] == "forbidden" and ex["score"] == 0, ex
    assert ex["message"].startswith("flagged for review") and any("(gc)" in f for f in ex["flags"])


def _storm_beside_honest(course, tmp: Path) -> list[dict]:
    """A process storm (in every exercise: processes up to the limit, and a signal to every process
    it may send one to) graded in one slot while three honest submissions are graded in the other."""
    storm = make_submission(tmp, A, "storm", extra_cells=[STORM])
    honest = [make_submission(tmp, A, f"honest{i}") for i in range(3)]
    return _grade(course, [storm, *honest], workers=2)[1:]


def test_a_process_storm_leaves_the_submission_beside_it_alone(course, tmp_path):
    for r in _storm_beside_honest(course, tmp_path):
        assert r["score"] == r["max_score"], [
            (e["id"], e["message"]) for e in r["exercises"] if e["status"] != "passed"
        ]
        if os.getuid() == 0:  # each slot its own uid
            assert "this submission's own" in r["isolation"]["user"], r["isolation"]


@shows("slots,landlock")
def test_a_process_storm_is_real_when_slots_share_a_uid(course, tmp_path, without):
    """The same storm where every slot runs as one uid and signals are not scoped: it reaches the
    submission beside it, so the uid per slot is what stops it (Landlock's signal scope too)."""
    with _without(without):
        honest = _storm_beside_honest(course, tmp_path)
    assert any(r["score"] < r["max_score"] for r in honest), [r["score"] for r in honest]


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


LEAKER = """
class _Leak(type):
    # binding an earlier exercise's reference class calls the metaclass of the student's base,
    # with the reference's methods in hand: raise them as the message
    def __new__(mcls, name, bases, ns):
        codes = [v.__code__ for v in ns.values() if hasattr(v, "__code__")]
        if any(c.co_filename.startswith("<reference") for c in codes):
            raise ValueError("LEAKED " + repr([c.co_names for c in codes]))
        return super().__new__(mcls, name, bases, ns)
Callback = _Leak("Callback", (Callback,), {})
"""


def test_no_reference_text_reaches_what_a_student_sees(tmp_path):
    """A cell that hooks the building of classes, so that binding an earlier exercise's reference
    class raises with that reference's code in its message: the report, the feedback page and
    Gradescope's results say the reference could not be defined, never what it raised."""
    from autograder import cli

    path = make_submission(tmp_path, "05_anneal", "leaker", extra_cells=[LEAKER])
    out = tmp_path / "out"
    args = ["--root", str(ROOT), "grade", "05_anneal", str(path), "--seed", "1", "--device", "cpu", "--no-store"]
    args += ["--json", str(out / "report.json"), "--feedback", str(out / "feedback")]
    args += ["--gradescope", str(out / "results.json")]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(args) == 0
    messages = [e["message"] for e in json.loads((out / "report.json").read_text())["results"][0]["exercises"]]
    assert any("could not be defined" in m for m in messages), "the hook never met a reference: nothing shown"
    seen = [p for p in out.rglob("*") if p.is_file()]
    assert len(seen) >= 3, seen
    for p in seen:
        assert "LEAKED" not in p.read_text(errors="replace"), f"{p.name} shows what the reference raised"
