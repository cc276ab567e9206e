"""`course watch`: submissions through a real nbgrader exchange (a folder in tmp), handed in and
fetched back with nbgrader's own exchange classes (what `nbgrader release_assignment`,
`fetch_assignment`, `submit` and `fetch_feedback` run), graded with a warm pool, recorded in
nbgrader's gradebook, and nothing lost across a SIGKILL."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT
from nbgrader.api import Gradebook
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from nbgrader.utils import determine_grade
from traitlets.config import Config

from autograder import config, exchange, watch
from autograder.checks import registry
from autograder.outputs import gradebook

A = "04_callbacks"
COURSE_ID = "lesson9"


# ---------------------------------------------------------------- the rules, without a pool


def _rec(ts: str, full: bool = True) -> dict:
    return {"timestamp_utc": ts, "full": full}


def test_rate_limit_counts_full_feedbacks_in_the_window_by_submission_time():
    hour = datetime.timedelta(hours=1)
    t = datetime.datetime(2026, 3, 1, 11, 59)
    earlier = [_rec("2026-03-01T11:00:00"), _rec("2026-03-01T11:30:00"), _rec("2026-03-01T11:45:00", full=False)]
    assert watch.full_feedback_allowed(earlier, t, 3, hour) == (True, None)
    ok, next_full = watch.full_feedback_allowed(earlier, t, 2, hour)
    assert not ok and next_full == datetime.datetime(2026, 3, 1, 12, 0)  # 11:00's leaves the window at 12:00
    assert watch.full_feedback_allowed(earlier, t + datetime.timedelta(minutes=1), 2, hour) == (True, None)
    assert watch.full_feedback_allowed([], t, 0, hour)[0] is False  # 0: the visible checks only, always


def test_the_last_submission_before_the_due_date_counts():
    due = datetime.datetime(2026, 3, 1, 12, 0)
    hour = datetime.timedelta(hours=1)
    before, later, late = due - 2 * hour, due - hour, due + datetime.timedelta(1)
    assert watch.counts(before, None, due)
    assert watch.counts(later, before, due) and not watch.counts(before, later, due)
    assert not watch.counts(late, later, due)  # a late resubmission does not replace an on-time one
    assert watch.counts(later, late, due)  # an on-time one replaces a late one, whatever the order
    assert watch.counts(late + datetime.timedelta(1), late, due)  # only late ones: the last
    assert watch.counts(late, before, None)  # no due date: the last one


def test_limited_feedback_shows_no_hidden_verdict():
    result = {
        "score": 3.0,
        "max_score": 4.0,
        "exercises": [
            {
                "id": "x",
                "score": 3.0,
                "max_score": 4.0,
                "status": "partial",
                "message": "3 of 4 checks passed",
                "checks": [
                    {"name": "seen", "device": "cpu", "passed": True, "message": ""},
                    {"name": "seen too", "device": "cpu", "passed": False, "message": "off by 1"},
                    {"name": "secret", "device": "cpu", "passed": True, "message": ""},
                    {"name": "secret 2", "device": "cpu", "passed": True, "message": ""},
                ],
            }
        ],
    }
    page = watch.limited(result, {"x": {"seen", "seen too"}})
    e = page["exercises"][0]
    assert [c["name"] for c in e["checks"]] == ["seen", "seen too"]
    assert e["score"] == 2.0 and page["score"] == 2.0 and e["message"] == "1 of 2 visible checks passed"
    assert result["exercises"][0]["score"] == 3.0  # the grade itself is untouched


def test_watch_settings_are_checked(tmp_path):
    text = (ROOT / "course.toml").read_text()
    assert config.load(ROOT).watch == config.Watch(full_feedbacks=3, window_hours=24, poll_seconds=1)
    for bad, why in (("full_feedbacks = -1", "full_feedbacks"), ("window_hours = 0", "window_hours")):
        key = bad.split(" =")[0]
        (tmp_path / "course.toml").write_text(text.replace(f"{key} = {3 if key == 'full_feedbacks' else 24}", bad))
        with pytest.raises(config.ConfigError, match=why) as e:
            config.load(tmp_path)
        assert str(tmp_path / "course.toml") in str(e.value)


def test_nbgrader_config_is_read_as_nbgrader_reads_it(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.Exchange.root = {str(tmp_path / 'ex')!r}\nc.CourseDirectory.course_id = 'c101'\n"
    )
    nb = exchange.load(tmp_path)  # the course folder's nbgrader_config.py
    assert (nb.exchange_root, nb.course_id, nb.root) == (tmp_path / "ex", "c101", tmp_path)
    assert nb.inbound == tmp_path / "ex" / "c101" / "inbound"
    nb = exchange.load(tmp_path, ["--CourseDirectory.course_id=c202"])  # the command line wins, as in nbgrader
    assert nb.course_id == "c202"
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\nc.Exchange.root = (\n")
    with pytest.raises(exchange.ExchangeError, match="could not be loaded") as e:
        exchange.load(tmp_path)
    assert "nbgrader_config.py" in str(e.value)
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    with pytest.raises(exchange.ExchangeError, match="course_id") as e:
        exchange.load(tmp_path)
    assert str(tmp_path / "nbgrader_config.py") in str(e.value)
    with pytest.raises(exchange.ExchangeError, match="inbound"):
        exchange.inbound(exchange.load(tmp_path, ["--CourseDirectory.course_id=x"]), [A])


# ---------------------------------------------------------------- a class with an exchange


@dataclasses.dataclass
class Klass:
    """An nbgrader course folder and exchange in tmp, and students who use them."""

    tmp: Path

    @property
    def exchange(self) -> Path:
        return self.tmp / "exchange"

    @property
    def nbroot(self) -> Path:
        return self.tmp / "nbcourse"

    @property
    def db(self) -> str:
        return f"sqlite:///{self.tmp / 'gradebook.db'}"

    @property
    def argv(self) -> list[str]:
        """nbgrader options, as its command line takes them (and `course watch -- ...`)."""
        return [
            f"--Exchange.root={self.exchange}",
            f"--CourseDirectory.course_id={COURSE_ID}",
            f"--CourseDirectory.root={self.nbroot}",
            "--LateSubmissionPlugin.penalty_method=zero",
        ]

    def config(self, student: str | None = None) -> Config:
        c = Config()
        c.Exchange.root = str(self.exchange)
        c.CourseDirectory.course_id = COURSE_ID
        c.CourseDirectory.root = str(self.nbroot)
        if student:  # each student their own folder and nbgrader cache, as on their own account
            (self.tmp / student).mkdir(exist_ok=True)
            c.Exchange.assignment_dir = str(self.tmp / student)
            c.Exchange.cache = str(self.tmp / student / ".cache")
            c.CourseDirectory.student_id = student
        return c

    def _run(self, what: str, student: str | None = None):
        c = self.config(student)
        coursedir = CourseDirectory(config=c)
        coursedir.assignment_id = A
        app = getattr(ExchangeFactory(config=c), what)(
            coursedir=coursedir, authenticator=Authenticator(config=c), config=c
        )
        return app.start()

    def release(self) -> None:
        """`nbgrader release_assignment`, from the kit's release/ (generate_assignment's output)."""
        self.exchange.mkdir(mode=0o777)
        (self.nbroot / "release" / A).mkdir(parents=True)
        (self.nbroot / "release" / A / f"{A}.ipynb").write_bytes((ROOT / "release" / A / f"{A}.ipynb").read_bytes())
        self._run("ReleaseAssignment")

    def submit(self, student: str, sample: str = "perfect", text: str | None = None) -> None:
        """`nbgrader fetch_assignment` (once), the student's work, then `nbgrader submit`."""
        folder = self.tmp / student / A
        if not folder.exists():
            self._run("FetchAssignment", student)
        path = folder / f"{A}.ipynb"
        if text is None:
            nb = json.loads((ROOT / "samples" / A / f"{sample}.ipynb").read_text())
            nb["metadata"]["handed_in"] = f"{student} {time.time()}"  # each hand-in its own bytes
            text = json.dumps(nb)
        path.write_text(text)
        self._run("Submit", student)

    def fetch_feedback(self, student: str) -> dict[str, str]:
        """`nbgrader fetch_feedback`: timestamp folder -> the page the student got."""
        self._run("FetchFeedback", student)
        out = self.tmp / student / A / "feedback"
        return {p.parent.name: p.read_text() for p in sorted(out.glob(f"*/{A}.html"))}

    def inbound(self) -> list[str]:
        return sorted(p.name for p in (self.exchange / COURSE_ID / "inbound").iterdir())


@pytest.fixture
def klass(tmp_path) -> Klass:
    k = Klass(tmp_path)
    k.release()
    return k


@pytest.fixture(scope="module")
def graders(tmp_path_factory):
    """One warm pool and grading run for the module's watchers, as one `course watch` keeps."""
    g = watch.Graders(config.load(ROOT), [A], ["cpu"], tmp_path_factory.mktemp("store"))
    yield g
    g.close()


def watcher(k: Klass, graders, workers: int = 2, **settings) -> tuple[watch.Watcher, list[str]]:
    course = config.load(ROOT)
    if settings:
        course = dataclasses.replace(course, watch=dataclasses.replace(course.watch, **settings))
    lines: list[str] = []
    w = watch.Watcher(
        course,
        exchange.load(ROOT, k.argv),
        [A],
        ["cpu"],
        k.db,
        k.tmp / "store",
        workers=workers,
        say=lines.append,
        graders=graders,
    )
    return w, lines


HIDDEN = sorted(c.name for c in registry("callbacks").checks if not c.visible)


@pytest.mark.slow
def test_submissions_are_graded_and_fetched_back_with_nbgrader(klass, graders):
    """Two students at once, a resubmission, a malformed notebook and a late one, through the exchange."""
    course = config.load(ROOT)
    gradebook.record_assignment(course, A, klass.db)  # nbgrader generate_assignment's records
    klass.submit("alice", "buggy")
    klass.submit("bob", "perfect")
    klass.submit("carol", text="{ this is not a notebook")
    due = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    with Gradebook(klass.db) as gb:
        gb.update_or_create_assignment(A, duedate=due)
    time.sleep(0.01)
    klass.submit("alice", "perfect")  # late: alice's on-time one counts
    klass.submit("dave", "perfect")  # late and alone: it counts, with nbgrader's penalty
    w, lines = watcher(klass, graders, full_feedbacks=1, window_hours=1)
    try:
        done = w.once()
    finally:
        w.close()
    assert sorted(o.submission.key for o in done) == klass.inbound()  # every one, once
    by = {(o.submission.student, o.record["late_seconds"] > 0): o.record for o in done}
    assert len(lines) == 5 and all(" in " in line for line in lines)

    # each student fetches their own feedback, keyed to each submission's timestamp
    alice = klass.fetch_feedback("alice")
    assert len(alice) == 2
    first, second = (alice[k] for k in sorted(alice))
    assert "Graded on submission" in first and all(h in first for h in HIDDEN)  # full: hidden checks too
    assert "visible checks only" in second and not any(f">{h}<" in second for h in HIDDEN)
    assert "next full feedback" in second and "after the due date" in second
    assert "after the due date" not in first
    bob = klass.fetch_feedback("bob")
    assert len(bob) == 1 and "alice" not in next(iter(bob.values()))
    carol = next(iter(klass.fetch_feedback("carol").values()))
    assert "not a readable notebook" in carol or "not valid" in carol or "JSON" in carol
    assert str(klass.exchange) not in carol  # the page names no path of the exchange's
    dave = next(iter(klass.fetch_feedback("dave").values()))
    assert "marked late" in dave

    # the gradebook: each student's counting submission, with its timestamp, comments and penalty
    with Gradebook(klass.db) as gb:
        sub = {s: gb.find_submission(A, s) for s in ("alice", "bob", "carol", "dave")}
        assert sub["alice"].score == pytest.approx(by[("alice", False)]["score"])  # the on-time, buggy one
        assert sub["alice"].score < sub["bob"].score == sub["bob"].max_score
        stamp = lambda o: o.submission.timestamp  # noqa: E731
        assert sub["alice"].timestamp == stamp(next(o for o in done if o.record is by[("alice", False)]))
        assert sub["bob"].total_seconds_late == 0 and sub["dave"].total_seconds_late > 0
        assert sub["dave"].score > 0
        assert sub["dave"].late_submission_penalty == pytest.approx(sub["dave"].score)  # penalty_method=zero
        assert sub["carol"].score == 0
        wrong = [e for e in by[("alice", False)]["result"]["exercises"] if e["status"] != "passed"]
        assert wrong
        for e in wrong:
            comment = gb.find_comment(e["id"], A, A, "alice").auto_comment
            failing = [c["name"] for c in e["checks"] if not c["passed"]]
            assert comment.startswith(e["status"]) and all(n in comment for n in failing[: gradebook.MOST_CHECKS])
        assert gb.find_comment("Runner", A, A, "bob").auto_comment is None

    # autograded/, as nbgrader autograde leaves it: scores in the test cells, nbgrader reads them back
    import nbformat

    path = klass.nbroot / "autograded" / "alice" / A / f"{A}.ipynb"
    nb = nbformat.read(path, as_version=4)
    scores = {e["id"]: e["score"] for e in by[("alice", False)]["result"]["exercises"]}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if gid.endswith("_tests"):
            assert determine_grade(cell)[0] == pytest.approx(scores[gid[: -len("_tests")]])
    assert (path.parent / "timestamp.txt").read_text() == by[("alice", False)]["timestamp"]
    assert not (klass.nbroot / "autograded" / "carol").exists()  # nothing formgrader could open

    # a second look finds nothing new
    w, lines = watcher(klass, graders)
    try:
        assert w.once() == []
    finally:
        w.close()


@pytest.mark.slow
def test_a_resubmission_while_the_first_is_graded_waits_for_it(klass, graders):
    w, lines = watcher(klass, graders)
    started, resubmitted = threading.Event(), threading.Event()
    grade = w.graders.grade

    def slow_first(path, student, assignment):
        if not started.is_set():
            started.set()
            assert resubmitted.wait(60)
        return grade(path, student, assignment)

    w.graders.grade = slow_first  # this watcher's only (the fixture's object is shared: restored below)
    stop = threading.Event()
    runner = threading.Thread(target=w.forever, args=(stop,))
    klass.submit("erin", "buggy")
    runner.start()
    try:
        assert started.wait(60)
        klass.submit("erin", "perfect")
        resubmitted.set()
        deadline = time.monotonic() + 120
        while len(w.ledger.records("erin", A)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        runner.join()
        del w.graders.grade
        w.close()
    records = sorted(w.ledger.records("erin", A), key=lambda r: r["timestamp_utc"])
    assert len(records) == 2 and [r["counts"] for r in records] == [True, True]
    assert records[0]["score"] < records[1]["score"] == records[1]["max_score"]
    assert len(klass.fetch_feedback("erin")) == 2
    with Gradebook(klass.db) as gb:
        assert gb.find_submission(A, "erin").score == records[1]["max_score"]


def course_cmd(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so that SIGKILL reaches it and its pool, as systemd's would
        **kw,
    )


@pytest.mark.slow
def test_killed_mid_way_and_started_again_grades_each_exactly_once(klass):
    """`course watch` SIGKILLed while grading; `course watch --once` then finishes the rest."""
    for student, sample in (("fay", "perfect"), ("gus", "buggy"), ("hal", "stubs")):
        klass.submit(student, sample)
    store = klass.tmp / "store"
    args = ["watch", "--device", "cpu", "--workers", "1", "--db", klass.db, "--store", str(store), "--", *klass.argv]
    proc = course_cmd(*args)
    ledger = store / ".watch" / A
    deadline = time.monotonic() + 240
    while not (ledger.is_dir() and any(ledger.glob("*.json"))) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    first, _ = proc.communicate()
    assert 1 <= len(list(ledger.glob("*.json"))) < 3  # killed mid-way
    again = course_cmd(*args[:1], "--once", *args[1:])
    second, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    records = [json.loads(p.read_text()) for p in ledger.glob("*.json")]
    assert sorted(r["submission"] for r in records) == klass.inbound()  # each exactly once
    lines = [line for line in (first + second).splitlines() if line.split(" ")[0] in ("fay", "gus", "hal")]
    fresh = [line.split(" ")[0] for line in lines if "grade from the store" not in line]
    assert sorted(set(fresh)) == sorted(fresh)  # no notebook graded twice
    assert sorted({line.split(" ")[0] for line in lines}) == ["fay", "gus", "hal"]
    for student in ("fay", "gus", "hal"):
        assert len(klass.fetch_feedback(student)) == 1
    again = course_cmd(*args[:1], "--once", *args[1:])
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0 and "0 submission(s) graded" in err


def test_a_course_without_an_exchange_course_id_is_refused_clearly(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "watch", "--once", "--", f"--Exchange.root={tmp_path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path)},
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "course_id" in proc.stderr and "nbgrader_config.py" in proc.stderr


@pytest.mark.slow
def test_course_grade_of_nbgraders_submitted_writes_autograded_and_the_timestamp(tmp_path):
    """`nbgrader collect`'s layout graded by `course grade`: the autograded notebook formgrader
    opens, and the submission's timestamp on its way into the gradebook."""
    import nbformat

    sub = tmp_path / "submitted" / "ivy" / A
    sub.mkdir(parents=True)
    (sub / f"{A}.ipynb").write_bytes((ROOT / "samples" / A / "buggy.ipynb").read_bytes())
    (sub / "timestamp.txt").write_text("2026-03-01 12:30:00.000001 UTC")
    grades, db = tmp_path / "g.json", f"sqlite:///{tmp_path / 'gradebook.db'}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.cli",
            "grade",
            A,
            str(tmp_path / "submitted"),
            "--json",
            str(grades),
            "--autograded",
        ]
        + ["--seed", "5", "--no-store", "--device", "cpu"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(grades.read_text())["results"]
    assert result["timestamp"] == "2026-03-01 12:30:00.000001 UTC"
    out = tmp_path / "autograded" / "ivy" / A
    assert (out / "timestamp.txt").read_text() == "2026-03-01 12:30:00.000001 UTC"
    nb = nbformat.read(out / f"{A}.ipynb", as_version=4)
    scores = {e["id"]: e["score"] for e in result["exercises"]}
    tests = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("_tests")]
    assert len(tests) == len(scores)
    for cell in tests:
        ex = cell.metadata.nbgrader.grade_id[: -len("_tests")]
        assert determine_grade(cell)[0] == pytest.approx(scores[ex]) and ex in cell.outputs[0].text
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "gradebook", str(grades), "--db", db],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    with Gradebook(db) as gb:
        s = gb.find_submission(A, "ivy")
        assert s.timestamp == datetime.datetime(2026, 3, 1, 12, 30, 0, 1)
        assert s.score == pytest.approx(result["score"])
