"""The tripwire catches a forbidden computation in every spelling torch offers, in this process.

The aliases are enumerated from torch itself (its namespaces, `torch.ops.aten`, `torch._refs`,
`torch.nn`'s modules), never listed by hand: each that runs on a small input must be caught.
The same enumeration with the dispatch watch turned off misses some, so it is that watch that
catches them. The sandbox's side (threads, the reply pipe) is in tests/test_security.py.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings

import pytest
import torch
from conftest import ROOT

from autograder.config import load
from autograder.sandbox.tripwire import Tripwire, Trusted, Watched, guard, operators, watch

X = torch.randn(4, 5)
TARGET = torch.tensor([0, 1, 2, 4])
LOGP = X.log_softmax(-1)
# what each forbidden name's functions may take: the first that runs is the call tried
ARGS = {
    "logsumexp": [(X, -1), (X, [-1]), (-1,), ([-1],)],
    "log_softmax": [(X, -1), (X, -1, False), (-1,), (-1, False), (X,)],
    "softmax": [(X, -1), (X, -1, False), (-1,), (-1, False), (X,)],
    "nll_loss": [(LOGP, TARGET), (LOGP, TARGET, None, 1, -100), (X,)],
    "cross_entropy": [(X, TARGET), (X, TARGET, None, 1, -100, 0.0)],
}
NAMESPACES = [
    "torch",
    "torch.Tensor",
    "torch.nn.functional",
    "torch.special",
    "torch.sparse",
    "torch._C._nn",
    "torch._C._special",
    "torch._C._VariableFunctions",
    "torch._refs",
    "torch._refs.nn.functional",
    "torch._refs.special",
]


def _resolve(dotted: str):
    module, _, attr = dotted.rpartition(".")
    if attr == "Tensor":
        return torch.Tensor
    try:
        return importlib.import_module(dotted)
    except ImportError:
        return getattr(importlib.import_module(module), attr)


def aliases(name: str) -> dict[str, object]:
    """Every callable torch exposes whose name holds `name`: functions in its namespaces, methods of
    Tensor (bound to X), every overload of the aten operators, and torch.nn's modules."""
    stem, flat = name.strip("_"), name.replace("_", "")
    out: dict[str, object] = {}
    for ns in NAMESPACES:
        owner = _resolve(ns)
        for attr in dir(owner):
            if stem in attr and "backward" not in attr and callable(f := getattr(owner, attr, None)):
                out[f"{ns}.{attr}"] = getattr(X, attr) if owner is torch.Tensor else f
    for op in operators(name):
        packet, _, overload = op.removeprefix("aten::").partition(".")
        out[f"torch.ops.aten.{packet}.{overload or 'default'}"] = getattr(
            getattr(torch.ops.aten, packet), overload or "default"
        )
    for attr in dir(torch.nn):
        if flat in attr.lower() and isinstance(cls := getattr(torch.nn, attr), type):
            try:
                out[f"torch.nn.{attr}()"] = cls()
            except TypeError:  # a module that needs sizes (LinearCrossEntropyLoss): not an alias
                continue
    return out


def _call(f, name: str) -> bool:
    """Whether `f` ran on one of its name's argument lists."""
    warnings.simplefilter("ignore")  # deprecated spellings say so: they are aliases all the same
    for args in ARGS[name]:
        try:
            f(*args)
            return True
        except Exception:  # noqa: BLE001 - the wrong signature for this alias: try the next
            continue
    return False


def caught(name: str, watched: Watched) -> tuple[list[str], list[str]]:
    """The aliases of `name` that ran, and those of them the tripwire caught."""
    ran, hit = [], []
    for label, f in aliases(name).items():
        tripwire = Tripwire(watched, Trusted({}))
        with tripwire:
            ok = _call(f, name)
        if ok:
            ran.append(label)
            if tripwire.hits:
                hit.append(label)
    return ran, hit


def _exercises() -> dict[str, list[str]]:
    """course.toml's exercises that forbid torch computations (not packages or init functions), with
    their whole forbidden list: an alias counts as caught under the exercise's own watch
    (`cross_entropy_loss`, which torch always decomposes, is seen as the `nll_loss_forward` it runs)."""
    forbidden = load(ROOT / "course.toml").forbidden
    return {ex: names for ex, names in forbidden.items() if set(names) & set(ARGS)}


CASES = [(ex, name) for ex, names in _exercises().items() for name in names if name in ARGS]


def test_course_toml_forbids_the_computations_tried_here():
    assert {name for _, name in CASES} == set(ARGS), "a forbidden name has no argument lists to try its aliases with"


@pytest.mark.parametrize("exercise, name", CASES)
def test_every_alias_torch_exposes_is_caught(exercise, name):
    ran, hit = caught(name, watch(_exercises()[exercise]))
    assert len(ran) >= 4, f"too few aliases of {name} ran to show anything: {ran}"
    assert set(hit) == set(ran), f"not caught: {sorted(set(ran) - set(hit))}"


@pytest.mark.parametrize("exercise, name", CASES)
def test_without_the_dispatch_watch_aliases_go_unseen(exercise, name):
    """The defence off: names alone (the profile hook on torch's Python functions) miss aliases."""
    names_only = watch(_exercises()[exercise])._replace(operators=frozenset())
    ran, hit = caught(name, names_only)
    assert set(ran) - set(hit), f"every alias of {name} was caught without the dispatch watch"


def test_a_trusted_caller_is_not_a_hit():
    names: dict = {}
    trusted = Trusted(names)
    exec(trusted.compile("import torch\ndef lse(x):\n    return torch.logsumexp(x, -1)\n", "<given 0>"), names)
    tripwire = Tripwire(watch(["logsumexp"]), trusted)
    with tripwire:
        names["lse"](X)
    assert tripwire.hits == []
    with tripwire:
        torch.logsumexp(X, -1)
    assert tripwire.hits, "the same call from untrusted code"


def test_every_hit_is_reported_as_it_happens():
    """The record that counts is what `report` was handed: clearing `hits` afterwards changes nothing."""
    sent: list[str] = []
    tripwire = Tripwire(watch(["logsumexp"]), Trusted({}), sent.append)
    with tripwire:
        for _ in range(7):
            torch.logsumexp(X, -1)
        tripwire.hits.clear()
    assert len(sent) == 7 and "logsumexp" in sent[0]


def _pause_profile() -> None:
    old = sys.getprofile()
    sys.setprofile(None)
    torch.nn.init.kaiming_uniform_(torch.empty(3, 4))
    sys.setprofile(old)


def _pause_mode() -> None:
    mode = torch._C._pop_torch_dispatch_stack(None)
    torch.logsumexp(X, -1)
    torch._C._push_on_torch_dispatch_stack(mode)


@pytest.mark.parametrize(
    "pause, names", [(_pause_profile, ["kaiming_uniform_"]), (_pause_mode, ["logsumexp"])], ids=["profile", "mode"]
)
def test_a_watch_paused_and_put_back_is_a_hit(pause, names):
    guard()  # the audit hook the sandbox installs before the cells run (it stays: it acts only in a tripwire)
    sent: list[str] = []
    with Tripwire(watch(names), Trusted({}), sent.append) as tripwire:
        pause()
        assert tripwire.intact(), "put back: the check at the end alone would not see it"
    assert any("switched off" in s for s in sent), sent


# Given code that calls torch through a name the notebook can rebind: a student who rebinds it (or
# replaces the function behind it) makes trusted code run the forbidden computation for them.
GIVEN = "import torch\nimport torch.nn.functional as F\ndef scaled(x):\n    return F.relu(abs(x)) * x.exp().sum()\n"


def _rebind_module(names: dict) -> None:
    names["F"] = types.SimpleNamespace(relu=torch.sigmoid)


def _replace_function(names: dict) -> None:
    torch.nn.functional.relu = torch.sigmoid


def _replace_method(names: dict) -> None:
    torch.Tensor.exp = torch.Tensor.sigmoid


def _shadow_builtin(names: dict) -> None:
    names["abs"] = torch.sigmoid


@pytest.mark.parametrize(
    "swap",
    [_rebind_module, _replace_function, _replace_method, _shadow_builtin],
    ids=["F =", "F.relu =", "Tensor.exp =", "abs ="],
)
@pytest.mark.parametrize("defended", [True, False], ids=["defended", "names unchecked"])
def test_given_code_runs_with_the_names_it_was_given(swap, defended):
    """A call that given code makes under a name the notebook changed is the student's call: a hit.
    With the names unchecked (COURSE_SANDBOX_WITHOUT=names), the same attack goes unseen."""
    names: dict = {}
    trusted = Trusted(names, check_names=defended)
    exec(trusted.given(GIVEN, "<given 0>"), names)
    kept = torch.nn.functional.relu, torch.Tensor.exp
    tripwire = Tripwire(watch(["sigmoid"]), trusted)
    try:
        with tripwire:
            names["scaled"](X)  # honest: relu and exp are allowed here
        assert tripwire.hits == []
        swap(names)
        with tripwire:
            names["scaled"](X)
    finally:
        torch.nn.functional.relu, torch.Tensor.exp = kept
    assert bool(tripwire.hits) is defended, tripwire.hits
