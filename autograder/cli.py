"""The `course` command: release, grade, check."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from . import config, release, report
from .grading import grade, store, submissions
from .outputs import exports, progress
from .sandbox.box import SandboxError


def _devices(course: config.Course, wanted: str | None) -> list[str]:
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
    devices = _devices(course, args.device)
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
        results = grade.grade(
            course, args.assignment, subs, devices, seed, on_result=show, workers=args.workers, store=kept
        )
    show.done()
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


def cmd_check(course: config.Course, args) -> int:
    path = Path(args.notebook)
    name = args.assignment or _guess_assignment(course, path)
    if args.exercise:  # that exercise alone (GitHub Classroom runs one step per exercise)
        a = course.assignment(name)
        if args.exercise not in a.points:
            raise config.ConfigError(
                f"--exercise {args.exercise}: not an exercise of {name} ({', '.join(a.exercises)})"
            )
        one = dataclasses.replace(a, points={args.exercise: a.points[args.exercise]})
        course = dataclasses.replace(course, assignments={**course.assignments, name: one})
    devices = _devices(course, args.device)
    results = grade.grade(course, name, [(path.stem, path)], devices, course.draw_seed(), visible_only=True)
    report.table(results, sys.stdout, detail=True)
    if args.feedback:
        from .outputs import feedback

        print(f"\nyour feedback page, with pictures: {feedback.write(results, args.feedback)[0]}")
    return 0 if all(e["status"] == "passed" for e in results[0]["exercises"]) else 1


def cmd_report(course: config.Course | None, args) -> int:
    from .outputs import summary

    for path in summary.write(args.grades, args.out):
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


def _guess_assignment(course: config.Course, path: Path) -> str:
    for name in course.assignments:
        if path.stem == name or path.parent.name == name:
            return name
    raise config.ConfigError(f"{path}: cannot tell which assignment this is; pass --assignment")


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
    z = sub.add_parser("gradescope-zip", help="the autograder zip to upload to a Gradescope programming assignment")
    z.add_argument("assignment")
    z.add_argument("--out", type=Path, help="where to write it (default: gradescope-ASSIGNMENT.zip)")
    z.set_defaults(run=cmd_gradescope_zip)
    s = sub.add_parser("report", help="the class summary of grade reports: a CSV and an HTML page per assignment")
    s.add_argument(
        "grades", nargs="+", type=Path, metavar="GRADES.json", help="reports written by `course grade --json`"
    )
    s.add_argument("--out", type=Path, default=Path("report"), help="where to write them (default: report/)")
    s.set_defaults(run=cmd_report)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        course = None if args.run is cmd_report else config.load(args.root)  # a report needs no course
        return args.run(course, args)
    except (config.ConfigError, release.ReleaseError, SandboxError) as e:
        print(f"course: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. a report path that cannot be written
        print(f"course: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
