"""The grader is right in both directions, on every assignment."""

from __future__ import annotations

import pytest
from conftest import ASSIGNMENTS, ROOT, grade_files, make_submission, mutants, scores, statuses

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_full_marks_stubs_zero(course, assignment):
    samples = ROOT / "samples" / assignment
    perfect, stubs = grade_files(course, assignment, [samples / "perfect.ipynb", samples / "stubs.ipynb"])
    assert perfect["score"] == perfect["max_score"], [
        (e["id"], e["message"], [c["message"] for c in e["checks"] if not c["passed"]])
        for e in perfect["exercises"]
        if e["status"] != "passed"
    ]
    assert set(statuses(perfect).values()) == {"passed"}
    assert perfect["errors"] == []
    assert stubs["score"] == 0
    assert set(statuses(stubs).values()) == {"failed"}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_wrong_implementation_loses_points_on_its_own_exercise_only(course, assignment, tmp_path):
    """Mutants of half the exercises at a time: those lose points, the other half keeps full marks.

    While one exercise is checked the earlier ones resolve to the reference (and no check uses a
    later one), so a notebook can carry several bugs and each still costs points only once.
    """
    table = mutants(course, assignment)["MUTANTS"]
    exercises = course.assignment(assignment).exercises
    assert all(len(table.get(ex, {})) >= 2 for ex in exercises), "every exercise needs two wrong implementations"
    rounds = max(len(v) for v in table.values())
    paths, plans = [], []
    for k in range(rounds):
        for half in (exercises[0::2], exercises[1::2]):
            plan = {ex: list(table[ex])[k] for ex in half if len(table[ex]) > k}
            if plan:
                paths.append(
                    make_submission(
                        tmp_path, assignment, f"m{k}-{len(paths)}", {ex: table[ex][n] for ex, n in plan.items()}
                    )
                )
                plans.append(plan)
    points = course.assignment(assignment).points
    for result, plan in zip(grade_files(course, assignment, paths), plans, strict=True):  # one of each per path
        got = scores(result)
        for ex in exercises:
            if ex in plan:
                assert got[ex] < points[ex], f"{ex}: the mutant {plan[ex]!r} kept full marks"
            else:
                assert got[ex] == points[ex], f"{ex} lost points to a bug elsewhere ({plan}): {result['exercises']}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_differently_written_correct_solutions_get_full_marks(course, assignment, tmp_path):
    """Every alternative (ALTERNATIVES and MORE_ALTERNATIVES: a fit that computes the validation loss
    once over all predictions, or calls the model twice per batch) gets full marks."""
    from autograder import mutants as table_of

    rounds = table_of.alternative_rounds(mutants(course, assignment))
    assert rounds, "every assignment has alternative correct solutions to test"
    paths = [make_submission(tmp_path, assignment, f"alt{k}", plan) for k, plan in enumerate(rounds)]
    for result in grade_files(course, assignment, paths):
        assert result["score"] == result["max_score"], [e for e in result["exercises"] if e["status"] != "passed"]


def test_grading_is_repeatable_across_seeds(course):
    buggy = ROOT / "samples" / "03_minibatch_training" / "buggy.ipynb"
    runs = [grade_files(course, "03_minibatch_training", [buggy], seed=s)[0] for s in (1, 2, 12345)]
    assert len({tuple(sorted(scores(r).items())) for r in runs}) == 1


@pytest.mark.parametrize("seed", [2, 12345])
def test_statistical_checks_pass_correct_solutions_at_any_seed(course, seed, tmp_path):
    """02_init's kaiming_uniform is random: the reference and a solution that draws otherwise (rand, not
    uniform_) both keep full marks whatever the seed (margins: bench/init_margins.py)."""
    alternative = make_submission(tmp_path, "02_init", "alt", mutants(course, "02_init")["ALTERNATIVES"])
    for r in grade_files(course, "02_init", [ROOT / "samples" / "02_init" / "perfect.ipynb", alternative], seed=seed):
        assert r["score"] == r["max_score"], [e for e in r["exercises"] if e["status"] != "passed"]


def test_the_unweighted_validation_average_is_caught(course, tmp_path):
    """The lesson's mean of batch means: 1000 samples at one loss and 1 at another."""
    checks = {}
    for assignment, ex, bug, check in [
        (
            "03_minibatch_training",
            "fit",
            "the lesson's mean of batch means",
            "validation averages over samples: 1000 + 1",
        ),
        (
            "04_callbacks",
            "AvgStats",
            "mean of batch means",
            "1000 + 1 samples: the mean over samples, not of batch means",
        ),
    ]:
        source = mutants(course, assignment)["MUTANTS"][ex][bug]
        (r,) = grade_files(course, assignment, [make_submission(tmp_path, assignment, f"naive-{ex}", {ex: source})])
        checks[ex] = {c["name"]: c for e in r["exercises"] if e["id"] == ex for c in e["checks"]}
        assert not checks[ex][check]["passed"] and "expected" in checks[ex][check]["message"]
