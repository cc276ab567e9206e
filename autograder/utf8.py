"""Text every writer can encode: no lone surrogates.

A Python str may hold a surrogate code point (U+D800..U+DFFF) on its own: JSON's `"\\ud800"`
decodes to one, and so does each byte of a file name that is not UTF-8 (surrogateescape). UTF-8
cannot encode it, so one such character in a report makes the console table, every feedback
page and `course report` fail, for the whole class. `valid` makes text encodable where it comes
in (the wire, a notebook, a report read back), `repair` does so for every string of a value.
"""

from __future__ import annotations

import re
from typing import TypeVar

SURROGATE = re.compile("[\ud800-\udfff]")
T = TypeVar("T")


def valid(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD; `text` itself when it holds none.
    A pair of surrogates that is still two characters becomes the one character it encodes
    (json.loads joins a pair written as two escapes already)."""
    if text.isascii() or not SURROGATE.search(text):  # isascii costs nothing: the common case
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def repair(value: T) -> T:
    """`value`, plain data as JSON holds it, with every string in it valid (`valid`), at any
    depth, dict keys too. Lists and dicts are repaired in place and returned; a string is returned
    repaired. A loop, not recursion: a value nested as deeply as json.loads allows is repaired
    all the same."""
    if isinstance(value, str):
        return valid(value)  # type: ignore[return-value]
    todo: list = [value]
    while todo:
        node = todo.pop()
        if isinstance(node, list):
            todo += _list(node)
        elif isinstance(node, dict):
            todo += _dict(node)
    return value


def _list(node: list) -> list:
    """Repairs the strings of `node`; returns the lists and dicts in it, still to repair."""
    for i, v in enumerate(node):
        if isinstance(v, str):
            node[i] = valid(v)
    return [v for v in node if isinstance(v, (list, dict))]


def _dict(node: dict) -> list:
    """Repairs the keys and string values of `node` (keeping its order); returns the lists and
    dicts in it, still to repair."""
    if any(isinstance(k, str) and valid(k) is not k for k in node):
        items = list(node.items())
        node.clear()
        node.update((valid(k) if isinstance(k, str) else k, v) for k, v in items)
    for k, v in node.items():
        if isinstance(v, str):
            node[k] = valid(v)
    return [v for v in node.values() if isinstance(v, (list, dict))]
