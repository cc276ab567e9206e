"""Grading's verdicts do not depend on how it runs: every sample, the alternatives and every
hand-written mutant get the verdicts recorded in tests/data/verdicts.json, which the grader gave
them before the notebook's cells ran once per submission (each exercise ran them all again then).

After a change that is meant to change verdicts, regenerate it (`python tests/verdicts.py --write
tests/data/verdicts.json`) and say why in the commit."""

from __future__ import annotations

import json

import pytest
from conftest import ASSIGNMENTS, ROOT
from verdicts import verdicts

pytestmark = pytest.mark.slow

RECORDED = json.loads((ROOT / "tests" / "data" / "verdicts.json").read_text())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_sample_and_mutant_gets_the_recorded_verdicts(course, assignment):
    now, before = verdicts(course, assignment), RECORDED[assignment]
    assert sorted(now) == sorted(before), "the samples or mutants changed: regenerate the record"
    changed = {
        name: {ex: (before[name][ex], v) for ex, v in now[name].items() if v != before[name].get(ex)}
        for name in now
        if now[name] != before[name]
    }
    assert not changed, json.dumps(changed, indent=1)[:4000]
