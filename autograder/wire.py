"""Plain data across the process boundary.

What a submission's process sends back is JSON: numbers, strings, booleans,
None, lists and string-keyed dicts, with tensors encoded as raw little-endian
bytes plus dtype, shape and device. Never a pickle: unpickling runs code.
`encode` runs in the sandbox; `decode` runs in the grader and believes
nothing: it checks every node against this schema and a size cap. Before
that, `parse_message` bounds how many values a reply may decode into and
makes its text valid (`utf8`): what the grader writes out must be.
"""

from __future__ import annotations

import base64
import builtins
import json
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import utf8

# its own builtins: the far side encodes after student code ran (`sandbox.bound`, `sandbox.private`)
__builtins__ = dict(vars(builtins))  # noqa: A001

# dtypes that may cross, as torch names them -> numpy dtype used on the wire
DTYPES = {
    "float64": "<f8",
    "float32": "<f4",
    "float16": "<f2",
    "bfloat16": "<f4",
    "int64": "<i8",
    "int32": "<i4",
    "int16": "<i2",
    "int8": "<i1",
    "uint8": "<u1",
    "bool": "|b1",
}
MAX_DEPTH = 32
# The most `[`, `{` and `,` a reply may hold. Each array element and each object member follows
# one of its own, so their count bounds the objects json.loads would make (at most 1 + twice as
# many), before it makes any. Within the 16 MiB byte cap alone, `[[],[],...]` decodes into 360 MiB
# and `[{"a":{"a":{}}},...]` into 480; 2**18 of them make 30 MiB at most (both measured).
# Honest replies are far below it: a check's largest is 367 (04_callbacks' Runner events over
# fit(2), measured over every check on the reference and on torch; tensors cross as base64,
# which holds none), the cells' statuses take 5 per cell and the commas of their error texts
# (300 characters each at most). Commas inside strings count too: the bound is an upper one.
MAX_VALUES = 1 << 18


# ---- the protocol ----------------------------------------------------------
#
# The grader sends jobs on the job pipe: first the cells' message, then one per exercise. The far
# side answers on the result pipe, each reply tagged with the job's nonce, in one order only:
#
#   cells' process:     isolation, cells
#   exercise's process: refs, own_cell (where the exercise has a cell), one check per (check,
#                       device) with the hits its probe made just before it, done
#   cells' process:     gone (the exercise's process ended), unless the process stays for the
#                       next job (`more`, CUDA: one context for all)
#
# The status pipe carries the sandbox parent's own: ready, and exit when the cells' process ended.
# `exercises` and `cells` send these (tests/test_bound.py reads each message they build against
# this table); `box.Sandbox` expects them in this order and refuses anything else.

JOBS = {
    "cells": ("nonce", "devices", "module", "strict", "inline", "cells", "limits", "forbidden"),
    "exercise": ("nonce", "exercise", "checks", "refs", "devices", "seed", "own_cell", "stay"),
}
REPLIES = {  # kind -> the fields it must carry (a check carries "value" or "error" besides)
    "isolation": ("layers",),
    "cells": ("cells",),
    "refs": ("failed",),
    "own_cell": ("cells",),
    "hit": ("what",),
    "check": ("name", "device"),
    "done": ("more",),
    "gone": ("code", "signal"),
}
STATUS = {"ready": (), "exit": ("code", "signal")}
NO_MORE_JOBS = 113  # the cells' process's exit code for "the grader closed the job pipe"


def job(kind: str, **fields: Any) -> dict:
    """A job as the protocol has it: every field, and no other."""
    if set(fields) != set(JOBS[kind]):
        raise ValueError(f"a {kind} job takes {JOBS[kind]}, not {tuple(fields)}")
    return fields


def cells_replies(nonce: str) -> list[tuple[str, object]]:
    """What the cells' process sends, in order, as (nonce, kind)."""
    return [(nonce, "isolation"), (nonce, "cells")]


def exercise_replies(nonce: str, checks: list[str], devices: list[str], own_cell: bool) -> list[tuple[str, object]]:
    """What an exercise's process sends, in order: (nonce, kind), or (nonce, ("check", name, device))."""
    return [
        (nonce, "refs"),
        *([(nonce, "own_cell")] if own_cell else []),
        *[(nonce, ("check", c, d)) for d in devices for c in checks],
        (nonce, "done"),
    ]


def check_reply(message: dict) -> str:
    """A reply's kind, once it is known to carry its fields (WireError otherwise)."""
    kind = message.get("kind")
    if kind not in REPLIES or not isinstance(message.get("nonce"), str):
        raise WireError(f"a reply of unknown kind {str(kind)[:40]!r}")
    if lacking := [f for f in REPLIES[kind] if f not in message]:
        raise WireError(f"a {kind!r} reply without {', '.join(lacking)}")
    if kind == "check" and ("value" in message) == ("error" in message):
        raise WireError("a check reply must carry a value or an error")
    return kind


class WireError(ValueError):
    """A reply that does not follow the schema."""


@dataclass(frozen=True)
class Array:
    """A tensor that came back: its values on the CPU and where it lived."""

    values: np.ndarray
    dtype: str  # torch's name, e.g. 'float32'
    device: str  # 'cpu', 'cuda:0', ...

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)

    def describe(self) -> str:
        return f"tensor{list(self.shape)} {self.dtype} on {self.device}"


@dataclass(frozen=True)
class Opaque:
    """Something that is not plain data: only its type name crosses."""

    type_name: str


# ---- sandbox side ---------------------------------------------------------


def encoder(k: Any) -> Callable[[Any], Any]:
    """`encode(value)`: a result as JSON-able plain data (runs in the sandbox). Made of what `k`
    holds (`sandbox.bound.K`: torch's and binascii's functions, bound before any student code ran),
    its own copy of `DTYPES`, and nothing looked up at call time: the far side encodes after the
    student's code has run, and that code may have patched torch or base64."""
    dtypes, inf = dict(DTYPES), float("inf")

    def encode(value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            return {"opaque": "too deeply nested"}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return {"float": repr(float(value))} if value != value or abs(value) == inf else float(value)
        if isinstance(value, k.Tensor):
            t = k.as_subclass(k.detach(value), k.Tensor)
            dtype = str(t.dtype).removeprefix("torch.")
            if dtype not in dtypes:
                return {"opaque": f"tensor of dtype {dtype}"}
            host = k.contiguous(k.to(t, "cpu", k.float32 if dtype == "bfloat16" else t.dtype))
            data = k.numpy(host).astype(dtypes[dtype], copy=False).tobytes()
            return {
                "tensor": {
                    "dtype": dtype,
                    "shape": list(host.shape),
                    "device": str(t.device),
                    "data": k.b2a_base64(data, newline=False).decode("ascii"),
                }
            }
        if isinstance(value, (list, tuple)):
            return [encode(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {"dict": [[str(k_), encode(v, depth + 1)] for k_, v in value.items()]}
        if isinstance(value, k.np_scalars):
            return encode(value.item(), depth)
        return {"opaque": type(value).__name__[:100]}

    return encode


def encode(value: Any, depth: int = 0) -> Any:
    """`encoder`'s encoding, for the grader's side (expected values, the self-check)."""
    from .sandbox.bound import K  # torch: the grader side never needs it to decode

    return encoder(K)(value, depth)


def write_message(fd: int, message: dict) -> None:
    data = json.dumps(message, allow_nan=False).encode()
    os.write(fd, struct.pack("<Q", len(data)))
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


# ---- grader side ----------------------------------------------------------


def decode(node: Any, depth: int = 0) -> Any:
    """Check one node of a reply against the schema and rebuild it."""
    if depth > MAX_DEPTH:
        raise WireError("nested too deeply")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [decode(v, depth + 1) for v in node]
    if not isinstance(node, dict) or len(node) != 1:
        raise WireError(f"unexpected node {str(node)[:80]!r}")
    ((kind, body),) = node.items()
    if kind == "float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if kind == "opaque" and isinstance(body, str):
        return Opaque(body[:100])
    if kind == "dict" and isinstance(body, list):
        if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in body):
            raise WireError("malformed dict")
        return {k: decode(v, depth + 1) for k, v in body}
    if kind == "tensor" and isinstance(body, dict):
        return _decode_tensor(body)
    raise WireError(f"unexpected node kind {kind!r}")


def _decode_tensor(body: dict) -> Array:
    if set(body) != {"dtype", "shape", "device", "data"}:
        raise WireError("malformed tensor")
    dtype, shape, device, data = body["dtype"], body["shape"], body["device"], body["data"]
    if dtype not in DTYPES or not isinstance(device, str) or len(device) > 32 or not isinstance(data, str):
        raise WireError("malformed tensor")
    if not (isinstance(shape, list) and len(shape) <= 16 and all(isinstance(s, int) and s >= 0 for s in shape)):
        raise WireError("malformed tensor shape")
    raw = base64.b64decode(data, validate=True)
    wire = np.dtype(DTYPES[dtype])
    if len(raw) != math.prod(shape) * wire.itemsize:
        raise WireError("tensor data does not match its shape")
    return Array(np.frombuffer(raw, dtype=wire).reshape(shape), dtype, device)


def parse_message(body: bytes) -> dict:
    """A reply's JSON body (after its 8-byte length prefix), in the grader: refused (WireError)
    when it could decode into more than MAX_VALUES values; its strings, keys too, made valid
    text (`utf8.repair`), so no writer of the report ever meets a lone surrogate."""
    most = body.count(b"[") + body.count(b"{") + body.count(b",")  # C loops: no object is made
    if most > MAX_VALUES:
        raise WireError(f"a reply of up to {most} values (its brackets and commas) is over the cap of {MAX_VALUES}")
    return utf8.repair(_json_object(body))


def _json_object(body: bytes) -> dict:
    """A message's JSON body as the object it must be, or WireError."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WireError(f"not JSON: {e}") from None
    except RecursionError:  # a reply of `[[[[...]]]]`: it must not take the grader down
        raise WireError("not JSON: nested too deeply") from None
    if not isinstance(message, dict):
        raise WireError("reply is not an object")
    return message
