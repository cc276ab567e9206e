"""What the grader tries, one small function per behaviour.

A check is a *probe*, written once, that builds inputs and calls the code
under test through a namespace `ns`:

    @check("logsumexp", "stays finite for magnitudes of 1e4")
    def _(ns, t):
        return ns.logsumexp(t.tensor([[1e4, 0.], [-1e4, 1e4]]))

The same probe runs three times with the same inputs: in the sandbox on the
student's code, and in the grader on the reference solution and (for
`oracle=True`) on torch's own implementation (`autograder.oracle`). Only the
student's probe result crosses back, as plain data; a *judge* in the grader
compares it with the others. Expected values never enter the sandbox.

`t` makes the inputs: seeded per grading run and per check, on the device
being checked, so the sandbox and the grader build identical tensors.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


class Missing(Exception):
    """The namespace does not define a name a check needs."""


class Namespace:
    """Attribute access to a notebook's globals (or a module's)."""

    def __init__(self, names: dict[str, Any], fallback: Namespace | None = None):
        self._names, self._fallback = names, fallback

    def __getattr__(self, name: str) -> Any:
        if name in self._names:
            return self._names[name]
        if self._fallback is not None:
            return getattr(self._fallback, name)
        raise Missing(f"the notebook defines no {name!r}")


class Inputs:
    """Deterministic inputs for one check on one device."""

    def __init__(self, seed: int, check_name: str, device: str):
        digest = hashlib.sha256(f"{seed}:{check_name}".encode()).digest()
        self.seed = int.from_bytes(digest[:4], "little")
        self.device = torch.device(device)
        self.gen = torch.Generator().manual_seed(self.seed)

    def tensor(self, data: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
        t = torch.tensor(data, dtype=dtype)
        if dtype is None and t.is_floating_point():
            t = t.float()  # whatever default dtype the notebook set
        return t.to(self.device)

    def randn(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen, dtype=dtype).to(self.device)

    def randint(self, high: int, *shape: int) -> torch.Tensor:
        return torch.randint(high, shape, generator=self.gen).to(self.device)

    def rand(self) -> float:
        return float(torch.rand((), generator=self.gen))

    def manual_seed(self) -> None:
        """Seed torch's global generators, for code under test that draws from them."""
        torch.manual_seed(self.seed)


def floats(xs) -> list[float]:
    """Each item of `xs` as a plain float.

    For probes of behaviour that may come back as floats, 0-d tensors or numpy numbers alike:
    the judge then compares numbers, whichever the student's code returned.
    """
    return [float(x) for x in xs]


Probe = Callable[[Namespace, Inputs], Any]
Judge = Callable[[Any, Any, "Context"], "str | None"]
# A plot turns the two results (student's, reference's) into a picture for the feedback page, as
# plain data (see `autograder.checks.plots`); it runs in the grader, on untrusted data.
Plot = Callable[[Any, Any], "dict | None"]


@dataclass(frozen=True)
class Context:
    """What a judge knows besides the two results."""

    device: str
    tolerance: Callable[[str], Any]  # dtype name -> Tolerance
    # A visible check's inputs are the student's to see (`course check`): its messages may show
    # the expected value. A hidden check's say where and how the result differs, never the value.
    visible: bool = False


@dataclass(frozen=True)
class Check:
    exercise: str
    name: str
    probe: Probe
    judge: Judge
    oracle: bool = False  # also compare with torch's implementation
    visible: bool = False  # part of the student's self-check (`course check`)
    plot: Plot | None = None  # a picture of both results for the student's feedback page


@dataclass
class Registry:
    checks: list[Check] = field(default_factory=list)

    def __call__(
        self,
        exercise: str,
        name: str,
        *,
        judge: Judge | None = None,
        oracle: bool = False,
        visible: bool = False,
        plot: Plot | None = None,
    ) -> Callable[[Probe], Probe]:
        from . import oracle as torch_side
        from .judges import close

        def register(probe: Probe) -> Probe:
            if any(c.exercise == exercise and c.name == name for c in self.checks):
                raise ValueError(f"check {exercise}/{name!r} registered twice")
            if oracle and (why := torch_side.defines(exercise)):
                raise ValueError(f"check {exercise}/{name!r} claims oracle=True, but {why}")
            self.checks.append(Check(exercise, name, probe, judge or close, oracle, visible, plot))
            return probe

        return register

    def for_exercise(self, exercise: str) -> list[Check]:
        return [c for c in self.checks if c.exercise == exercise]


def registry(module: str) -> Registry:
    """The checks of an assignment, from `autograder.checks.<module>`."""
    return importlib.import_module(f"{__name__}.{module}").check
