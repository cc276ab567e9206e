"""[limits]: settings checked where they are read, and an exercise's time limit that scales with
what its checks take the reference, so that a hang costs seconds and a slow correct answer nothing."""

from __future__ import annotations

import dataclasses
import time

import pytest
from conftest import ROOT, make_submission

from autograder.config import ConfigError, Limits, load
from autograder.grading import grade


def _limits(**changes) -> Limits:
    return dataclasses.replace(load(ROOT).limits, **changes)


@pytest.mark.parametrize(
    "key, value",
    [("memory_mib", "6 GiB"), ("memory_mib", 1.5), ("cell_timeout", 0), ("exercise_scale", -1), ("processes", True)],
)
def test_a_malformed_limit_is_refused_where_it_is_read(tmp_path, key, value):
    text = (ROOT / "course.toml").read_text()
    with pytest.raises(ValueError, match=f"\\[limits\\] {key}"):
        _limits(**{key: value})
    (tmp_path / "course.toml").write_text(
        text.replace("[limits]\n", f"[limits]\n{key} = {value!r}\n".replace("'", '"'), 1)
    )
    with pytest.raises(ConfigError, match="course.toml"):
        load(tmp_path)


def test_the_limit_scales_with_the_reference_and_stays_under_the_bound():
    limits = _limits(exercise_timeout=60, exercise_floor=10, exercise_scale=100)
    assert limits.timeout_for(0.005) == pytest.approx(10.5)
    assert limits.timeout_for(0.2) == 30
    assert limits.timeout_for(5.0) == 60  # never above exercise_timeout
    assert limits.timeout_for(None) == 60  # not known: the bound


@pytest.mark.slow
def test_a_hang_costs_its_scaled_limit_not_the_bound(tmp_path):
    """`nll` never returns: its exercise ends after its own limit (a few seconds here), not after
    exercise_timeout, and says which limit it was; the other exercises are graded as ever."""
    course = dataclasses.replace(load(ROOT), limits=_limits(exercise_timeout=120, exercise_floor=3, exercise_scale=10))
    hang = {"nll": "def nll(input, target):\n    while True:\n        pass\n"}
    path = make_submission(tmp_path, "03_minibatch_training", "hangs", hang)
    start = time.monotonic()
    (result,) = grade.grade(course, "03_minibatch_training", [("hangs", path)], ["cpu"], 0)
    took = time.monotonic() - start
    nll = next(e for e in result["exercises"] if e["id"] == "nll")
    assert nll["status"] == "timeout" and "this exercise's limit is" in nll["message"], nll["message"]
    assert took < 60, f"the hang took {took:.0f} s: the bound, not the scaled limit"
    assert {e["status"] for e in result["exercises"] if e["id"] != "nll"} == {"passed"}
