"""Student feedback pages: graded samples rendered to HTML, then opened in a real headless Chromium.

The browser tests need Debian's `chromium` and `chromium-driver` (CI installs them, `.ci/run`).
Elsewhere they skip, unless COURSE_REQUIRE_BROWSER=1 (set by CI) turns a missing browser into a
failure. COURSE_SCREENSHOTS=DIR keeps the screenshots the browser takes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOT

from autograder.checks import plots
from autograder.outputs import feedback
from autograder.wire import Array

SAMPLES = ["perfect", "buggy", "stubs"]
GRADED = ["05_anneal", "03_minibatch_training"]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


class Page(HTMLParser):
    """What a reader of the page finds: sections by id, images, and the text."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.images, self.tags, self.text = [], [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "section":
            self.sections.append(a.get("id"))
        if tag == "img":
            self.images.append(a.get("src", ""))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, dict[str, list[dict]]]:
    """Each sample of two assignments graded once, with feedback pages."""
    out = tmp_path_factory.mktemp("graded")
    reports = {}
    for a in GRADED:
        subs = [str(ROOT / "samples" / a / f"{s}.ipynb") for s in SAMPLES]
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "autograder.cli",
                "grade",
                a,
                *subs,
                "--no-store",
                "--seed",
                "1",
                "--json",
                str(out / f"{a}.json"),
                "--feedback",
                str(out / "feedback"),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert run.returncode == 0, run.stderr
        reports[a] = json.loads((out / f"{a}.json").read_text())["results"]
    return out / "feedback", reports


def result_of(reports, a, student):
    return next(r for r in reports[a] if r["student"] == student)


def checks_with_plots(result):
    return [c for e in result["exercises"] for c in e["checks"] if c.get("plot")]


# ---- the pages, as files and HTML --------------------------------------------------------------


@pytest.mark.slow
def test_one_page_per_student_in_nbgraders_feedback_layout(graded):
    out, reports = graded
    for a in GRADED:
        for s in SAMPLES:
            page = out / s / a / f"{a}.html"
            assert page.is_file(), page
            assert page.stat().st_mode & 0o044 == 0o044, "a feedback page is meant to be read"


@pytest.mark.slow
def test_every_exercise_has_a_section_and_every_plot_an_embedded_picture(graded):
    out, reports = graded
    for a in GRADED:
        for s in SAMPLES:
            result = result_of(reports, a, s)
            page = Page((out / s / a / f"{a}.html").read_text())
            assert page.sections == [f"ex-{e['id']}" for e in result["exercises"]]
            assert len(page.images) == len(checks_with_plots(result)) > 0
            assert all(src.startswith("data:image/png;base64,") for src in page.images)
            assert "script" not in page.tags and "link" not in page.tags  # works offline, runs nothing


@pytest.mark.slow
def test_a_wrong_schedule_is_drawn_against_the_reference(graded):
    _, reports = graded
    buggy = result_of(reports, "05_anneal", "buggy")
    curve = next(c for e in buggy["exercises"] if e["id"] == "sched_cos" for c in e["checks"] if c.get("plot"))
    assert not curve["passed"] and curve["expected"] == curve["got"] == "a list of 101"
    yours, ref = curve["plot"]["panels"][0]["series"]
    assert (yours["label"], ref["label"]) == ("yours", "reference") and yours["x"] == ref["x"]
    assert yours["y"] != ref["y"] and len(yours["y"]) == 101


@pytest.mark.slow
def test_code_that_raises_still_gets_the_reference_drawn(graded):
    _, reports = graded
    buggy = result_of(reports, "05_anneal", "buggy")
    curve = next(c for e in buggy["exercises"] if e["id"] == "combine_scheds" for c in e["checks"] if c.get("plot"))
    assert curve["message"].startswith("raised") and curve["got"] == "an exception"
    assert [s["label"] for s in curve["plot"]["panels"][0]["series"]] == ["reference"]


@pytest.mark.slow
def test_recorder_curves_and_validation_averages_are_drawn(graded):
    _, reports = graded
    perfect = result_of(reports, "05_anneal", "perfect")
    rec = next(c for c in checks_with_plots(perfect) if "Recorder" in c["plot"]["title"])
    lrs, losses = rec["plot"]["panels"]
    assert [p["ylabel"] for p in (lrs, losses)] == ["lr", "loss"]
    assert lrs["series"][0]["y"] == pytest.approx(lrs["series"][1]["y"]) and len(lrs["series"][0]["y"]) == 48
    fit = [
        c
        for c in checks_with_plots(result_of(reports, "03_minibatch_training", "perfect"))
        if c["plot"]["panels"][0]["kind"] == "bar"
    ]
    assert len(fit) == 1  # the visible check's; the hidden one (random batches) draws no reference
    for c in fit:
        for panel in c["plot"]["panels"]:
            (bar,) = panel["series"]
            assert bar["x"] == ["yours", "per-sample mean"] and bar["y"][0] == pytest.approx(bar["y"][1], rel=1e-5)


def test_ids_and_messages_from_submissions_are_escaped_and_cannot_leave_the_folder(tmp_path):
    evil = "<script>alert(1)</script>"
    result = {
        "student": "../../" + evil,
        "assignment": "05_anneal",
        "score": 0.0,
        "max_score": 1.0,
        "devices": ["cpu"],
        "errors": [evil],
        "exercises": [
            {
                "id": "sched_lin",
                "score": 0.0,
                "max_score": 1.0,
                "status": "failed",
                "message": evil,
                "checks": [
                    {
                        "name": "n",
                        "device": "cpu",
                        "passed": False,
                        "message": evil,
                        "expected": "a list of 3",
                        "got": evil,
                    }
                ],
            }
        ],
    }
    (path,) = feedback.write([result], tmp_path)
    assert path.resolve().is_relative_to(tmp_path.resolve()) and path.parent.parent.parent == tmp_path
    text = path.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert Page(text).sections == ["ex-sched_lin"]


# ---- plots are built from untrusted data ----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "a string",
        None,
        [[1.0, 2.0]],
        [1.0, "x"],
        list(range(plots.MOST + 1)),
        {"a": 1},
        Array(values=__import__("numpy").zeros((2, 2)), dtype="float32", device="cpu"),
    ],
)
def test_odd_results_are_left_out_of_the_picture(value):
    plot = plots.curve([0.0, 1.0], "t")(value, [1.0, 2.0])
    assert [s["label"] for s in plot["panels"][0]["series"]] == ["reference"]


def test_non_finite_values_become_gaps_and_tensors_become_floats():
    import numpy as np

    got = Array(values=np.array([1.0, np.nan, np.inf]), dtype="float64", device="cpu")
    plot = plots.curve([0.0, 0.5, 1.0], "t")(got, [1.0, 2.0, 3.0])
    assert plot["panels"][0]["series"][0]["y"] == [1.0, None, None]
    json.dumps(plot, allow_nan=False)  # strict JSON: no NaN in a report
    feedback.draw(plot)  # and matplotlib draws the gaps


# ---- in a real browser ------------------------------------------------------------------------------


def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        if os.environ.get("COURSE_REQUIRE_BROWSER"):
            pytest.fail("COURSE_REQUIRE_BROWSER is set but chromium/chromedriver are not installed")
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    if os.environ.get("COURSE_REQUIRE_BROWSER"):
        from selenium import webdriver
    else:
        webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # As root in a container Chromium needs --no-sandbox; the others keep it off a closed network.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)


@pytest.mark.slow
def test_pages_load_in_chromium_show_every_exercise_and_make_a_screenshot(graded, tmp_path):
    out, reports = graded
    keep = Path(os.environ["COURSE_SCREENSHOTS"]) if os.environ.get("COURSE_SCREENSHOTS") else tmp_path
    keep.mkdir(parents=True, exist_ok=True)
    driver = browser()
    try:
        for a in GRADED:
            for s in SAMPLES:
                result = result_of(reports, a, s)
                driver.get((out / s / a / f"{a}.html").as_uri())
                assert driver.title == f"{a}: feedback for {s}"
                shown = driver.execute_script(
                    "return [...document.querySelectorAll('section.exercise')]"
                    ".filter(e => e.getBoundingClientRect().height > 0).map(e => e.id)"
                )
                assert shown == [f"ex-{e['id']}" for e in result["exercises"]]
                images = driver.execute_script(
                    "return [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
                )
                assert len(images) == len(checks_with_plots(result))
                assert all(ok and w > 200 and h > 100 for ok, w, h in images), images  # decoded PNGs
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(1280, min(height, 16000))
                shot = keep / f"{a}-{s}.png"
                assert driver.save_screenshot(str(shot))
                assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
                driver.set_window_size(1280, 1000)
    finally:
        driver.quit()


@pytest.mark.slow
def test_the_class_summary_loads_in_chromium_with_its_pictures(graded, tmp_path):
    """The instructor's page (`course report`) in the same browser: every exercise row, decoded PNGs."""
    out, reports = graded
    keep = Path(os.environ["COURSE_SCREENSHOTS"]) if os.environ.get("COURSE_SCREENSHOTS") else tmp_path
    keep.mkdir(parents=True, exist_ok=True)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.cli",
            "report",
            *(str(out.parent / f"{a}.json") for a in GRADED),
            "--out",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    driver = browser()
    try:
        for a in GRADED:
            driver.get((tmp_path / "report" / f"{a}.html").as_uri())
            text = driver.find_element("tag name", "body").text
            assert all(e["id"] in text for e in reports[a][0]["exercises"])
            images = driver.execute_script(
                "return [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            assert len(images) >= 2 and all(ok and w > 200 and h > 100 for ok, w, h in images), images
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1280, min(height, 16000))
            assert driver.save_screenshot(str(keep / f"summary-{a}.png"))
            driver.set_window_size(1280, 1000)
    finally:
        driver.quit()


@pytest.mark.slow
def test_the_self_check_writes_a_page_with_the_pictures_of_the_visible_checks(tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.cli",
            "check",
            str(ROOT / "samples" / "05_anneal" / "buggy.ipynb"),
            "--feedback",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 1, run.stderr  # buggy fails some visible checks
    page = tmp_path / "buggy" / "05_anneal" / "05_anneal.html"
    assert str(page) in run.stdout
    # Recorder's curves, the four schedules, combine_scheds and the one cycle
    assert len(Page(page.read_text()).images) == 7
