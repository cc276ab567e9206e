"""The student's side: release data instead of answers, a checker package, and notebooks that say
what is wrong (issue 17).

- `release/<a>/.checks/<a>.json` holds the visible checks' expected values as plain JSON, and
  no hidden check;
- `course check` judges a notebook against them with no reference: from a student's folder, with
  the student package alone (built here, installed in a venv of its own), and it holds no answer;
- every mutant that loses points in `course grade` fails a visible check, so the self-check and
  the grade agree on every rule the notebooks state;
- no release notebook has a bare `assert`.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ASSIGNMENTS, ROOT, make_submission, mutants
from test_layout import PIP_ENV, Installed, clean_env

from autograder import notebook, package, release
from autograder.checks import registry
from autograder.grading import grade, shipped


def data(a: str) -> dict:
    return json.loads(shipped.path_for(ROOT / "release" / a, a).read_text())


# ---------------------------------------------------------------- the release data


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_release_data_holds_every_visible_check_and_no_hidden_one(course, a):
    doc = data(a)
    mod = course.assignment(a).module
    visible = {(c.exercise, c.name) for c in registry(mod).checks if c.visible}
    hidden = {c.name for c in registry(mod).checks if not c.visible}
    assert {(c["exercise"], c["name"]) for c in doc["checks"]} == visible
    assert {c["device"] for c in doc["checks"]} == {"cpu"}
    text = shipped.path_for(ROOT / "release" / a, a).read_text()
    assert not [n for n in hidden if json.dumps(n) in text], "a hidden check's name is in the release data"
    assert doc["seed"] == shipped.SEED and doc["points"] == course.assignment(a).points


def test_release_and_the_checker_agree_on_the_folder():
    assert release.CHECKS == shipped.FOLDER  # two names, so that `course release` need not import torch


def test_release_data_is_plain_json_never_a_pickle():
    for a in ASSIGNMENTS:
        raw = shipped.path_for(ROOT / "release" / a, a).read_bytes()
        assert not raw.startswith(b"\x80") and b"pickle" not in raw
        json.loads(raw)  # nothing but JSON


def test_a_changed_expected_value_makes_the_release_stale(course):
    a = "05_anneal"
    doc = data(a)
    assert shipped.same(doc, doc, course)
    changed = json.loads(json.dumps(doc))
    assert bump_first_float(changed["checks"][0]["expected"])
    assert not shipped.same(changed, doc, course)
    changed = json.loads(json.dumps(doc))
    changed["checks"][0]["expected"] = bump_first_float(changed["checks"][0]["expected"], by=1e-9)
    assert shipped.same(changed, doc, course), "a difference within the tolerances is another machine's rounding"


def bump_first_float(node, by=0.5):
    """`node` (a wire value) with its first plain float moved by `by`, in place where it can."""
    if isinstance(node, float):
        return node + by
    if isinstance(node, list):
        for i, item in enumerate(node):
            new = bump_first_float(item, by)
            if new is not None:
                node[i] = new
                return node
    return None


def test_release_data_made_by_another_checker_is_refused(tmp_path):
    a = "04_callbacks"
    doc = data(a)
    doc["checks"][0]["probe"] = "0" * 16
    path = shipped.path_for(tmp_path, a)
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    with pytest.raises(shipped.ShippedError, match="another version of the checker"):
        shipped.load(path)


def loaded(a: str) -> shipped.Shipped:
    return shipped.load(shipped.path_for(ROOT / "release" / a, a))


def test_dependencies_trace_exercises_to_the_ones_they_use():
    assert loaded("03_minibatch_training").depends("log_softmax") == ["logsumexp"]
    assert loaded("03_minibatch_training").depends("DataLoader") == ["Dataset", "Sampler", "collate"]
    assert loaded("05_anneal").depends("sched_lin") == ["annealer"]
    assert loaded("04_callbacks").depends("TestCallback") == ["Runner"]
    assert loaded("04_callbacks").depends("Runner") == [] and loaded("03_minibatch_training").depends("nll") == []
    # per check: a probe that runs only the exercise's own code blames nothing else
    assert loaded("05_anneal").depends("sched_lin", "the lesson's values") == ["annealer"]
    assert loaded("03_minibatch_training").depends("Sampler", "a fresh permutation on every pass") == ["Dataset"]


# ---------------------------------------------------------------- answers across assignments


def test_release_reports_the_answers_each_notebook_reveals(course):
    shown = release.revealed(course)
    assert shown["05_anneal"].get("04_callbacks", []) == ["Runner", "AvgStats"]
    assert shown["05_anneal"].get("03_minibatch_training", []) == ["accuracy", "get_dls"]
    assert shown["04_callbacks"] == {"03_minibatch_training": ["accuracy", "get_dls"]}
    for a in ASSIGNMENTS:
        assert a not in shown[a], f"{a}'s release holds its own answers"


# ---------------------------------------------------------------- student mode, in the kit


def student_folder(tmp: Path, a: str, kind: str) -> Path:
    """A student's repository as GitHub Classroom makes it from release/<a>/: the notebook (here a
    sample) and its .checks/, and nothing of the kit."""
    repo = tmp / f"{a}-{kind}"
    shutil.copytree(ROOT / "release" / a, repo)
    shutil.copy(ROOT / "samples" / a / f"{kind}.ipynb", repo / f"{a}.ipynb")
    return repo


@pytest.mark.slow
def test_a_failure_caused_by_another_exercise_says_so(tmp_path):
    a = "05_anneal"
    table = mutants_of(a)
    path = make_submission(tmp_path, a, "bad-annealer", {"annealer": table["annealer"][next(iter(table["annealer"]))]})
    (result,) = shipped.check(loaded(a), [("s", path)])
    by_id = {e["id"]: e for e in result["exercises"]}
    assert by_id["annealer"]["status"] != "passed" and by_id["sched_lin"]["status"] != "passed"
    assert "may come from annealer: fix that first" in by_id["sched_lin"]["message"]
    bad = [c for c in by_id["sched_lin"]["checks"] if not c["passed"]]
    assert bad and all("it runs your annealer, which fails its own checks" in c["message"] for c in bad)
    assert "fails its own checks" not in json.dumps(by_id["annealer"])  # its own failure blames nothing else


@pytest.mark.slow
def test_a_failing_notebook_test_alone_costs_its_share(tmp_path):
    """Every visible probe passes but the notebook's own test cell fails: the table must not say
    "5/5 part" (the score counts that test too, and the message says which cell failed)."""
    a = "04_callbacks"
    nb = json.loads((ROOT / "samples" / a / "perfect.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "Runner_tests")
    cell["source"] = "".join(cell["source"]) + "\nassert False, 'a test of the student'\n"
    path = tmp_path / f"{a}.ipynb"
    path.write_text(json.dumps(nb))
    (result,) = shipped.check(loaded(a), [("s", path)])
    runner = next(e for e in result["exercises"] if e["id"] == "Runner")
    assert runner["status"] == "partial" and 0 < runner["score"] < runner["max_score"]
    assert runner["message"].startswith("the notebook's tests (Runner_tests) failed: AssertionError: a test of")


def mutants_of(a: str) -> dict:
    from autograder import config

    return mutants(config.load(ROOT), a)["MUTANTS"]


# ---------------------------------------------------------------- the self-check and the grade agree


# Mutants that lose points in the grade with no visible check failing, and why that is accepted.
NOT_IN_THE_SELF_CHECK: dict[tuple[str, str], str] = {}


@pytest.mark.slow
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_every_mutant_the_grade_catches_fails_the_self_check(course, a, tmp_path):
    """At the self-check's seed, graded with the reference beside each exercise (as a single-bug
    notebook checks in student mode), each mutant that costs points fails a visible check of its
    own exercise or is forbidden: `course check` says what `course grade` will take points for."""
    table = mutants(course, a)["MUTANTS"]
    exercises = course.assignment(a).exercises
    rounds = max(len(v) for v in table.values())
    paths, plans = [], []
    for k in range(rounds):
        plan = {ex: list(table[ex])[k] for ex in exercises if len(table.get(ex, {})) > k}
        paths.append(make_submission(tmp_path, a, f"m{k}", {ex: table[ex][n] for ex, n in plan.items()}))
        plans.append(plan)
    results = grade.grade(course, a, [(p.stem, p) for p in paths], ["cpu"], shipped.SEED)
    visible = {c.name for c in registry(course.assignment(a).module).checks if c.visible}
    points = course.assignment(a).points
    missed = []
    for result, plan in zip(results, plans, strict=True):
        for e in result["exercises"]:
            if e["id"] not in plan or e["score"] >= points[e["id"]]:
                continue
            seen = e["status"] == "forbidden" or any(not c["passed"] and c["name"] in visible for c in e["checks"])
            if not seen and (e["id"], plan[e["id"]]) not in NOT_IN_THE_SELF_CHECK:
                missed.append(
                    f"{e['id']}: {plan[e['id']]!r} fails only {[c['name'] for c in e['checks'] if not c['passed']]}"
                )
    assert missed == [], "mutants the self-check passes but the grade takes points for:\n" + "\n".join(missed)


# ---------------------------------------------------------------- the notebooks say what is wrong


def bare_asserts(source: str) -> list[int]:
    """Lines of asserts whose message is not a sentence: none, or a bare value (`assert x, x` shows
    `AssertionError: []`, which says nothing of what was expected)."""
    tree = ast.parse(notebook.runnable(source))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert) and not says(n.msg)]


def says(msg: ast.expr | None) -> bool:
    """A message written as text: a string, an f-string, or one joined to more text."""
    if isinstance(msg, ast.JoinedStr) or (isinstance(msg, ast.Constant) and isinstance(msg.value, str)):
        return True
    return isinstance(msg, ast.BinOp) and (says(msg.left) or says(msg.right))


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_no_bare_assert_in_the_release_notebooks(a):
    nb = notebook.read(ROOT / "release" / a / f"{a}.ipynb")
    found = {c.label: lines for c in nb.cells if c.code and (lines := bare_asserts(c.source))}
    assert found == {}, f"asserts that say nothing of what was expected and what came back: {found}"


def test_the_bare_assert_finder_finds_one():
    source = "x = []\nassert x == 2\nassert x, 'x is empty'\nassert x, x\nassert x, f'{x}: ' + 'more'\n"
    assert bare_asserts(source) == [2, 4]


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_the_notebooks_state_the_grading_rules(a):
    intro = json.loads((ROOT / "release" / a / f"{a}.ipynb").read_text())["cells"][0]["source"]
    text = "".join(intro)
    assert "hidden checks" in text and "fresh" in text and "course check" in text


# ---------------------------------------------------------------- the student package


def test_the_student_package_holds_no_answer(course, tmp_path):
    tree = package.write(course, tmp_path / "pkg")
    names = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
    assert "pyproject.toml" in names and "autograder/cli.py" in names
    assert not [n for n in names if n.startswith(("solutions/", "source/", "samples/", "tests/"))]
    assert package.answers_in(tree, package.solution_bodies(course)) == []


def test_the_student_package_holds_no_hidden_check(course, tmp_path):
    tree = package.write(course, tmp_path / "pkg")
    ours = {p.name: p.read_text().count("@check(") for p in (ROOT / "autograder" / "checks").glob("*.py")}
    theirs = {p.name: p.read_text().count("@check(") for p in (tree / "autograder" / "checks").glob("*.py")}
    assert sum(theirs.values()) < sum(ours.values())  # there were hidden checks to take out
    for module in (tree / "autograder" / "checks").glob("*.py"):
        assert package.strip_hidden_checks(module) == 0, f"{module.name} still holds a hidden check"


def _private_defs(code: str) -> dict[str, int]:
    """Module-level private functions and classes of `code` -> how many times a name or an
    attribute reads them (f-strings included, which a token count would miss)."""
    tree = ast.parse(code)
    names = [
        n.name
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name.startswith("_") and n.name != "_"
    ]
    reads = [
        n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(tree) if isinstance(n, ast.Name | ast.Attribute)
    ]
    return {name: reads.count(name) for name in names if not name.startswith("__")}


def _hidden_check_makers(code: str) -> list[str]:
    """Functions of `code` that define a hidden check inside them and carry a docstring."""
    tree = ast.parse(code)
    return [
        f.name
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef)
        and ast.get_docstring(f)
        and any(
            isinstance(g, ast.FunctionDef) and g is not f and any(package._is_hidden_check(d) for d in g.decorator_list)
            for g in ast.walk(f)
        )
    ]


def test_the_student_package_holds_no_code_only_hidden_checks_use(course, tmp_path):
    """Once the hidden checks are out, so is what only they used: no private helper of a checks
    module goes unused (`_random_ends`, `_conv_net`), and no function that made hidden checks keeps
    a docstring that may describe them."""
    kit = {p.name: p.read_text() for p in (ROOT / "autograder" / "checks").glob("*.py")}
    assert "_random_ends" in _private_defs(kit["anneal.py"]) and "_conv_net" in _private_defs(kit["init.py"])
    makers = {m for code in kit.values() for m in _hidden_check_makers(code)}
    assert "_schedule_checks" in makers  # its docstring names "random ends and positions"
    tree = package.write(course, tmp_path / "pkg")
    for module in sorted((tree / "autograder" / "checks").glob("*.py")):
        code = module.read_text()
        unused = [name for name, uses in _private_defs(code).items() if not uses]
        assert not unused, f"{module.name} keeps helpers nothing in the student package uses: {unused}"
        kept = {f.name: ast.get_docstring(f) for f in ast.walk(ast.parse(code)) if isinstance(f, ast.FunctionDef)}
        described = [m for m in makers if kept.get(m)]
        assert not described, f"{module.name}: functions that made hidden checks keep their docstrings: {described}"


def test_the_answer_search_finds_an_answer(course, tmp_path):
    bodies = package.solution_bodies(course)
    src = ROOT / "solutions" / "callbacks.py"
    (tmp_path / "leak.py").write_text("    " + src.read_text().replace("\n", "\n    "))  # indented: still found
    assert "leak.py: 04_callbacks/Runner" in package.answers_in(tmp_path, bodies)


class StudentInstall(Installed):
    """The student package built into a wheel and installed in a venv of its own, with torch and
    the other dependencies linked from ours, and nothing of this checkout."""

    def build(self, course) -> None:
        package.write(course, self.src)
        pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
        subprocess.run([*pip, "-w", str(self.base / "dist"), str(self.src)], check=True, cwd=self.base, env=PIP_ENV)
        (self.wheel,) = (self.base / "dist").glob("*.whl")


@pytest.fixture(scope="module")
def student_install(tmp_path_factory) -> StudentInstall:
    from autograder import config

    kit = StudentInstall(tmp_path_factory.mktemp("student"))
    kit.build(config.load(ROOT))
    kit.install()
    return kit


@pytest.mark.slow
def test_the_student_wheel_holds_no_answer(course, student_install):
    bodies = package.solution_bodies(course)
    names = zipfile.ZipFile(student_install.wheel).namelist()
    assert not [n for n in names if n.split("/")[0] in ("solutions", "source", "samples")]
    assert "autograder/outputs/templates/feedback.html.j2" in names  # course check --feedback draws with it
    unpacked = student_install.base / "unpacked"
    zipfile.ZipFile(student_install.wheel).extractall(unpacked)
    assert package.answers_in(unpacked, bodies) == []


WHERE = (
    "import autograder, importlib.util, sys; print(autograder.__file__); print(importlib.util.find_spec('solutions'))"
)


@pytest.mark.slow
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_the_student_package_checks_the_samples_with_no_reference(student_install, a, tmp_path):
    proc = student_install.run(str(student_install.python), "-I", "-c", WHERE)
    kit_file, solutions = proc.stdout.split("\n")[:2]
    assert Path(kit_file).is_relative_to(student_install.site) and solutions == "None"
    course = str(student_install.venv / "bin" / "course")
    outcomes = {}
    for kind in ("perfect", "buggy", "stubs"):
        repo = student_folder(tmp_path, a, kind)
        # nothing named solutions or source on the way up from the student's folder either
        assert not [p for p in [repo, *repo.parents] if (p / "solutions").exists() or (p / "source").exists()]
        proc = subprocess.run(
            [course, "check", f"{a}.ipynb"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=student_env(student_install),
            timeout=900,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        outcomes[kind] = (proc.returncode, proc.stdout)
    assert outcomes["perfect"][0] == 0, outcomes["perfect"][1]
    assert outcomes["buggy"][0] == 1 and "expected" in outcomes["buggy"][1]
    assert outcomes["stubs"][0] == 1 and "NotImplementedError" in outcomes["stubs"][1]


def student_env(kit: StudentInstall) -> dict[str, str]:
    import os

    return {**clean_env(), "PATH": f"{kit.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
