"""The `course` command: release, grade, check."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import sysconfig
from pathlib import Path

from . import config, release, report
from .grading import store, submissions  # not `grade` here: it imports torch (see cmd_grade)
from .outputs import exports, progress
from .sandbox.box import SandboxError


def _devices(course: config.Course, wanted: str | None) -> list[str]:
    from .grading import grade

    if wanted in (None, "all"):
        return grade.available_devices(course.devices)
    have = grade.available_devices([wanted])
    if not have:
        raise config.ConfigError(f"--device {wanted}: no such device on this machine")
    return have


def cmd_release(course: config.Course, args) -> int:
    names = args.assignments or list(course.assignments)
    if args.check:
        bad = release.stale(course, names)
        for path in bad:
            print(f"stale: {path} (run `course release`)")
        print("release/ is up to date" if not bad else f"{len(bad)} stale file(s)")
        return 1 if bad else 0
    for path in release.release(course, names):
        print(f"wrote {path}")
    for name, shown in release.revealed(course).items():  # 05 gives 04's Runner: mind the deadlines
        for earlier, exercises in shown.items():
            print(
                f"note: release/{name} holds the answers of {earlier}'s {', '.join(exercises)}: "
                f"publish it after {earlier}'s deadline"
            )
    return 0


def _seed(course: config.Course, args, store_dir: Path | None) -> int:
    if args.seed is not None:
        return args.seed
    if course.seed is not None or store_dir is None:
        return course.draw_seed()
    return store.remembered_seed(store_dir, args.assignment, course.draw_seed(), renew=args.force)


def cmd_grade(course: config.Course, args) -> int:
    course.assignment(args.assignment)
    if args.strict:
        course = dataclasses.replace(course, strict=True)
    if not args.scheduler:
        _start_pool(course.root, course.assignment(args.assignment).module)
    devices = _devices(course, args.device)  # imports torch
    subs = submissions.find(args.submissions, args.assignment)
    if not subs:
        print(f"no submissions of {args.assignment} found in {' '.join(args.submissions)}", file=sys.stderr)
        return 2
    if args.gradescope and len(subs) > 1:
        raise config.ConfigError(
            f"--gradescope: Gradescope grades one submission at a time and its results.json "
            f"holds one, but {len(subs)} were given (use --json or --junit for a class)"
        )
    store_dir = None if args.no_store else (args.store or course.root / ".grades")
    seed = _seed(course, args, store_dir)
    kept = store.Store(store_dir, course, args.assignment, devices, seed, force=args.force) if store_dir else None
    show = progress.Progress(len(subs), sys.stderr)
    if args.scheduler:
        from .grading import cluster

        results = cluster.grade(
            args.scheduler, course, args.assignment, subs, devices, seed, on_result=show, store=kept
        )
    else:
        from .grading import grade

        results = grade.grade(
            course, args.assignment, subs, devices, seed, on_result=show, workers=args.workers, store=kept
        )
    show.done()
    _nbgrader_layout(results, subs, write=args.autograded)
    if args.json:
        report.write_json(args.json, results)
    if args.gradescope:
        exports.write_gradescope(args.gradescope, results, course)
    if args.junit:
        exports.write_junit(args.junit, results)
    if args.feedback:
        from .outputs import feedback  # matplotlib: only when pages are drawn

        pages = feedback.write(results, args.feedback)
        print(f"feedback: {len(pages)} page(s) in {args.feedback}", file=sys.stderr)
    report.table(results, sys.stdout, detail=args.detail)
    return 0


def _nbgrader_layout(results: list[dict], subs: list[tuple[str, Path]], write: bool) -> None:
    """Submissions in nbgrader's `submitted/<student>/<assignment>/`: each result takes the
    submission's timestamp.txt (so `course gradebook` records it, and nbgrader's late penalty can
    apply), and with `write` (`--autograded`), `autograded/<student>/<assignment>/` beside
    `submitted/` gets the notebook with its grading outcome, as `nbgrader autograde` leaves it
    (formgrader's submission view opens it). Only when asked: nbgrader's own autograde skips a
    submission that has an autograded notebook already."""
    from .outputs import autograded

    for result, (_, path) in zip(results, subs, strict=True):
        folder = path.parent
        if len(path.parents) < 4 or folder.parent.parent.name != "submitted":
            continue
        stamp = folder / "timestamp.txt"
        if stamp.is_file():
            result["timestamp"] = stamp.read_text(encoding="utf-8", errors="replace").strip()
        out = folder.parent.parent.parent / "autograded" / folder.parent.name / folder.name
        if write and (written := autograded.write(path, result, out, stamp)):
            print(f"autograded: {written}", file=sys.stderr)


def _start_pool(root: Path, module: str) -> None:
    """Start the sandbox pool server now, before this process imports torch: for one submission
    its boot is the critical path, and it then overlaps all of the grader's start-up. `grade.grade`
    (or `shipped.check`) takes it over (`Pool` with the same arguments); if nothing does, it is
    stopped at exit."""
    import tempfile

    from .sandbox.box import env
    from .sandbox.pool import start_early

    start_early(root, [module], env(Path(tempfile.gettempdir())))


def cmd_check(course: config.Course | None, args) -> int:
    """The student's self-check: the visible checks judged against the release's expected values
    (`.checks/` beside the notebook), on the student's own code. No reference, no course.toml."""
    from .grading import locate

    if args.device == "cuda":
        raise config.ConfigError(
            "--device cuda: the self-check's expected values are the CPU's (course grade checks CUDA)"
        )
    path = Path(args.notebook)
    found = locate.find(path, args.assignment, _course_root(args.root))
    if sandbox := locate.sandbox_of(found):
        _start_pool(*sandbox)
    from .grading import shipped  # imports torch

    data = shipped.load(found)
    if args.exercise:  # that exercise (GitHub Classroom runs one step per exercise), and those it uses
        data = shipped.restrict(data, args.exercise)
    results = shipped.check(data, [(path.stem, path)])
    if args.exercise:
        results = [shipped.only(r, args.exercise) for r in results]
    report.table(results, sys.stdout, detail=True)
    if args.feedback:
        from .outputs import feedback

        print(f"\nyour feedback page, with pictures: {feedback.write(results, args.feedback)[0]}")
    return 0 if all(e["status"] == "passed" for e in results[0]["exercises"]) else 1


def cmd_selftest(course: config.Course, args) -> int:
    """The author's self-test: in one process, no sandbox. Over the seeds, the reference (against
    torch), the alternatives and the lesson's code must pass; every mutant must fail."""
    from . import selftest

    a = course.assignment(args.assignment)
    if args.exercise and args.exercise not in a.points:
        raise config.ConfigError(f"--exercise {args.exercise}: not an exercise of {a.name} ({', '.join(a.exercises)})")
    extra = selftest.auto_variants(course, a, args.exercise) if args.auto else []
    seeds = range(args.seed, args.seed + args.seeds)
    outcomes = selftest.run(course, a.name, seeds, args.exercise, _devices(course, args.device or "cpu"), extra)
    print("\n".join(selftest.summary(outcomes)))
    bad = selftest.disagreements(outcomes)
    done = f"{args.seeds} seed(s) for what must pass, {len(selftest.mutant_seeds(seeds))} for each mutant"
    print("\n".join(bad) if bad else f"every verdict as it must be, over {done}")
    return 1 if bad else 0


def cmd_report(course: config.Course | None, args) -> int:
    from .outputs import summary

    roster = _roster(args)  # a bad roster stops it before anything is written
    for path in summary.write(args.grades, args.out):
        print(f"wrote {path}")
    if roster is not None:
        _lms_export(args, roster)
    return 0


def _roster(args):
    from .outputs import lms

    if args.lms is None:
        if args.roster or args.missing_zero or args.roster_map:
            raise config.ConfigError("--roster, --roster-map and --missing-zero go with --lms canvas|moodle")
        return None
    if args.roster is None:
        raise config.ConfigError(f"--lms {args.lms} needs --roster ROSTER.csv, the roster exported from {args.lms}")
    return lms.read_roster(args.roster, lms.FORMATS[args.lms], args.roster_map)


def _lms_export(args, roster) -> None:
    from .outputs import lms, summary

    try:  # assignment titles name LMS columns too; a report alone needs no course.toml
        titles = {n: a.title for n, a in config.load(args.root).assignments.items()}
    except config.ConfigError:
        titles = {}
    by_assignment = summary.gather(args.grades)  # read and checked once already, by summary.write
    paths, export = lms.write(by_assignment, roster, args.lms, args.out, args.missing_zero, titles)
    for note in export.notes:
        print(f"note: {note}", file=sys.stderr)
    for u in export.unmatched:
        print(f"not in the {args.lms} gradebook: {u.student} ({u.why}); kept in {paths[-1]}", file=sys.stderr)
    for path in paths:
        print(f"wrote {path}")


def cmd_similar(course: config.Course, args) -> int:
    from .outputs import similar

    course.assignment(args.assignment)
    subs = submissions.find(args.submissions, args.assignment)
    if not subs:
        print(f"no submissions of {args.assignment} found in {' '.join(args.submissions)}", file=sys.stderr)
        return 2
    found = similar.run(course, args.assignment, subs, workers=args.workers)
    names = [s.student for s in found.submissions]
    for p in found.flagged:
        print(f"{names[p.a]} & {names[p.b]}: {p.score:.0%} alike")
    for g in found.groups:
        print(f"group of {len(g.members)}: {', '.join(names[m] for m in g.members)}")
    print(f"{len(found.flagged)} pair(s) of {len(names)} submissions at or above {found.settings.threshold:.0%}")
    for path in similar.write(found, args.out):
        print(f"wrote {path}")
    return 0


def cmd_gradescope_zip(course: config.Course, args) -> int:
    from .outputs.gradescope import build_zip

    print(f"wrote {build_zip(course, args.assignment, args.out or Path(f'gradescope-{args.assignment}.zip'))}")
    return 0


def cmd_gradebook(course: config.Course, args) -> int:
    from .outputs import gradebook

    gradebook.fill(course, args.grades, args.db)
    return 0


def cmd_watch(course: config.Course, args) -> int:
    """Grade what students hand in through nbgrader's exchange, as it arrives (`autograder.watch`)."""
    from . import exchange, watch

    names = args.assignments or list(course.assignments)
    for name in names:
        course.assignment(name)
    if args.strict:
        course = dataclasses.replace(course, strict=True)
    nbgrader_args = [a for a in args.nbgrader_args if a != "--"]
    nb = exchange.load(course.root, nbgrader_args)  # before the pool starts: a bad config stops it at once
    devices = _devices(course, args.device)
    watcher = watch.Watcher(
        course,
        nb,
        names,
        devices,
        args.db or course.gradebook_url,
        args.store or course.root / ".grades",
        workers=args.workers,
        say=lambda line: print(line, flush=True),
    )
    print(f"watching {nb.inbound} for {', '.join(names)}", file=sys.stderr, flush=True)
    try:
        if args.once:
            done = watcher.once()
            print(f"{len(done)} submission(s) graded", file=sys.stderr)
        else:
            watcher.forever(watch.stop_on_signals())
    finally:
        watcher.close()
    return 0


def _course_root(root: Path | None) -> Path | None:
    """The course folder when the self-check runs in the kit (a sample); None in a student's folder."""
    try:
        return config.find_root(root)
    except config.ConfigError:
        if root is not None:
            raise
        return None


def cmd_student_package(course: config.Course, args) -> int:
    from . import package

    print(f"wrote {package.write(course, args.out)} (publish it where students can read it: see README)")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="course", description=__doc__)
    ap.add_argument("--root", type=Path, default=None, help="the course folder (default: the one holding course.toml)")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("release", help="regenerate release/, solutions/ and samples/ from source/")
    r.add_argument("assignments", nargs="*")
    r.add_argument("--check", action="store_true", help="exit non-zero when anything derived is stale")
    r.set_defaults(run=cmd_release)
    g = sub.add_parser("grade", help="grade submissions")
    g.add_argument("assignment")
    g.add_argument("submissions", nargs="+", help="notebooks, or folders in nbgrader's submitted/ layout")
    g.add_argument("--json", type=Path, help="write the grade report here")
    g.add_argument(
        "--gradescope", type=Path, metavar="FILE", help="write Gradescope's results.json here (one submission)"
    )
    g.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here (one testcase per check), for CI")
    g.add_argument(
        "--feedback",
        type=Path,
        metavar="DIR",
        help="write one HTML page per student: DIR/<student>/<assignment>/<assignment>.html",
    )
    g.add_argument("--device", choices=["cpu", "cuda", "all"])
    g.add_argument("--seed", type=int, help="seed for the checks' random inputs (default: course.toml)")
    g.add_argument("--detail", action="store_true", help="print every failing check")
    g.add_argument(
        "--autograded",
        action="store_true",
        help="for folders in nbgrader's submitted/ layout: also write autograded/<student>/<assignment>/, "
        "as nbgrader autograde does (formgrader's submission view opens it)",
    )
    g.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at once (default: the machine's cores)",
    )
    g.add_argument(
        "--scheduler", metavar="ADDRESS", help="grade on a dask.distributed cluster (tcp://host:8786) instead of here"
    )
    g.add_argument(
        "--store",
        type=Path,
        help="where finished grades are kept, so a stopped batch resumes (default: .grades in the course folder)",
    )
    g.add_argument("--no-store", action="store_true", help="keep no grades between runs")
    g.add_argument("--force", action="store_true", help="grade again what the store already holds (new seed)")
    g.add_argument(
        "--strict",
        action="store_true",
        help="refuse to grade unless every isolation layer is in force (see README, Security)",
    )
    g.set_defaults(run=cmd_grade)
    c = sub.add_parser("check", help="a student's self-check: the visible checks of a notebook")
    c.add_argument("notebook")
    c.add_argument("--assignment")
    c.add_argument("--device", choices=["cpu", "cuda", "all"])
    c.add_argument("--exercise", metavar="ID", help="check only this exercise; exit 0 iff it passed")
    c.add_argument(
        "--feedback",
        type=Path,
        metavar="DIR",
        help="also write the checks as an HTML page with pictures: DIR/<notebook>/<assignment>/<assignment>.html",
    )
    c.set_defaults(run=cmd_check)
    t = sub.add_parser(
        "selftest", help="for authors: the checks on the reference, torch, alternatives, the lesson's code and mutants"
    )
    t.add_argument("assignment")
    t.add_argument("--exercise", metavar="ID", help="only this exercise")
    t.add_argument(
        "--seeds",
        type=int,
        default=3,
        help="how many seeds for what must pass (default: 3); each mutant gets 20 at least (selftest.MUTANT_SEEDS)",
    )
    t.add_argument("--seed", type=int, default=1, help="the first seed (default: 1)")
    t.add_argument("--device", choices=["cpu", "cuda", "all"], help="default: cpu")
    t.add_argument("--auto", action="store_true", help="also every automatic mutant (autograder.mutate)")
    t.set_defaults(run=cmd_selftest)
    b = sub.add_parser("gradebook", help="put grade reports into nbgrader's gradebook (formgrader shows them)")
    b.add_argument(
        "grades", nargs="+", type=Path, metavar="GRADES.json", help="reports written by `course grade --json`"
    )
    b.add_argument(
        "--db",
        metavar="URL",
        help="nbgrader's database URL (default: [nbgrader] db of course.toml, sqlite:///<course>/gradebook.db)",
    )
    b.set_defaults(run=cmd_gradebook)
    w = sub.add_parser(
        "watch", help="grade what students hand in with `nbgrader submit`, and hand back feedback at once"
    )
    w.add_argument(
        "--assignment",
        action="append",
        dest="assignments",
        metavar="NAME",
        help="an assignment to watch (repeatable; default: every one of course.toml)",
    )
    w.add_argument(
        "--once", action="store_true", help="grade what is waiting, then return (default: run until stopped)"
    )
    w.add_argument("--device", choices=["cpu", "cuda", "all"])
    w.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="submissions graded at once (default: the cores)"
    )
    w.add_argument(
        "--db",
        metavar="URL",
        help="nbgrader's database URL (default: [nbgrader] db of course.toml, sqlite:///<course>/gradebook.db)",
    )
    w.add_argument(
        "--store", type=Path, help="where grades and the record of what was graded are kept (default: .grades)"
    )
    w.add_argument("--strict", action="store_true", help="refuse to grade unless every isolation layer is in force")
    w.add_argument(
        "nbgrader_args",
        nargs=argparse.REMAINDER,
        metavar="-- NBGRADER_OPTION",
        help="after --, options as nbgrader's commands take them (--Exchange.root=DIR, --CourseDirectory.course_id=ID)",
    )
    w.set_defaults(run=cmd_watch)
    p = sub.add_parser("student-package", help="the checker without the answers, for students (GitHub Classroom)")
    p.add_argument(
        "--out", type=Path, default=Path("student-package"), help="where to write it (default: student-package/)"
    )
    p.set_defaults(run=cmd_student_package)
    z = sub.add_parser("gradescope-zip", help="the autograder zip to upload to a Gradescope programming assignment")
    z.add_argument("assignment")
    z.add_argument("--out", type=Path, help="where to write it (default: gradescope-ASSIGNMENT.zip)")
    z.set_defaults(run=cmd_gradescope_zip)
    m = sub.add_parser("similar", help="which students' solutions are suspiciously alike: a page and a CSV of pairs")
    m.add_argument("assignment")
    m.add_argument("submissions", nargs="+", help="notebooks, or folders in nbgrader's submitted/ layout")
    m.add_argument(
        "--out",
        type=Path,
        default=Path("report"),
        help="where to write <assignment>-similar.html and .csv (default: report/, where `course report` links it)",
    )
    m.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes reading notebooks (default: the cores)"
    )
    m.set_defaults(run=cmd_similar)
    s = sub.add_parser("report", help="the class summary of grade reports: a CSV and an HTML page per assignment")
    s.add_argument(
        "grades", nargs="+", type=Path, metavar="GRADES.json", help="reports written by `course grade --json`"
    )
    s.add_argument("--out", type=Path, default=Path("report"), help="where to write them (default: report/)")
    s.add_argument(
        "--lms",
        choices=["canvas", "moodle"],
        help="also write the gradebook CSV this LMS imports (<lms>-grades.csv), for the students of --roster",
    )
    s.add_argument("--roster", type=Path, metavar="ROSTER.csv", help="the roster (or gradebook) exported from the LMS")
    s.add_argument(
        "--missing-zero",
        action="store_true",
        help="a roster student with no grade gets 0 (default: the LMS's no grade, empty or Moodle's -)",
    )
    s.add_argument(
        "--roster-map",
        type=Path,
        metavar="MAP.csv",
        help="columns student,roster: which roster row (its login, email or number; empty: none) a graded id is",
    )
    s.set_defaults(run=cmd_report)
    return ap


def _own_scripts_on_path() -> None:
    """Put this Python's scripts folder (a venv's bin/) first on PATH, as activating the venv does.
    The tools the kit drives run commands by name (nbgrader's gradebook runs `alembic`), which
    fails where `.venv/bin/course` runs from a PATH without the venv: cron, systemd, a CI step."""
    scripts = sysconfig.get_path("scripts")
    path = os.environ.get("PATH", "")
    if scripts and scripts not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join(p for p in (scripts, path) if p)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _own_scripts_on_path()
    try:
        # a report needs no course; a self-check finds its release data itself (a student has no course.toml)
        course = None if args.run in (cmd_report, cmd_check) else config.load(args.root)
        return args.run(course, args)
    except (config.ConfigError, release.ReleaseError, SandboxError) as e:  # exchange.ExchangeError too
        print(f"course: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. a report path that cannot be written
        print(f"course: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
