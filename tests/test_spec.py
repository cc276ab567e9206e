"""The checkout and a real grade report follow SPEC (checked by ../shared/check_spec.py when present)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import ROOT, grade_files

from autograder import report

CHECKER = ROOT.parent / "shared" / "check_spec.py"


@pytest.mark.slow
@pytest.mark.skipif(not CHECKER.exists(), reason="the SPEC checker lies outside the repository")
def test_checkout_and_report_match_spec(course, tmp_path):
    results = grade_files(
        course, "04_callbacks", [ROOT / "samples" / "04_callbacks" / "buggy.ipynb", tmp_path / "missing.ipynb"]
    )
    report.write_json(tmp_path / "grades.json", results)
    proc = subprocess.run(
        [sys.executable, str(CHECKER), str(ROOT), "--report", str(tmp_path / "grades.json")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout


def test_report_is_written_atomically(tmp_path):
    path = tmp_path / "grades.json"
    report.write_json(path, [{"student": "a"}])
    before = path.read_text()
    with pytest.raises(TypeError):
        report.write_json(path, [{"student": object()}])
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["grades.json"]
