"""The `course` command: release, grade, check."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from . import config, grade, release, report, submissions
from .sandbox import SandboxError


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


def cmd_grade(course: config.Course, args) -> int:
    course.assignment(args.assignment)
    if args.strict:
        course = dataclasses.replace(course, strict=True)
    devices = _devices(course, args.device)
    seed = args.seed if args.seed is not None else course.draw_seed()
    subs = submissions.find(args.submissions, args.assignment)
    if not subs:
        print(f"no submissions of {args.assignment} found in {' '.join(args.submissions)}", file=sys.stderr)
        return 2
    progress = (lambda r: print(f"graded {r['student']}: {r['score']:g}/{r['max_score']:g}", file=sys.stderr)) \
        if len(subs) > 1 else None
    results = grade.grade(course, args.assignment, subs, devices, seed, on_result=progress)
    if args.json:
        report.write_json(args.json, results)
    report.table(results, sys.stdout, detail=args.detail)
    return 0


def cmd_check(course: config.Course, args) -> int:
    path = Path(args.notebook)
    name = args.assignment or _guess_assignment(course, path)
    devices = _devices(course, args.device)
    results = grade.grade(course, name, [(path.stem, path)], devices, course.draw_seed(), visible_only=True)
    report.table(results, sys.stdout, detail=True)
    return 0 if all(e["status"] == "passed" for e in results[0]["exercises"]) else 1


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
    g.add_argument("--device", choices=["cpu", "cuda", "all"])
    g.add_argument("--seed", type=int, help="seed for the checks' random inputs (default: course.toml)")
    g.add_argument("--detail", action="store_true", help="print every failing check")
    g.add_argument("--strict", action="store_true",
                   help="refuse to grade unless every isolation layer is in force (see README, Security)")
    g.set_defaults(run=cmd_grade)
    c = sub.add_parser("check", help="a student's self-check: the visible checks of a notebook")
    c.add_argument("notebook")
    c.add_argument("--assignment")
    c.add_argument("--device", choices=["cpu", "cuda", "all"])
    c.set_defaults(run=cmd_check)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        course = config.load(args.root)
        return args.run(course, args)
    except (config.ConfigError, release.ReleaseError, SandboxError) as e:
        print(f"course: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. a report path that cannot be written
        print(f"course: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
