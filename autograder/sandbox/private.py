"""A module's own builtins, for the far side's modules whose code runs after student code.

A function looks builtins up in the `__builtins__` of its module as it was when the function was
made (Python 3.10 and later), so a module that sets its own copy at its top, before it defines any
function, is out of reach of a cell's `builtins.len = ...`: `bound` says why that matters.
"""

from __future__ import annotations

import builtins

_COPY = dict(vars(builtins))  # made at import, in the pool server, before any student code


def own_builtins() -> dict:
    """The far side's copy of the builtins: one for all its modules (the seal walks it once)."""
    return _COPY
