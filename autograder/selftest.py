"""`course selftest`: an assignment's checks judged in one process, without a sandbox, in seconds.

For the author of a check, not for grading students: it runs known code only (the reference,
the alternatives, the lesson-literal variants and the mutants of `samples/mutants/<module>.py`,
and the automatic mutants of `autograder.mutate`). Each variant is the source notebook's
exported cells with one solution cell replaced, run as the sandbox would run a submission
(the notebook's cells, then the exercises before it bound to the reference, then the variant's
cell again), its exercise's probes called on it here and judged by `grading.grade.judge`
against the reference and torch, exactly as in grading. What grading does and this does not:
isolation, limits and the process boundary. The static forbidden-function scan and the
run-time tripwire do run here, so a mutant that calls torch's own function is caught as in
grading.

Over several seeds, every variant that must pass (the reference, so also the reference
against torch on every oracle check; alternatives; lesson-literal variants) passes every
check, and every mutant fails at least one check of its own exercise at every seed: the seeds
asked for, and further ones up to `MUTANT_SEEDS` (20) at least, so that a mutant that only a
lucky input catches is reported. Each disagreement names the variant, the check and the seed.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import signal
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import mutants, notebook, wire
from .checks import Check, Inputs, Namespace, registry
from .config import Assignment, Course
from .grading import forbidden
from .grading.grade import Expected, judge
from .grading.reference import Reference
from .sandbox.limits import reset_torch
from .sandbox.tripwire import Tripwire, Trusted, watch

# A mutant must lose points at every one of at least this many seeds: one that a lucky draw lets
# through is a survivor (a verdict that depends on the seed is a flaky verdict).
MUTANT_SEEDS = 20
PROBE_SECONDS = 30.0  # of CPU time (not wall time: a loaded machine is no reason): a mutant that loops is stopped


class _ProbeTimeout(BaseException):
    pass


@dataclass(frozen=True)
class Variant:
    """One exercise's cell: `source` None is the reference itself."""

    exercise: str
    kind: str  # "reference", "alternative", "lesson", "mutant", "auto"
    name: str
    source: str | None
    must_pass: bool

    @property
    def label(self) -> str:
        return f"{self.exercise} [{self.kind}] {self.name}"


@dataclass
class Outcome:
    """A variant's verdict at one seed: each check's (passed, message), or why no check ran."""

    variant: Variant
    seed: int
    checks: dict[tuple[str, str], tuple[bool, str]] = field(default_factory=dict)
    blocked: str = ""  # forbidden, or the cell raised before its names were defined

    @property
    def passed(self) -> bool:
        """Full marks on its exercise."""
        return not self.blocked and all(ok for ok, _ in self.checks.values())

    @property
    def failing(self) -> list[str]:
        return [f"{name} ({device}): {msg}" for (name, device), (ok, msg) in self.checks.items() if not ok]

    @property
    def agrees(self) -> bool:
        return self.passed == self.variant.must_pass


def variants(course: Course, a: Assignment, exercise: str | None = None) -> list[Variant]:
    """The reference, alternatives, lesson-literal variants and hand-written mutants of `a`."""
    table = mutants.load(course, a)
    out = []
    for ex in a.exercises:
        if exercise and ex != exercise:
            continue
        out.append(Variant(ex, "reference", "reference", None, True))
        for name, src in mutants.alternatives(table).get(ex, {}).items():
            out.append(Variant(ex, "alternative", name, src, True))
        if ex in table["LESSON"]:
            out.append(Variant(ex, "lesson", "lesson-literal", table["LESSON"][ex], True))
        for name, src in table["MUTANTS"].get(ex, {}).items():
            out.append(Variant(ex, "mutant", name, src, False))
    return out


def auto_variants(course: Course, a: Assignment, exercise: str | None = None) -> list[Variant]:
    """The automatic mutants (`autograder.mutate`) of each reference cell that are not known to be
    equivalent (`EQUIVALENT` of `samples/mutants/<module>.py`): each must fail."""
    from . import mutate

    table = mutants.load(course, a)
    out = []
    for ex, source in mutants.reference_cells(course, a).items():
        if exercise and ex != exercise:
            continue
        same = table["EQUIVALENT"].get(ex, {})
        out += [Variant(ex, "auto", m.name, m.source, False) for m in mutate.mutants(source) if m.name not in same]
    return out


class Bench:
    """One assignment's reference, expected values and checks, for judging variants in-process."""

    def __init__(self, course: Course, assignment: str, devices: Iterable[str] = ("cpu",)):
        self.course, self.a = course, course.assignment(assignment)
        self.ref = Reference(course, self.a)
        self.devices = list(devices)
        self.registry = registry(self.a.module)
        src = notebook.read(course.root / "source" / self.a.name / f"{self.a.name}.ipynb")
        # the exported cells, in notebook order: given code and solution cells
        self.cells = [
            (c.grade_id if c.solution else None, c.index, notebook.strip_markers(c.source))
            for c in src.cells
            if c.code and (c.solution or "export" in c.tags)
        ]
        self._expected: dict[int, Expected] = {}

    def expected(self, seed: int) -> Expected:
        if seed not in self._expected:
            self._expected = {seed: Expected(self.ref, seed)}  # one seed at a time: bounded memory
        return self._expected[seed]

    def names(self, ex: str, source: str | None) -> tuple[dict, Trusted, str]:
        """The notebook's globals with `source` as `ex`'s cell, as the sandbox makes them, the
        course's code the tripwire trusts, and the error of the variant's cell if its last run raised."""
        names: dict = {"__name__": "__main__", "__builtins__": builtins}
        trusted = Trusted(names)
        own = source if source is not None else dict((g, s) for g, _, s in self.cells if g)[ex]
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # a mutant's `x is not 0`
            for gid, index, code in self.cells:
                if gid == ex:
                    _run(compile(own, f"<cell {index}>", "exec"), names)
                else:
                    _run(trusted.compile(code, f"<given {index}>"), names)
            for gid, _, code in self.cells:  # bind_references: the exercises before are the reference's
                if gid == ex:
                    break
                if gid:
                    _run(trusted.compile(code, f"<reference {gid}>"), names)
            error = _run(compile(own, "<cell own>", "exec"), names)  # rerun_own_cell
        return names, trusted, error

    def judge_variant(self, variant: Variant, seed: int, until_failure: bool = False) -> Outcome:
        """The variant's verdict at `seed`; with `until_failure`, its checks stop at the first that
        fails (all a must-fail variant needs: it lost points)."""
        out = Outcome(variant, seed)
        banned = self.course.forbidden.get(variant.exercise, [])
        if variant.source is not None and (why := forbidden.find(variant.source, banned)):
            out.blocked = f"forbidden: the cell {why}"
            return out
        try:
            names, trusted, error = self.names(variant.exercise, variant.source)
        except SyntaxError as e:
            out.blocked = f"the cell does not compile: {e}"
            return out
        ns = Namespace(names)
        expected = self.expected(seed)
        for device in self.devices:
            for check in self.registry.for_exercise(variant.exercise):
                reply, hits = probe(check, ns, seed, device, banned, trusted)
                if hits:
                    out.blocked = f"forbidden at run time: {hits[0]}"
                    return out
                verdict = judge(check, device, reply, expected, self.course, error or "no result")
                out.checks[(check.name, device)] = (verdict["passed"], verdict["message"])
                if until_failure and not verdict["passed"]:
                    return out
        return out


def _run(code, names: dict) -> str:
    try:
        exec(code, names)
    except BaseException as e:  # as in the sandbox: the next cell still runs
        return f"{type(e).__name__}: {e}"[:300]
    return ""


def _alarm(signum, frame):
    raise _ProbeTimeout(f"probe ran past {PROBE_SECONDS:g} s of CPU time")


def probe(
    check: Check, ns: Namespace, seed: int, device: str, banned: list[str], trusted: Trusted
) -> tuple[dict, list[str]]:
    """One probe on the variant, as the sandbox runs it: its reply (decoded) and any forbidden call."""
    reset_torch()  # whatever the previous probe changed, as in the sandbox
    tripwire = Tripwire(watch(banned), trusted)
    old = signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, PROBE_SECONDS)
    try:
        with contextlib.redirect_stdout(io.StringIO()), tripwire:
            value = check.probe(ns, Inputs(seed, check.name, device))
        reply = {"value": wire.decode(wire.encode(value))}
    except BaseException as e:  # noqa: BLE001 - a mutant may raise anything, even SystemExit
        if isinstance(e, KeyboardInterrupt):
            raise
        reply = {"error": f"{type(e).__name__}: {e}"[:300]}
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
    return reply, list(tripwire.hits)


def mutant_seeds(seeds: Iterable[int], at_least: int = MUTANT_SEEDS) -> list[int]:
    """`seeds`, and the next ones after the last until there are `at_least`."""
    out = list(dict.fromkeys(seeds))
    nxt = max(out, default=0) + 1
    while len(out) < at_least:
        out.append(nxt)
        nxt += 1
    return out


def run(
    course: Course,
    assignment: str,
    seeds: Iterable[int],
    exercise: str | None = None,
    devices: Iterable[str] = ("cpu",),
    extra: Iterable[Variant] = (),
    at_least: int = MUTANT_SEEDS,
) -> list[Outcome]:
    """Every variant (and `extra` ones) at every seed: one Outcome each. A variant that must fail
    is judged at `at_least` seeds at least (`mutant_seeds`), each until its first failing check."""
    bench = Bench(course, assignment, devices)
    todo = variants(course, bench.a, exercise) + [v for v in extra if not exercise or v.exercise == exercise]
    seeds = list(seeds)
    more = mutant_seeds(seeds, at_least)
    out = []
    for seed in more:
        for v in todo:
            if v.must_pass and seed not in seeds:
                continue
            out.append(bench.judge_variant(v, seed, until_failure=not v.must_pass))
    return out


def disagreements(outcomes: list[Outcome]) -> list[str]:
    """One line per variant and seed whose verdict is not the one it must have."""
    lines = []
    for o in outcomes:
        if o.agrees:
            continue
        if o.variant.must_pass:
            why = o.blocked or "; ".join(o.failing)
            lines.append(f"seed {o.seed}: {o.variant.label} must pass, but: {why}")
        else:
            lines.append(f"seed {o.seed}: {o.variant.label} must fail, but passed every check")
    return lines


def summary(outcomes: list[Outcome]) -> list[str]:
    """Per exercise: how many variants of each kind, and how many had the verdict they must have."""
    rows: dict[str, dict[str, list[int]]] = {}
    for o in outcomes:
        count = rows.setdefault(o.variant.exercise, {}).setdefault(o.variant.kind, [0, 0])
        count[0] += 1
        count[1] += o.agrees
    lines = []
    for ex, kinds in rows.items():
        parts = [f"{kind} {ok}/{n}" for kind, (n, ok) in kinds.items()]
        lines.append(f"{ex:<20} " + ", ".join(parts))
    return lines
