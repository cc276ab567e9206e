"""Fingerprints of a cell's code that survive disguise: normalised tokens, hashed k-grams, winnowing.

What a copier changes without changing the program is taken out before anything is hashed:

- comments, blank lines and layout: the code is parsed and each statement printed again
  (`ast.unparse`), so only its tokens remain; a string or f-string is one token, `S`;
- names: every name the cell binds (variables, arguments, its functions, classes and the
  attributes it assigns) becomes `V`; what it does not bind (`torch`, `range`, `.exp`, the
  other exercises' functions) keeps its name, because using it is a choice worth comparing;
  an import alias becomes the module's own name;
- no-op lines: `pass`, bare constants (docstrings included), `x = x`, and in a function a
  call-free assignment to a local nobody reads;
- equivalent forms: a loop that only builds a list, set, dict or sum (`ys = []` then
  `for x in xs: ys.append(f(x))`), `map` and `filter` with a lambda or a function, a generator
  expression and `list(...)` of a comprehension are all written as the one comprehension they
  equal (`ys = [f(x) for x in xs]`), so rewriting one as another keeps the fingerprints;
- order: the statements of each block are put in one canonical order that keeps every pair
  that depends on each other (one writes what the other reads or writes, or both call
  something) as it was, so two orders of the same independent statements read the same;
  `a, b = x, y` is split into two statements first, so that they can be ordered too.

Then, as MOSS and copydetect do (Schleimer, Wilkerson and Aiken, "Winnowing", SIGMOD 2003),
every run of `k` tokens is hashed and, of each `window` consecutive hashes, the smallest is
kept: any shared run of `k + window - 1` tokens is found, a shorter one never.
Each fingerprint remembers the lines of the cell it covers, to highlight them.
Code that does not parse is still fingerprinted, from its raw tokens, with every name `V`.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import heapq
import io
import keyword
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

NAME, STRING = "V", "S"
# Calls that neither change their arguments nor anything else: statements that only call these
# may swap places with others.
PURE_CALLS = frozenset(
    "abs all any bool dict enumerate float frozenset int isinstance len list max min range reversed "
    "set sorted str sum tuple zip".split()
)
_MAGIC = re.compile(r"^\s*[%!]")


@dataclass(frozen=True)
class Token:
    text: str
    first: int  # the lines of the cell (from 1) of the statement it comes from
    last: int


Prints = dict[int, frozenset[int]]  # fingerprint -> the lines of the cell it covers


def fingerprints(source: str, k: int, window: int) -> Prints:
    """The winnowed fingerprints of a cell's code, each with the lines it covers."""
    return winnow(normalised_tokens(source), k, window)


# ---------------------------------------------------------------- tokens


def normalised_tokens(source: str) -> list[Token]:
    """The cell's code as disguise-proof tokens (see the module's docstring)."""
    # IPython magics and shell lines become blank lines: line numbers stay those of the cell
    text = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _raw_tokens(text)
    _canonical_forms(tree)
    tree.body = _simplify(tree.body)
    return _Emitter(_Names(tree)).block(tree.body)


# A token of code that does not parse, line by line (a bad indent or an open bracket stops
# Python's tokenizer for good): a comment, a string, a name, a number or one other character.
_RAW = re.compile(r"""(#.*)|("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')|([A-Za-z_]\w*)|(\d[\w.]*)|(\S)""")


def _raw_tokens(text: str) -> list[Token]:
    """Tokens of code that does not parse: every name V, strings S, no comments or layout."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        for comment, string, name, number, other in _RAW.findall(line):
            if comment:
                break
            word = STRING if string else (name if keyword.iskeyword(name) else NAME) if name else number or other
            out.append(Token(word, n, n))
    return out


def _simplify(stmts: list[ast.stmt], read: set[str] | None = None) -> list[ast.stmt]:
    """The statements without what changes nothing (no-ops; in a function, whose names `read`
    lists, dead stores), `a, b = x, y` split so that its parts can be ordered like any other
    statements; the same in every block below them."""
    out: list[ast.stmt] = []
    for s in stmts:
        if _no_op(s) or (read is not None and _dead_store(s, read)):
            continue
        inner = _loaded_names(s) if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) else read
        if isinstance(s, ast.ClassDef):
            inner = None  # a class body's names are attributes, read from anywhere
        for field in ("body", "orelse", "finalbody"):
            block = getattr(s, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(s, field, _simplify(block, inner))
        for h in getattr(s, "handlers", ()):
            h.body = _simplify(h.body, inner)
        out += _split(s)
    return out


def _no_op(s: ast.stmt) -> bool:
    if isinstance(s, ast.Pass):
        return True
    if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant):
        return True  # a docstring, a stray number, `...`
    return (
        isinstance(s, ast.Assign)
        and len(s.targets) == 1
        and isinstance(s.targets[0], ast.Name)
        and isinstance(s.value, ast.Name)
        and s.targets[0].id == s.value.id
    )


def _loaded_names(fn: ast.AST) -> set[str]:
    """Every name a function reads, or declares global (a store to it is not dead)."""
    read = set()
    for n in ast.walk(fn):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store):
            read.add(n.id)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            read.update(n.names)
    return read


def _dead_store(s: ast.stmt, read: set[str]) -> bool:
    """A call-free assignment, in a function, to local names the function never reads."""
    if not isinstance(s, ast.Assign) or _calls(s.value):
        return False
    targets = [n for t in s.targets for n in ast.walk(t)]
    return all(isinstance(n, (ast.Name, ast.Tuple, ast.List, ast.Store)) for n in targets) and not any(
        isinstance(n, ast.Name) and n.id in read for n in targets
    )


def _calls(node: ast.AST) -> bool:
    return any(isinstance(n, (ast.Call, ast.Yield, ast.YieldFrom, ast.Await, ast.NamedExpr)) for n in ast.walk(node))


def _split(s: ast.stmt) -> list[ast.stmt]:
    """`a, b = x, y` as `a = x` and `b = y` when no x reads an a (then the split means the same)."""
    if not (
        isinstance(s, ast.Assign)
        and len(s.targets) == 1
        and isinstance(s.targets[0], ast.Tuple)
        and isinstance(s.value, ast.Tuple)
        and len(s.targets[0].elts) == len(s.value.elts)
        and not any(isinstance(e, ast.Starred) for e in s.targets[0].elts + s.value.elts)
    ):
        return [s]
    written = set().union(*(_access(t).writes for t in s.targets[0].elts))
    read = set().union(*(_access(v).reads for v in s.value.elts))
    if _overlap(written, read):
        return [s]
    return [
        ast.copy_location(ast.Assign(targets=[t], value=v, lineno=s.lineno), s)
        for t, v in zip(s.targets[0].elts, s.value.elts, strict=True)
    ]


# ---------------------------------------------------------------- equivalent forms


def _canonical_forms(tree: ast.Module) -> None:
    """Accumulator loops, `map`, `filter` and generator expressions as the comprehension they
    equal, in every block of the tree (in place)."""
    for node in list(ast.walk(tree)):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(node, name, _fold_loops(block))
        for h in getattr(node, "handlers", ()):
            h.body = _fold_loops(h.body)
    _Comprehensions().visit(tree)
    ast.fix_missing_locations(tree)


def _fold_loops(block: list[ast.stmt]) -> list[ast.stmt]:
    """`acc = []` (or `0`, `{}`, `set()`) and a later loop that only adds to `acc`, with nothing
    between them touching `acc`, as one `acc = <comprehension>` where the loop was."""
    out: list[ast.stmt] = []
    for s in block:
        folded = None
        if isinstance(s, ast.For) and not s.orelse:
            found = _generators(s)
            acc = _accumulator(found[1]) if found else None
            # the latest statement that mentions acc must be its initial value
            at = next((i for i in range(len(out) - 1, -1, -1) if acc and _mentions(out[i], acc)), None)
            if found and acc and at is not None:
                folded = _fold(out[at], acc, *found)
            if folded is not None:
                del out[at]
                folded.end_lineno = s.end_lineno
        out.append(folded or s)
    return out


def _mentions(node: ast.AST, place: str) -> bool:
    """Whether the code reads or writes `place` (`ys`, `self.params`) or anything inside it."""
    return any(
        (d := _dotted(n)) is not None and (d == place or d.startswith(place + "."))
        for n in ast.walk(node)
        if isinstance(n, (ast.Name, ast.Attribute))
    )


def _generators(loop: ast.For) -> tuple[list[ast.comprehension], ast.stmt] | None:
    """Nested `for`s and `if`s of one statement each, as a comprehension's generators, and the
    innermost statement."""
    gens: list[ast.comprehension] = []
    node: ast.stmt = loop
    while True:
        if isinstance(node, ast.For) and not node.orelse and len(node.body) == 1:
            gens.append(ast.comprehension(target=node.target, iter=node.iter, ifs=[], is_async=0))
            node = node.body[0]
        elif isinstance(node, ast.If) and not node.orelse and len(node.body) == 1 and gens:
            gens[-1].ifs.append(node.test)
            node = node.body[0]
        else:
            return (gens, node) if gens else None


def _accumulator(leaf: ast.stmt) -> str | None:
    """The place (`ys`, `self.params`) the loop's one statement adds to: `acc.append(e)`,
    `acc.add(e)`, `acc += e`, `acc[k] = v`."""
    if (
        isinstance(leaf, ast.Expr)
        and isinstance(leaf.value, ast.Call)
        and isinstance(leaf.value.func, ast.Attribute)
        and leaf.value.func.attr in ("append", "add")
        and len(leaf.value.args) == 1
        and not leaf.value.keywords
    ):
        return _dotted(leaf.value.func.value)
    if isinstance(leaf, ast.AugAssign) and isinstance(leaf.op, ast.Add):
        return _dotted(leaf.target)
    if isinstance(leaf, ast.Assign) and len(leaf.targets) == 1 and isinstance(leaf.targets[0], ast.Subscript):
        return _dotted(leaf.targets[0].value)
    return None


def _fold(init: ast.stmt, acc: str, gens: list[ast.comprehension], leaf: ast.stmt) -> ast.stmt | None:
    """`acc = <comprehension>` when `init` starts acc empty and `leaf` only adds to it, else None."""
    if not (isinstance(init, ast.Assign) and len(init.targets) == 1 and _dotted(init.targets[0]) == acc):
        return None
    start = init.value
    if any(_mentions(g, acc) for g in gens):
        return None  # the loop reads what it builds: no comprehension means the same
    empty_list = isinstance(start, ast.List) and not start.elts
    empty_dict = isinstance(start, ast.Dict) and not start.keys
    empty_set = isinstance(start, ast.Call) and _name_is(start.func, "set") and not start.args
    zero = isinstance(start, ast.Constant) and start.value == 0 and not isinstance(start.value, bool)
    value: ast.expr | None = None
    if isinstance(leaf, ast.Expr) and isinstance(leaf.value, ast.Call):
        elt = leaf.value.args[0]
        if _mentions(elt, acc):
            return None
        if leaf.value.func.attr == "append" and empty_list:
            value = ast.ListComp(elt=elt, generators=gens)
        elif leaf.value.func.attr == "add" and empty_set:
            value = ast.SetComp(elt=elt, generators=gens)
    elif isinstance(leaf, ast.AugAssign) and not _mentions(leaf.value, acc):
        if empty_list and isinstance(leaf.value, ast.List) and len(leaf.value.elts) == 1:
            value = ast.ListComp(elt=leaf.value.elts[0], generators=gens)  # acc += [e]
        elif zero:
            sum_of = ast.ListComp(elt=leaf.value, generators=gens)
            value = ast.Call(func=ast.Name("sum", ast.Load()), args=[sum_of], keywords=[])
    elif isinstance(leaf, ast.Assign) and empty_dict:
        key = leaf.targets[0].slice
        if not (_mentions(key, acc) or _mentions(leaf.value, acc)):
            value = ast.DictComp(key=key, value=leaf.value, generators=gens)
    if value is None:
        return None
    return ast.copy_location(ast.Assign(targets=[init.targets[0]], value=value), init)


def _name_is(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


class _Comprehensions(ast.NodeTransformer):
    """`map(f, xs)`, `filter(f, xs)` and `(e for x in xs)` as `[... for x in xs]`; `list(...)`
    and `set(...)` of a comprehension as the comprehension itself."""

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.AST:
        self.generic_visit(node)
        return ast.copy_location(ast.ListComp(elt=node.elt, generators=node.generators), node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        f = node.func
        if _name_is(f, "map") or _name_is(f, "filter"):
            if len(node.args) == 2 and not node.keywords:
                comp = self._apply(node.args[0], node.args[1], keep=_name_is(f, "filter"))
                if comp is not None:
                    return ast.copy_location(comp, node)
        if len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.ListComp):
            comp = node.args[0]
            if _name_is(f, "list"):
                return comp
            if _name_is(f, "set"):
                return ast.copy_location(ast.SetComp(elt=comp.elt, generators=comp.generators), node)
        return node

    @staticmethod
    def _apply(fn: ast.expr, items: ast.expr, keep: bool) -> ast.ListComp | None:
        """`[fn(x) for x in items]`, or with `keep`, `[x for x in items if fn(x)]`."""
        if isinstance(fn, ast.Lambda):
            a = fn.args
            if len(a.args) != 1 or a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or a.defaults:
                return None
            target = ast.Name(a.args[0].arg, ast.Store())
            result = fn.body
        else:
            target = ast.Name("_item", ast.Store())  # bound here: a name like any other (V)
            result = ast.Call(func=fn, args=[ast.Name("_item", ast.Load())], keywords=[])
        item = ast.Name(target.id, ast.Load())
        gen = ast.comprehension(target=target, iter=items, ifs=[result] if keep else [], is_async=0)
        return ast.ListComp(elt=item if keep else result, generators=[gen])


# ---------------------------------------------------------------- names


class _Names:
    """Which names the cell binds (they become V) and which import aliases stand for what."""

    def __init__(self, tree: ast.AST):
        self.bound: set[str] = set()
        self.attributes: set[str] = set()  # attributes the cell assigns, and its methods
        self.aliases: dict[str, str] = {}
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                self.bound.add(n.id)
            elif isinstance(n, ast.arg):
                self.bound.add(n.arg)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bound.add(n.name)
                if isinstance(n, ast.ClassDef):
                    self.attributes.update(
                        s.name for s in n.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                    )
            elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
                self.attributes.add(n.attr)
            elif isinstance(n, ast.ExceptHandler) and n.name:
                self.bound.add(n.name)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                for a in n.names:
                    real = a.name.split(".")[0] if isinstance(n, ast.Import) else a.name
                    self.aliases[a.asname or real] = real
        # a dunder (`__init__`, `__iter__`) is the protocol's name, not the student's choice
        self.bound = {b for b in self.bound if not _dunder(b)} - set(self.aliases)
        self.attributes = {a for a in self.attributes if not _dunder(a)}

    def token(self, name: str, attribute: bool) -> str:
        if keyword.iskeyword(name):
            return name
        if attribute:
            return NAME if name in self.attributes else name
        if name in self.aliases:
            return self.aliases[name]
        return NAME if name in self.bound else name


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


# ---------------------------------------------------------------- order


@dataclass(frozen=True)
class _Access:
    reads: frozenset[str]  # dotted places: 'x', 'self.lr'
    writes: frozenset[str]
    calls: bool  # calls something that may change anything it can reach
    jumps: bool  # return, raise, break...: stays where it is


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _targets_of(s: ast.stmt) -> list[ast.AST]:
    """Only what a statement runs now: a def's body runs later, its defaults and decorators now."""
    if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return [*s.decorator_list, *s.args.defaults, *(d for d in s.args.kw_defaults if d)]
    if isinstance(s, ast.ClassDef):
        return [*s.decorator_list, *s.bases, *(k.value for k in s.keywords)]
    return [s]


def _access(node: ast.AST) -> _Access:
    found = _Walk()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        found.writes.add(node.name)
    for part in _targets_of(node) if isinstance(node, ast.stmt) else [node]:
        found.visit(part)
    return _Access(frozenset(found.reads), frozenset(found.writes), found.calls, found.jumps)


class _Walk(ast.NodeVisitor):
    """The places a piece of code reads and writes: `self.lr` is one place, not also `self`."""

    JUMPS = (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Global, ast.Nonlocal, ast.Import, ast.ImportFrom)

    def __init__(self):
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self.calls = self.jumps = False

    def _place(self, node: ast.AST, store: bool) -> None:
        place = _dotted(node)
        if place is None:
            self.generic_visit(node)
        else:
            (self.writes if store else self.reads).add(place)

    def visit_Name(self, node: ast.Name) -> None:
        self._place(node, isinstance(node.ctx, (ast.Store, ast.Del)))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._place(node, isinstance(node.ctx, (ast.Store, ast.Del)))

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):  # x[i] = v changes x
            self._place(node.value, True)
            self.visit(node.slice)
        else:
            self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        target = node.target.value if isinstance(node.target, ast.Subscript) else node.target
        self._place(target, False)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        self.calls = self.calls or not (isinstance(node.func, ast.Name) and node.func.id in PURE_CALLS)
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await)):
            self.calls = True
        elif isinstance(node, self.JUMPS):
            self.jumps = True
        super().generic_visit(node)


def _overlap(a: Iterable[str], b: Iterable[str]) -> bool:
    """Whether two sets of places share one: `self` and `self.lr` overlap, `self.lr` and `self.x` not."""
    b = list(b)
    return any(x == y or x.startswith(y + ".") or y.startswith(x + ".") for x in a for y in b)


def _depends(a: _Access, b: _Access) -> bool:
    """Whether swapping the two statements could change what the program does."""
    if a.jumps or b.jumps or (a.calls and b.calls):
        return True
    if _overlap(a.writes, b.reads | b.writes) or _overlap(b.writes, a.reads):
        return True
    # a call may change whatever it can reach, and read whatever the other one writes
    if a.calls or b.calls:
        return _overlap(a.reads | a.writes, b.reads | b.writes)
    return False


def canonical_order(keys: list[str], access: list[_Access]) -> list[int]:
    """The statements' indices in one order that keeps each dependent pair as it was and is
    otherwise the order of their keys: any order of the same independent statements gives it."""
    n = len(keys)
    after: list[list[int]] = [[] for _ in range(n)]
    waiting = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if _depends(access[i], access[j]):
                after[i].append(j)
                waiting[j] += 1
    ready = [(keys[i], i) for i in range(n) if not waiting[i]]
    heapq.heapify(ready)
    order = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for j in after[i]:
            waiting[j] -= 1
            if not waiting[j]:
                heapq.heappush(ready, (keys[j], j))
    return order


# ---------------------------------------------------------------- printing statements as tokens


class _Emitter:
    def __init__(self, names: _Names):
        self.names = names

    def block(self, stmts: list[ast.stmt]) -> list[Token]:
        parts = [self.statement(s) for s in stmts]
        keys = [" ".join(t.text for t in p) for p in parts]
        order = canonical_order(keys, [_access(s) for s in stmts])
        return [t for i in order for t in parts[i]]

    def statement(self, s: ast.stmt) -> list[Token]:
        first = min([s.lineno, *(d.lineno for d in getattr(s, "decorator_list", []))])
        if isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            out = self._tokens("try:", first, first) + self._braced(s.body)
            for h in s.handlers:
                out += self._header(h, h.lineno) + self._braced(h.body)
            for field in ("orelse", "finalbody"):
                if getattr(s, field):
                    out += [Token(field, s.lineno, s.lineno)] + self._braced(getattr(s, field))
            return out
        blocks = [f for f in ("body", "orelse") if isinstance(getattr(s, f, None), list) and getattr(s, f)]
        if not blocks or not isinstance(s.body[0], ast.stmt) or isinstance(s, ast.Match):
            return self._tokens(ast.unparse(s), first, s.end_lineno or s.lineno)
        out = self._header(s, first)
        for f in blocks:
            if f == "orelse":
                out.append(Token("else", s.lineno, s.lineno))
            out += self._braced(getattr(s, f))
        return out

    def _header(self, node: ast.AST, first: int) -> list[Token]:
        """`def f(x):`, `for p in ps:`, `except E as e:`: the node printed without its blocks."""
        bare = copy.copy(node)
        bare.body = [ast.Pass()]
        if hasattr(bare, "orelse"):
            bare.orelse = []
        text = ast.unparse(bare).rsplit("\n", 1)[0]  # drop the `pass`
        body_line = node.body[0].lineno if node.body else node.lineno
        last = body_line - 1 if body_line > node.lineno else node.lineno
        return self._tokens(text, first, max(first, last))

    def _braced(self, stmts: list[ast.stmt]) -> list[Token]:
        if not stmts:
            return []
        line = stmts[0].lineno
        return [Token("{", line, line), *self.block(stmts), Token("}", line, line)]

    def _tokens(self, text: str, first: int, last: int) -> list[Token]:
        return [Token(t, first, last) for t in self._texts(text)]

    def _texts(self, text: str) -> list[str]:
        out: list[str] = []
        try:
            stream = list(tokenize.generate_tokens(io.StringIO(text).readline))
        except (tokenize.TokenError, SyntaxError):
            return [text]
        in_fstring = 0  # Python 3.12 tokenizes an f-string's parts: it is one string here
        for t in stream:
            kind = tokenize.tok_name[t.type]
            if kind in ("FSTRING_START", "FSTRING_END"):
                in_fstring += 1 if kind == "FSTRING_START" else -1
                if kind == "FSTRING_START" and in_fstring == 1:
                    out.append(STRING)
            elif in_fstring:
                continue
            elif t.type == tokenize.NAME:
                out.append(self.names.token(t.string, attribute=bool(out) and out[-1] == "."))
            elif t.type == tokenize.STRING:
                out.append(STRING)
            elif t.type in (tokenize.NUMBER, tokenize.OP):
                out.append(t.string)
            elif t.type == tokenize.NEWLINE:
                out.append(";")
        return out


# ---------------------------------------------------------------- winnowing


@functools.lru_cache(maxsize=1 << 16)
def _token_id(text: str) -> int:
    # a stable hash (Python's own hash of a string changes with every process)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def winnow(tokens: list[Token], k: int, window: int) -> Prints:
    """Of each `window` consecutive hashes of `k` tokens, the smallest (the rightmost of equal
    ones), with the lines its tokens cover."""
    ids = [_token_id(t.text) for t in tokens]
    hashes = [hash(tuple(ids[i : i + k])) for i in range(len(ids) - k + 1)]
    picked: list[int] = []
    for start in range(max(1, len(hashes) - window + 1)):
        span = hashes[start : start + window]
        if not span:
            break
        best = min(span)
        at = start + len(span) - 1 - span[::-1].index(best)
        if not picked or picked[-1] != at:
            picked.append(at)
    out: dict[int, set[int]] = {}
    for at in picked:
        lines = out.setdefault(hashes[at], set())
        for t in tokens[at : at + k]:
            lines.update(range(t.first, t.last + 1))
    return {h: frozenset(lines) for h, lines in out.items()}
