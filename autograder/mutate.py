"""Automatic mutants of a reference solution cell, made by syntax-tree operators.

Each operator changes one node of the cell's syntax tree, the way a slip of the hand would:

| operator | what it does |
|---|---|
| `arith` | `+` <-> `-`, `*` <-> `/`, `**` -> `*`, `//` -> `/`, `@` -> `*` |
| `compare` | `<` <-> `<=`, `>` <-> `>=`, `==` <-> `!=`, `is` <-> `is not`, `in` <-> `not in` |
| `const` | a number n -> n + 1, n - 1 (0 <-> 1 both ways), `True` <-> `False`, `None` -> `0` |
| `dim` | a dim `-1` -> `0` and `1` |
| `keepdim` | `keepdim=True` <-> `keepdim=False` |
| `method` | `mean` <-> `sum`, `max` <-> `min`, `argmax` <-> `argmin`, `stack` <-> `cat`, `train` <-> `eval`, |
|  | `randperm` -> `arange`, `exp` <-> `log`, `sqrt` -> `abs` |
| `negate` | `-x` -> `x`, `not c` -> `c`, a condition `c` -> `not c` |
| `boolop` | `and` <-> `or` |
| `drop` | a statement removed (`pass` if the block would be empty) |
| `swap` | the first two positional arguments of a call swapped |
| `no_grad` | `with torch.no_grad():` removed, its body kept |
| `return` | `return x` -> `return y` for another name of the function, or `return None` |
| `loop` | `break` <-> `continue` |

Docstrings are left alone. Every mutant is a whole cell's source (`ast.unparse`), distinct from
the reference and from every other mutant of the cell, and compiles.
"""

from __future__ import annotations

import ast
import copy
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult}
ARITH.update({ast.FloorDiv: ast.Div, ast.MatMult: ast.Mult, ast.Mod: ast.FloorDiv})
COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq}
COMPARE.update({ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In})
METHODS = {"mean": "sum", "sum": "mean", "max": "min", "min": "max", "argmax": "argmin", "argmin": "argmax"}
METHODS.update({"stack": "cat", "cat": "stack", "train": "eval", "eval": "train", "randperm": "arange"})
METHODS.update({"exp": "log", "log": "exp", "sqrt": "abs", "amax": "amin"})


@dataclass(frozen=True)
class Mutant:
    operator: str
    line: int
    column: int
    change: str  # `old` -> `new`, the one node that changed
    source: str

    @property
    def name(self) -> str:
        """Stable while the reference cell is: `EQUIVALENT` tables name mutants by it."""
        return f"{self.operator} {self.line}:{self.column} {self.change}"


def _docstring(node: ast.AST) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _short(node: ast.AST) -> str:
    text = ast.unparse(node).replace("\n", "; ")
    return text if len(text) <= 60 else text[:57] + "..."


class _Sites(ast.NodeVisitor):
    """Every place an operator applies: (operator, node path, how to change a copy of the node)."""

    def __init__(self):
        self.sites: list[tuple[str, ast.AST, Callable[[ast.AST], ast.AST | list | None]]] = []
        self.functions: list[ast.FunctionDef] = []

    def add(self, op, node, change):
        self.sites.append((op, node, change))

    def visit_FunctionDef(self, node):
        self.functions.append(node)
        self.generic_visit(node)
        self.functions.pop()

    def visit_BinOp(self, node):
        if type(node.op) in ARITH:
            self.add("arith", node, lambda n: ast.BinOp(n.left, ARITH[type(n.op)](), n.right))
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        if type(node.op) in ARITH:
            self.add("arith", node, lambda n: ast.AugAssign(n.target, ARITH[type(n.op)](), n.value))
        self.generic_visit(node)

    def visit_Compare(self, node):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE:

                def change(n, i=i):
                    ops = list(n.ops)
                    ops[i] = COMPARE[type(ops[i])]()
                    return ast.Compare(n.left, ops, n.comparators)

                self.add("compare", node, change)
        self.generic_visit(node)

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, bool):
            self.add("const", node, lambda n: ast.Constant(not n.value))
        elif isinstance(v, (int, float)):
            for new in sorted({v + 1, v - 1} | ({1 - v} if v in (0, 1) else set())):
                if new != v:
                    self.add("const", node, lambda n, new=new: ast.Constant(type(n.value)(new)))
        elif v is None:
            self.add("const", node, lambda n: ast.Constant(0))

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) and node.operand.value == 1:
            for new in (0, 1):
                self.add("dim", node, lambda n, new=new: ast.Constant(new))
            return  # -1 is a dim, not a constant 1 with a sign
        if isinstance(node.op, (ast.USub, ast.Not)):
            self.add("negate", node, lambda n: n.operand)
        self.generic_visit(node)

    def visit_keyword(self, node):
        if node.arg == "keepdim" and isinstance(node.value, ast.Constant) and isinstance(node.value.value, bool):
            self.add("keepdim", node, lambda n: ast.keyword(n.arg, ast.Constant(not n.value.value)))
            return
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in METHODS:
            self.add("method", node, lambda n: ast.Attribute(n.value, METHODS[n.attr], n.ctx))
        self.generic_visit(node)

    def visit_BoolOp(self, node):
        self.add("boolop", node, lambda n: ast.BoolOp(ast.Or() if isinstance(n.op, ast.And) else ast.And(), n.values))
        self.generic_visit(node)

    def visit_If(self, node):
        self.add("negate", node.test, lambda n: ast.UnaryOp(ast.Not(), n))
        self.generic_visit(node)

    def visit_Call(self, node):
        if len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
            self.add("swap", node, lambda n: ast.Call(n.func, [n.args[1], n.args[0], *n.args[2:]], n.keywords))
        self.generic_visit(node)

    def visit_With(self, node):
        if any("no_grad" in ast.unparse(item.context_expr) for item in node.items):
            self.add("no_grad", node, lambda n: n.body)
        self.generic_visit(node)

    def visit_Return(self, node):
        if self.functions and node.value is not None:
            fn = self.functions[-1]
            names = [a.arg for a in fn.args.args] + sorted(
                {t.id for s in ast.walk(fn) if isinstance(s, ast.Assign) for t in s.targets if isinstance(t, ast.Name)}
            )
            current = ast.unparse(node.value)
            for other in dict.fromkeys(names):
                if other != current and other != "self":
                    self.add("return", node, lambda n, other=other: ast.Return(ast.Name(other, ast.Load())))
            if current != "None":
                self.add("return", node, lambda n: ast.Return(ast.Constant(None)))
        self.generic_visit(node)

    def visit_Break(self, node):
        self.add("loop", node, lambda n: ast.Continue())

    def visit_Continue(self, node):
        self.add("loop", node, lambda n: ast.Break())

    def generic_visit(self, node):
        if not isinstance(node, ast.Module):  # dropping the whole definition is no slip of the hand
            for name in ("body", "orelse", "finalbody"):
                body = getattr(node, name, None)
                if isinstance(body, list):
                    for stmt in body:
                        if isinstance(stmt, ast.stmt) and not _docstring(stmt):
                            self.add("drop", stmt, lambda n: [])
        super().generic_visit(node)


def _replace(tree: ast.AST, target: ast.AST, new) -> ast.AST:
    """A copy of `tree` with the node `target` (by identity in `tree`) replaced by `new`
    (a node, or a list of statements)."""

    class Swap(ast.NodeTransformer):
        def visit(self, node):
            if node is target:
                return new
            return super().visit(node)

    out = Swap().visit(tree)
    for node in ast.walk(out):  # an emptied block becomes `pass`
        if isinstance(getattr(node, "body", None), list) and not node.body:
            node.body = [ast.Pass()]
        if isinstance(node, ast.Try) and not node.handlers and not node.finalbody:
            node.finalbody = [ast.Pass()]
    return ast.fix_missing_locations(out)


def mutants(source: str) -> Iterator[Mutant]:
    """Every mutant of the cell `source`, each once."""
    original = ast.parse(source)
    seen = {ast.unparse(original)}
    finder = _Sites()
    finder.visit(original)
    for op, node, change in finder.sites:
        tree = copy.deepcopy(original)
        # the same node in the copy: walk both trees in step
        twin = next(b for a, b in zip(ast.walk(original), ast.walk(tree), strict=True) if a is node)
        new = change(copy.deepcopy(twin))
        old_text = _short(twin)
        new_text = "(removed)" if isinstance(new, list) and not new else _short_any(new)
        mutated = _replace(tree, twin, new)
        try:
            text = ast.unparse(mutated)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # `x is not 0` and the like: a mutant may be odd
                compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError, TypeError, AttributeError):
            continue
        if text in seen:
            continue
        seen.add(text)
        where = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        yield Mutant(op, *where, f"{old_text} -> {new_text}", text + "\n")


def _short_any(new) -> str:
    if isinstance(new, list):
        return "; ".join(_short(s) for s in new)
    return _short(new)
