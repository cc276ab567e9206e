"""Unit tables for the grader's pure parts: the judges, the forbidden-function scan, the grade store.

Fast and without a sandbox: every row is one behaviour, (input, expected) side by side.
Results reach a judge as the sandbox sends them (`wire.encode`, then `wire.decode`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import pytest
import torch

from autograder import report, wire
from autograder.checks import Context, anneal, init, minibatch_training
from autograder.checks.judges import close, describe_value, equal, scalar
from autograder.config import Tolerance
from autograder.grading import forbidden, store
from autograder.grading.store import Store, kit_digest, remembered_seed
from autograder.wire import Array

# ---- judges -----------------------------------------------------------------------------------------------

# course.toml's numbers, written out so that each row's verdict can be read from the table.
TOLERANCES = {
    "float32": Tolerance(rtol=1e-5, atol=1e-6),
    "float64": Tolerance(rtol=1e-10, atol=1e-12),
    "bound": Tolerance(rtol=1e-3, atol=0.0),
    "spread": Tolerance(rtol=0.02, atol=0.0),
    "moments": Tolerance(rtol=2e-3, atol=1e-6),
}


def ctx(device: str = "cpu", visible: bool = True) -> Context:
    """What `grading.grade.judge` hands a judge, with the tolerances above (a visible check's by
    default: its messages may show the expected value; see HIDDEN for a hidden check's)."""
    return Context(device=device, tolerance=lambda dtype: TOLERANCES.get(dtype, TOLERANCES["float32"]), visible=visible)


def sent(value):
    """`value` as it arrives from the sandbox."""
    return wire.decode(wire.encode(value))


def on(device: str, values, dtype=torch.float32) -> Array:
    """A tensor that lived on `device` (no GPU needed: only the label crosses)."""
    array = sent(torch.tensor(values, dtype=dtype))
    return Array(array.values, array.dtype, device)


T = torch.tensor
NAN, INF = math.nan, math.inf


class Foo:
    """Not plain data: only its type name crosses the wire."""


CLOSE = [
    # (got, want, passes, what the message says)
    (T([1.0, 2.0]), T([1.0, 2.0]), True, ""),
    (T([1.0, 2.0]) + 1e-7, T([1.0, 2.0]), True, ""),
    (T([1.0, 2.0]) + 1e-3, T([1.0, 2.0]), False, "2 of 2 values differ: max abs error"),
    (T([[1.0, 2.0]]), T([1.0, 2.0]), False, "expected shape [2], got [1, 2]"),
    (T([]), T([1.0, 2.0]), False, "expected shape [2], got [0]"),
    (T([1.0, 2.0], dtype=torch.float64), T([1.0, 2.0]), False, "expected dtype float32, got float64"),
    (T([1, 2]), T([1.0, 2.0]), False, "expected dtype float32, got int64"),
    (T([NAN, 1.0]), T([NAN, 1.0]), True, ""),
    (T([NAN, 1.0]), T([0.5, 1.0]), False, "nan/inf where finite ones were expected"),
    (T([INF, -INF]), T([INF, -INF]), True, ""),
    (T([INF, 1.0]), T([1.0, 1.0]), False, "max abs error inf"),
    # float64 is held to its own, much tighter tolerance
    (T([1.0 + 1e-8], dtype=torch.float64), T([1.0], dtype=torch.float64), False, "rtol=1e-10"),
    (T([1.0 + 1e-8]), T([1.0]), True, ""),
    # integers and booleans are compared exactly
    (T([1, 2, 3]), T([1, 2, 4]), False, "1 of 3 values differ (first at index (2,))"),
    (T([True, False]), T([True, False]), True, ""),
    (T([True, True]), T([True, False]), False, "1 of 2 values differ"),
    # a number: within the float32 tolerance; a one-element tensor is a number too
    (1.0000001, 1.0, True, ""),
    (1.01, 1.0, False, "expected 1, got 1.01"),
    (T(1.0), 1.0, True, ""),
    (T([1.0]), 1.0, True, ""),
    (NAN, NAN, True, ""),
    (NAN, 1.0, False, "expected 1, got nan"),
    (True, 1.0, False, "expected a number, got True"),
    ("1.0", 1.0, False, "expected a number"),
    (None, 1.0, False, "expected a number, got None"),
    # what the student sent is not a tensor at all
    (None, T([1.0]), False, "expected tensor[1] float32 on cpu, got None"),
    ([1.0], T([1.0]), False, "expected tensor[1] float32 on cpu, got a list of 1"),
    (Foo(), T([1.0]), False, "got an object of type Foo"),
    # lists: empty, short, long; then nested structures, which say where they differ
    ([], [T([1.0]), T([2.0])], False, "expected a list of 2, got a list of 0"),
    ([T([1.0])], [T([1.0]), T([2.0])], False, "expected a list of 2, got a list of 1"),
    ([T([1.0]), T([2.0]), T([3.0])], [T([1.0]), T([2.0])], False, "expected a list of 2, got a list of 3"),
    ((T([1.0]), 2.0), [T([1.0]), 2.0], True, ""),
    ([[T([1.0]), 2.0], {"a": T([3.0])}], [[T([1.0]), 2.0], {"a": T([3.0])}], True, ""),
    ([[T([1.0]), 2.0], {"a": T([3.5])}], [[T([1.0]), 2.0], {"a": T([3.0])}], False, "at [1]['a']: 1 of 1"),
    ([[T([1.0]), 2.5]], [[T([1.0]), 2.0]], False, "at [0][1]: expected 2, got 2.5"),
    ({"a": 1.0}, {"a": 1.0, "b": 2.0}, False, "expected a dict with keys ['a', 'b']"),
    ({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0}, True, ""),
    (1.0, {"a": 1.0}, False, "expected a dict with keys ['a'], got the number 1"),
    # anything else: exact equality
    ("tensor(1.)", "tensor(1.)", True, ""),
    ("tensor(2.)", "tensor(1.)", False, "expected str 'tensor(1.)', got str 'tensor(2.)'"),
    (None, None, True, ""),
    (False, True, False, "expected True, got False"),
]


@pytest.mark.parametrize(("got", "want", "passes", "says"), CLOSE)
def test_close(got, want, passes, says):
    msg = close(sent(got), sent(want), ctx())
    assert (msg is None) == passes, msg
    assert says in (msg or "")


DEVICES = [
    # (got's device, want's device, passes): only the kind of device counts, not its index
    ("cpu", "cpu", True),
    ("cuda:0", "cuda:0", True),
    ("cuda:1", "cuda:0", True),
    ("cpu", "cuda:0", False),
    ("cuda:0", "cpu", False),
]


@pytest.mark.parametrize(("got_on", "want_on", "passes"), DEVICES)
def test_close_compares_devices(got_on, want_on, passes):
    msg = close(on(got_on, [1.0, 2.0]), on(want_on, [1.0, 2.0]), ctx(want_on))
    assert (msg is None) == passes, msg
    if not passes:
        assert f"expected a tensor on {want_on}, got one on {got_on}" in msg


EQUAL = [
    # (got, want, passes, what the message says)
    ([1, 2, 3], [1, 2, 3], True, ""),
    ((1, 2, 3), [1, 2, 3], True, ""),
    ([1, 2, 4], [1, 2, 3], False, "expected [1, 2, 3], got [1, 2, 4]"),
    ("abc", "abc", True, ""),
    ("abd", "abc", False, "expected 'abc', got 'abd'"),
    (3, 3, True, ""),
    (None, [1, 2], False, "expected a list of 2, got None"),
    # empty and short results never pass, however long the list
    ([], [1, 2], False, "expected [1, 2], got []"),
    ([], list(range(10)), False, "expected 10 items, got 0; the first missing item is 0"),
    (list(range(9)), list(range(10)), False, "expected 10 items, got 9; the first missing item is 9"),
    (list(range(11)), list(range(10)), False, "expected 10 items, got 11; the first extra item is 10"),
    # a long trace: the first event that differs, with or without a length difference
    (["a"] * 7 + ["x"], ["a"] * 7 + ["b"], False, "at [7]: expected 'b', got 'x'"),
    (["a", "x"] + ["a"] * 6, ["a"] * 9, False, "expected 9 items, got 8; the first difference is at [1]"),
    # nested: where in the structure it differs
    ([["begin_fit", True], ["after_fit", True]], [["begin_fit", True], ["after_fit", True]], True, ""),
    ([["begin_fit", True], ["after_fit", False]], [["begin_fit", True], ["after_fit", True]], False, "at [1]"),
    ([[1, 2], [3]], [[1, 2], [3, 4]], False, "at [1]: expected [3, 4], got [3]"),
    # with tensors inside, the comparison is `close`'s
    ([T([1.0]), 3], [T([1.0]), 3], True, ""),
    ([T([1.5]), 3], [T([1.0]), 3], False, "at [0]: 1 of 1 values differ"),
]


@pytest.mark.parametrize(("got", "want", "passes", "says"), EQUAL)
def test_equal(got, want, passes, says):
    msg = equal(sent(got), sent(want), ctx())
    assert (msg is None) == passes, msg
    assert says in (msg or "")


# A hidden check's message: where and how the result differs, and what kind of value was expected
# (type, length, shape, dtype, device, the size of the error), never the expected value itself.
REPR = (
    "{'l1': Linear(in_features=6, out_features=5, bias=True), 'l2': Linear(in_features=5, out_features=2, bias=True)}"
)
HIDDEN = [
    # (judge, got, want, what the message says, what it must not say)
    (equal, [10, 10, 9], [10, 10, 10], "at [2]: got the number 9, not the expected value", "[10, 10, 10]"),
    (equal, 11, 10, "got the number 11, not the expected value", "10"),
    # never a contradiction: a value of the expected kind is not "expected a bool, got False"
    (equal, False, True, "got False, not the expected value", "a bool"),
    (close, [1.0, False], [1.0, True], "at [1]: got False, not the expected value", "a bool"),
    (equal, "x", None, "expected None, got str 'x'", ""),
    (equal, [1, 2], [1, 2, 3], "too few items: expected 3 items, got 2", "[1, 2, 3]"),
    (
        equal,
        REPR.replace("5", "4"),
        REPR,
        "parts from the expected string (112 characters) at character 42",
        "out_features=5",
    ),
    (equal, ["a", "b"], ["a", "b", "after_fit"], "the first missing item is a str of 9 characters", "after_fit"),
    (
        equal,
        ["a", "x", "c"],
        ["a", "b", "c"],
        "at [1]: got 'x', which parts from the expected string (1 characters) at character 0",
        "'b'",
    ),
    # no size of the error either: the value got and the error would give the expected one
    (close, 0.7431, 0.7531091, "got 0.7431, off the expected number by more than the tolerance", "error"),
    (close, [1.0, 2.5], [1.0, 2.25], "at [1]: got 2.5, off the expected number by more than the tolerance", "0.25"),
    (close, T([1.0, 2.0]), T([1.0, 2.5]), "1 of 2 values are off by more than the tolerance", "0.5"),
    (close, T([1.0, 2.0]), T([1.0, 2.5]), "the first at index (1,)", "abs error"),
    (close, T([1.0, 2.0]), T([[1.0, 2.0]]), "expected shape [1, 2], got [2]", ""),
    (close, "valid", "train", "got str 'valid', not the expected value", "train"),
    (close, "valid!", "train", "expected a str of 5 characters, got str 'valid!'", "train"),
    (close, None, 28, "expected a number, got None", "28"),
]


@pytest.mark.parametrize(("judge", "got", "want", "says", "never"), HIDDEN)
def test_hidden_checks_never_show_the_expected_value(judge, got, want, says, never):
    msg = judge(sent(got), sent(want), ctx(visible=False))
    assert says in (msg or ""), msg
    assert not never or never not in msg


def test_the_grader_says_only_the_kind_of_a_hidden_checks_expected_value(course):
    """`grading.grade.judge` fills the report's `expected` with the kind of value for a hidden check."""
    from autograder.checks import Check
    from autograder.grading import grade

    class Expected:
        def get(self, check, device):
            return sent(0.7531091), None

    for visible, says in ((False, "a number"), (True, "the number 0.753109")):
        check = Check("nll", "a check", lambda ns, t: None, equal, visible=visible)
        out = grade.judge(check, "cpu", {"value": sent(0.5)}, Expected(), course, "")
        assert out["expected"] == says
        assert ("0.753" in out["message"]) == visible, out["message"]


def test_only_a_visible_check_draws_the_reference(course):
    """A picture shows the reference's values: a hidden check's would give its answers away."""
    from autograder.checks import Check
    from autograder.grading import grade

    class Expected:
        def get(self, check, device):
            return sent([0.25, 0.5]), None

    def plot(got, want):
        return {"panels": [{"kind": "line", "series": [{"label": "reference", "y": want}]}]}

    for visible in (False, True):
        check = Check("fit", "a check", lambda ns, t: None, equal, visible=visible, plot=plot)
        out = grade.judge(check, "cpu", {"value": sent([0.25, 0.5])}, Expected(), course, "")
        assert ("plot" in out) == visible, out


SCALAR = [
    # (value, as a float or None)
    (2, 2.0),
    (2.5, 2.5),
    (T(2.5), 2.5),
    (T([[2.5]]), 2.5),
    (T(3), 3.0),
    (T([1.0, 2.0]), None),
    (T(True), None),
    (True, None),
    ("2.5", None),
    (None, None),
    ([2.5], None),
]


@pytest.mark.parametrize(("value", "number"), SCALAR)
def test_scalar(value, number):
    assert scalar(sent(value)) == number


DESCRIBED = [
    # (value, description): kinds of values, never a tensor's values
    (T([[1.0, 2.0]]), "tensor[1, 2] float32 on cpu"),
    ([1, 2, 3], "a list of 3"),
    ({"b": 1, "a": 2}, "a dict with keys ['a', 'b']"),
    (1.5, "the number 1.5"),
    (None, "None"),
    (True, "True"),
    ("hello", "str 'hello'"),
    (Foo(), "an object of type Foo"),
]


@pytest.mark.parametrize(("value", "description"), DESCRIBED)
def test_describe_value(value, description):
    assert describe_value(sent(value)) == description


# The assignments' own judges: a right answer passes, a wrong one fails.
PAIRS = [[0.5, 1.0], [0.25, 0.8]]
SPREAD = [[0.49, 0.28], [0.2, 0.115]]
JUDGES = [
    # (judge, got, want, passes)
    (init.moments, PAIRS, PAIRS, True),
    (init.moments, [[0.5005, 1.0], [0.25, 0.8]], PAIRS, True),  # 1e-3 relative: a sample std
    (init.moments, [[0.51, 1.0], [0.25, 0.8]], PAIRS, False),
    (init.same_spread, SPREAD, SPREAD, True),
    (init.same_spread, [[0.4903, 0.28], [0.2, 0.115]], SPREAD, True),  # max|w| 6e-4 off
    (init.same_spread, [[0.49, 0.28], [0.2, 0.117]], SPREAD, True),  # std 1.7% off
    (init.same_spread, [[0.495, 0.28], [0.2, 0.115]], SPREAD, False),  # max|w| 1% off
    (init.same_spread, [[0.49, 0.28], [0.2, 0.12]], SPREAD, False),  # std 4% off
    (init.between(0.0, 0.1), 0.05, 0.02, True),
    (init.between(0.0, 0.1), T(0.05), 0.02, True),
    (init.between(0.0, 0.1), 0.2, 0.02, False),
    (init.between(0.0, 0.1), NAN, 0.02, False),
    (init.between(0.0, 0.1), "0.05", 0.02, False),
    (minibatch_training.permutation_batches, [[3, 0, 4], [1, 2]], [[0, 1, 2], [3, 4]], True),
    (minibatch_training.permutation_batches, [[0, 1, 2], [3, 4]], [[0, 1, 2], [3, 4]], False),  # in order
    (minibatch_training.permutation_batches, [[3, 0], [1, 2, 4]], [[0, 1, 2], [3, 4]], False),  # sizes
    (minibatch_training.permutation_batches, [[3, 0, 3], [1, 2]], [[0, 1, 2], [3, 4]], False),  # 3 twice
    (minibatch_training.two_different_permutations, [[1, 0, 2], [2, 1, 0]], [[0, 1, 2], [0, 1, 2]], True),
    (minibatch_training.two_different_permutations, [[1, 0, 2], [1, 0, 2]], [[0, 1, 2], [0, 1, 2]], False),
    (minibatch_training.two_different_permutations, [[1, 0, 2], [1, 0]], [[0, 1, 2], [0, 1, 2]], False),
    (minibatch_training.zeros_or_none, [T([0.0, 0.0]), None], [T([0.0, 0.0]), None], True),
    (minibatch_training.zeros_or_none, [None, None], [T([0.0, 0.0]), None], True),
    (minibatch_training.zeros_or_none, [T([0.0, 1e-9]), None], [T([0.0, 0.0]), None], False),
    (minibatch_training.float_scalar_tensor, T(0.5), T(0.5), True),
    (minibatch_training.float_scalar_tensor, T(0.5, dtype=torch.float64), T(0.5), True),
    (minibatch_training.float_scalar_tensor, 0.5, T(0.5), False),  # a float, not a tensor
    (minibatch_training.float_scalar_tensor, T([0.5, 0.5]), T(0.5), False),
    (minibatch_training.float_scalar_tensor, T(1), T(0.5), False),  # an int tensor
    (minibatch_training.float_scalar_tensor, T(0.6), T(0.5), False),
    (anneal.raises_either, ["ValueError", "AssertionError"], ["AssertionError"] * 2, True),
    (anneal.raises_either, ["ValueError", "no exception"], ["AssertionError"] * 2, False),
    (anneal.raises_either, ["ValueError", "TypeError"], ["AssertionError"] * 2, False),
]


@pytest.mark.parametrize(("judge", "got", "want", "passes"), JUDGES)
def test_assignment_judges(judge, got, want, passes):
    msg = judge(sent(got), sent(want), ctx())
    assert (msg is None) == passes, msg


# Every judge of a list, given an empty or a short result: a fail, with a message (never a pass,
# never an exception: zip() must not quietly stop at the shorter side).
LISTS = [
    (close, [1.0, 2.0, 3.0]),
    (equal, [1, 2, 3]),
    (equal, list(range(10))),
    (init.moments, PAIRS),
    (init.same_spread, SPREAD),
    (minibatch_training.permutation_batches, [[0, 1, 2], [3, 4]]),
    (minibatch_training.two_different_permutations, [[0, 1, 2], [0, 1, 2]]),
    (minibatch_training.zeros_or_none, [T([0.0]), T([0.0])]),
    (anneal.raises_either, ["AssertionError", "ValueError"]),
]


@pytest.mark.parametrize("cut", ["empty", "short"])
@pytest.mark.parametrize(("judge", "want"), LISTS)
def test_an_empty_or_short_result_fails_every_judge(judge, want, cut):
    got = [] if cut == "empty" else want[:-1]
    msg = judge(sent(got), sent(want), ctx())
    assert isinstance(msg, str) and msg


# ---- forbidden: the static scan of a solution cell ---------------------------------------------------------

LOGSUMEXP = ["logsumexp"]
SOFTMAX = ["log_softmax", "softmax"]
NLL = ["nll_loss", "cross_entropy"]
OPTIM = ["torch.optim", "optim"]
DATA = ["torch.utils.data"]
INIT = ["kaiming_uniform_", "kaiming_normal_", "calculate_gain", "_calculate_fan_in_and_fan_out"]

FORBIDDEN = [
    # (cell source, forbidden names, what the message says; None: no hit)
    # the function, the method, an alias, an import
    ("y = torch.logsumexp(x, -1)", LOGSUMEXP, "uses torch's logsumexp (torch.logsumexp at line 1)"),
    ("y = x.logsumexp(-1)", LOGSUMEXP, "uses torch's logsumexp (x.logsumexp at line 1)"),
    ("y = (x * 2).logsumexp(-1)", LOGSUMEXP, "uses torch's logsumexp (….logsumexp at line 1)"),
    ("from torch import logsumexp as l\ny = l(x, -1)", LOGSUMEXP, "imports logsumexp from torch (line 1)"),
    ("from torch import logsumexp", LOGSUMEXP, "imports logsumexp from torch"),
    ("lse = torch.logsumexp\ny = lse(x, -1)", LOGSUMEXP, "uses torch's logsumexp"),
    ("import torch as th\n\n\ny = th.logsumexp(x, -1)", LOGSUMEXP, "(th.logsumexp at line 4)"),
    ("y = F.log_softmax(x, -1)", SOFTMAX, "uses torch's log_softmax"),
    ("y = x.softmax(-1).log()", SOFTMAX, "uses torch's softmax"),
    ("y = torch.nn.functional.softmax(x, -1)", SOFTMAX, "uses torch's softmax"),
    ("loss = F.nll_loss(inp, target)", NLL, "uses torch's nll_loss"),
    ("loss = F.cross_entropy(inp, target)", NLL, "uses torch's cross_entropy"),
    # attribute chains and whole modules
    ("opt = torch.optim.SGD(params, lr=0.1)", OPTIM, "uses torch's torch.optim (torch.optim.SGD at line 1)"),
    ("import torch.optim", OPTIM, "imports torch.optim (line 1)"),
    ("import torch.optim as o", OPTIM, "imports torch.optim"),
    ("from torch import optim", OPTIM, "imports optim from torch"),
    ("from torch.optim import SGD", OPTIM, "imports torch.optim"),
    ("import torch.utils.data as tud", DATA, "imports torch.utils.data"),
    ("from torch.utils.data import DataLoader", DATA, "imports torch.utils.data"),
    ("dl = torch.utils.data.DataLoader(ds)", DATA, "uses torch's torch.utils.data"),
    ("import torch as th\ndl = th.utils.data.DataLoader(ds)", DATA, "th.utils.data"),  # the head is an alias
    ("torch.nn.init.kaiming_uniform_(w)", INIT, "uses torch's kaiming_uniform_"),
    ("init.calculate_gain('relu')", INIT, "uses torch's calculate_gain"),
    ("from torch.nn.init import _calculate_fan_in_and_fan_out as fans", INIT, "imports _calculate_fan_in_and_fan_out"),
    # a name in a string: getattr and friends
    ('y = getattr(torch, "logsumexp")(x, -1)', LOGSUMEXP, "names 'logsumexp' in a string (line 1)"),
    ('f = getattr(F, "nll_loss")', NLL, "names 'nll_loss' in a string"),
    ('m = importlib.import_module("torch.optim")', OPTIM, "names 'torch.optim' in a string"),
    # the answers and the grader are never importable
    ("import solutions.minibatch_training as s", [], "imports solutions.minibatch_training"),
    ("from autograder.checks import judges", [], "imports autograder.checks"),
    ("import autograder", LOGSUMEXP, "the reference solutions are not yours to import"),
    # clean code: the student's own function, called by its bare name, and words that only look alike
    (
        "def logsumexp(x):\n    m = x.max(-1)[0]\n    return m + (x - m[:, None]).exp().sum(-1).log()",
        LOGSUMEXP,
        None,
    ),
    ("y = logsumexp(x)", LOGSUMEXP, None),
    ('def logsumexp(x):\n    "logsumexp"\n    return x', LOGSUMEXP, None),  # a docstring is not a getattr
    ("# torch.logsumexp would do this\ny = x", LOGSUMEXP, None),  # a comment
    ('print("use logsumexp here")', LOGSUMEXP, None),  # a sentence, not a name
    ("y = x - x.logsumexp(-1, keepdim=True)", SOFTMAX, None),  # torch's logsumexp is allowed in log_softmax
    ("y = self.softmaxes", SOFTMAX, None),
    ("y = my_log_softmax(x)", SOFTMAX, None),
    ("import torch\nimport torch.nn.functional as F", SOFTMAX, None),
    ("for p in params:\n    p -= lr * p.grad", OPTIM, None),
    ("w.uniform_(-bound, bound)", INIT, None),
    ("y = torch.logsumexp(x, -1)", [], None),  # nothing forbidden in this exercise
    # what a static scan cannot see: a name built at run time (the run-time tripwire catches it)
    ('y = getattr(torch, "log" + "sumexp")(x, -1)', LOGSUMEXP, None),
    # a cell that does not parse is reported when it runs; one too deep to parse does not pass
    ("def f(:\n    torch.logsumexp(x)", LOGSUMEXP, None),
    ("x = " + "-" * 100_000 + "1", LOGSUMEXP, "is nested too deeply to be checked"),
]


@pytest.mark.parametrize(("source", "banned", "says"), FORBIDDEN)
def test_forbidden(source, banned, says):
    msg = forbidden.find(source, banned)
    if says is None:
        assert msg is None
    else:
        assert msg is not None and says in msg, msg


# ---- store: grades kept between runs ----------------------------------------------------------------------

ASSIGNMENT = "03_minibatch_training"


@pytest.fixture
def course_dir(course, tmp_path):
    """A course folder of our own (course.toml and one source notebook), to change freely."""
    root = tmp_path / "course"
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(course.root / "course.toml", root / "course.toml")
    notebook = course.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    shutil.copy(notebook, root / "source" / ASSIGNMENT / notebook.name)
    return root


@pytest.fixture
def made(course, course_dir, tmp_path):
    """make(**changes): a Store over our course folder, with the defaults below unless changed."""

    def make(**changes):
        args = {"devices": ["cpu"], "seed": 1, "visible_only": False, "force": False} | changes
        return Store(tmp_path / "grades", dataclasses.replace(course, root=course_dir), ASSIGNMENT, **args)

    return make


@pytest.fixture
def submission(tmp_path):
    path = tmp_path / "alice.ipynb"
    path.write_bytes(b'{"cells": [], "nbformat": 4}')
    return path


RESULT = {"student": "x", "score": 3.5, "exercises": [{"id": "nll", "score": 1.0}]}


def test_store_put_then_get(made, submission):
    s = made()
    assert s.get(submission, "alice") is None
    s.put(submission, RESULT)
    assert s.get(submission, "alice") == {**RESULT, "student": "alice"}
    assert made().get(submission, "bob") == {**RESULT, "student": "bob"}  # a new Store finds it too


def _append_byte(path):
    path.write_bytes(path.read_bytes() + b" ")


MISSES = [
    # (what changes, how): after it, the stored grade is not found
    ("a byte of the notebook", lambda sub, root: _append_byte(sub), {}),
    ("course.toml", lambda sub, root: _append_byte(root / "course.toml"), {}),
    ("the source notebook", lambda sub, root: _append_byte(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), {}),
    ("the seed", None, {"seed": 2}),
    ("the devices", None, {"devices": ["cpu", "cuda"]}),
    ("the mode", None, {"visible_only": True}),
    ("--force", None, {"force": True}),
]


@pytest.mark.parametrize(("what", "change", "store_args"), MISSES, ids=[m[0] for m in MISSES])
def test_store_misses_after_a_change(made, submission, course_dir, what, change, store_args):
    made().put(submission, RESULT)
    if change:
        change(submission, course_dir)
    assert made(**store_args).get(submission, "alice") is None


def test_strict_mode_grades_again_what_was_graded_without_isolation(made, submission):
    s = made()
    s.put(submission, {**RESULT, "isolation": {"seccomp": "none (no libseccomp)"}})
    assert s.get(submission, "alice") is not None
    s.strict = True
    assert s.get(submission, "alice") is None


class Killed(BaseException):
    """Stands for SIGKILL arriving in the middle of a write."""


def test_an_interrupted_write_leaves_no_half_file(made, submission, monkeypatch):
    s = made()
    s.put(submission, RESULT)
    before = sorted(p.name for p in s.folder.iterdir())

    def killed(fd):
        raise Killed  # the new grade is written, not yet renamed into place

    monkeypatch.setattr(report.os, "fsync", killed)
    with pytest.raises(Killed):
        s.put(submission, {**RESULT, "score": 0.0})
    assert sorted(p.name for p in s.folder.iterdir()) == before  # no temporary file left behind
    assert s.get(submission, "alice")["score"] == 3.5  # the old grade, whole

    _append_byte(submission)
    with pytest.raises(Killed):
        s.put(submission, RESULT)
    assert sorted(p.name for p in s.folder.iterdir()) == before
    assert s.get(submission, "alice") is None


def test_a_write_killed_before_it_cleans_up_leaves_only_a_hidden_temporary_file(made, submission, monkeypatch):
    s = made()
    s.put(submission, RESULT)
    (file,) = s.folder.glob("*.json")

    def killed(fd):
        raise Killed

    monkeypatch.setattr(report.os, "fsync", killed)
    monkeypatch.setattr(report.Path, "unlink", lambda self, missing_ok=False: None)  # SIGKILL: no cleanup
    with pytest.raises(Killed):
        s.put(submission, {**RESULT, "score": 0.0})
    monkeypatch.undo()
    assert json.loads(file.read_text()) == RESULT  # the grade file itself is whole
    assert [p.name.startswith(".") for p in s.folder.iterdir() if p != file] == [True]
    assert s.get(submission, "alice")["score"] == 3.5


def test_a_corrupt_grade_is_graded_again(made, submission):
    s = made()
    s.put(submission, RESULT)
    (file,) = s.folder.glob("*.json")
    file.write_text(json.dumps(RESULT)[:20])
    assert s.get(submission, "alice") is None


SEEDS = [
    # (file content before, draw, renew, seed returned, file content after)
    (None, 7, False, 7, "7"),
    ("7", 9, False, 7, "7"),
    ("7", 9, True, 9, "9"),
    ("not a number", 9, False, 9, "9"),
]


@pytest.mark.parametrize(("before", "draw", "renew", "seed", "after"), SEEDS)
def test_remembered_seed(tmp_path, before, draw, renew, seed, after):
    file = tmp_path / ASSIGNMENT / "seed"
    if before is not None:
        file.parent.mkdir()
        file.write_text(before)
    assert remembered_seed(tmp_path, ASSIGNMENT, draw, renew=renew) == seed
    assert file.read_text() == after


@pytest.fixture
def kit_copy(tmp_path, monkeypatch):
    """The kit's sources copied to a folder of ours, which kit_digest then reads."""
    kit = tmp_path / "kit"
    shutil.copytree(store.KIT_DIR, kit, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(store, "KIT_DIR", kit)
    kit_digest.cache_clear()  # computed once per process: forget the real kit's, and later ours
    yield kit
    kit_digest.cache_clear()


def _every_kind_of_store(made) -> list[Store]:
    return [
        made(seed=seed, devices=devices, visible_only=visible)
        for seed in (1, 2)
        for devices in (["cpu"], ["cpu", "cuda"])
        for visible in (False, True)
    ]


CHECK_EDITS = [
    # (a file of the kit, an edit): each is a new kit, whose grades are not the old kit's
    ("checks/judges.py", lambda text: text + "\n# a comment\n"),
    ("checks/minibatch_training.py", lambda text: text.replace("lr=0.037", "lr=0.038")),
    ("checks/tiny.py", lambda text: text.replace("(0.7, 0.3)", "(0.7, 0.31)")),
    ("checks/__init__.py", lambda text: text + " "),
    ("grading/grade.py", lambda text: text + "\n"),
]


@pytest.mark.parametrize(("path", "edit"), CHECK_EDITS, ids=[e[0] for e in CHECK_EDITS])
def test_an_edited_kit_file_changes_every_key(kit_copy, made, submission, path, edit):
    old_digest = kit_digest()
    for s in _every_kind_of_store(made):
        s.put(submission, RESULT)
    folder = made().folder
    assert len(list(folder.iterdir())) == 8

    file = kit_copy / path
    edited = edit(file.read_text())
    assert edited != file.read_text()
    file.write_text(edited)
    assert kit_digest() == old_digest  # computed once per process: a running grader keeps its keys
    kit_digest.cache_clear()
    assert kit_digest() != old_digest

    for s in _every_kind_of_store(made):
        assert s.get(submission, "alice") is None
        s.put(submission, RESULT)
    assert len(list(folder.iterdir())) == 16  # 8 new keys: none of the old kit's grades was replaced


def test_a_new_kit_file_changes_the_digest(kit_copy):
    old = kit_digest()
    (kit_copy / "checks" / "extra.py").write_text("")
    kit_digest.cache_clear()
    assert kit_digest() != old


def test_the_kit_digest_does_not_depend_on_where_the_kit_is(kit_copy, monkeypatch):
    copied = kit_digest()
    monkeypatch.undo()
    kit_digest.cache_clear()
    assert kit_digest() == copied


def test_the_digest_is_of_sources_only(kit_copy):
    old = kit_digest()
    (kit_copy / "checks" / "notes.txt").write_text("not code")
    (kit_copy / "checks" / "__pycache__").mkdir()
    (kit_copy / "checks" / "__pycache__" / "judges.cpython-311.pyc").write_bytes(b"\0")
    kit_digest.cache_clear()
    assert kit_digest() == old


def test_reset_torch_restores_torch_defaults_a_notebook_may_change():
    """TF32, matmul precision, cuDNN autotuning: a notebook may change them in any cell."""
    import subprocess
    import sys

    import torch

    from autograder.sandbox.limits import reset_torch

    def settings() -> list:
        b = torch.backends
        return [
            b.cuda.matmul.allow_tf32,
            b.cudnn.allow_tf32,
            torch.get_float32_matmul_precision(),
            b.cudnn.benchmark,
            b.cudnn.deterministic,
            torch.get_default_dtype(),
            torch.is_grad_enabled(),
        ]

    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            "import torch, json; b = torch.backends; print(json.dumps([b.cuda.matmul.allow_tf32, "
            "b.cudnn.allow_tf32, torch.get_float32_matmul_precision(), b.cudnn.benchmark, b.cudnn.deterministic]))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    before = settings()
    try:
        torch.set_float32_matmul_precision("medium")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.deterministic = True
        torch.set_default_dtype(torch.float64)
        torch.set_grad_enabled(False)
        reset_torch()
        assert settings()[:5] == json.loads(fresh)
        assert settings()[5:] == [torch.float32, True]
    finally:
        reset_torch()
        assert settings() == before


@pytest.mark.parametrize("cuda", [False, True])
def test_the_memory_limit_holds_with_and_without_cuda(cuda):
    """Without CUDA the address space is capped; with it (where that cap would stop the driver)
    the private writable memory is: either way an allocation past `memory_mib` fails."""
    import os

    from autograder.sandbox.limits import limit_resources

    limits = {"file_mib": 64, "open_files": 256, "processes": 64, "exercise_timeout": 60, "memory_mib": 2048}
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            limit_resources(limits, cuda)
            try:
                bytearray(4 << 30)  # 4 GiB, twice the limit
                code = 1
            except MemoryError:
                code = 0
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_the_sandbox_reads_where_python_imports_from_but_never_a_denied_folder(tmp_path, monkeypatch):
    """A folder on sys.path (a .pth file's: another environment's packages) is readable; one inside
    the course folder (an old-style editable install puts it there) is not."""
    from autograder.sandbox.isolation import readable_paths

    course, other = tmp_path / "course", tmp_path / "other-env"
    (course / "lib").mkdir(parents=True)
    other.mkdir()
    for p in (course, course / "lib", other):
        monkeypatch.syspath_prepend(str(p))
    readable = readable_paths([course])
    assert str(other) in readable
    assert not [p for p in readable if p == str(course) or p.startswith(str(course) + "/")]


def test_the_sandbox_view_holds_what_may_be_read_the_course_and_the_links_to_them(tmp_path, monkeypatch):
    """The mount view (`isolation._view`) binds each folder a submission may read and each denied
    one (Landlock refuses those: a read says EACCES, as before), none inside another, and makes
    again the links on the way to them (a venv's folder reached through a link)."""
    import os

    from autograder.sandbox import isolation

    course, env = tmp_path / "course", tmp_path / "env"
    (course / "lib").mkdir(parents=True)
    (env / "lib").mkdir(parents=True)
    (tmp_path / "link").symlink_to(env)
    monkeypatch.syspath_prepend(str(tmp_path / "link" / "lib"))
    plan = isolation.plan([course], probe=[])
    isolation.let_go(plan)  # as root, the uid block's lock
    assert str(course) in plan.shown and str(env / "lib") in plan.shown
    assert "/usr" in plan.shown and "/usr/lib" not in plan.shown  # inside /usr: its bind brings it
    assert not [p for p in plan.shown if p.startswith(("/run", "/var", "/home"))]
    assert (str(tmp_path / "link"), str(env)) in plan.links
    if os.path.islink("/lib64"):  # merged /usr: the ELF interpreter's path goes through it
        assert ("/lib64", os.readlink("/lib64")) in plan.links
