"""Checks of 04_callbacks: the Runner's events and stop rules, AvgStats, TestCallback.

The probes train the tiny problem of `tiny` and use their own callbacks:
plain classes with `_order`, `name` and `set_runner`, whose event methods
record what they see. The student's Runner builds its
TrainEvalCallback from the notebook (`ns.TrainEvalCallback`, given code).
"""

from __future__ import annotations

import re
from functools import partial
from types import SimpleNamespace

import torch

from . import Registry, floats
from .judges import equal
from .tiny import ProbeCallback, Spy, learner

check = Registry()


EVENTS = [
    "begin_fit",
    "begin_epoch",
    "begin_batch",
    "after_pred",
    "after_loss",
    "after_backward",
    "after_step",
    "after_batch",
    "begin_validate",
    "after_epoch",
    "after_fit",
]
TRAIN_BATCH = EVENTS[2:8]


# ---- probe callbacks ---------------------------------------------------------------------------


class _Tracer(ProbeCallback):
    """Records (event, run.in_train, model.training, grad enabled, run.n_epochs) at every event."""

    name = "tracer"

    def __init__(self, model, order=0):
        self.model_, self._order, self.rows = model, order, []

    def record(self, event):
        run = self.run
        in_train = None if event == "begin_fit" else getattr(run, "in_train", None)
        n_epochs = getattr(run, "n_epochs", None)
        self.rows.append(
            (
                event,
                None if in_train is None else bool(in_train),
                self.model_.training,
                torch.is_grad_enabled(),
                None if n_epochs is None else float(n_epochs),
            )
        )

    @property
    def events(self):
        return [r[0] for r in self.rows]


for _ev in EVENTS:
    setattr(_Tracer, _ev, lambda self, _ev=_ev: self.record(_ev))


class _Say(ProbeCallback):
    """Returns `answer` from `event`, `times` times at most (forever when None)."""

    def __init__(self, event, answer=True, times=None, when_training=None):
        self.event, self.answer, self.times, self.when_training = event, answer, times, when_training

    def __getattr__(self, k):
        if k != self.__dict__.get("event"):
            raise AttributeError(k)
        return self._fire

    def _fire(self):
        if self.when_training is not None and bool(getattr(self.run, "in_train", None)) != self.when_training:
            return None
        if self.times is not None:
            if self.times <= 0:
                return None
            self.times -= 1
        return self.answer


class _Stopper(ProbeCallback):
    """Sets run.stop in after_batch of every training batch."""

    def after_batch(self):
        if self.run.in_train:
            self.run.stop = True


class _Raise(ProbeCallback):
    def __init__(self, event):
        self.event = event

    def __getattr__(self, k):
        if k != self.__dict__.get("event"):
            raise AttributeError(k)

        def boom():
            raise ValueError("a callback failed")

        return boom


class _Log(ProbeCallback):
    """Appends (tag, event) to a shared list for the events it is given; returns `answer`."""

    def __init__(
        self,
        tag,
        order,
        log,
        events=("begin_fit", "begin_epoch", "begin_validate", "after_epoch", "after_fit"),
        answer=None,
    ):
        self.tag, self._order, self.log, self.watch, self.answer = tag, order, log, events, answer

    def __getattr__(self, k):
        if k in self.__dict__.get("watch", ()):
            return lambda: (self.log.append([self.tag, k]), self.answer)[1]
        raise AttributeError(k)


def _trace(ns, t, cbs_before=(), epochs=1, **kw):
    learn = learner(t, **kw)
    tracer = _Tracer(learn.model)
    run = ns.Runner(cbs=[*cbs_before, tracer])
    run.fit(epochs, learn)
    return run, tracer, learn


# ---- Runner: the event trace --------------------------------------------------------------------


@check("Runner", "fit(1): the 21 events and the state at each", judge=equal, visible=True)
def _(ns, t):
    _, tracer, _ = _trace(ns, t)
    return tracer.rows


@check("Runner", "fit(2): 2 + E*(3 + 6T + 4V) events, in order", judge=equal, visible=True)
def _(ns, t):
    _, tracer, _ = _trace(ns, t, epochs=2, n_train=12, n_valid=11)
    return [len(tracer.rows), tracer.rows]


@check("Runner", "the stop flag ends the training pass; validation still runs", judge=equal, visible=True)
def _(ns, t):
    run, tracer, _ = _trace(ns, t, cbs_before=[_Stopper()], epochs=2)
    return [tracer.events, bool(run.stop)]


class _StopAtLastBatch(ProbeCallback):
    """Sets run.stop in after_batch of the last training batch: the pass ends by running out of
    batches, with the flag still set."""

    def after_batch(self):
        if self.run.in_train and self.run.n_iter % self.run.iters == 0:
            self.run.stop = True


@check("Runner", "a stop flag set at the last training batch is reset too: validation runs", judge=equal, visible=True)
def _(ns, t):
    run, tracer, learn = _trace(ns, t, cbs_before=[_StopAtLastBatch()], epochs=2)
    return [tracer.events, learn.opt.steps, bool(run.stop)]


class _StopAtFirstEpoch(ProbeCallback):
    """Sets run.stop in begin_epoch of the first epoch: that training pass ends before its first batch."""

    def begin_epoch(self):
        if self.run.epoch == 0:
            self.run.stop = True


@check("Runner", "a stop flag set before a pass ends that pass only", judge=equal, visible=True)
def _(ns, t):
    run, tracer, learn = _trace(ns, t, cbs_before=[_StopAtFirstEpoch()], epochs=2)
    return [tracer.events, learn.opt.steps, bool(run.stop)]


@check("Runner", "a truthy begin_batch from an earlier callback", judge=equal, visible=True)
def _(ns, t):
    _, tracer, learn = _trace(ns, t, cbs_before=[_Say("begin_batch", answer=1)])
    return [tracer.events, learn.opt.steps]


@check("Runner", "a True begin_epoch skips training, not validation", judge=equal, visible=True)
def _(ns, t):
    _, tracer, learn = _trace(ns, t, cbs_before=[_Say("begin_epoch", times=1)], epochs=2)
    return [tracer.rows, learn.opt.steps]


@check("Runner", "a True begin_validate skips validation", judge=equal, visible=True)
def _(ns, t):
    _, tracer, _ = _trace(ns, t, cbs_before=[_Say("begin_validate")], epochs=2)
    return tracer.rows


@check("Runner", "a True after_epoch stops fitting", judge=equal, visible=True)
def _(ns, t):
    _, tracer, learn = _trace(ns, t, cbs_before=[_Say("after_epoch")], epochs=3)
    return [tracer.events, learn.opt.steps]


@check("Runner", "a True begin_fit skips everything but after_fit", judge=equal, visible=True)
def _(ns, t):
    run, tracer, learn = _trace(ns, t, cbs_before=[_Say("begin_fit")], epochs=2)
    return [tracer.events, learn.opt.steps, getattr(run, "learn", None) is None]


@check("Runner", "a True after_pred, after_loss or after_backward ends the batch there", judge=equal, visible=True)
def _(ns, t):
    out = []
    for event in ("after_pred", "after_loss", "after_backward"):
        _, tracer, learn = _trace(ns, t, cbs_before=[_Say(event, times=1, when_training=True)])
        out.append([tracer.events, learn.opt.steps])
    return out


@check("Runner", "after_fit fires even when a callback raises", judge=equal, visible=True)
def _(ns, t):
    learn = learner(t)
    tracer = _Tracer(learn.model)
    run = ns.Runner(cbs=[_Raise("begin_epoch"), tracer])
    try:
        run.fit(2, learn)
        raised = "no exception"
    except Exception as e:
        raised = type(e).__name__
    return [tracer.events, raised, getattr(run, "learn", None) is None]


# ---- Runner: __call__, construction, state -------------------------------------------------------


@check("Runner", "callbacks run sorted by _order, ties in list order", judge=equal, visible=True)
def _(ns, t):
    log = []
    cbs = [_Log("a", 2, log), _Log("b", 0, log), _Log("c", -1, log), _Log("d", 0, log), _Log("e", 1, log)]
    ns.Runner(cbs=cbs).fit(1, learner(t))
    return log


@check(
    "Runner",
    "__call__ returns True at the first truthy answer; later callbacks are not called",
    judge=equal,
    visible=True,
)
def _(ns, t):
    out = []
    for answers in ([None, None, None], [None, 1, None], [True, None, True], [0, "", None]):
        log = []
        cbs = [
            _Log(tag, order, log, events=("ping",), answer=a)
            for tag, order, a in zip("xyz", (3, 0, 1), answers, strict=True)
        ]
        run = ns.Runner(cbs=cbs)
        for cb in run.cbs:
            cb.set_runner(run)
        res = run("ping")
        out.append([bool(res), [tag for tag, _ in log]])
    return out


class _FactoryA(ProbeCallback):
    name = "probe_a"


class _FactoryB(ProbeCallback):
    name = "probe_b"

    def __init__(self, value):
        self.value = value


@check("Runner", "cb_funcs: each factory called once, kept under its name", judge=equal, visible=True)
def _(ns, t):
    made = []

    def factory():
        made.append(1)
        return _FactoryA()

    plain = ProbeCallback()
    run = ns.Runner(cbs=[plain], cb_funcs=[factory, partial(_FactoryB, 7)])
    single = ns.Runner(cbs=plain, cb_funcs=_FactoryA)
    return [
        [type(c).__name__ for c in run.cbs],
        len(made),
        run.probe_a is run.cbs[2],
        run.probe_b is run.cbs[3],
        run.probe_b.value,
        run.cbs[1] is plain,
        [type(c).__name__ for c in single.cbs],
        single.probe_a is single.cbs[2],
    ]


@check("Runner", "a new Runner: TrainEvalCallback first, stop False", judge=equal, visible=True)
def _(ns, t):
    run, bare = ns.Runner(cbs=[ProbeCallback(), ProbeCallback()]), ns.Runner()
    return [
        [type(c).__name__ for c in run.cbs],
        [type(c).__name__ for c in bare.cbs],
        getattr(run, "stop", None),
        isinstance(run.cbs[0], ns.TrainEvalCallback),
    ]


@check("Runner", "after fit: learn is None, n_iter, n_epochs, iters", judge=equal)
def _(ns, t):
    learn = learner(t, n_train=12, n_valid=11)
    run = ns.Runner()
    run.fit(2, learn)
    return [getattr(run, "learn", "missing") is None, run.n_iter, float(run.n_epochs), run.iters, run.epochs, run.epoch]


class _Seen(ProbeCallback):
    """What callbacks read from the runner: xb, yb, pred, loss, and whether validation keeps a graph."""

    def __init__(self):
        self.rows = []

    def begin_fit(self):
        loss = self.run.loss
        self.rows.append(["begin_fit", torch.is_tensor(loss), float(loss)])

    def after_loss(self):
        r = self.run
        self.rows.append(
            [
                "after_loss",
                bool(r.in_train),
                r.xb,
                r.yb,
                r.pred,
                r.loss,
                r.pred.requires_grad,
                r.loss.requires_grad,
                r.epoch,
                r.epochs,
            ]
        )


@check("Runner", "callbacks see xb, yb, pred, loss; loss starts at tensor(0.); no graph in validation", visible=True)
def _(ns, t):
    seen = _Seen()
    ns.Runner(cbs=[seen]).fit(2, learner(t))
    return seen.rows


@check("Runner", "weights after fit(2) match the reference")
def _(ns, t):
    learn = learner(t, n_train=20, n_valid=7, bs=6, vbs=4, lr=0.3, sizes=(6, 8, 4))
    ns.Runner().fit(2, learn)
    return [list(learn.model.parameters()), learn.opt.steps]


@check("Runner", "a True after_step skips zero_grad: gradients accumulate", visible=True)
def _(ns, t):
    learn = learner(t, n_train=12, lr=0.2)
    ns.Runner(cbs=[_Say("after_step")]).fit(1, learn)
    return [list(learn.model.parameters()), [p.grad for p in learn.model.parameters()], learn.opt.steps]


@check("Runner", "validation runs in eval mode under no_grad", judge=equal, visible=True)
def _(ns, t):
    learn = learner(t, n_valid=11)
    learn.model = spy = Spy(learn.model)
    ns.Runner().fit(2, learn)
    return [[training, grad, tracked] for training, grad, _, tracked in spy.seen]


# ---- AvgStats ----------------------------------------------------------------------------------


def _batch(t, bn, loss, c=3):
    """A fake runner after one batch: what AvgStats.accumulate reads."""
    pred = t.randn(bn, c)
    return SimpleNamespace(xb=t.randn(bn, 2), yb=t.randint(c, bn), pred=pred, loss=t.tensor(float(loss)))


def _mean_pred(pred, yb):
    return pred.mean()


def _top_is(pred, yb):
    return (pred.argmax(1) == yb).float().mean()


@check("AvgStats", "1000 + 1 samples: the mean over samples, not of batch means", visible=True)
def _(ns, t):
    stats = ns.AvgStats([], False)
    stats.reset()
    stats.accumulate(_batch(t, 1000, 1.0))
    stats.accumulate(_batch(t, 1, 3.0))
    return [stats.count, floats(stats.all_stats), floats(stats.avg_stats)]


@check("AvgStats", "keeps in_train", judge=equal, visible=True)
def _(ns, t):
    return [bool(ns.AvgStats([], True).in_train), bool(ns.AvgStats([_top_is], False).in_train)]


@check("AvgStats", "a metric is weighted by batch size too", visible=True)
def _(ns, t):
    stats = ns.AvgStats([_top_is], True)
    stats.reset()
    for bn in (1000, 1):
        b = _batch(t, bn, t.rand())
        if bn == 1:
            b.yb = b.pred.argmax(1)
        stats.accumulate(b)
    return [stats.count, floats(stats.all_stats), floats(stats.avg_stats)]


@check("AvgStats", "several metrics, in order, over unequal batches")
def _(ns, t):
    stats = ns.AvgStats([_top_is, _mean_pred], False)
    stats.reset()
    for bn in (7, 3, 5, 1):
        stats.accumulate(_batch(t, bn, 4 * t.rand()))
    return [floats(stats.all_stats), floats(stats.avg_stats)]


@check("AvgStats", "a single metric, not in a list", visible=True)
def _(ns, t):
    stats = ns.AvgStats(_mean_pred, True)
    stats.reset()
    for bn in (4, 2):
        stats.accumulate(_batch(t, bn, t.rand()))
    return floats(stats.avg_stats)


@check("AvgStats", "reset empties the loss, the count and the metrics", visible=True)
def _(ns, t):
    stats = ns.AvgStats([_top_is, _mean_pred], True)
    stats.reset()
    for bn in (6, 2):
        stats.accumulate(_batch(t, bn, 2 * t.rand()))
    stats.reset()
    # Not all_stats of an empty AvgStats: the lesson's is [tot_loss.item()] + ..., and tot_loss is
    # the float 0. until a batch comes (its __repr__ returns "" then, for that very reason). One
    # batch after the reset shows what the reset emptied.
    empty = stats.count
    stats.accumulate(_batch(t, 3, t.rand()))
    return [empty, stats.count, floats(stats.all_stats), floats(stats.avg_stats)]


@check("AvgStats", "repr: empty before any batch, then 'train: ...' or 'valid: ...'", judge=equal, visible=True)
def _(ns, t):
    out = []
    for in_train in (True, False):
        stats = ns.AvgStats([_top_is], in_train)
        stats.reset()
        empty = repr(stats)
        stats.accumulate(_batch(t, 4, t.rand()))
        out.append([empty, repr(stats).split(":")[0]])
    return out


def _numbers(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"-?\d+(?:\.\d*)?(?:e-?\d+)?", text)]


@check("AvgStats", "repr after a batch shows the averages, after 'train: ' or 'valid: '", judge=equal, visible=True)
def _(ns, t):
    # The numbers in the repr against the AvgStats' own avg_stats (4 digits: a tensor prints so).
    out = []
    for in_train, metrics in ((True, [_top_is]), (False, [_top_is, _mean_pred])):
        stats = ns.AvgStats(metrics, in_train)
        stats.reset()
        for bn in (5, 3):
            stats.accumulate(_batch(t, bn, 2 + t.rand()))
        text = repr(stats)
        head, _, tail = text.partition(":")
        shown, avg = _numbers(tail), floats(stats.avg_stats)
        same = len(shown) == len(avg) and all(
            abs(a - b) <= 1e-3 * max(1.0, abs(b)) for a, b in zip(shown, avg, strict=False)
        )
        out.append([head, same])
    return out


@check("AvgStats", "all_stats' loss is a Python float", judge=equal, visible=True)
def _(ns, t):
    stats = ns.AvgStats([_top_is], True)
    stats.reset()
    stats.accumulate(_batch(t, 5, 0.5))
    return [type(stats.all_stats[0]).__name__, len(stats.all_stats)]


@check("AvgStats", "inside AvgStatsCallback in a real fit: counts and averages")
def _(ns, t):
    learn = learner(t, n_train=10, n_valid=11, bs=4, vbs=8)
    run = ns.Runner(cb_funcs=partial(ns.AvgStatsCallback, [ns.accuracy]))
    run.fit(2, learn)
    tr, va = run.avg_stats.train_stats, run.avg_stats.valid_stats
    return [tr.count, va.count, floats(tr.avg_stats), floats(va.avg_stats)]


# ---- TestCallback ------------------------------------------------------------------------------------


class _ValidCount(ProbeCallback):
    """Counts validation batches."""

    def __init__(self):
        self.valid = 0

    def after_batch(self):
        if not self.run.in_train:
            self.valid += 1


def _test_fit(ns, t, n_train, bs=4, n_valid=11, vbs=4, via_funcs=False, epochs=1):
    learn = learner(t, n_train=n_train, n_valid=n_valid, bs=bs, vbs=vbs)
    counter = _ValidCount()
    run = (
        ns.Runner(cbs=[counter], cb_funcs=ns.TestCallback) if via_funcs else ns.Runner(cbs=[ns.TestCallback(), counter])
    )
    run.fit(epochs, learn)
    return run, learn, counter


@check("TestCallback", "16 training batches: exactly 10 optimizer steps", judge=equal, visible=True)
def _(ns, t):
    _, learn, _ = _test_fit(ns, t, n_train=64)
    return learn.opt.steps


@check("TestCallback", "5 training batches: 5 steps", judge=equal, visible=True)
def _(ns, t):
    _, learn, _ = _test_fit(ns, t, n_train=20)
    return learn.opt.steps


@check("TestCallback", "10 and 11 training batches: 10 steps", judge=equal)
def _(ns, t):
    return [_test_fit(ns, t, n_train=n)[1].opt.steps for n in (40, 44, 41)]


@check("TestCallback", "validation still runs after the stop", judge=equal, visible=True)
def _(ns, t):
    _, learn, counter = _test_fit(ns, t, n_train=60, n_valid=22, vbs=4)
    return [learn.opt.steps, counter.valid]


@check("TestCallback", "validation is not cut short on a short training pass", judge=equal, visible=True)
def _(ns, t):
    _, learn, counter = _test_fit(ns, t, n_train=12, n_valid=56, vbs=4)
    return [learn.opt.steps, counter.valid]


@check("TestCallback", "made by cb_funcs, it stops too", judge=equal)
def _(ns, t):
    _, learn, counter = _test_fit(ns, t, n_train=52, via_funcs=True)
    return [learn.opt.steps, counter.valid]


@check("TestCallback", "the model after the stop matches the reference")
def _(ns, t):
    _, learn, _ = _test_fit(ns, t, n_train=48)
    return list(learn.model.parameters())


@check("TestCallback", "the events of the stopped training pass", judge=equal)
def _(ns, t):
    learn = learner(t, n_train=56, n_valid=5, bs=4, vbs=4)
    tracer = _Tracer(learn.model)
    ns.Runner(cbs=[ns.TestCallback(), tracer]).fit(1, learn)
    return tracer.events
