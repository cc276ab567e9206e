"""Only schema-checked plain data crosses back from a submission's process."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autograder import wire


def roundtrip(v):
    import json

    return wire.decode(json.loads(json.dumps(wire.encode(v))))


def test_tensors_numbers_and_containers_cross():
    x = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    a, n, s, lst, d = roundtrip([x, 2.5, "s", (1, None, True), {"k": float("inf")}])
    assert isinstance(a, wire.Array) and a.dtype == "float64" and a.shape == (2, 3) and a.device == "cpu"
    assert np.array_equal(a.values, x.numpy())
    assert (n, s, lst) == (2.5, "s", [1, None, True]) and math.isinf(d["k"])


def test_objects_cross_as_their_type_name_only():
    class Liar:
        def __eq__(self, other):
            return True

    assert roundtrip(Liar()) == wire.Opaque("Liar")


@pytest.mark.parametrize(
    "node",
    [
        {"tensor": {"dtype": "float32", "shape": [3], "device": "cpu", "data": "AAAA"}},  # too little data
        {"tensor": {"dtype": "object", "shape": [], "device": "cpu", "data": ""}},
        {"pickle": "gASV"},
        {"dict": [[1, 2]]},
        {"a": 1, "b": 2},
    ],
)
def test_malformed_nodes_are_refused(node):
    with pytest.raises(wire.WireError):
        wire.decode(node)


def test_nesting_is_bounded():
    node = []
    for _ in range(wire.MAX_DEPTH + 5):
        node = [node]
    with pytest.raises(wire.WireError):
        wire.decode(node)
