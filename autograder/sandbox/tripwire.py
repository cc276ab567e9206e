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
led to it is not trusted: trusted code is the reference solutions of the
other exercises (`<reference ...>`) and the notebook's unchanged given cells
(`<given ...>`). A probe that calls a student's "function" which is really
torch's own is caught the same way: the probe is not trusted either.

This runs inside the sandbox, so it stops honest mistakes and casual
cheating, not a submission that sets out to switch it off; it reports when
its hooks were removed, and the AST check and hidden checks still apply.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import FrameType

import torch
from torch.overrides import TorchFunctionMode, _get_current_function_mode_stack

TORCH_DIR = os.path.dirname(torch.__file__) + os.sep
TRUSTED = ("<reference", "<given")


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
    """The nearest frame outside torch (and outside this module)."""
    while frame is not None and (
        frame.f_code.co_filename.startswith(TORCH_DIR) or frame.f_code.co_filename == __file__
    ):
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
    # a probe called it directly: the student's name is bound to torch's own function
    return "as the exercise's own function (an alias of torch's)"


class Tripwire(TorchFunctionMode):
    """Use as `with Tripwire(names):`; `hits` lists the forbidden calls seen, `intact()` says
    whether both hooks are still in place."""

    def __init__(self, forbidden: list[str]):
        super().__init__()
        self.functions = {f.rsplit(".", 1)[-1] for f in forbidden if _package_dir(f) is None}
        self.packages = tuple(d for f in forbidden if (d := _package_dir(f)))
        self.hits: list[str] = []
        self.armed = bool(self.functions or self.packages)

    def _hit(self, what: str, frame: FrameType | None) -> None:
        caller = _caller(frame)
        if caller is not None and caller.f_code.co_filename.startswith(TRUSTED):
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
        if code.co_filename.startswith(TORCH_DIR) and (
            code.co_name in self.functions or code.co_filename.startswith(self.packages)
        ):
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
