"""Spotting a solution cell that calls the torch function its exercise rebuilds.

An exercise that asks for something from scratch forbids the torch function
that already does it, in any spelling: `torch.logsumexp(x)`, `x.logsumexp()`,
`from torch import logsumexp as lse`, `getattr(torch, "logsumexp")`. Names
come from `[forbidden]` in course.toml. A bare name (`logsumexp`) is never
flagged on its own: it is how the student's own function is called.
"""

from __future__ import annotations

import ast

# Never allowed in a solution cell: importing the answers or the grader.
ALWAYS = ("solutions", "autograder")


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _matches(dotted: str, banned: str) -> bool:
    """`torch.utils.data.DataLoader` matches `torch.utils.data`; `F.log_softmax` matches `log_softmax`."""
    parts, want = dotted.split("."), banned.split(".")
    tail = want[-2:] if len(want) > 1 else want  # an alias may replace the head: `tu.data`
    return any(parts[i : i + len(tail)] == tail for i in range(len(parts)))


def find(source: str, banned: list[str]) -> str | None:
    """A message naming the first forbidden use in `source`, or None."""
    try:
        tree = ast.parse(source)
        docs = _docstrings(tree)
    except SyntaxError:
        return None  # running the cell reports the syntax error
    except (RecursionError, MemoryError):
        # compile() may still take what ast.parse cannot: a cell that cannot be checked does not pass
        return "is nested too deeply to be checked for forbidden functions; write it plainly"
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
            for m in modules:
                if m.split(".")[0] in ALWAYS:
                    return f"imports {m} (line {line}): the reference solutions are not yours to import"
            for b in banned:
                for m in modules:
                    if _matches(m, b):
                        return f"imports {m} (line {line}), which this exercise asks you to build yourself"
                for n in names:
                    if _matches(f"{modules[0]}.{n}", b):
                        return (
                            f"imports {n} from {modules[0]} (line {line}), "
                            "which this exercise asks you to build yourself"
                        )
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node) or f"….{node.attr}"
            for b in banned:
                if _matches(dotted, b) and (node.attr == b.split(".")[-1] or "." in b):
                    return (
                        f"uses torch's {b} ({dotted} at line {line}): this exercise asks you to write it from scratch"
                    )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            for b in banned:
                if node.value in (b, b.split(".")[-1]):
                    return (
                        f"names {node.value!r} in a string (line {line}): "
                        f"reaching torch's {b} indirectly is forbidden too"
                    )
    return None
