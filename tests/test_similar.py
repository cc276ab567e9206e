"""`course similar`: disguised copies found, independent work and shared starter code left alone.

The class (`similar_class.build_class`): six students who wrote the big exercises their own way,
five disguised copies of them (renamed names, comments, methods in another order, no-op lines,
other indentation; one student copied twice, a group of three), and two students who only share
the starter code and the reference's shape.
"""

from __future__ import annotations

import csv
import json
import os
from itertools import combinations
from pathlib import Path

import pytest
import similar_class as sc
from conftest import ROOT
from test_cli import course as run_course
from test_feedback import browser
from test_summary import Page, exercise, result, rows

from autograder import config
from autograder.outputs import fingerprint, similar

A = sc.A


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> dict[str, Path]:
    return sc.build_class(ROOT, tmp_path_factory.mktemp("class"))


@pytest.fixture(scope="module")
def compared(klass) -> tuple[similar.Comparison, dict[frozenset, similar.Pair]]:
    c = similar.run(config.load(ROOT), A, list(klass.items()), workers=1)
    names = [s.student for s in c.submissions]
    return c, {frozenset((names[p.a], names[p.b])): p for p in c.pairs}


def score(by: dict[frozenset, similar.Pair], a: str, b: str) -> float:
    p = by.get(frozenset((a, b)))
    return p.score if p else 0.0


# ---------------------------------------------------------------- accuracy


def test_every_disguised_copy_ranks_above_every_independent_pair(compared):
    c, by = compared
    copies = {frozenset(p) for p in sc.COPIES}
    students = [s.student for s in c.submissions]
    independent = [frozenset(p) for p in combinations(students, 2) if frozenset(p) not in copies]
    lowest_copy = min(score(by, *p) for p in copies)
    highest_independent = max(score(by, *p) for p in independent)
    assert lowest_copy > highest_independent, (lowest_copy, highest_independent)
    # and by a margin, with the default threshold between them
    assert lowest_copy >= c.settings.threshold > highest_independent
    ranked = [frozenset((students[p.a], students[p.b])) for p in c.pairs]
    assert set(ranked[: len(copies)]) == copies


def test_the_starter_only_pair_stays_below_the_threshold(compared):
    c, by = compared
    assert score(by, *sc.STARTER_ONLY) < c.settings.threshold
    assert score(by, *sc.STARTER_ONLY) < 0.05  # the reference's fingerprints are set aside


def test_flagged_pairs_are_the_copies_and_the_group_of_three_is_found(compared):
    c, _ = compared
    names = [s.student for s in c.submissions]
    assert {frozenset((names[p.a], names[p.b])) for p in c.flagged} == {frozenset(p) for p in sc.COPIES}
    assert [sorted(names[m] for m in g.members) for g in c.groups] == [["fay", "vic", "wes"]]
    assert set(c.groups[0].exercises) >= {"Optimizer", "Sampler", "DataLoader"}


def test_a_copy_rewritten_with_comprehensions_and_map_keeps_its_score(compared):
    """uma copied dee and rewrote its loops as comprehensions and `map` (and back): the exercises
    rewritten stay as alike as the others."""
    _, by = compared
    pair = by[frozenset(("dee", "uma"))]
    assert pair.exercises["collate"] >= 0.6 and pair.exercises["DataLoader"] >= 0.6
    assert not compared[0].rings  # independent students share no set-aside code exercise after exercise


def test_a_ring_above_ignore_share_is_reported(klass, tmp_path):
    """Nine students hand in eve's notebook: more than the cutoff share it, so its code is set
    aside as common and no pair is scored on it, yet the page names them, as a ring (with xia,
    whose disguised copy of eve's keeps most of its fingerprints)."""
    ring = {f"r{i}": klass["eve"] for i in range(8)}
    c = similar.run(config.load(ROOT), A, [*klass.items(), *ring.items()], workers=1)
    names = [s.student for s in c.submissions]
    assert c.cutoff < 10 <= len(names) // 2
    assert [sorted(names[m] for m in r.members) for r in c.rings] == [sorted(["eve", "xia", *ring])]
    assert len(c.rings[0].exercises) >= 5
    page = Page(similar.html_text(c))
    (row,) = rows(page.tables["rings"])
    assert sorted(row["students"].split(", ")) == sorted(["eve", "xia", *ring])


def test_a_tiny_exercise_everybody_writes_alike_weighs_little(compared):
    """ben and dee wrote logsumexp the same two lines (not the reference's): the same code on that
    exercise, yet a low score for the pair."""
    _, by = compared
    pair = by[frozenset(("ben", "dee"))]
    assert pair.exercises["logsumexp"] == pytest.approx(1.0)
    assert pair.score < 0.3


# ---------------------------------------------------------------- normalisation


def tokens(code: str) -> list[str]:
    return [t.text for t in fingerprint.normalised_tokens(code)]


def test_names_comments_layout_order_and_no_ops_do_not_change_the_tokens():
    a = "def f(x, n):\n    total = 0\n    count = n\n    for v in x:\n        total += v\n    return total / count\n"
    b = (
        "def f(xs, size):  # mine\n\n"
        "    cnt = size\n"
        "    pass\n"
        "    unused = 42\n"
        "    tot = 0\n"
        "    'a note'\n"
        "    for item in xs: tot += item\n"
        "    return (tot) / cnt\n"
    )
    assert tokens(a) == tokens(b)


def test_dependent_statements_keep_their_order_and_library_names_count():
    assert tokens("a = 1\nb = a\n") != tokens("b = a\na = 1\n")
    assert tokens("x.backward()\nopt.step()\n") != tokens("opt.step()\nx.backward()\n")
    assert tokens("y = torch.exp(x)\n") != tokens("y = torch.log(x)\n")
    assert tokens("import torch as t\ny = t.exp(x)\n")[-6:] == tokens("import torch\ny = torch.exp(x)\n")[-6:]


def test_code_that_does_not_parse_is_still_fingerprinted():
    broken = "def f(x:\n    return x.exp().sum(-1).log() + x.max(-1)[0] * 2 - x.mean()\n"
    assert len(fingerprint.fingerprints(broken, 5, 3)) > 0
    assert fingerprint.fingerprints("", 5, 3) == {}


def test_winnowing_finds_any_long_enough_shared_run():
    code = "y = x.exp().sum(-1).log() + x.max(-1)[0] * 2 - x.mean() / 3 + x.std()\n"
    mine = fingerprint.fingerprints("a = 1\nprint(a)\n" + code, 6, 4)
    yours = fingerprint.fingerprints(code + "b = q.foo(2)\n", 6, 4)
    assert set(mine) & set(yours)
    assert all(lines == {3} for h, lines in mine.items() if h in yours)  # the shared line, highlighted


def test_settings_are_checked(tmp_path):
    with pytest.raises(ValueError, match="threshold"):
        config.Similar(threshold=1.5)
    with pytest.raises(ValueError, match="k"):
        config.Similar(k=0)
    text = (ROOT / "course.toml").read_text().replace("\nwindow = 4\n", "\nwindow = -2\n")
    assert "window = -2" in text
    (tmp_path / "course.toml").write_text(text)
    with pytest.raises(config.ConfigError, match="window"):
        config.load(tmp_path)


# ---------------------------------------------------------------- the command, the CSV, the page


@pytest.fixture(scope="module")
def written(klass, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    proc = run_course("similar", A, *map(str, klass.values()), "--out", str(out), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert str(out / f"{A}-similar.html") in proc.stdout and "fay" in proc.stdout
    return out


def test_the_csv_holds_every_pair_that_shares_anything(written, compared):
    c, _ = compared
    with open(written / f"{A}-similar.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0])[:4] == ["student_a", "student_b", "score", "flagged"]
    assert list(table[0])[4:] == c.exercises
    assert len(table) == len(c.pairs)
    flagged = {frozenset((r["student_a"], r["student_b"])) for r in table if r["flagged"] == "yes"}
    assert flagged == {frozenset(p) for p in sc.COPIES}
    scores = [float(r["score"]) for r in table]
    assert scores == sorted(scores, reverse=True)


def test_the_class_summary_links_to_the_page(written, tmp_path):
    grades = tmp_path / "g.json"
    grades.write_text(json.dumps({"results": [result("ada", A, [exercise("fit", 3, 3, "passed")])]}))
    proc = run_course("report", str(grades), "--out", str(written))
    assert proc.returncode == 0, proc.stderr
    assert f'href="{A}-similar.html"' in (written / f"{A}.html").read_text()
    other = tmp_path / "elsewhere"
    assert run_course("report", str(grades), "--out", str(other)).returncode == 0
    assert "similar.html" not in (other / f"{A}.html").read_text()  # no page, no dead link


def test_the_page_ranks_pairs_and_shows_groups(written, compared):
    c, _ = compared
    page = Page((written / f"{A}-similar.html").read_text())
    assert page.scripts == 0 and page.images == []
    ranked = rows(page.tables["pairs"])
    assert len(ranked) == min(len(c.pairs), similar.LISTED)  # bounded; the CSV has them all
    assert f'href="{A}-similar.csv"' in (written / f"{A}-similar.html").read_text()
    assert {frozenset((r["student A"], r["student B"])) for r in ranked[: len(sc.COPIES)]} == {
        frozenset(p) for p in sc.COPIES
    }
    assert [r["rank"] for r in ranked] == [str(i) for i in range(1, len(ranked) + 1)]
    (group,) = rows(page.tables["groups"])
    assert sorted(group["students"].split(", ")) == ["fay", "vic", "wes"]
    # each exercise ranked on its own: the copies lead their exercises
    per = rows(page.tables["per-exercise"])
    fit = [frozenset((r["student A"], r["student B"])) for r in per if r["exercise"] == "fit"]
    assert len(fit) == similar.PER_EXERCISE and set(fit[:4]) <= {frozenset(p) for p in sc.COPIES}


def test_ids_and_code_from_submissions_are_escaped(tmp_path, klass):
    evil = tmp_path / "<script>alert(1)<"
    evil.mkdir()
    copy = evil / "x.ipynb"
    copy.write_bytes(klass["ada"].read_bytes())
    c = similar.run(config.load(ROOT), A, [("<b>ada</b>", copy), ("zed", klass["zed"])], workers=1)
    text = similar.html_text(c)
    assert "<b>ada</b>" not in text and "&lt;b&gt;ada&lt;/b&gt;" in text
    assert "<script>" not in text


def test_the_page_in_chromium_highlights_the_shared_lines_side_by_side(written, compared, tmp_path):
    c, _ = compared
    keep = Path(os.environ["COURSE_SCREENSHOTS"]) if os.environ.get("COURSE_SCREENSHOTS") else tmp_path
    keep.mkdir(parents=True, exist_ok=True)
    driver = browser()
    try:
        driver.get((written / f"{A}-similar.html").as_uri())
        assert driver.title == f"Similar solutions: {A}"
        sections = driver.execute_script("return [...document.querySelectorAll('section.pair')].map(s => s.id)")
        assert sections[0] == "pair-1" and len(sections) == min(len(c.pairs), c.settings.pairs_shown)
        # the first pair's code: two columns side by side, shared lines marked on both sides
        columns = driver.execute_script(
            "const s = document.getElementById('pair-1');"
            "return [...s.querySelector('.code').children].map(d => {"
            "  const r = d.getBoundingClientRect(); return [r.left, r.top, d.querySelectorAll('mark').length]; })"
        )
        (left, top_a, marks_a), (right, top_b, marks_b) = columns
        assert right > left + 200 and abs(top_a - top_b) < 2 and marks_a > 0 and marks_b > 0
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(height, 16000))
        shot = keep / f"similar-{A}.png"
        assert driver.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    finally:
        driver.quit()


def test_starter_and_reference_alone_share_nothing_and_unreadable_notebooks_are_listed():
    samples = ROOT / "samples" / A
    subs = [("stubs", samples / "stubs.ipynb"), ("perfect", samples / "perfect.ipynb"), ("gone", samples / "no.ipynb")]
    c = similar.run(config.load(ROOT), A, subs, workers=1)
    assert c.pairs == [] and c.groups == []
    page = similar.html_text(c)
    assert "No two submissions share code" in page and "gone: " in page and "no.ipynb" in page
