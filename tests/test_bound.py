"""Everything fixed before the first student line: what runs after it looks nothing up at call time.

A student's cell may replace any function of the standard library or of torch. So the code that
runs once student code has run (`autograder/sandbox/bound.py` says which) may load as a global
only a constant (a value nothing can change: numbers, strings, tuples of them and of C functions
and immutable types), `bound.K` (the record of the standard library's and torch's functions,
bound when the pool server imported the kit), a builtin of the module's own copy, or a function or
class of the kit, which the seal pins and which is checked the same way, in turn. Never a module,
whose attributes a cell could have replaced; never a mutable value.

These tests read the syntax tree (and the symbol table) of that code, starting from the steps
below and following every kit function and class it names. They also read each reply the far
side builds against the protocol `wire` declares. Each checker is shown to fail on the mistake it
guards against, made in a copy of the real source.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import symtable
import types
from dataclasses import dataclass

import pytest

from autograder import wire
from autograder.sandbox import bound

# What runs after the first student line: (module, qualified name); a class means all its methods.
# Whatever these name of the kit's own is followed from here.
AFTER = [
    ("autograder.sandbox.exercises", "Exercises"),
    ("autograder.sandbox.exercises", "Probes"),
    ("autograder.sandbox.cells", "job_reader.<locals>.read_exact"),
    ("autograder.sandbox.cells", "job_reader.<locals>.read_job"),
    ("autograder.sandbox.cells", "sender.<locals>.make"),
    ("autograder.sandbox.cells", "sender.<locals>.make.<locals>.send"),
    ("autograder.wire", "encoder.<locals>.encode"),
    ("autograder.sandbox.limits", "torch_resetter.<locals>.reset"),
    ("autograder.sandbox.seccomp", "prepare.<locals>.install"),
    ("autograder.sandbox.isolation", "landlock.<locals>.restrict"),
    ("autograder.sandbox.isolation", "landlock.<locals>.check"),
    ("autograder.sandbox.isolation", "ExerciseFiles.enter"),
    ("autograder.sandbox.isolation", "ExerciseFiles.__init__.<locals>.forget_tempdir"),
    ("autograder.sandbox.procs", "sweeper.<locals>.sweep"),
    ("autograder.sandbox.tripwire", "Tripwire"),
    ("autograder.sandbox.tripwire", "Trusted.ran"),
    ("autograder.sandbox.tripwire", "Trusted.names_hold"),
    ("autograder.sandbox.tripwire", "Trusted.compile"),
    ("autograder.sandbox.tripwire", "_audit"),
    ("autograder.sandbox.seal", "Seal"),
]
IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: a type whose attributes cannot be set


def constant(value: object) -> bool:
    """A value nothing can change."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return True
    if type(value) is object:  # a sentinel
        return True
    if isinstance(value, (types.BuiltinFunctionType, types.CodeType)):
        return True
    if isinstance(value, type):
        return bool(value.__flags__ & IMMUTABLE_TYPE)
    if type(value) in (tuple, frozenset):
        return all(constant(v) for v in value)
    return False


def kit_defined(value: object) -> bool:
    """A function or class the kit defines (the seal pins it)."""
    return isinstance(value, (types.FunctionType, type)) and getattr(value, "__module__", "").startswith("autograder")


@dataclass
class Scope:
    module: str
    qualname: str
    node: ast.AST
    table: symtable.SymbolTable


def scopes(module: str, source: str) -> dict[str, Scope]:
    """Every function of a module's source by qualified name, with its node and symbol table."""
    tree = ast.parse(source)
    tables: dict[tuple[str, int], symtable.SymbolTable] = {}

    def index(table: symtable.SymbolTable) -> None:
        tables[(table.get_name(), table.get_lineno())] = table
        for child in table.get_children():
            index(child)

    index(symtable.symtable(source, module, "exec"))
    out: dict[str, Scope] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                line = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                table = tables.get((child.name, child.lineno)) or tables[(child.name, line)]
                out[prefix + child.name] = Scope(module, prefix + child.name, child, table)
                visit(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _loads(node: ast.AST) -> list[ast.Name]:
    """The names a function's own code loads: not its annotations, not nested functions' bodies
    (checked as functions of their own), but its comprehensions and lambdas."""
    found: list[ast.Name] = []

    def visit(n: ast.AST, top: bool) -> None:
        if not top and isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for d in getattr(n, "decorator_list", []):
                visit(d, False)
            return
        for field, value in ast.iter_fields(n):
            if field in ("annotation", "returns"):
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
                        found.append(child)
                    visit(child, False)

    visit(node, True)
    return found


INNER = {"listcomp", "setcomp", "dictcomp", "genexpr", "lambda"}


def _global(table: symtable.SymbolTable, name: str) -> bool | None:
    """Whether `name`, loaded in this function or a comprehension or lambda in it, is a global
    (None: not a name of this scope at all)."""
    try:
        return table.lookup(name).is_global()
    except KeyError:
        pass
    for child in table.get_children():
        if child.get_name().strip("<>") in INNER and (inner := _global(child, name)) is not None:
            return inner
    return None


def problems(
    module: str, qualname: str, source: str | None = None, namespace: dict | None = None
) -> tuple[list[str], list[tuple[str, str]]]:
    """What `qualname` of `module` loads that it may not, and the kit's functions and classes it
    loads (to be checked in turn). `source` and `namespace` stand in for the module's own."""
    mod = importlib.import_module(module)
    source = inspect.getsource(mod) if source is None else source
    namespace = vars(mod) if namespace is None else namespace
    found = scopes(module, source)
    wanted = [
        q for q in found if q == qualname or q.startswith(qualname + ".") and "<locals>" not in q[len(qualname) :]
    ]
    if not wanted:
        raise KeyError(f"{module} has no {qualname}")
    own_builtins = namespace.get("__builtins__")
    private = isinstance(own_builtins, dict) and own_builtins is not vars(builtins)
    bad, follow = [], []
    for q in wanted:
        scope = found[q]
        for name in _loads(scope.node):
            if _global(scope.table, name.id) is False:
                continue
            where = f"{module}.{q}, line {name.lineno}: {name.id}"
            if name.id not in namespace:
                if not hasattr(builtins, name.id):
                    bad.append(f"{where} is defined nowhere")
                elif not private:
                    bad.append(f"{where} is a builtin, and the module has no builtins of its own")
                continue
            value = namespace[name.id]
            if value is bound.K or constant(value):
                continue
            if kit_defined(value):
                follow.append((value.__module__, value.__qualname__))
                continue
            bad.append(f"{where} is {type(value).__name__} {value!r:.60}, looked up when it runs")
    return bad, follow


def reachable_problems(roots: list[tuple[str, str]]) -> tuple[list[str], set[tuple[str, str]]]:
    seen: set[tuple[str, str]] = set()
    todo, bad = list(roots), []
    while todo:
        root = todo.pop()
        if root in seen:
            continue
        seen.add(root)
        found, follow = problems(*root)
        bad += found
        todo += follow
    return bad, seen


def test_code_after_the_first_student_line_looks_nothing_up():
    bad, seen = reachable_problems(AFTER)
    assert bad == []
    # not vacuous: the steps, and the kit functions they name, were all read
    assert {("autograder.sandbox.exercises", "Exercises"), ("autograder.sandbox.procs", "kill_descendants")} <= seen
    assert ("autograder.sandbox.procs", "_processes") in seen


def test_every_module_of_that_code_is_sealed():
    """The seal watches the modules this code runs in (`seal.AFTER_FIRST_LINE`): one left out could
    be changed by a student with nothing to see."""
    from autograder.sandbox.seal import AFTER_FIRST_LINE

    _, seen = reachable_problems(AFTER)
    assert {module for module, _ in seen} - set(AFTER_FIRST_LINE) == set()


def test_the_record_holds_only_what_cannot_change_under_it():
    """K's fields are C functions and descriptors, immutable types, torch's dtypes and constants;
    Python code among them would look its own globals up when it runs. The exceptions are named."""
    import ctypes

    import torch

    c_code = (types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType, torch.dtype)
    named = {"CellTimeout": "the kit's own exception", "Tensor": "a class, only compared with"}
    loose = [
        f
        for f, v in bound.K._asdict().items()
        if not (constant(v) or isinstance(v, c_code) or f in named)
        and not isinstance(v, ctypes._CFuncPtr)  # libc's own function, called through ctypes
    ]
    assert loose == []
    # bound at import, not looked up: K.fork is the os.fork of import time
    import os

    assert bound.K.fork is os.fork and bound.K.write is os.write


def _broken(module: str, old: str, new: str, qualname: str, extra: dict) -> list[str]:
    mod = importlib.import_module(module)
    source = inspect.getsource(mod)
    assert old in source, old
    return problems(module, qualname, source.replace(old, new, 1), {**vars(mod), **extra})[0]


def test_the_check_fails_on_a_module_looked_up_after_the_first_line():
    """The mistake the issue found: a step that calls through a module, which a cell may patch."""
    import os

    bad = _broken("autograder.sandbox.exercises", "pid = K.fork()", "pid = os.fork()", "Exercises", {"os": os})
    assert any("os is module" in b for b in bad), bad
    import json

    bad = _broken(
        "autograder.sandbox.cells",
        "decode(body.decode())",
        "json.loads(body.decode())",
        "job_reader.<locals>.read_job",
        {"json": json},
    )
    assert any("json is module" in b for b in bad), bad


def test_the_check_fails_on_a_mutable_global_and_on_shared_builtins():
    bad = _broken("autograder.sandbox.exercises", "K.getpid()", "STATE['pid']", "Exercises", {"STATE": {}})
    assert any("STATE is dict" in b for b in bad), bad
    mod = importlib.import_module("autograder.sandbox.seal")
    shared = {**vars(mod), "__builtins__": vars(builtins)}
    assert any("no builtins of its own" in b for b in problems("autograder.sandbox.seal", "Seal", None, shared)[0])


# ---------------------------------------------------------------- the protocol, declared once


def replies_built(module: str) -> list[tuple[int, str, set[str], bool]]:
    """Every dict literal with a constant "kind" in a module: (line, kind, its keys, whether it
    spreads another dict into it)."""
    out = []
    for node in ast.walk(ast.parse(inspect.getsource(importlib.import_module(module)))):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            kind = next(
                (
                    v.value
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value == "kind"
                ),
                None,
            )
            if isinstance(kind, str):
                out.append((node.lineno, kind, keys - {"kind"}, None in node.keys))
    return out


def protocol_problems(built: list[tuple[int, str, set[str], bool]], table: dict = wire.REPLIES) -> list[str]:
    bad = []
    for line, kind, keys, spreads in built:
        fields = set(table.get(kind, ()))
        if kind not in table:
            bad.append(f"line {line}: {kind!r} is not a reply the protocol has")
        elif not keys <= fields | ({"value", "error"} if kind == "check" else set()):
            bad.append(f"line {line}: {kind!r} carries {sorted(keys - fields)}, which the protocol does not")
        elif not spreads and not fields <= keys:
            bad.append(f"line {line}: {kind!r} lacks {sorted(fields - keys)}")
    return bad


@pytest.mark.parametrize(
    "module, table",
    [
        ("autograder.sandbox.exercises", wire.REPLIES),
        ("autograder.sandbox.cells", wire.REPLIES),
        ("autograder.sandbox.parent", wire.STATUS),
    ],
)
def test_every_reply_the_far_side_builds_is_one_the_protocol_declares(module, table):
    built = replies_built(module)
    assert built, "no reply found: has the far side moved?"
    assert protocol_problems(built, table) == []


def test_the_protocol_check_fails_on_an_undeclared_reply_or_field():
    assert protocol_problems([(1, "refs", {"failed", "extra"}, False)]) != []
    assert protocol_problems([(1, "refz", {"failed"}, False)]) != []
    assert protocol_problems([(1, "done", set(), False)]) != []
    assert protocol_problems([(1, "gone", set(), True)]) == []  # `{"kind": "gone", **ended}`


def test_the_grader_refuses_a_reply_without_its_fields():
    with pytest.raises(wire.WireError, match="without what"):
        wire.check_reply({"kind": "hit", "nonce": "n"})
    with pytest.raises(wire.WireError, match="unknown kind"):
        wire.check_reply({"kind": "cells2", "nonce": "n", "cells": []})
    with pytest.raises(wire.WireError, match="value or an error"):
        wire.check_reply({"kind": "check", "nonce": "n", "name": "c", "device": "cpu"})
    assert wire.check_reply({"kind": "check", "nonce": "n", "name": "c", "device": "cpu", "value": 1}) == "check"
    with pytest.raises(ValueError, match="takes"):
        wire.job("exercise", nonce="n")
