"""How far 02_init's statistical checks stay from failing a correct solution, over many seeds.

    python bench/init_margins.py [--seeds 200] [--mutant-seeds 20] [--match TEXT]

For every check of kaiming_uniform judged by a sample statistic, runs the
probe on the reference and on torch's `init.kaiming_uniform_` with
*independent* draws (seed s against seed s + SEEDS, as a correct solution
that draws differently would be) and prints the largest relative
differences of max|w| and of the std, each as a fraction of its tolerance
in course.toml (the check fails above 1); for the range checks, the range
of values over the seeds and how many standard deviations their mean lies
inside it. Then the same for each known-wrong kaiming_uniform
(samples/mutants/init.py): the smallest fractions, or the range, to show how
far they fall outside. The numbers go in the comments beside the checks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import solutions.init as reference  # noqa: E402
from autograder import config, mutants  # noqa: E402
from autograder.checks import (  # noqa: E402
    Inputs,
    Namespace,
    oracle,  # noqa: E402
    registry,
)
from autograder.checks.init import same_spread  # noqa: E402


def run(check, ns, seed: int):
    return check.probe(ns, Inputs(seed, check.name, "cpu"))


def badness(check, a: Namespace, b: Namespace, seed: int, seeds: int, tol: tuple[float, float]) -> list[float]:
    """The largest relative differences of max|w| and of the std between `a` at `seed` and `b` at
    `seed + seeds`, over the check's cases, each as a fraction of its tolerance: the check fails above 1."""
    worst = [0.0, 0.0]
    for got, want in zip(run(check, a, seed), run(check, b, seed + seeds), strict=True):
        for j in (0, 1):
            worst[j] = max(worst[j], abs(got[j] - want[j]) / want[j] / tol[j])
    return worst


def value_range(check, ns: Namespace, seeds: int) -> str:
    """min, max, and how many standard deviations the mean lies from each end of the check's range."""
    values = torch.tensor([float(run(check, ns, s)) for s in range(seeds)], dtype=torch.float64)
    mean, sd = values.mean().item(), values.std().item()
    lo, hi = check.judge.range
    where = f"{(mean - lo) / sd:.1f} sd above {lo:g}, {(hi - mean) / sd:.1f} sd below {hi:g}" if sd > 0 else "constant"
    return f"[{values.min().item():.3g}, {values.max().item():.3g}], mean {mean:.3g}, sd {sd:.2g}: {where}"


def mutant_namespaces(course) -> dict[str, Namespace]:
    table = mutants.load(course, course.assignment("02_init"))["MUTANTS"]["kaiming_uniform"]
    out = {}
    for name, source in table.items():
        names = dict(vars(reference))
        exec(compile(source, f"<mutant {name}>", "exec"), names)
        out[name] = Namespace(names)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--mutant-seeds", type=int, default=20)
    ap.add_argument("--match", default="", help="only the checks whose name contains this")
    args = ap.parse_args()
    torch.set_num_threads(1)
    course = config.load(Path(__file__).resolve().parents[1])
    ref = Namespace(vars(reference))
    torch_ns = Namespace(vars(oracle), fallback=ref)
    checks = [c for c in registry("init").for_exercise("kaiming_uniform") if args.match in c.name]
    tol = (course.tolerance("bound").rtol, course.tolerance("spread").rtol)
    print(
        f"correct, {args.seeds} seeds: the largest differences from torch as fractions of their tolerances"
        " (fails > 1); or the range of values"
    )
    report(checks, ref, torch_ns, args.seeds, tol, max)
    for name, ns in mutant_namespaces(course).items():
        print(
            f"wrong: {name}, {args.mutant_seeds} seeds: the smallest such fractions (passes if both < 1); or the range"
        )
        report(checks, ns, torch_ns, args.mutant_seeds, tol, min)


def report(checks, ns: Namespace, torch_ns: Namespace, seeds: int, tol, pick) -> None:
    for c in checks:
        try:
            if c.judge is same_spread:
                worst = [badness(c, ns, torch_ns, s, seeds, tol) for s in range(seeds)]
                dmax, dstd = (pick(w[j] for w in worst) for j in (0, 1))
                print(f"  {c.name}: max|w| {dmax:.3f}, std {dstd:.3f}")
            elif hasattr(c.judge, "range"):
                print(f"  {c.name}: {value_range(c, ns, seeds)}")
        except Exception as e:  # a wrong solution may raise
            print(f"  {c.name}: raised {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
