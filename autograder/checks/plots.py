"""Pictures for the feedback page: a check's two results (the student's, the reference's) as plain data.

A plot function gets the decoded results a judge gets and returns a dict the
feedback page draws with matplotlib, or None when there is nothing to draw:

    {"title": str, "panels": [{"kind": "line" | "bar", "xlabel": str, "ylabel": str,
                               "series": [{"label": str, "x": [...], "y": [float | None, ...]}]}]}

The student's result is untrusted: anything that is not a flat run of numbers
is left out of the picture (the check's message says what came back), and
non-finite values become None, a gap in the line (JSON has no NaN).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ..wire import Array
from .judges import scalar

MOST = 5000  # points per series: a schedule or a loss curve needs far fewer


def numbers(v: Any) -> list[float | None] | None:
    """A list of numbers (floats, ints, 0-d tensors) or a 1-D tensor as floats; None if it is not one."""
    if isinstance(v, Array) and v.values.ndim == 1 and v.values.dtype.kind in "fiub":
        v = v.values.tolist()
    if not isinstance(v, (list, tuple)) or len(v) > MOST:
        return None
    out: list[float | None] = []
    for x in v:
        f = scalar(x)
        if f is None:
            return None
        out.append(f if math.isfinite(f) else None)
    return out


def _series(label: str, x: Sequence, y: Any) -> list[dict]:
    ys = numbers(y)
    if ys is None or len(ys) != len(x):
        return []
    return [{"label": label, "x": list(x), "y": ys}]


def _both(x: Sequence, got: Any, want: Any) -> list[dict]:
    return _series("yours", x, got) + _series("reference", x, want)


def curve(xs: Sequence[float], title: str, xlabel: str = "pos", ylabel: str = "value") -> Callable:
    """Both results are the values at `xs`: one line each."""

    def plot(got: Any, want: Any) -> dict | None:
        series = _both(xs, got, want)
        return (
            {"title": title, "panels": [{"kind": "line", "xlabel": xlabel, "ylabel": ylabel, "series": series}]}
            if series
            else None
        )

    return plot


def runs(title: str, labels: Sequence[tuple[str, str]]) -> Callable:
    """Both results are lists of runs (one per panel, e.g. lrs then losses) over iterations 0, 1, ..."""

    def plot(got: Any, want: Any) -> dict | None:
        panels = []
        for i, (xlabel, ylabel) in enumerate(labels):
            w = want[i]
            g = got[i] if isinstance(got, (list, tuple)) and len(got) == len(labels) else None
            x = list(range(len(w)))
            panels.append(
                {
                    "kind": "line",
                    "xlabel": xlabel,
                    "ylabel": ylabel,
                    "series": _series("yours", range(len(g)) if isinstance(g, (list, tuple)) else x, g)
                    + _series("reference", x, w),
                }
            )
        return {"title": title, "panels": panels}

    return plot


def bars(names: Sequence[str], title: str, truth: str = "reference") -> Callable:
    """Both results are a few named numbers (e.g. valid loss and accuracy): one bar each, side by side."""

    def plot(got: Any, want: Any) -> dict | None:
        panels = []
        for i, name in enumerate(names):
            g = scalar(got[i]) if isinstance(got, (list, tuple)) and len(got) == len(names) else None
            w = scalar(want[i])
            ys = [g if g is not None and math.isfinite(g) else None, w]
            panels.append(
                {
                    "kind": "bar",
                    "xlabel": "",
                    "ylabel": name,
                    "series": [{"label": name, "x": ["yours", truth], "y": ys}],
                }
            )
        return {"title": title, "panels": panels}

    return plot
