"""Checks of 05_anneal: Recorder, ParamScheduler, annealer, the schedules, combine_scheds, one cycle.

Schedules are graded as callables of `pos`: results are turned into floats
in the probe, so a float, a 0-d tensor or a numpy number are all fine.
Recorder and ParamScheduler run in a real fit with the notebook's Runner
(given code) on a tiny problem built here, with schedules that are plain
lambdas of the probe.
"""

from __future__ import annotations

import math
from functools import partial

import torch

from . import Registry, floats
from .judges import equal
from .plots import curve, runs
from .tiny import ProbeCallback, learner

check = Registry()


# ---- a tiny problem ------------------------------------------------------------------------------


class _GroupLog(ProbeCallback):
    """The value `key` of every param group at `event`, with run.in_train."""

    def __init__(self, event="after_pred", key="lr", order=0):
        self.rows, self.key, self._order = [], key, order
        setattr(self, event, self._log)

    def _log(self):
        self.rows.append([bool(self.run.in_train)] + [float(pg[self.key]) for pg in self.run.opt.param_groups])


class _LossLog(ProbeCallback):
    """The training losses as the runner computed them."""

    def __init__(self):
        self.losses = []

    def after_loss(self):
        if self.run.in_train:
            self.losses.append(self.run.loss.item())


class _SetGroups(ProbeCallback):
    """Before each training batch k, sets group i's lr to (i + 1) * 0.01 * (k + 1)."""

    _order = 1

    def __init__(self):
        self.k = 0

    def begin_batch(self):
        if self.run.in_train:
            self.k += 1
            for i, pg in enumerate(self.run.opt.param_groups):
                pg["lr"] = (i + 1) * 0.01 * self.k


def _lin(pos):
    return 0.1 + 0.8 * pos


def _scheduler(sched):
    """The lesson's ParamScheduler for lr, the checks' own: an exercise is graded beside the
    reference of the exercises before it only, and ParamScheduler comes after Recorder (README,
    "Security"), so Recorder's checks cannot lean on the student's."""

    class _LrScheduler(ProbeCallback):
        _order, name = 1, "lr_scheduler"

        def begin_batch(self):
            if self.run.in_train:
                for pg in self.run.opt.param_groups:
                    pg["lr"] = sched(self.run.n_epochs / self.run.epochs)

    return _LrScheduler


def _fit_recorder(ns, t, epochs=1, sched=_lin, extra=(), **kw):
    learn = learner(t, lr=0.05, **kw)
    run = ns.Runner(cbs=list(extra), cb_funcs=[ns.Recorder, _scheduler(sched)])
    run.fit(epochs, learn)
    return run, learn


def _plotted(plot):
    """Calls `plot()` on a fresh figure; the y data of the last line drawn, as floats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    plt.figure()
    try:
        plot()
        lines = plt.gca().lines
        return [len(lines), [float(v) for v in lines[-1].get_ydata()] if lines else []]
    finally:
        plt.close("all")


# ---- Recorder ----------------------------------------------------------------------------------------


@check("Recorder", "fit(1): lrs are [0.1, 0.5] under a linear schedule", visible=True)
def _(ns, t):
    run, _ = _fit_recorder(ns, t)
    return floats(run.recorder.lrs)


@check("Recorder", "fit(2): lrs are [0.1, 0.3, 0.5, 0.7]", visible=True)
def _(ns, t):
    run, _ = _fit_recorder(ns, t, epochs=2)
    return floats(run.recorder.lrs)


@check("Recorder", "one loss per training batch, the runner's own", visible=True)
def _(ns, t):
    log = _LossLog()
    run, _ = _fit_recorder(ns, t, epochs=2, extra=[log], n_train=12, n_valid=11, vbs=4)
    rec = run.recorder
    return [len(rec.lrs), len(rec.losses), floats(rec.losses), log.losses]


@check("Recorder", "the lr of the last param group", visible=True)
def _(ns, t):
    learn = learner(t, lr=0.05, n_train=12, two_groups=True)
    run = ns.Runner(cbs=[_SetGroups()], cb_funcs=ns.Recorder)
    run.fit(2, learn)
    return floats(run.recorder.lrs)


@check(
    "Recorder",
    "lr and loss curves of a 4-epoch fit under one cycle",
    visible=True,
    plot=runs("what your Recorder recorded", [("training batch", "lr"), ("training batch", "loss")]),
)
def _(ns, t):
    def one_cycle(pos):
        return 0.05 + 0.45 * math.sin(math.pi * pos)

    run, _ = _fit_recorder(ns, t, epochs=4, sched=one_cycle, n_train=48, n_valid=8, bs=4)
    return [floats(run.recorder.lrs), floats(run.recorder.losses)]


@check("Recorder", "begin_fit starts new lists", judge=equal, visible=True)
def _(ns, t):
    learn = learner(t, lr=0.05)
    run = ns.Runner(cb_funcs=ns.Recorder)
    run.fit(2, learn)
    first = [len(run.recorder.lrs), len(run.recorder.losses)]
    run.fit(1, learn)
    return [first, len(run.recorder.lrs), len(run.recorder.losses)]


@check("Recorder", "losses are detached from the graph", judge=equal, visible=True)
def _(ns, t):
    run, _ = _fit_recorder(ns, t)
    return [bool(getattr(o, "requires_grad", False)) for o in run.recorder.losses]


@check("Recorder", "plot_lr draws one line of the recorded lrs", visible=True)
def _(ns, t):
    run, _ = _fit_recorder(ns, t, epochs=2)
    return _plotted(run.recorder.plot_lr)


@check("Recorder", "plot_loss draws one line of the recorded losses", visible=True)
def _(ns, t):
    run, _ = _fit_recorder(ns, t, epochs=2)
    return _plotted(run.recorder.plot_loss)


# ---- ParamScheduler ------------------------------------------------------------------------------------


@check("ParamScheduler", "fit(1): each training batch uses sched(pos), pos = 0, 0.5", visible=True)
def _(ns, t):
    log = _GroupLog()
    learn = learner(t, lr=0.05)
    ns.Runner(cbs=[log], cb_funcs=partial(ns.ParamScheduler, "lr", _lin)).fit(1, learn)
    return log.rows


@check("ParamScheduler", "fit(2): pos = n_epochs/epochs, before each training batch", visible=True)
def _(ns, t):
    positions = []

    def sched(pos):
        positions.append(float(pos))
        return 0.1 + 0.8 * pos

    log = _GroupLog()
    learn = learner(t, lr=0.05)
    ns.Runner(cbs=[log], cb_funcs=partial(ns.ParamScheduler, "lr", sched)).fit(2, learn)
    return [sorted(set(positions)), log.rows]


@check("ParamScheduler", "every param group is set, and keeps the last value", visible=True)
def _(ns, t):
    log = _GroupLog()
    learn = learner(t, lr=0.05, n_train=12, n_valid=11, vbs=4, two_groups=True)
    ns.Runner(cbs=[log], cb_funcs=partial(ns.ParamScheduler, "lr", lambda pos: 0.3 - 0.2 * pos)).fit(3, learn)
    return [log.rows, [float(pg["lr"]) for pg in learn.opt.param_groups]]


@check("ParamScheduler", "runs after the order-0 callbacks at each event", visible=True)
def _(ns, t):
    before = _GroupLog(event="begin_batch")
    learn = learner(t, lr=0.05, two_groups=True)
    ns.Runner(cbs=[ns.ParamScheduler("lr", _lin), before]).fit(2, learn)
    return before.rows


@check("ParamScheduler", "_order 1: after an order-0.5 callback, before an order-1.5 one", judge=equal, visible=True)
def _(ns, t):
    early, late = _GroupLog(event="begin_batch", order=0.5), _GroupLog(event="begin_batch", order=1.5)
    learn = learner(t, lr=0.05)
    # given last, made by cb_funcs: only its _order can put it between the two
    ns.Runner(cbs=[late, early], cb_funcs=partial(ns.ParamScheduler, "lr", _lin)).fit(1, learn)
    return [early.rows, late.rows]


@check("ParamScheduler", "any hyper-parameter: momentum")
def _(ns, t):
    log = _GroupLog(key="momentum")
    learn = learner(t, lr=0.05, two_groups=True, momentum=0.5)
    ns.Runner(cbs=[log], cb_funcs=partial(ns.ParamScheduler, "momentum", lambda pos: 0.9 - 0.5 * pos)).fit(2, learn)
    return [log.rows, list(learn.model.parameters())]


@check("ParamScheduler", "training under a schedule matches the reference")
def _(ns, t):
    log = _LossLog()
    learn = learner(t, lr=0.05, n_train=20, n_valid=7, bs=3, vbs=4)

    def sched(pos):
        return 0.05 + 0.5 * math.sin(math.pi * pos)

    ns.Runner(cbs=[log], cb_funcs=partial(ns.ParamScheduler, "lr", sched)).fit(2, learn)
    return [log.losses, list(learn.model.parameters())]


# ---- annealer ---------------------------------------------------------------------------------------------


def _digits(s, e, p):
    return s * 100 + e * 10 + p


@check("annealer", "annealer(f)(start, end)(pos) == f(start, end, pos)", visible=True)
def _(ns, t):
    sched = ns.annealer(_digits)(1, 2)
    return [float(sched(p)) for p in (0.0, 0.3, 1.0)]


@check("annealer", "f gets start, end and pos, in that order", judge=equal)
def _(ns, t):
    s, e, p = t.rand(), t.rand(), t.rand()
    return list(ns.annealer(lambda *args: list(args))(s, e)(p))


@check("annealer", "schedules from one annealer are independent")
def _(ns, t):
    make = ns.annealer(_digits)
    a, b = make(1, 2), make(3, 4)
    c = make(5, 6)
    return [float(a(0.5)), float(b(0.25)), float(c(0.125)), float(a(0.75))]


@check("annealer", "as a decorator on a def")
def _(ns, t):
    @ns.annealer
    def sched(start, end, pos):
        return start * pos - end

    s, e = t.rand(), t.rand()
    return [float(sched(s, e)(p)) for p in (t.rand(), t.rand(), 0.0)]


@check("annealer", "a tensor pos reaches f unchanged", visible=True)
def _(ns, t):
    sched = ns.annealer(lambda s, e, p: p * s + e)(2.0, 1.0)
    return [sched(t.tensor(0.25)), sched(t.randn(3))]


# ---- the schedules ------------------------------------------------------------------------------------------


def _values(sched, points):
    return [float(sched(p)) for p in points]


def _random_ends(t, positive=False):
    s, e = 4 * t.rand() - 2, 4 * t.rand() - 2
    if positive:
        s, e = abs(s) + 0.01, abs(e) + 0.01
    return s, e


GRID = [i / 100 for i in range(101)]


def _schedule_checks(name, lesson, positive=False):
    """The checks every schedule gets: the lesson's values, the whole curve, random ends and
    positions, tensor pos."""
    (s0, e0), _ = lesson[0]

    @check(
        name, f"the curve {name}({s0}, {e0}) over pos in [0, 1]", visible=True, plot=curve(GRID, f"{name}({s0}, {e0})")
    )
    def _(ns, t):
        return _values(getattr(ns, name)(s0, e0), GRID)

    @check(name, "the lesson's values", visible=True)
    def _(ns, t):
        return [_values(getattr(ns, name)(s, e), ps) for (s, e), ps in lesson]

    @check(name, "random start, end and pos")
    def _(ns, t):
        out = []
        for _ in range(4):
            s, e = _random_ends(t, positive)
            out.append(_values(getattr(ns, name)(s, e), [0.0, t.rand(), t.rand(), t.rand(), 1.0]))
        return out

    @check(name, "a 0-d tensor pos")
    def _(ns, t):
        s, e = _random_ends(t, positive)
        return _values(getattr(ns, name)(s, e), [torch.tensor(p) for p in (0.0, t.rand(), 0.5, 1.0)])

    @check(name, "schedules made from it are independent")
    def _(ns, t):
        a, b = getattr(ns, name)(1.0, 2.0), getattr(ns, name)(3.0, 0.5)
        return [float(a(0.25)), float(b(0.25)), float(a(0.75)), float(b(0.75))]


_schedule_checks("sched_lin", [((1, 2), [0.0, 0.3, 1.0]), ((2, 1e-2), [0.5, 1.0]), ((0.5, -1.5), [0.25, 0.75])])
_schedule_checks("sched_cos", [((1, 2), [0.0, 0.25, 0.5, 0.75, 1.0]), ((0.3, 0.6), [0.5]), ((2, 1e-2), [0.1, 0.9])])
_schedule_checks("sched_no", [((5, 7), [0.0, 0.5, 1.0]), ((-1.5, 2), [0.3])])
_schedule_checks("sched_exp", [((1, 100), [0.0, 0.25, 0.5, 0.75, 1.0]), ((2, 1e-2), [0.5, 1.0])], positive=True)


# ---- combine_scheds -------------------------------------------------------------------------------------------


def _cos(start, end):
    return lambda pos: start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def _line(start, end):
    return lambda pos: start + pos * (end - start)


def _tagged(i):
    """Piece i: 10*i + its local pos, so the value tells both which piece ran and where."""
    return lambda pos: 10 * i + pos


def raises_either(got, want, ctx) -> str | None:
    """Each case must raise AssertionError or ValueError (the probe returns the exception's name)."""
    if not isinstance(got, list) or len(got) != len(want):
        return f"expected {len(want)} results, got {got!r:.80}"
    for i, g in enumerate(got):
        if g not in ("AssertionError", "ValueError"):
            return f"case {i}: expected an AssertionError or ValueError, got {g}"
    return None


def _raised(f):
    try:
        f()
    except Exception as e:
        return type(e).__name__
    return "no exception"


@check("combine_scheds", "the lesson's example, pos 0 to 1", visible=True)
def _(ns, t):
    S = ns.combine_scheds([0.3, 0.7], [_cos(0.3, 0.6), _cos(0.6, 0.2)])
    return _values(S, [0.0, 0.1, 0.15, 0.2999, 0.3, 0.5, 0.65, 0.9, 0.99, 1.0])


@check(
    "combine_scheds",
    "the lesson's example over pos in [0, 1]",
    visible=True,
    plot=curve(GRID, "combine_scheds([0.3, 0.7], [sched_cos(0.3, 0.6), sched_cos(0.6, 0.2)])"),
)
def _(ns, t):
    return _values(ns.combine_scheds([0.3, 0.7], [_cos(0.3, 0.6), _cos(0.6, 0.2)]), GRID)


@check("combine_scheds", "an inner edge starts the next piece; pos 1 ends the last", visible=True)
def _(ns, t):
    S = ns.combine_scheds([0.3, 0.7], [_tagged(1), _tagged(2)])
    return _values(S, [0.0, 0.15, 0.3, 0.65, 1.0])


@check("combine_scheds", "three pieces [0.2, 0.5, 0.3] at and between the edges")
def _(ns, t):
    S = ns.combine_scheds([0.2, 0.5, 0.3], [_line(1.0, 2.0), _line(5.0, 3.0), _line(-1.0, 0.0)])
    points = [0.0, 0.1, 0.2, 0.45, 0.7, 0.85, 1.0] + [t.rand() for _ in range(6)]
    return _values(S, points)


@check("combine_scheds", "each piece sees its local pos from 0 to 1", visible=True)
def _(ns, t):
    S = ns.combine_scheds([0.2, 0.5, 0.3], [_tagged(1), _tagged(2), _tagged(3)])
    return _values(S, [0.05, 0.3, 0.69, 0.75, 0.99] + [t.rand() for _ in range(5)])


@check("combine_scheds", "a 0-d tensor pos")
def _(ns, t):
    S = ns.combine_scheds([0.3, 0.7], [_cos(0.3, 0.6), _cos(0.6, 0.2)])
    return _values(S, [torch.tensor(p) for p in (0.0, 0.5, 0.65, t.rand())])


@check("combine_scheds", "pcts that do not sum to 1 raise", judge=raises_either, visible=True)
def _(ns, t):
    pieces = [_line(0.0, 1.0), _line(1.0, 0.0)]
    cases = ([0.5, 0.4], [0.6, 0.5], [0.3, 0.7 - 1e-4], [0.3, 0.7 - 3e-6], [0.3, 0.7 + 3e-6])  # 1e-6 is the limit
    return [_raised(lambda p=p: ns.combine_scheds(p, pieces)) for p in cases]


@check("combine_scheds", "pcts 5e-7 from 1 are within 1e-6: accepted", visible=True)
def _(ns, t):
    out = []
    for miss in (5e-7, -5e-7):
        S = ns.combine_scheds([0.4, 0.6 + miss], [_tagged(1), _tagged(2)])
        out.append(_values(S, [0.0, 0.2, 0.4, 0.7]))
    return out


@check("combine_scheds", "a piece of 0 is allowed, and never runs", visible=True)
def _(ns, t):
    S = ns.combine_scheds([0.5, 0.0, 0.5], [_tagged(1), _tagged(2), _tagged(3)])
    return _values(S, [0.0, 0.25, 0.5, 0.75])


@check("combine_scheds", "pcts as a tuple, as listify takes them", visible=True)
def _(ns, t):
    S = ns.combine_scheds((0.25, 0.75), [_tagged(1), _tagged(2)])
    return _values(S, [0.0, 0.125, 0.25, 0.5 + t.rand() / 2])


@check("combine_scheds", "negative pcts raise", judge=raises_either)
def _(ns, t):
    return [_raised(lambda: ns.combine_scheds([1.2, -0.2], [_line(0.0, 1.0), _line(1.0, 0.0)]))]


@check("combine_scheds", "[0.1]*10 sums to 1 within 1e-6: accepted", visible=True)
def _(ns, t):
    S = ns.combine_scheds([0.1] * 10, [(lambda p, i=i: i * 10 + p) for i in range(10)])
    return _values(S, [0.0, 0.05, 0.55, 0.95, 1.0])


# ---- cos_1cycle_anneal -------------------------------------------------------------------------------------------


@check("cos_1cycle_anneal", "two pieces; the lesson's values", visible=True)
def _(ns, t):
    pieces = list(ns.cos_1cycle_anneal(0.3, 0.6, 0.2))
    return [len(pieces)] + [[float(s(p)) for s in pieces] for p in (0.0, 0.25, 0.5, 1.0)]


@check("cos_1cycle_anneal", "random start, high and end")
def _(ns, t):
    out = []
    for _ in range(3):
        pieces = list(ns.cos_1cycle_anneal(t.rand(), 1 + t.rand(), t.rand() / 10))
        out.append([[float(s(p)) for s in pieces] for p in (0.0, t.rand(), t.rand(), 1.0)])
    return out


@check(
    "cos_1cycle_anneal",
    "one cycle (0.1, 0.9, 0.01) at [0.25, 0.75] over pos in [0, 1]",
    visible=True,
    plot=curve(GRID, "combine_scheds([0.25, 0.75], cos_1cycle_anneal(0.1, 0.9, 0.01))"),
)
def _(ns, t):
    return _values(ns.combine_scheds([0.25, 0.75], ns.cos_1cycle_anneal(0.1, 0.9, 0.01)), GRID)


@check("cos_1cycle_anneal", "combined into one cycle")
def _(ns, t):
    S = ns.combine_scheds([0.25, 0.75], ns.cos_1cycle_anneal(0.1, 0.9, 0.01))
    return _values(S, [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
