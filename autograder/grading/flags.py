"""Flags for review: what a from-scratch answer never needs, read from the cell's syntax tree.

A student can read the kit, so a submission that sets out to beat the grader
from inside its own process can (README, "Security"): it must reach the
interpreter's machinery to do so (gc, frames, ctypes, sys.modules, code built
at run time, a name assembled to dodge `forbidden`). None of that is ever
needed to write the lesson's functions, so each use is listed with its line
(`find`), for an instructor to look at. Flags change no score unless
course.toml's `[flags] forbidden = true` says so (`grade`).

A notebook is scanned once (`review`), within the bounds of the rest of
`[flags]`: so many flags listed per exercise and kept per notebook, so many
seconds; a notebook of thousands of flagged lines costs no more than that.
"""

from __future__ import annotations

import ast
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

from .. import notebook
from ..config import FlagLimits
from .reference import Reference

# Modules whose only use here would be to reach the grader from inside the process.
MODULES = {
    "gc": "walks the interpreter's objects (gc)",
    "ctypes": "calls C directly (ctypes)",
    "importlib": "imports at run time (importlib)",
    "inspect": "inspects frames and sources (inspect)",
    "builtins": "reaches the built-in functions (builtins)",
}
BUILT_CODE = ("exec", "eval", "compile")
# sys.<name> and threading.<name> that change or read the interpreter's own state
SYS = {
    "modules": "reaches loaded modules (sys.modules)",
    "setprofile": "switches the call tracing (setprofile)",
    "settrace": "switches the call tracing (settrace)",
    "monitoring": "switches the call tracing (sys.monitoring)",
    "_getframe": "inspects frames (sys._getframe)",
    "_current_frames": "inspects frames (sys._current_frames)",
}
# attributes that lead from an object to the code, frames or globals behind it
INTERNALS = {
    "__globals__",
    "__code__",
    "__closure__",
    "__subclasses__",
    "__builtins__",
    "f_back",
    "f_globals",
    "f_locals",
    "tb_frame",
    "gi_frame",
    "cr_frame",
    "ag_frame",
}
# torch's own switches of its dispatch and of the modes on it: torch uses them itself (printing a
# tensor), so the tripwire cannot count them as hits; a from-scratch answer never needs them
TORCH_SWITCHES = {
    "_C",
    "_DisableTorchDispatch",
    "DisableTorchFunction",
    "DisableTorchFunctionSubclass",
    "_disable_current_modes",
    "_pop_mode",
    "_pop_mode_temporarily",
}
LOOKUPS = ("getattr", "setattr", "delattr", "hasattr", "attrgetter", "methodcaller")
TORCH_NAMES = {"torch", "F", "nn", "Tensor", "optim"}  # the notebooks' own imports of torch


class OutOfTime(Exception):
    """The scan's time budget ran out."""


def _nodes(tree: ast.AST, deadline: float) -> Iterator[ast.AST]:
    """ast.walk, stopped by OutOfTime once `deadline` (time.monotonic) has passed."""
    for i, node in enumerate(ast.walk(tree)):
        if i % 1024 == 0 and time.monotonic() > deadline:
            raise OutOfTime
        yield node


def _torch_aliases(tree: ast.AST, deadline: float = math.inf) -> set[str]:
    """Names bound to torch or one of its modules, by the lesson's imports and the cell's own."""
    names = set(TORCH_NAMES)
    for node in _nodes(tree, deadline):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] == "torch"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            names |= {a.asname or a.name for a in node.names}
    return names


def _root(node: ast.AST) -> str | None:
    """`torch` for `torch.nn.functional`, `x` for `x.grad`; None for anything else."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _called(node: ast.Call) -> str | None:
    """The called function's last name: `getattr`, `exec`, `operator.attrgetter` -> `attrgetter`."""
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def _built(node: ast.AST) -> bool:
    """A name made at run time: concatenated, formatted, joined, decoded... not a plain name or a literal."""
    return not isinstance(node, (ast.Constant, ast.Name, ast.Attribute))


def _lookup(node: ast.Call, torchy: set[str]) -> str | None:
    """getattr(obj, name) and kin with a computed name, on torch or with a name built at run time."""
    name = _called(node)
    if name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
        obj, key = node.args[0], node.args[1]
    elif name in ("attrgetter", "methodcaller") and node.args:
        obj, key = None, node.args[0]
    else:
        return None
    if isinstance(key, ast.Constant):
        return None  # a plain attribute, spelled out: `forbidden` reads it
    if _built(key) or (obj is not None and _root(obj) in torchy):
        return f"looks up a name built at run time ({name})"
    return None


def _visit(node: ast.AST, torchy: set[str]) -> str | None:
    """Why `node` is flagged, or None."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for m in modules:
            if m.split(".")[0] in MODULES:
                return MODULES[m.split(".")[0]]
        if isinstance(node, ast.ImportFrom) and node.module in ("sys", "threading"):
            for a in node.names:
                if a.name in SYS:
                    return SYS[a.name]
        return None
    if isinstance(node, ast.Call):
        name = _called(node)
        if name in BUILT_CODE and isinstance(node.func, ast.Name):
            return f"code built at run time ({name})"
        if name == "__import__":
            return "imports at run time (__import__)"
        if name == "vars" and node.args and _root(node.args[0]) in torchy:
            return "looks up a name built at run time (vars)"
        return _lookup(node, torchy)
    if isinstance(node, ast.Attribute):
        base = _root(node.value)
        if base in ("sys", "threading") and isinstance(node.value, ast.Name) and node.attr in SYS:
            return SYS[node.attr]
        if base in MODULES and isinstance(node.value, ast.Name):
            return MODULES[base]
        if node.attr in INTERNALS:
            return f"reaches the interpreter's internals ({node.attr})"
        if node.attr in TORCH_SWITCHES:
            return f"switches torch's dispatch, where forbidden calls are watched ({node.attr})"
        if node.attr == "__dict__" and base in torchy:
            return "looks up a name built at run time (__dict__)"
        return None
    if isinstance(node, ast.Name) and node.id == "__builtins__":
        return "reaches the built-in functions (__builtins__)"
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Constant):
        table = node.value
        if isinstance(table, ast.Call) and _called(table) in ("globals", "locals", "vars") and not table.args:
            return f"looks up a name built at run time ({_called(table)}())"
    return None


def find(source: str, deadline: float = math.inf) -> list[str]:
    """'line N: why' for each use in `source` of what a from-scratch answer never needs, in order.
    OutOfTime once `deadline` (time.monotonic) has passed: checked before the parse, which
    cannot be stopped (a cell is at most [limits] notebook_mib), and as the tree is walked."""
    if time.monotonic() > deadline:
        raise OutOfTime
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # running the cell reports it
    except (RecursionError, MemoryError):
        return ["line 1: nested too deeply to be read"]
    torchy = _torch_aliases(tree, deadline)
    found = {(node.lineno, why) for node in _nodes(tree, deadline) if (why := _visit(node, torchy))}
    return [f"line {line}: {why}" for line, why in sorted(found)]


def student_cells(nb: notebook.Notebook, ref: Reference) -> list[notebook.Cell]:
    """Code cells the student wrote or changed: all but the release's own, unchanged (checksum)."""
    return [c for c in nb.cells if c.code and not ref.unchanged(c)]


@dataclass
class _Found:
    """One cell's flags: those kept, within the notebook's cap, and how many more it had."""

    kept: list[str]
    more: int = 0


class _Scan:
    """One notebook's scan, cell by cell, in notebook order: at most `most_per_notebook` flags kept
    in all, and no more of a cell than one exercise lists (`most_per_exercise`), so one cell cannot
    take them all; the rest are only counted. For at most `scan_seconds`; `cut` is the first cell
    not read in full, if any."""

    def __init__(self, limits: FlagLimits):
        self.left, self.most = limits.most_per_notebook, limits.most_per_exercise
        self.deadline = time.monotonic() + limits.scan_seconds
        self.cut: int | None = None

    def cell(self, cell: notebook.Cell, prefix: str) -> _Found:
        if self.cut is not None:
            return _Found([])
        try:
            found = find(notebook.runnable(cell.source), self.deadline)
        except OutOfTime:
            self.cut = cell.index
            return _Found([])
        kept = [prefix + flag for flag in found[: min(self.left, self.most)]]
        self.left -= len(kept)
        return _Found(kept, len(found) - len(kept))


def review(nb: notebook.Notebook, ref: Reference) -> dict[str, list[str]]:
    """Every exercise's flags, from one scan of the notebook: its solution cell's ("line N: why"),
    then those of the cells the student added or changed that are no exercise's solution ("cell K,
    line N: why"): they run before every exercise's checks. Other exercises' solution cells are
    flagged on their own. Bounded by course.toml's [flags] (`_listed`)."""
    limits = ref.course.flag_limits
    solutions = {gid: c for gid, c in nb.solutions().items() if gid in ref.assignment.points}
    taken = {c.index for c in solutions.values()}
    added = [c for c in student_cells(nb, ref) if c.index not in taken]
    scan = _Scan(limits)
    # in notebook order: the notebook's cap keeps the first cells' flags, a cut names the cells after it
    found = {
        c.index: scan.cell(c, "" if c.index in taken else f"cell {c.index}, ")
        for c in sorted([*solutions.values(), *added], key=lambda c: c.index)
    }
    shared = [found[c.index] for c in added]
    own = {ex: [found[c.index]] if (c := solutions.get(ex)) else [] for ex in ref.assignment.points}
    return {ex: _listed(own[ex] + shared, limits, scan.cut) for ex in ref.assignment.points}


def _listed(cells: list[_Found], limits: FlagLimits, cut: int | None) -> list[str]:
    """One exercise's flags: at most `most_per_exercise` of them, then "... and N more" for the
    rest (kept or only counted), then, when the scan ran out of time, a flag that says so."""
    kept = [flag for c in cells for flag in c.kept]
    out = kept[: limits.most_per_exercise]
    more = len(kept) - len(out) + sum(c.more for c in cells)
    if more:
        out.append(
            f"... and {more} more (course.toml's [flags] lists {limits.most_per_exercise} per exercise "
            f"and keeps {limits.most_per_notebook} per notebook)"
        )
    if cut is not None:
        out.append(
            f"the scan for flags was cut short after {limits.scan_seconds:g} s (course.toml's [flags] "
            f"scan_seconds): cells from {cut} on were not read"
        )
    return out


def apply(exercise: dict, found: list[str], forbidden: bool) -> dict:
    """`exercise` with its flags; where course.toml makes flags forbidden, it scores 0 as
    `forbidden`, and says why."""
    if not found:
        return exercise
    exercise["flags"] = found
    if forbidden:
        why = f"flagged for review, which course.toml forbids: {found[0]}"
        check = {"name": "does nothing a from-scratch answer never needs", "device": "any", "passed": False}
        exercise.update(
            status="forbidden", score=0.0, message=why, checks=[{**check, "message": why}, *exercise["checks"]]
        )
    return exercise
