"""The kit's code as it was before any student code ran, and the kit out of the student's sight.

Student code shares the cells' process with the kit, and a student can read
the kit's source and reach its objects through `gc`. So before the first
student line the cells' process takes `Seal` of every kit module (and the
submission's record), and takes the kit out of `sys.modules` (`hide_kit`;
importing it is refused since the sandbox parent started). A probe after
which the seal is broken counts as forbidden: "the grader's own code was
changed at run time". `broken()` runs after student code: it uses only `K`,
constants and its own builtins (`bound`).
"""

from __future__ import annotations

import sys
from types import BuiltinFunctionType, CodeType, ModuleType

from .bound import K
from .private import own_builtins

__builtins__ = own_builtins()  # noqa: A001  (see `bound`)

KIT = "autograder"  # the kit's top package: out of the student's sight in a child
# Values the seal compares but never looks into (most of what it walks: names, docstrings, C
# functions, code objects): `_parts` would find nothing in them, at a cost per probe.
ATOMS = frozenset({str, int, float, bool, bytes, type(None), BuiltinFunctionType, CodeType})


# The kit's modules whose code runs after the first student line (`bound` says which code, and
# tests/test_bound.py checks that this lists every module it reaches), besides the assignment's
# checks module: what the seal watches. The rest of the kit (the grader's side, which a sandbox
# imports with these) never runs there again, so its change is nobody's gain.
AFTER_FIRST_LINE = (
    "autograder.wire",
    "autograder.checks",
    "autograder.sandbox.bound",
    "autograder.sandbox.cells",
    "autograder.sandbox.exercises",
    "autograder.sandbox.isolation",
    "autograder.sandbox.limits",
    "autograder.sandbox.private",
    "autograder.sandbox.procs",
    "autograder.sandbox.seal",
    "autograder.sandbox.seccomp",
    "autograder.sandbox.tripwire",
)


def sealed_modules(checks_module: str) -> list[ModuleType]:
    """The modules the seal watches in a sandbox for `checks_module` (`AFTER_FIRST_LINE`)."""
    return [sys.modules[name] for name in (*AFTER_FIRST_LINE, f"{KIT}.checks.{checks_module}")]


def kit_modules() -> list[ModuleType]:
    return [m for name, m in sys.modules.items() if name == KIT or name.startswith(KIT + ".")]


def hide_kit() -> None:
    """The kit out of the student's sight: out of sys.modules, and refused by the import system
    (`parent.Blocked`, in place since the parent started). The cells' process keeps what it
    bound (`exercises.Exercises`)."""
    for module in kit_modules():
        del sys.modules[module.__name__]


def settle(modules: list[ModuleType]) -> None:
    """torch wraps an optimizer class's `step` on its first instance (for its profiler): the kit's
    own optimizers (a probe's counting SGD) get theirs now, so the seal sees them as they stay."""
    import torch

    for module in modules:
        for obj in list(vars(module).values()):
            if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer) and obj.__module__ == module.__name__:
                obj([torch.zeros(1, requires_grad=True)], lr=0.1)


class Seal:
    """Every object the roots hold, and what their functions, classes, instances and containers
    hold, a few levels down (kept alive, so an id is never reused). `broken()` says whether any of
    it was replaced since: a method of the tripwire, a probe, the encoder, a function's code or
    defaults. So the kit keeps no state that changes while it grades (a module-level cache would
    read as tampering)."""

    DEPTH = 5

    def __init__(self, roots: list[object]):
        self.roots = roots
        self.objects, self.looked_into = self._walk()
        # what each object the walk looked into held then, by identity (the objects are kept
        # alive in `objects`, so an id is never reused): checking that again is the seal's
        # check, in C loops but for `_parts`, and the same as walking again
        self.held = [self._ids(obj) for obj in self.looked_into]

    def _walk(self) -> tuple[list[object], list[object]]:
        seen: set[int] = set()
        out: list[object] = []
        looked_into: list[object] = []
        todo = [(root, 0) for root in reversed(self.roots)]
        atoms = ATOMS
        while todo:
            obj, depth = todo.pop()
            out.append(obj)
            if depth < self.DEPTH and type(obj) not in atoms and id(obj) not in seen:
                seen.add(id(obj))
                looked_into.append(obj)
                todo += [(part, depth + 1) for part in reversed(self._parts(obj))]
        return out, looked_into

    def _ids(self, obj: object) -> tuple[int, ...]:
        return tuple(map(id, self._parts(obj)))

    def renewed(self) -> Seal:
        """The same roots, walked again: after the sandbox itself added to them (an exercise's
        references, compiled into `Trusted`), checking `broken()` first."""
        return type(self)(self.roots)

    def broken(self) -> bool:
        """Whether anything the walk looked into holds other objects now: a walk again would
        differ exactly then."""
        ids = self._ids
        return any(ids(obj) != then for obj, then in zip(self.looked_into, self.held, strict=True))

    @staticmethod
    def _items(d: dict) -> list[object]:
        """Keys and values, but a module's warnings registry: Python adds it to the globals of code
        that warned (a probe's float() of a tensor that requires grad), the student has no part in it."""
        return [x for item in d.items() if item[0] != "__warningregistry__" for x in item]

    @staticmethod
    def _contents(cell: object) -> object:
        try:
            return cell.cell_contents
        except ValueError:  # a closure's variable not bound yet
            return None

    def _parts(self, obj: object) -> list[object]:
        """What the seal looks inside `obj` for: the kit's modules, functions, classes and instances,
        and containers; nothing of torch's or the standard library's."""
        if isinstance(obj, K.ModuleType):
            return self._items(vars(obj)) if obj.__name__.startswith(KIT) else []
        if isinstance(obj, K.FunctionType):
            if not str(obj.__module__).startswith(KIT):
                return []  # torch's, which a notebook may patch in its own namespace: not the kit's code
            cells = [self._contents(c) for c in obj.__closure__ or ()]
            return [obj.__code__, obj.__defaults__, obj.__kwdefaults__, obj.__globals__, *cells]
        if isinstance(obj, (staticmethod, classmethod)):
            return [obj.__func__]
        if isinstance(obj, property):
            return [obj.fget, obj.fset, obj.fdel]
        if isinstance(obj, (list, tuple, set, frozenset)):
            return list(obj)
        if isinstance(obj, dict):
            return self._items(obj)
        if isinstance(obj, type):
            return [*vars(obj).values()] if obj.__module__.startswith(KIT) else []
        if type(obj).__module__.startswith(KIT):
            return [type(obj), *getattr(obj, "__dict__", {}).values()]
        return []
