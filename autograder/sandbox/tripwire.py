"""Catching, at run time, a forbidden torch computation run on the student's behalf.

The AST check (`forbidden`) reads the solution cell; this one watches what
runs while the exercise's checks probe it, so `getattr(torch, "logsum" +
"exp")`, an alias made in another cell, `eval`, `functools.partial`, a
private or `special` entry point or `torch.ops.aten` are caught too. What is
forbidden is a computation, not a name (`watch`, decided once per submission,
before its first line runs):

- the aten operators whose name holds a forbidden name (`operators`:
  `logsumexp` -> `aten::logsumexp`; `cross_entropy`, which torch always
  decomposes, is seen as the `_log_softmax` and `nll_loss_forward` it runs).
  Whatever Python entry point reached it, an operator passes through torch's
  dispatcher, where a `TorchDispatchMode` sees it by its registered name;
- torch's own Python code (`torch.optim`, `torch.utils.data`, `torch.nn.init`,
  the Python references of `torch._refs`): a frame of torch's module whose
  code's name holds a forbidden name, or in a forbidden package, which
  `sys.setprofile` sees.

A call counts against the student when the nearest code outside torch that
led to it is not trusted. Trusted code is what the sandbox compiled itself,
before any student code ran, from the other exercises' reference solutions
and the notebook's given cells (`Trusted`): those code objects, by identity,
run in the notebook's globals. A file name proves nothing (a student can
`compile(src, "<given 0>", "exec")`), and neither does a path under torch's
folder: torch's own frames are those whose globals are the torch module
loaded from that file. A probe that calls a student's "function" which is
really torch's own is caught the same way: the probe is not trusted either.

Both hooks belong to the thread that set them: `seccomp` makes that the only
thread. Each hit is reported as it happens (`report`: the sandbox sends it on
the reply pipe at once), so erasing a record afterwards changes nothing. A
switch of the profile hook by anyone but the tripwire (`guard`'s audit hook,
which no code can remove), a direct call of torch's mode-stack functions, or
a hook found missing at the end of the probe counts as a hit too. What this
cannot promise against a student who has read the kit is in README, "Security".
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import os
import sys
from collections.abc import Callable
from types import CodeType, FrameType, MappingProxyType, ModuleType
from typing import NamedTuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .bound import K
from .private import own_builtins

__builtins__ = own_builtins()  # noqa: A001  (its hooks run after student code: `bound`)

SEP = os.sep
TORCH_DIR = os.path.dirname(torch.__file__) + SEP
MISSING = object()  # a name a namespace did not hold
# torch's functions that push or pop a mode: called directly by the student, they pause the watch
SWITCHES = tuple(
    getattr(torch._C, name)
    for name in (
        "_pop_torch_dispatch_stack",
        "_push_on_torch_dispatch_stack",
        "_set_dispatch_mode",
        "_unset_dispatch_mode",
        "_pop_torch_function_stack",
        "_push_on_torch_function_stack",
        "_set_torch_function_state",
    )
    if hasattr(torch._C, name)
)


class Trusted:
    """The course's own code in one child: code objects the sandbox compiled itself from given cells
    and reference solutions, before any student code ran, and the globals they run in.

    Identity, not equality: code objects compare equal by value, so a student's `compile()` of the
    same source under the same file name would equal ours; its id never can while ours are alive
    (they are kept here)."""

    def __init__(self, names: dict, check_names: bool = True):
        self._names = id(names)  # the notebook's globals live as long as the child: the id is theirs
        self._codes: list[CodeType] = []
        self._ids: set[int] = set()
        self._compile = compile  # bound now: an exercise's references are compiled after the cells ran
        self.check_names = check_names
        self._imported: dict[str, object] = {}  # name -> what the given cells' imports bind it to
        # The namespaces given code reaches its functions through, as they were before any student
        # code: live read-only views (which the seal does not walk: torch adds to them lazily) and
        # copies (which it does)
        self._namespaces: list[object] = []
        self._then: list[tuple[MappingProxyType, dict]] = []
        for namespace in (builtins, torch.Tensor, *torch.Tensor.__mro__[1:-1]):
            self._remember(namespace)
        self._builtins = self._then[0][1]  # the builtins' copy, for names the notebook may shadow

    def compile(self, source: str, filename: str) -> CodeType:
        """Compile the course's `source`; it and every function, class and comprehension in it are trusted."""
        code = self._compile(source, filename, "exec")
        self._add(code)
        return code

    def given(self, source: str, filename: str) -> CodeType:
        """`compile` for a given cell, before any student code runs: what its imports bind (`import
        torch.nn.functional as F`: F is that module) is what it means by those names from now on."""
        code = self.compile(source, filename)
        for node in ast.walk(ast.parse(source)):
            for alias in node.names if isinstance(node, (ast.Import, ast.ImportFrom)) else ():
                name = alias.asname or alias.name.split(".")[0]
                # what is imported already (the pool server preloads torch): importing more here
                # would cost every submission seconds, for modules no forbidden call goes through
                if isinstance(node, ast.ImportFrom):
                    obj = getattr(sys.modules.get(node.module or ""), alias.name, MISSING)
                else:
                    obj = sys.modules.get(alias.name if alias.asname else name, MISSING)
                if obj is MISSING:
                    continue
                self._imported[name] = obj
                if isinstance(obj, ModuleType):
                    self._remember(obj)
        return code

    def _remember(self, namespace: object) -> None:
        if all(namespace is not seen for seen in self._namespaces):
            self._namespaces.append(namespace)
            live = vars(namespace)
            self._then.append((live if isinstance(live, MappingProxyType) else MappingProxyType(live), dict(live)))

    def _add(self, code: CodeType) -> None:
        self._codes.append(code)
        self._ids.add(id(code))
        for const in code.co_consts:
            if isinstance(const, CodeType):
                self._add(const)

    def ran(self, frame: FrameType) -> bool:
        """Whether `frame` runs trusted code, in the notebook's globals (not a copy the student made),
        with the names it uses still meaning what they meant before any student code ran."""
        code = frame.f_code
        if id(code) not in self._ids or id(frame.f_globals) != self._names:
            return False
        return not self.check_names or self.names_hold(code, frame.f_globals)

    def owns(self, obj: object) -> bool:
        """Whether `obj` is a function of the course's code (given cells, references)."""
        return id(getattr(obj, "__code__", None)) in self._ids

    def names_hold(self, code: CodeType, names: dict) -> bool:
        """Every global and attribute name `code` uses is bound as it was: a notebook's `F = ...`
        or `torch.Tensor.exp = torch.Tensor.softmax` would make given code run a forbidden
        function under an allowed name, on the student's behalf."""
        for name in code.co_names:
            meant = dict.get(self._imported, name, MISSING)
            now = dict.get(names, name, MISSING)
            if meant is not MISSING and now is not meant:
                return False
            # a builtin the notebook shadows with a callable of its own making (`abs = torch.sigmoid`)
            if meant is MISSING and name in self._builtins and callable(now) and not self.owns(now):
                return False
            for live, then in self._then:  # replaced, or shadowed (`torch.Tensor.exp` over TensorBase's)
                if live.get(name, MISSING) is not dict.get(then, name, MISSING):
                    return False
        return True


def _torch_frame(frame: FrameType) -> bool:
    """torch's own code: its file is under torch's folder, and it runs in the globals of the torch
    module loaded from that file (a path can be forged with compile(); the module cannot)."""
    filename = frame.f_code.co_filename
    if not filename.startswith(TORCH_DIR):
        return False
    module = K.modules_get(dict.get(frame.f_globals, "__name__", ""))  # dict's own get: no student code
    return module is not None and vars(module) is frame.f_globals


def _package_dir(name: str) -> str | None:
    """The folder of torch package `name` ("optim", "torch.utils.data"), or None for a function name."""
    for candidate in (name, f"torch.{name}"):
        if not candidate.startswith("torch."):
            continue
        try:
            module = importlib.import_module(candidate)
        except ImportError:
            continue
        if getattr(module, "__path__", None):
            return os.path.dirname(module.__file__) + os.sep
    return None


def _caller(frame: FrameType | None) -> FrameType | None:
    """The nearest frame outside torch (and outside this module, by the same test)."""
    while frame is not None and (_torch_frame(frame) or frame.f_globals is globals()):
        frame = frame.f_back
    return frame


def _caller_line(frame: FrameType | None) -> str:
    """Where a forbidden call came from, as its hit says: a notebook line, eval'd code, or a probe."""
    if frame is None:
        return "from outside any Python code"
    name = frame.f_code.co_filename
    if name.startswith("<cell"):
        return f"from {name.strip('<>')}, line {frame.f_lineno}"
    if name.startswith(("<given", "<reference")):  # trusted code, but `Trusted.names_hold` said no
        return f"from the course's code ({name.strip('<>')}) after the notebook changed a name it calls"
    if name.startswith("<"):
        return f"from code made with eval/exec ({name})"
    if name.startswith(TORCH_DIR):
        return f"from code that claims to be torch's ({name[len(TORCH_DIR) :]}, line {frame.f_lineno})"
    # a probe called it directly: the student's name is bound to torch's own function
    return "as the exercise's own function (an alias of torch's)"


@functools.cache  # torch's operator table does not change (one walk per name, not per probe)
def operators(name: str) -> frozenset[str]:
    """The aten operators that compute `name`: those whose registered name holds it
    (`log_softmax` -> `aten::_log_softmax`, `aten::special_log_softmax`, ...). Backward operators
    are left out: they run for a forward one that was already seen, and the autograd engine runs
    them from whoever calls `backward()`, a reference's graph included."""
    stem = name.strip("_")
    return frozenset(
        op
        for op in torch._C._dispatch_get_all_op_names()
        if op.startswith("aten::") and stem in op and "backward" not in op
    )


class Watched(NamedTuple):
    """What one exercise forbids, resolved before any student code runs."""

    operators: frozenset[str]  # aten operators, by their registered names
    functions: tuple[str, ...]  # names of torch's Python functions ("kaiming_uniform_", "logsumexp")
    packages: tuple[str, ...]  # folders of torch's Python packages ("torch/optim/")

    def __bool__(self) -> bool:
        return bool(self.operators or self.functions or self.packages)


def watch(forbidden: list[str]) -> Watched:
    """What a tripwire watches for `forbidden` (course.toml's names, for one exercise): the
    operators and Python functions that hold a name, and the folders of the packages named."""
    dirs = {f: _package_dir(f) for f in forbidden}
    names = [f.rsplit(".", 1)[-1] for f, d in dirs.items() if d is None]
    return Watched(
        frozenset().union(*map(operators, names)),
        tuple(n.strip("_") for n in names),
        tuple(d for d in dirs.values() if d),
    )


class Tripwire(TorchDispatchMode):
    """Use as `with Tripwire(watched, trusted, report):`. Each forbidden call is passed to `report`
    as it happens, and kept in `hits` (the first five); `intact()` says whether both hooks are
    still in place."""

    def __init__(self, watched: Watched, trusted: Trusted, report: Callable[[str], None] | None = None):
        super().__init__()
        self.trusted, self.report = trusted, report
        self.operators, self.functions, self.packages = watched
        self.hits: list[str] = []
        # Each hook only where it has something to see: the dispatch mode costs every aten operator
        # a trip through Python, the profile hook every call. A watch of packages alone (torch.optim,
        # torch.nn.init's functions) needs no operator watch; one that forbids nothing, neither.
        self.mode = bool(self.operators)
        self.hook = bool(self.functions or self.packages)
        self.armed = self.mode or self.hook

    def _record(self, hit: str) -> None:
        if self.report is not None:
            self.report(hit)
        if len(self.hits) < 5 and hit not in self.hits:
            self.hits.append(hit)

    def _hit(self, what: str, frame: FrameType | None) -> None:
        caller = _caller(frame)
        if caller is None or not self.trusted.ran(caller):
            self._record(f"{what} called {_caller_line(caller)}")

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        if name in self.operators:
            self._hit(f"torch's {name.removeprefix('aten::')}", K.getframe(1))
        return func(*args, **(kwargs or {}))

    def _profile(self, frame: FrameType, event: str, arg) -> None:
        # Runs on every call while a probe runs: what is not torch's is let go first, in C.
        if event == "call":
            code = frame.f_code
            filename = code.co_filename
            if not filename.startswith(TORCH_DIR):
                return
            name = code.co_name
            if (
                filename.startswith(self.packages) or self.functions and any(f in name for f in self.functions)
            ) and _torch_frame(frame):
                package = filename[len(TORCH_DIR) :].rsplit(SEP, 1)[0].replace(SEP, ".")
                self._hit(f"torch.{package}'s {code.co_qualname}", frame.f_back)
        elif event == "c_call" and arg in SWITCHES and not _torch_frame(frame):
            self._record("the grader's operator watch was switched off during the check")

    def paused(self) -> None:
        self._record("the grader's call tracing was switched off during the check")

    # The mode goes on first and off last, with the profile hook off: so no switch of ours is seen.
    def __enter__(self):
        if self.mode:
            super().__enter__()
        if self.hook:
            K.setprofile(self._profile)
        return self

    def __exit__(self, *exc):
        if self.hook:
            K.setprofile(None)
        return super().__exit__(*exc) if self.mode else None

    def intact(self) -> bool:
        """The hooks it set still in place (call inside the `with`)."""
        depth = K.dispatch_depth()
        on_top = not self.mode or depth > 0 and K.dispatch_at(depth - 1) is self
        return on_top and (not self.hook or K.getprofile() == self._profile)


_PROFILE = Tripwire._profile
_OWN = (Tripwire.__enter__.__code__, Tripwire.__exit__.__code__)


def _audit(event: str, args: tuple) -> None:
    """A switch of the profile hook by anyone but a tripwire, while a tripwire's is in place."""
    if event != "sys.setprofile":
        return
    profile = K.getprofile()
    if type(profile) is K.MethodType and profile.__func__ is _PROFILE and K.getframe(1).f_code not in _OWN:
        profile.__self__.paused()


def guard() -> None:
    """Watch for switches of the profile hook from now on, in this process and its forks (an audit
    hook cannot be removed): call before any student code runs."""
    sys.addaudithook(_audit)
