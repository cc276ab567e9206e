"""Judges: compare what came back from the sandbox with the reference.

A judge returns None when the result is right, or a message saying what was
expected and what came back (shape, dtype, device, max abs error). A hidden
check's message (`ctx.visible` false) names only the kind of value expected
(`kind`: type, length, shape, dtype, device) and where the result differs,
never the expected value itself; a visible check's may show it (`shown`).
Both sides arrive as decoded wire data (`Array`s, numbers, strings, lists,
dicts), so a judge sees the student's and the reference's results in the
same form.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..wire import Array, Opaque


def describe_value(v: Any) -> str:
    """What `v` is, for a message: its kind (`kind`), and a plain number's or string's value."""
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, numbers.Number):
        return f"the number {v:.6g}"
    if isinstance(v, str):
        return f"str {v[:60]!r}"
    return kind(v)


def kind(v: Any) -> str:
    """What kind of value `v` is, without any of its contents: for a hidden check's expected value."""
    if isinstance(v, Array):
        return v.describe()  # shape, dtype, device: never the values
    if isinstance(v, Opaque):
        return f"an object of type {v.type_name}"
    if isinstance(v, (list, tuple)):
        return f"a list of {len(v)}"
    if isinstance(v, dict):
        return f"a dict with keys {sorted(v)[:8]}"
    if isinstance(v, bool):
        return "a bool"
    if v is None:
        return "None"
    if isinstance(v, numbers.Integral):
        return "an int"
    if isinstance(v, numbers.Number):
        return "a number"
    if isinstance(v, str):
        return f"a str of {len(v)} characters"
    return type(v).__name__


def shown(v: Any, ctx) -> str:
    """An expected value in a message: itself for a visible check, its kind for a hidden one."""
    return _short(v) if getattr(ctx, "visible", False) else kind(v)


def scalar(v: Any) -> float | None:
    """A number, or a one-element tensor, as a float; None otherwise."""
    if isinstance(v, bool):
        return None
    if isinstance(v, numbers.Number):
        return float(v)
    if isinstance(v, Array) and v.values.size == 1 and v.values.dtype.kind in "fiu":
        return float(v.values.reshape(()))
    return None


def _values_close(got: np.ndarray, want: np.ndarray, dtype: str, ctx, where: str) -> str | None:
    if want.dtype.kind in "biu":
        bad = np.argwhere(got != want)
        if len(bad):
            i = tuple(int(j) for j in bad[0])
            return f"{where}{len(bad)} of {want.size} values differ (first at index {i})"
        return None
    tol = ctx.tolerance(dtype)
    g, w = got.astype(np.float64), want.astype(np.float64)
    ok = np.isclose(g, w, rtol=tol.rtol, atol=tol.atol, equal_nan=True)
    if ok.all():
        return None
    with np.errstate(invalid="ignore"):
        err = np.where(ok, 0.0, np.abs(g - w))
    err = np.where(np.isnan(err), np.inf, err)
    i = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    nonfinite = int((~np.isfinite(g) & np.isfinite(w)).sum())
    extra = f"; {nonfinite} value(s) came back nan/inf where finite ones were expected" if nonfinite else ""
    if not getattr(ctx, "visible", False):  # no error size: got minus it would give the expected value
        first = tuple(int(j) for j in np.argwhere(~ok)[0])
        return (
            f"{where}{int((~ok).sum())} of {want.size} values are off by more than the tolerance "
            f"(rtol={tol.rtol:g}, atol={tol.atol:g}; the first at index {first}){extra}"
        )
    return (
        f"{where}{int((~ok).sum())} of {want.size} values differ: max abs error {float(err.max()):.3g} "
        f"at index {tuple(int(j) for j in i)} (rtol={tol.rtol:g}, atol={tol.atol:g}){extra}"
    )


def close(got: Any, want: Any, ctx, where: str = "") -> str | None:
    """Equal up to the course's tolerances, recursively; tensors also by shape, dtype and device."""
    at = f"at {where}: " if where else ""
    if isinstance(want, Array):
        if not isinstance(got, Array):
            return f"{at}expected {want.describe()}, got {describe_value(got)}"
        if got.shape != want.shape:
            return f"{at}expected shape {list(want.shape)}, got {list(got.shape)}"
        if got.dtype != want.dtype:
            return f"{at}expected dtype {want.dtype}, got {got.dtype}"
        if got.device.split(":")[0] != want.device.split(":")[0]:
            return f"{at}expected a tensor on {want.device}, got one on {got.device} (keep data on the input's device)"
        return _values_close(got.values, want.values, want.dtype, ctx, at)
    if isinstance(want, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(want):
            return f"{at}expected {describe_value(want)}, got {describe_value(got)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if msg := close(g, w, ctx, f"{where}[{i}]"):
                return msg
        return None
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return f"{at}expected {describe_value(want)}, got {describe_value(got)}"
        for k in want:
            if msg := close(got[k], want[k], ctx, f"{where}[{k!r}]"):
                return msg
        return None
    if isinstance(want, numbers.Number) and not isinstance(want, bool):
        g = scalar(got)
        if g is None:
            return f"{at}expected a number, got {describe_value(got)}"
        tol = ctx.tolerance("float32")
        if np.isclose(g, float(want), rtol=tol.rtol, atol=tol.atol, equal_nan=True):
            return None
        if getattr(ctx, "visible", False):
            error = f"abs error {abs(g - float(want)):.3g}, rtol={tol.rtol:g}, atol={tol.atol:g}"
            return f"{at}expected {float(want):.7g}, got {g:.7g} ({error})"
        # no error size: got and the error would give the expected number
        within = f"rtol={tol.rtol:g}, atol={tol.atol:g}"
        return f"{at}got {g:.7g}, off the expected number by more than the tolerance ({within})"
    if got != want:
        if getattr(ctx, "visible", False):
            return f"{at}expected {describe_value(want)}, got {describe_value(got)}"
        return f"{at}{_differs(got, want)}"
    return None


def _differs(got: Any, want: Any) -> str:
    """A hidden value that is not the expected one, in words: its kind when the kinds differ, else
    only that it is not the value expected (never "expected a bool, got False")."""
    if kind(got) != kind(want):
        return f"expected {kind(want)}, got {describe_value(got)}"
    return f"got {describe_value(got)}, not the expected value"


def equal(got: Any, want: Any, ctx, where: str = "") -> str | None:
    """Exactly equal (indices, counts, event traces), saying where: the first item that differs.

    Traces are long; the first differing event is what a student can act on.
    """
    if _has_array(got) or _has_array(want):
        return close(got, want, ctx, where)
    at = f"at {where}: " if where else ""
    if isinstance(want, list):
        if not isinstance(got, (list, tuple)):
            return f"{at}expected a list of {len(want)}, got {describe_value(got)}"
        row = len(want) <= 6 and not any(isinstance(w, (list, tuple, dict)) for w in want)
        if row and list(got) != want and getattr(ctx, "visible", False):
            return f"{at}expected {_short(want)}, got {_short(list(got))}"
        if len(got) != len(want):
            many = "too many" if len(got) > len(want) else "too few"
            first = _first_difference(got, want, ctx, where)
            return f"{at}{many} items: expected {len(want)} items, got {len(got)}; {first}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if msg := equal(g, w, ctx, f"{where}[{i}]"):
                return msg
        return None
    if isinstance(want, str) and isinstance(got, str) and got != want and not getattr(ctx, "visible", False):
        i = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))  # noqa: B905
        return f"{at}got {_short(got)}, which parts from the expected string ({len(want)} characters) at character {i}"
    if got != want:
        if not getattr(ctx, "visible", False):
            return f"{at}{_differs(got, want)}"
        return f"{at}expected {shown(want, ctx)}, got {_short(got)}"
    return None


def _first_difference(got: list, want: list, ctx, where: str) -> str:
    """Where two lists of different lengths part: the first item that differs, else the first
    extra or missing one (an event too many or too few in a trace)."""
    n = min(len(got), len(want))
    for i in range(n):
        if msg := equal(got[i], want[i], ctx, f"{where}[{i}]"):
            return f"the first difference is {msg}"
    if len(got) > n:
        return f"the first extra item is {_short(got[n])}"
    return f"the first missing item is {shown(want[n], ctx)}"


def _has_array(v: Any) -> bool:
    if isinstance(v, Array):
        return True
    if isinstance(v, (list, tuple)):
        return any(_has_array(x) for x in v)
    if isinstance(v, dict):
        return any(_has_array(x) for x in v.values())
    return False


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 200 else text[:200] + "..."
