"""The kit's commands work from any PATH: run as `.venv/bin/course` by cron, a systemd unit or a
CI step whose PATH lacks the venv, the tools it drives still find their commands (nbgrader's
gradebook runs `alembic` by name; it failed with "alembic: No such file or directory")."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT
from nbgrader.api import Gradebook

A = "03_minibatch_training"
SCRIPTS = Path(sysconfig.get_path("scripts"))


def path_without_the_venv() -> str:
    """Our PATH less every folder that holds `alembic` (the venv's bin/ among them)."""
    keep = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not (Path(p) / "alembic").exists()]
    return os.pathsep.join(keep or ["/usr/bin", "/bin"])


@pytest.mark.slow
def test_course_gradebook_runs_from_a_path_without_the_venv(tmp_path, course):
    command = SCRIPTS / "course"
    assert command.is_file(), f"{command}: the kit is not installed in this environment (pip install -e .)"
    path = path_without_the_venv()
    assert shutil.which("alembic", path=path) is None  # not vacuous: the command must cope without it
    points = course.assignment(A).points
    total = sum(points.values())
    exercises = [{"id": i, "score": p, "max_score": p, "status": "passed", "checks": []} for i, p in points.items()]
    grades = tmp_path / "grades.json"
    grades.write_text(
        json.dumps(
            {
                "results": [
                    {
                        "student": "ada",
                        "assignment": A,
                        "score": total,
                        "max_score": total,
                        "devices": ["cpu"],
                        "exercises": exercises,
                        "errors": [],
                    }
                ]
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env["PATH"] = path
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    proc = subprocess.run(
        [str(command), "--root", str(ROOT), "gradebook", str(grades), "--db", db],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "alembic" not in proc.stderr
    with Gradebook(db) as gb:
        assert gb.find_submission(A, "ada").score == pytest.approx(total)
