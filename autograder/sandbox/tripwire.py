"""Catching, at run time, a forbidden torch function called on the student's behalf.

The AST check (`forbidden`) reads the solution cell; this one watches what
runs while the exercise's checks probe it, so `getattr(torch, "logsum" +
"exp")`, an alias made in another cell, `eval` or `functools.partial` are
caught too. Two hooks, because torch functions come in two kinds:

- functions implemented in C (`torch.logsumexp`, `Tensor.softmax`, ...) and
  those of `torch.nn.functional` all pass through torch's `__torch_function__`
  protocol, so a `TorchFunctionMode` sees each call, however it was reached;
- plain Python code (`torch.optim`, `torch.utils.data`, `default_collate`)
  starts a Python frame, which `sys.setprofile` sees.

A call counts against the student when the nearest code outside torch that
led to it is not trusted. Trusted code is what the worker compiled itself,
before any student code ran, from the other exercises' reference solutions
and the notebook's given cells (`Trusted`): those code objects, by identity,
run in the notebook's globals. A file name proves nothing (a student can
`compile(src, "<given 0>", "exec")`), and neither does a path under torch's
folder: torch's own frames are those whose globals are the torch module
loaded from that file. A probe that calls a student's "function" which is
really torch's own is caught the same way: the probe is not trusted either.

This runs inside the sandbox, in the student's process: README ("Security")
says what it can and cannot promise against a student who has read the kit.
It reports when its hooks were removed; the worker's seal reports when its
code was changed; the AST checks (`grading.forbidden`, `grading.flags`) and
the hidden checks still apply.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import CodeType, FrameType

import torch
from torch.overrides import TorchFunctionMode, _get_current_function_mode_stack

TORCH_DIR = os.path.dirname(torch.__file__) + os.sep


class Trusted:
    """The course's own code in one child: code objects the worker compiled itself from given cells
    and reference solutions, before any student code ran, and the globals they run in.

    Identity, not equality: code objects compare equal by value, so a student's `compile()` of the
    same source under the same file name would equal ours; its id never can while ours are alive
    (they are kept here)."""

    def __init__(self, names: dict):
        self._names = id(names)  # the notebook's globals live as long as the child: the id is theirs
        self._codes: list[CodeType] = []
        self._ids: set[int] = set()
        self._compile = compile  # bound now: an exercise's references are compiled after the cells ran

    def compile(self, source: str, filename: str) -> CodeType:
        """Compile the course's `source`; it and every function, class and comprehension in it are trusted."""
        code = self._compile(source, filename, "exec")
        self._add(code)
        return code

    def _add(self, code: CodeType) -> None:
        self._codes.append(code)
        self._ids.add(id(code))
        for const in code.co_consts:
            if isinstance(const, CodeType):
                self._add(const)

    def ran(self, frame: FrameType) -> bool:
        """Whether `frame` runs trusted code, in the notebook's globals (not a copy the student made)."""
        return id(frame.f_code) in self._ids and id(frame.f_globals) == self._names


def _torch_frame(frame: FrameType) -> bool:
    """torch's own code: its file is under torch's folder, and it runs in the globals of the torch
    module loaded from that file (a path can be forged with compile(); the module cannot)."""
    filename = frame.f_code.co_filename
    if not filename.startswith(TORCH_DIR):
        return False
    module = sys.modules.get(dict.get(frame.f_globals, "__name__", ""))  # dict's own get: no student code
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
    if name.startswith("<"):
        return f"from code made with eval/exec ({name})"
    if name.startswith(TORCH_DIR):
        return f"from code that claims to be torch's ({name[len(TORCH_DIR) :]}, line {frame.f_lineno})"
    # a probe called it directly: the student's name is bound to torch's own function
    return "as the exercise's own function (an alias of torch's)"


Watched = tuple[frozenset[str], tuple[str, ...]]  # function names, and package folders


def watch(forbidden: list[str]) -> Watched:
    """What a tripwire watches for `forbidden` (course.toml's names): the function names, and the
    folders of the packages named (found by importing them: once per exercise, not per probe)."""
    dirs = {f: _package_dir(f) for f in forbidden}
    return frozenset(f.rsplit(".", 1)[-1] for f, d in dirs.items() if d is None), tuple(d for d in dirs.values() if d)


class Tripwire(TorchFunctionMode):
    """Use as `with Tripwire(watch(names), trusted):`; `hits` lists the forbidden calls seen,
    `intact()` says whether both hooks are still in place."""

    def __init__(self, watched: Watched, trusted: Trusted):
        super().__init__()
        self.trusted = trusted
        self.functions, self.packages = watched
        self.hits: list[str] = []
        self.armed = bool(self.functions or self.packages)

    def _hit(self, what: str, frame: FrameType | None) -> None:
        caller = _caller(frame)
        if caller is not None and self.trusted.ran(caller):
            return
        if len(self.hits) < 5:
            hit = f"{what} called {_caller_line(caller)}"
            if hit not in self.hits:
                self.hits.append(hit)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self.functions:
            self._hit(f"torch's {name}", sys._getframe(1))
        return func(*args, **(kwargs or {}))

    def _profile(self, frame: FrameType, event: str, arg) -> None:
        if event != "call":
            return
        code = frame.f_code
        if (code.co_name in self.functions or code.co_filename.startswith(self.packages)) and _torch_frame(frame):
            package = code.co_filename[len(TORCH_DIR) :].rsplit(os.sep, 1)[0].replace(os.sep, ".")
            self._hit(f"torch.{package}'s {code.co_qualname}", frame.f_back)

    def __enter__(self):
        if not self.armed:
            return self
        sys.setprofile(self._profile)
        return super().__enter__()

    def __exit__(self, *exc):
        if not self.armed:
            return None
        sys.setprofile(None)
        return super().__exit__(*exc)

    def intact(self) -> bool:
        """Both hooks still in place (call inside the `with`)."""
        if not self.armed:
            return True
        stack = _get_current_function_mode_stack()
        return bool(stack) and stack[-1] is self and sys.getprofile() == self._profile
