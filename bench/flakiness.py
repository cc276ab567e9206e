"""No flakiness: the verdicts of every known variant over many seeds.

    python bench/flakiness.py [ASSIGNMENT...] [--seeds 50] [--write FILE]

For every assignment, judges the reference (against torch too), the alternatives, the lesson's
own code and every hand-written mutant (`autograder.selftest`: one process, no sandbox) at seeds
1..N, and counts *verdict changes*: a variant whose verdict (full marks on its exercise, or not)
is not the same at every seed, and for the variants that must pass, a check whose verdict moves.
The figure the tests hold the kit to is 0; CI runs a few seeds (tests/test_selftest.py).
Exits 1 when any verdict changed or disagreed with what it must be.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder import config, selftest  # noqa: E402


def measure(course, name: str, seeds: list[int], exercise: str | None = None) -> dict:
    outcomes = selftest.run(course, name, seeds, exercise)
    verdicts: dict[str, set[bool]] = {}
    checks: dict[tuple[str, str], set[bool]] = {}
    for o in outcomes:
        verdicts.setdefault(o.variant.label, set()).add(o.passed)
        if o.variant.must_pass:
            for key, (ok, _) in o.checks.items():
                checks.setdefault((o.variant.label, key[0]), set()).add(ok)
    return {
        "assignment": name,
        "variants": len(verdicts),
        "kinds": sorted({o.variant.kind for o in outcomes}),
        "seeds": len(seeds),
        "verdict_changes": sorted(label for label, v in verdicts.items() if len(v) > 1),
        "check_changes": sorted(f"{label}: {check}" for (label, check), v in checks.items() if len(v) > 1),
        "disagreements": selftest.disagreements(outcomes),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("assignments", nargs="*")
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--exercise", help="only this exercise")
    ap.add_argument("--write", type=Path, help="write the table (markdown) here")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    course = config.load(Path(__file__).resolve().parents[1])
    seeds = list(range(1, args.seeds + 1))
    lines = [
        f"Verdicts over seeds 1..{args.seeds} (`python bench/flakiness.py --seeds {args.seeds}`):",
        "",
        "| assignment | variants | seeds | verdict changes | check changes (must-pass variants) | disagreements |",
        "|---|---|---|---|---|---|",
    ]
    bad = False
    for name in args.assignments or list(course.assignments):
        start = time.monotonic()
        r = measure(course, name, seeds, args.exercise)
        print(f"{name}: {time.monotonic() - start:.0f} s", file=sys.stderr)
        lines.append(
            f"| {name} | {r['variants']} ({', '.join(r['kinds'])}) | {r['seeds']} | {len(r['verdict_changes'])} "
            f"| {len(r['check_changes'])} | {len(r['disagreements'])} |"
        )
        for line in r["verdict_changes"] + r["check_changes"] + r["disagreements"]:
            print(f"  {name}: {line}", file=sys.stderr)
        bad = bad or bool(r["verdict_changes"] or r["check_changes"] or r["disagreements"])
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
