"""No false deductions, no blind spots (issue 16).

- `course selftest` for every assignment: over a few seeds, the reference (against torch on every
  oracle check), the alternatives and the lesson's own code pass every check; every hand-written
  mutant fails one of its own exercise's (one process, no sandbox: seconds).
- The lesson-literal notebooks (samples/<a>/lesson.ipynb) get full marks in real grading.
- A slice of the mutation analysis (bench/mutation.py): every automatic mutant of a few
  exercises is killed or known to be equivalent, and no EQUIVALENT entry is stale.
- The behaviour table: every behaviour names mutants that exist, and docs/ has the tables.
- An oracle that is not torch cannot be claimed.
"""

from __future__ import annotations

import importlib.util
import re

import pytest
from conftest import ASSIGNMENTS, ROOT, grade_files

from autograder import cli, mutants, mutate, selftest
from autograder.checks import Registry, oracle, registry

# Few seeds in CI; bench/flakiness.py runs 50.
SEEDS = {"02_init": [1, 2], "03_minibatch_training": [1, 2, 3], "04_callbacks": [1, 2, 3], "05_anneal": [1, 2, 3]}


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_selftest_every_verdict_as_it_must_be(course, assignment):
    outcomes = selftest.run(course, assignment, SEEDS[assignment])
    kinds = {o.variant.kind for o in outcomes}
    assert {"reference", "alternative", "lesson", "mutant"} <= kinds
    assert selftest.disagreements(outcomes) == []


def test_selftest_names_the_check_and_the_seed_of_a_disagreement(course):
    """The AvgStats written as the lesson writes it, judged by the old probe that read all_stats on an
    empty AvgStats: the disagreement names the variant, the seed and the check."""
    a = course.assignment("04_callbacks")
    lesson = mutants.load(course, a)["LESSON"]["AvgStats"]
    bench = selftest.Bench(course, "04_callbacks")

    def old_probe(ns, t):
        stats = ns.AvgStats([], True)
        stats.reset()
        return [stats.count, list(stats.all_stats)]

    old = Registry()
    old("AvgStats", "reset empties the loss, the count and the metrics")(old_probe)
    bench.registry = old
    bench._expected = {}
    outcome = bench.judge_variant(selftest.Variant("AvgStats", "lesson", "lesson-literal", lesson, True), 7)
    (line,) = selftest.disagreements([outcome])
    assert line.startswith("seed 7: AvgStats [lesson] lesson-literal must pass")
    assert "reset empties the loss, the count and the metrics (cpu): raised AttributeError" in line


def test_the_selftest_command(capsys):
    assert cli.main(["--root", str(ROOT), "selftest", "05_anneal", "--exercise", "sched_exp", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert (
        "sched_exp" in out
        and "every verdict as it must be, over 2 seed(s) for what must pass, 20 for each mutant" in out
    )
    assert cli.main(["--root", str(ROOT), "selftest", "05_anneal", "--exercise", "softmax"]) == 2


@pytest.mark.slow
def test_the_lessons_own_code_gets_full_marks(course):
    """samples/<a>/lesson.ipynb: every exercise written as the lesson writes it, graded in the sandbox."""
    for assignment in ASSIGNMENTS:
        (r,) = grade_files(course, assignment, [ROOT / "samples" / assignment / "lesson.ipynb"], seed=11)
        assert r["score"] == r["max_score"], [
            (e["id"], [c["message"] for c in e["checks"] if not c["passed"]])
            for e in r["exercises"]
            if e["status"] != "passed"
        ]


def test_every_exercise_has_a_lesson_literal_variant(course):
    for a in course.assignments.values():
        assert set(mutants.load(course, a)["LESSON"]) == set(a.exercises), a.name


# A slice of bench/mutation.py: small cells of every assignment, and one large one.
SLICE = [("02_init", "gain"), ("03_minibatch_training", "DataLoader"), ("04_callbacks", "AvgStats")]
SLICE += [("05_anneal", "combine_scheds")]


@pytest.mark.parametrize(("assignment", "exercise"), SLICE)
def test_mutation_slice_every_automatic_mutant_is_killed_or_equivalent(course, assignment, exercise):
    (row,) = _bench("mutation").analyse(course, assignment, [1], exercise)
    assert row["made"] >= 5
    assert row["survived"] == [] and row["stale"] == []
    assert row["hand_killed"] == row["hand"] >= 2


def test_no_equivalent_entry_is_stale(course):
    """EQUIVALENT names automatic mutants; a changed reference cell renames them (bench/mutation.py)."""
    for a in course.assignments.values():
        table = mutants.load(course, a)
        for ex, source in mutants.reference_cells(course, a).items():
            names = {m.name for m in mutate.mutants(source)}
            assert set(table["EQUIVALENT"].get(ex, {})) <= names, (ex, set(table["EQUIVALENT"][ex]) - names)


def test_the_operators_make_the_mutants_they_say():
    cell = (
        "def f(x, n):\n"
        "    with torch.no_grad():\n"
        "        y = x.sum(-1, keepdim=True) * 2\n"
        "    if n >= 1 and y is not None:\n"
        "        return y\n"
        "    return x\n"
    )
    made = {m.operator: m for m in mutate.mutants(cell)}
    assert set(made) == {"arith", "compare", "const", "dim", "keepdim", "method", "negate", "boolop", "drop"} | {
        "return",
        "no_grad",
    }
    names = [m.name for m in mutate.mutants(cell)]
    assert len(names) == len(set(names))
    assert "method 3:12 x.sum -> x.mean" in names
    assert "keepdim 3:22 keepdim=True -> keepdim=False" in names
    assert (
        "no_grad 2:4 with torch.no_grad():;     y = x.sum(-1, keepdim=True) * 2 -> y = x.sum(-1, keepdim=True) * 2"
        in names
    )
    for m in mutate.mutants(cell):
        compile(m.source, "<mutant>", "exec")


def test_every_behaviour_names_mutants_that_exist(course):
    for a in course.assignments.values():
        table, behaviours = mutants.load(course, a), mutants.behaviours(course, a)
        assert set(behaviours) == set(a.exercises), a.name
        for ex, rows in behaviours.items():
            assert rows, ex
            for behaviour, names in rows.items():
                assert names and set(names) <= set(table["MUTANTS"][ex]), (ex, behaviour)
        # and every hand-written mutant is there for a behaviour
        named = {(ex, n) for ex, rows in behaviours.items() for ns in rows.values() for n in ns}
        assert {(ex, n) for ex, ms in table["MUTANTS"].items() for n in ms} <= named, a.name


@pytest.mark.parametrize("doc", ["BEHAVIOURS.md", "MUTATION.md"])
def test_the_generated_tables_are_in_docs_without_a_gap(doc):
    text = (ROOT / "docs" / doc).read_text()
    assert "GENERATED by `python bench/" in text
    assert "NONE: a blind spot" not in text
    if doc == "MUTATION.md":
        assert re.search(r"\| 0 \| \d+ \| 100% \|", text) and not re.search(r"\| [1-9]\d* \| \d+ \| \d+% \|", text)


# ---- oracles ---------------------------------------------------------------------------------------------


def test_a_check_cannot_claim_an_oracle_that_is_not_torch():
    def probe(ns, t):
        return None

    reg = Registry()
    with pytest.raises(ValueError, match="torch has no accuracy"):
        reg("accuracy", "matches torch", oracle=True)(probe)
    with pytest.raises(ValueError, match="defines no softmax"):
        reg("softmax", "matches torch", oracle=True)(probe)
    reg("softmax", "matches the reference")(probe)  # no oracle claimed: fine
    assert oracle.defines("logsumexp") is None


def test_every_exercise_has_an_oracle_from_torch_or_says_why_not(course):
    for a in course.assignments.values():
        for ex in a.exercises:
            has = ex in vars(oracle) and ex not in oracle.NO_TORCH_EQUIVALENT
            says = ex in oracle.NO_TORCH_EQUIVALENT
            assert has != says, ex
            if has:
                assert oracle.defines(ex) is None, ex
                assert any(c.oracle for c in registry(a.module).for_exercise(ex)), (
                    f"{ex}: torch has it, no check uses it"
                )


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('logsumxp = ["logsumexp"]', "[forbidden] logsumxp: no exercise has this id"),
        ('LogSumExp = ["logsumexp"]', "[forbidden] LogSumExp: no exercise has this id"),
        ('logsumexp = "logsumexp"', "[forbidden] logsumexp = 'logsumexp': not a list of names"),
    ],
)
def test_a_forbidden_key_that_is_no_exercise_is_an_error(tmp_path, line, says):
    """A typo in a [forbidden] key used to ban nothing, silently."""
    from autograder import config

    text = (ROOT / "course.toml").read_text()
    assert text.count('\nlogsumexp = ["logsumexp"]\n') == 1
    (tmp_path / "course.toml").write_text(text.replace('\nlogsumexp = ["logsumexp"]\n', f"\n{line}\n"))
    with pytest.raises(config.ConfigError, match=re.escape(says)):
        config.load(tmp_path)


# ---- the self-check agrees with the grade ------------------------------------------------------------


def _failing_test_cells(path, tmp_path) -> list[str]:
    """Runs the notebook at `path` top to bottom, as a student does; the test cells that raise."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    folder = tmp_path / path.parent.name
    folder.mkdir()
    NotebookClient(nb, timeout=300, allow_errors=True, resources={"metadata": {"path": str(folder)}}).execute()
    out = []
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if gid.endswith("_tests") and errors:
            out.append(f"{gid}: {errors[0]['ename']}: {errors[0]['evalue'][:300]}")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_lessons_own_code_passes_every_notebook_test(assignment, tmp_path):
    """samples/<a>/lesson.ipynb is the release notebook with each exercise written as the lesson writes
    it: the release's own test cells accept it, as the grade gives it full marks (a student who follows
    the lesson never sees a failing test of a right answer, e.g. 04's AvgStats read after reset())."""
    failing = _failing_test_cells(ROOT / "samples" / assignment / "lesson.ipynb", tmp_path)
    assert failing == [], f"{assignment}: notebook tests that fail the lesson's own code:\n" + "\n".join(failing)


def test_a_mutant_that_a_lucky_seed_catches_is_reported(course):
    """Mutants are judged at 20 seeds at least, whatever `seeds` asks for the rest: one that only some
    random inputs catch (here, random ends near -2) is a survivor at the seeds where it passes."""
    lucky = selftest.Variant(
        "sched_no",
        "mutant",
        "the end when it is near -2",
        "@annealer\ndef sched_no(start, end, pos):\n    return start if end > -1.7 else end\n",
        False,
    )
    assert selftest.mutant_seeds([1, 2, 3]) == list(range(1, 21))
    outcomes = selftest.run(course, "05_anneal", [1], "sched_no", extra=[lucky])
    assert {o.seed for o in outcomes if o.variant.kind == "reference"} == {1}
    mine = [o for o in outcomes if o.variant == lucky]
    assert [o.seed for o in mine] == list(range(1, 21))
    assert not mine[0].passed  # seed 1 alone would have caught it
    bad = selftest.disagreements(outcomes)
    assert bad and all("the end when it is near -2 must fail, but passed every check" in line for line in bad), bad


def test_a_reference_that_departs_from_torch_is_reported(course, monkeypatch):
    """The reference is checked against torch on every oracle check, not only against itself: a
    course whose logsumexp reference is off by 0.5 (the same code in the solutions and in the
    source notebook, so it agrees with its own expected values) is reported by `course selftest`
    as a must-pass variant that differs from torch."""
    import importlib

    from autograder.checks import Namespace
    from autograder.grading.reference import Reference

    wrong = "def logsumexp(x):\n    return x.exp().sum(-1).log() + 0.5\n"
    module = importlib.import_module("solutions.minibatch_training")
    names: dict = {}
    exec(compile("import torch\n" + wrong, "<wrong reference>", "exec"), names)
    monkeypatch.setattr(Reference, "namespace", property(lambda self: Namespace({**vars(module), **names})))
    variant = selftest.Variant("logsumexp", "alternative", "the reference, off by 0.5", wrong, must_pass=True)
    outcomes = selftest.run(course, "03_minibatch_training", [1], exercise="logsumexp", extra=[variant])
    lines = selftest.disagreements([o for o in outcomes if o.variant is variant])
    assert lines and "differs from torch" in lines[0], lines
