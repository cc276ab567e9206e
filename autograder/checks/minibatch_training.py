"""Checks of 03_minibatch_training: losses, DummyModule, Optimizer, the data pipeline, fit."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from ..wire import Array
from . import Registry, tiny
from .judges import close, describe_value, equal
from .plots import bars

check = Registry()
f64 = torch.float64


# ---- judges for behaviour that has no single right output -------------------------------


def permutation_batches(got, want, ctx) -> str | None:
    """Shuffled batches: the reference's batch sizes, and together every index exactly once."""
    if not isinstance(got, list) or not all(isinstance(b, list) for b in got):
        return f"expected a list of index batches, got {type(got).__name__}"
    sizes, want_sizes = [len(b) for b in got], [len(b) for b in want]
    if sizes != want_sizes:
        return f"expected batch sizes {want_sizes}, got {sizes}"
    flat = [i for b in got for i in b]
    if sorted(flat) != list(range(len(flat))):
        return "the batches together are not a permutation of the dataset's indices"
    if flat == list(range(len(flat))):
        return "the indices came back in order: shuffle=True must shuffle"
    starts = [0, *sizes[:-1]]
    blocks = [list(range(a, a + n)) for a, n in zip(itertools.accumulate(starts), sizes, strict=True)]
    if [sorted(b) for b in got] == blocks:
        return "each batch holds the same indices as without shuffling: items must move between batches too"
    return None


def two_different_permutations(got, want, ctx) -> str | None:
    """Two passes over a shuffling sampler: each a permutation, and not the same one."""
    if not isinstance(got, list) or len(got) != 2:
        return f"expected two passes, got {type(got).__name__}"
    for p in got:
        if sorted(p) != list(range(len(want[0]))):
            return "a pass is not a permutation of the dataset's indices"
    if got[0] == got[1]:
        return "both passes gave the same order: draw a fresh permutation every time you iterate"
    return None


def zeros_or_none(got, want, ctx) -> str | None:
    """After zero_grad each gradient may be zeros or None."""
    if not isinstance(got, list) or len(got) != len(want):
        return f"expected {len(want)} gradients, got {describe_value(got)}"
    for i, g in enumerate(got):
        if g is not None and (not hasattr(g, "values") or g.values.any()):
            return f"gradient {i} is not zero after zero_grad"
    return None


# ---- logsumexp ---------------------------------------------------------------------------


@check("logsumexp", "lesson example [[1,2,3],[0,0,0]]", oracle=True, visible=True)
def _(ns, t):
    return ns.logsumexp(t.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))


@check("logsumexp", "random rows match torch", oracle=True)
def _(ns, t):
    return ns.logsumexp(t.randn(7, 13) * 4)


@check("logsumexp", "float64 stays float64", oracle=True)
def _(ns, t):
    return ns.logsumexp(t.randn(5, 9, dtype=f64) * 4)


@check("logsumexp", "large inputs stay finite", oracle=True, visible=True)
def _(ns, t):
    return ns.logsumexp(t.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [1e4, 1e4, -5.0]]))


@check("logsumexp", "huge random logits stay finite", oracle=True)
def _(ns, t):
    return ns.logsumexp(t.randn(6, 10) * 1e4)


@check("logsumexp", "a single column", oracle=True)
def _(ns, t):
    return ns.logsumexp(t.randn(4, 1) + t.tensor([[0.0], [200.0], [-200.0], [0.0]]))


# ---- log_softmax ---------------------------------------------------------------------------


@check("log_softmax", "lesson example [[1,2,3],[0,0,0]]", oracle=True, visible=True)
def _(ns, t):
    return ns.log_softmax(t.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))


@check("log_softmax", "random rows match F.log_softmax", oracle=True)
def _(ns, t):
    return ns.log_softmax(t.randn(8, 10) * 3)


@check("log_softmax", "float64 stays float64", oracle=True)
def _(ns, t):
    return ns.log_softmax(t.randn(5, 7, dtype=f64))


@check("log_softmax", "huge logits stay finite", oracle=True, visible=True)
def _(ns, t):
    return ns.log_softmax(t.tensor([[1000.0, 0.0], [-1000.0, 0.0], [1e4, -1e4]]))


@check("log_softmax", "adding a constant to a row changes nothing", oracle=True)
def _(ns, t):
    x = t.randn(4, 6, dtype=f64)  # float64: in float32, x + 500 itself rounds away the 5th digit
    return [ns.log_softmax(x), ns.log_softmax(x + 500.0)]


# ---- nll ---------------------------------------------------------------------------------


@check("nll", "lesson example gives 0.7531", oracle=True, visible=True)
def _(ns, t):
    x = F.log_softmax(t.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), -1)
    return ns.nll(x, t.tensor([2, 0]))


@check("nll", "random batch matches F.nll_loss", oracle=True)
def _(ns, t):
    return ns.nll(F.log_softmax(t.randn(16, 10), -1), t.randint(10, 16))


@check("nll", "float64 stays float64", oracle=True)
def _(ns, t):
    return ns.nll(F.log_softmax(t.randn(9, 4, dtype=f64), -1), t.randint(4, 9))


@check("nll", "a batch of one", oracle=True)
def _(ns, t):
    return ns.nll(F.log_softmax(t.randn(1, 5), -1), t.randint(5, 1))


@check("nll", "gradient matches F.nll_loss", oracle=True)
def _(ns, t):
    x = F.log_softmax(t.randn(6, 5), -1).detach().requires_grad_()
    ns.nll(x, t.randint(5, 6)).backward()
    return x.grad


@check("nll", "targets that leave out the last classes", oracle=True, visible=True)
def _(ns, t):
    # Whatever the seed, classes 3 and 4 never appear: a target one-hot encoded without the number
    # of classes comes out too narrow here.
    return ns.nll(F.log_softmax(t.randn(6, 5), -1), t.tensor([0, 2, 1, 0, 2, 2]))


# ---- accuracy --------------------------------------------------------------------------------


@check("accuracy", "lesson example gives 2/3 (a tie goes to the first index)", visible=True)
def _(ns, t):
    return float(ns.accuracy(t.tensor([[0.1, 0.9], [0.8, 0.2], [0.5, 0.5]]), t.tensor([1, 1, 0])))


def float_scalar_tensor(got, want, ctx) -> str | None:
    """A one-element tensor of any float dtype, on the input's device, with the reference's value."""
    if not isinstance(got, Array) or not got.dtype.startswith(("float", "bfloat")) or got.values.size != 1:
        return f"expected a float scalar tensor, got {describe_value(got)}"
    if got.device.split(":")[0] != want.device.split(":")[0]:
        return f"expected a tensor on {want.device}, got one on {got.device} (keep data on the input's device)"
    return close(float(got.values.reshape(())), float(want.values.reshape(())), ctx)


@check("accuracy", "random batch, as a float tensor on the input's device", judge=float_scalar_tensor, visible=True)
def _(ns, t):
    return ns.accuracy(t.randn(50, 10), t.randint(10, 50))


@check("accuracy", "all right and all wrong")
def _(ns, t):
    out = t.randn(8, 3)
    return [float(ns.accuracy(out, out.argmax(1))), float(ns.accuracy(out, (out.argmax(1) + 1) % 3))]


@check("accuracy", "targets and predictions that leave out the last classes", visible=True)
def _(ns, t):
    out = t.randn(6, 5) + t.tensor([[9.0, 0, 0, 0, 0]] * 3 + [[0, 9.0, 0, 0, 0]] * 3)  # argmax 0 or 1
    return float(ns.accuracy(out, t.tensor([0, 1, 0, 1, 1, 2])))


# ---- DummyModule ------------------------------------------------------------------------------


def _dummy(ns, t, n_in=5, nh=4, n_out=3):
    t.manual_seed()
    m = ns.DummyModule(n_in, nh, n_out)
    with torch.no_grad():
        for layer in (m.l1, m.l2):
            layer.to(t.device)
            layer.weight.copy_(t.randn(*layer.weight.shape))
            layer.bias.copy_(t.randn(*layer.bias.shape))
    return m


@check("DummyModule", "registers l1 and l2 in _modules, in order", judge=equal, visible=True)
def _(ns, t):
    return list(ns.DummyModule(5, 4, 3)._modules)


@check("DummyModule", "parameters() yields the layers' tensors in order", visible=True)
def _(ns, t):
    m = _dummy(ns, t)
    return list(m.parameters())


@check("DummyModule", "parameters() are the layers' own tensors", judge=equal)
def _(ns, t):
    m = _dummy(ns, t)
    mine = [m.l1.weight, m.l1.bias, m.l2.weight, m.l2.bias]
    # Not strict: a parameters() that yields too few or too many is told by the count, not an error here.
    return [p is q for p, q in zip(m.parameters(), mine, strict=False)] + [len(list(m.parameters()))]


@check("DummyModule", "a public attribute is registered, an underscore one is not", judge=equal, visible=True)
def _(ns, t):
    m = ns.DummyModule(3, 2, 2)
    m.extra = nn.Linear(2, 2)
    m._private = nn.Linear(2, 2)
    return [list(m._modules), len(list(m.parameters()))]


@check("DummyModule", "every public attribute is registered, not only modules", judge=equal, visible=True)
def _(ns, t):
    m = ns.DummyModule(3, 2, 2)
    m.n_out = 2
    m.name = "dummy"
    m._cache = None
    return list(m._modules)


@check("DummyModule", "two instances built one after the other keep their own modules", judge=equal, visible=True)
def _(ns, t):
    a = ns.DummyModule(5, 4, 3)
    b = ns.DummyModule(2, 6, 1)
    b.extra = nn.Linear(1, 1)
    own = [
        [p is q for p, q in zip(m.parameters(), [m.l1.weight, m.l1.bias, m.l2.weight, m.l2.bias], strict=False)]
        for m in (a, b)
    ]
    return [list(a._modules), list(b._modules), own, len(list(a.parameters()))]


@check("DummyModule", "calling it computes l2(relu(l1(x)))", visible=True)
def _(ns, t):
    return _dummy(ns, t)(t.randn(7, 5))


@check("DummyModule", "repr shows the registered modules", judge=equal, visible=True)
def _(ns, t):
    return repr(ns.DummyModule(6, 5, 2))


# ---- Optimizer --------------------------------------------------------------------------------


def _linears(t, sizes=(3, 4, 2)):
    """Linear layers only, standard normal weights and biases: model[i] is the i-th Linear."""
    return tiny.model(t, sizes, relu=False, std=(1, 1))


def _backward(model, t, n=5):
    x = t.randn(n, model[0].in_features, dtype=model[0].weight.dtype)
    (model(x) ** 2).mean().backward()


@check("Optimizer", "one step matches torch.optim.SGD", oracle=True, visible=True)
def _(ns, t):
    model = _linears(t)
    _backward(model, t)
    ns.Optimizer(model.parameters(), lr=0.037).step()
    return list(model.parameters())


@check("Optimizer", "steps with zero_grad between match SGD, from a generator of params", oracle=True)
def _(ns, t):
    # float64: each step feeds the next, so in float32 one rounding step apart (p -= lr * g against
    # torch's fused p.add_(g, alpha=-lr)) grew past the tolerance for 2 seeds in 60 (100-159).
    model = _linears(t).double()
    opt = ns.Optimizer(model.parameters(), lr=0.21)  # a generator, consumed once
    for _ in range(3):
        _backward(model, t)
        opt.step()
        opt.zero_grad()
    return list(model.parameters())


@check("Optimizer", "the default learning rate is 0.5", oracle=True, visible=True)
def _(ns, t):
    model = _linears(t)
    _backward(model, t)
    ns.Optimizer(model.parameters()).step()
    return list(model.parameters())


@check("Optimizer", "zero_grad zeroes its own gradients", judge=zeros_or_none, visible=True)
def _(ns, t):
    model = _linears(t)
    _backward(model, t)
    opt = ns.Optimizer(model.parameters(), lr=0.1)
    opt.step()
    opt.zero_grad()
    return [p.grad for p in model.parameters()]


@check("Optimizer", "a parameter left out keeps its gradient and value", visible=True)
def _(ns, t):
    model = _linears(t)
    _backward(model, t)
    opt = ns.Optimizer(model[0].parameters(), lr=0.1)
    opt.step()
    opt.zero_grad()
    return [list(model[1].parameters()), [p.grad for p in model[1].parameters()]]


@check("Optimizer", "step updates in place and is not recorded by autograd", judge=equal, visible=True)
def _(ns, t):
    model = _linears(t)
    _backward(model, t)
    before = [(p, p.data_ptr()) for p in model.parameters()]
    ns.Optimizer(model.parameters(), lr=0.1).step()
    after = list(model.parameters())
    return [
        (p is q, p.data_ptr() == ptr, p.is_leaf, p.requires_grad, p.grad_fn is None)
        for (p, ptr), q in zip(before, after, strict=True)
    ]


# ---- Dataset -------------------------------------------------------------------------------


def _xy(t, n=10, d=3):
    return t.randn(n, d), torch.arange(n).to(t.device)


@check("Dataset", "len is the number of samples", judge=equal, visible=True)
def _(ns, t):
    return [len(ns.Dataset(*_xy(t, 10))), len(ns.Dataset(*_xy(t, 1)))]


@check("Dataset", "an int index gives (x[i], y[i])", oracle=True, visible=True)
def _(ns, t):
    ds = ns.Dataset(*_xy(t))
    return [tuple(ds[3]), tuple(ds[-1])]


@check("Dataset", "a slice gives a batch", oracle=True, visible=True)
def _(ns, t):
    return tuple(ns.Dataset(*_xy(t))[2:7])


@check("Dataset", "a tensor of indices gives a batch", oracle=True)
def _(ns, t):
    return tuple(ns.Dataset(*_xy(t))[t.tensor([0, 4, 9])])


# ---- Sampler -------------------------------------------------------------------------------


def _ds(ns, t, n):
    return ns.Dataset(*_xy(t, n, 2))


@check("Sampler", "in order without shuffle: [0,1,2],[3,4,5],[6,7,8],[9]", oracle=True, visible=True)
def _(ns, t):
    return list(ns.Sampler(_ds(ns, t, 10), 3))


@check("Sampler", "a batch size that divides the dataset: 12 in batches of 4", oracle=True, visible=True)
def _(ns, t):
    return list(ns.Sampler(_ds(ns, t, 12), 4))


@check("Sampler", "1001 samples in batches of 1000", judge=equal)
def _(ns, t):
    return [len(b) for b in ns.Sampler(_ds(ns, t, 1001), 1000)]


@check("Sampler", "shuffled batches hold every index once", judge=permutation_batches, visible=True)
def _(ns, t):
    t.manual_seed()
    return [[int(i) for i in b] for b in ns.Sampler(_ds(ns, t, 50), 7, shuffle=True)]


@check("Sampler", "a fresh permutation on every pass", judge=two_different_permutations, visible=True)
def _(ns, t):
    t.manual_seed()
    s = ns.Sampler(_ds(ns, t, 40), 8, shuffle=True)
    return [[int(i) for b in s for i in b] for _ in range(2)]


# ---- collate -------------------------------------------------------------------------------


@check("collate", "stacks (x, y) pairs into (xs, ys)", oracle=True, visible=True)
def _(ns, t):
    x, y = _xy(t, 5)
    return list(ns.collate([(x[i], y[i]) for i in range(5)]))


@check("collate", "a batch of one", oracle=True)
def _(ns, t):
    x, y = _xy(t, 1)
    return list(ns.collate([(x[0], y[0])]))


@check("collate", "2-D float64 items", oracle=True)
def _(ns, t):
    x, y = t.randn(4, 2, 3, dtype=f64), t.randint(10, 4)
    return list(ns.collate([(x[i], y[i]) for i in range(4)]))


# ---- DataLoader ------------------------------------------------------------------------------


@check("DataLoader", "yields collated batches in the sampler's order", oracle=True, visible=True)
def _(ns, t):
    ds = _ds(ns, t, 10)
    return [list(b) for b in ns.DataLoader(ds, ns.Sampler(ds, 4))]


@check("DataLoader", "uses the collate_fn it is given", judge=equal, visible=True)
def _(ns, t):
    ds = _ds(ns, t, 10)
    return list(ns.DataLoader(ds, ns.Sampler(ds, 4), collate_fn=len))


@check("DataLoader", "follows the sampler's order: batches [3, 1], [0, 4, 2], [5]", oracle=True, visible=True)
def _(ns, t):
    ds = _ds(ns, t, 6)
    order = [t.tensor([3, 1]), t.tensor([0, 4, 2]), t.tensor([5])]  # any iterable of index batches
    return [list(b) for b in ns.DataLoader(ds, order)]


class _Shuffling:
    """A sampler that draws a fresh order from its own generator on every pass, and keeps it."""

    def __init__(self, n, bs, gen):
        self.n, self.bs, self.gen, self.drawn = n, bs, gen, []

    def __iter__(self):
        idxs = torch.randperm(self.n, generator=self.gen)
        self.drawn.append(idxs.tolist())
        return iter(idxs.split(self.bs))


@check("DataLoader", "follows a shuffling sampler, pass after pass", judge=equal, visible=True)
def _(ns, t):
    ds = _ds(ns, t, 11)  # y[i] = i: the targets say which items came
    sampler = _Shuffling(11, 4, t.gen)
    dl = ns.DataLoader(ds, sampler)
    passes = [[int(i) for _, yb in dl for i in yb] for _ in range(2)]
    return [passes == sampler.drawn, passes]


@check("DataLoader", "can be iterated twice", oracle=True)
def _(ns, t):
    ds = _ds(ns, t, 7)
    dl = ns.DataLoader(ds, ns.Sampler(ds, 3))
    return [[list(b) for b in dl] for _ in range(2)]


# ---- fit ---------------------------------------------------------------------------------------


class _NoStep:
    """An optimizer that changes nothing: fit's averaging is then checked on a fixed model."""

    def step(self):
        pass

    def zero_grad(self):
        pass


def _batches(x, y, bs):
    return [(x[i : i + bs], y[i : i + bs]) for i in range(0, len(x), bs)]


# The reference is the mean over validation samples: what a correct fit returns.
_VALID_PLOT = bars(["valid loss", "valid accuracy"], "what your fit returned after validation", truth="per-sample mean")


@check("fit", "training matches the reference step for step", visible=True)
def _(ns, t):
    model = _linears(t, (6, 8, 3))
    x, y = t.randn(40, 6), t.randint(3, 40)
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    loss, acc = ns.fit(2, model, F.cross_entropy, opt, _batches(x[:30], y[:30], 8), _batches(x[30:], y[30:], 4))
    return [float(loss), float(acc), list(model.parameters())]


@check("fit", "validation averages over samples: 1000 + 1", plot=_VALID_PLOT, visible=True)
def _(ns, t):
    c = 4
    y = t.randint(c, 1001)
    right = F.one_hot(y, c).float() * 10
    x = torch.cat([right[:1000], F.one_hot((y[1000:] + 1) % c, c).float() * 10])  # the last sample is wrong
    model = nn.Linear(c, c).to(t.device)
    with torch.no_grad():
        model.weight.copy_(torch.eye(c))
        model.bias.zero_()
    loss, acc = ns.fit(1, model, F.cross_entropy, _NoStep(), _batches(x[:8], y[:8], 4), _batches(x, y, 1000))
    return [float(loss), float(acc)]


@check("fit", "validation averages over samples: random unequal batches")
def _(ns, t):
    model = _linears(t, (5, 3))
    x, y = t.randn(23, 5), t.randint(3, 23)
    loss, acc = ns.fit(1, model, F.cross_entropy, _NoStep(), _batches(x[:4], y[:4], 4), _batches(x, y, 10))
    return [float(loss), float(acc)]


@check("fit", "uses the loss_func it is given, in training and validation", visible=True)
def _(ns, t):
    # Graded by what comes out (the returned loss and the trained weights), never by how often fit
    # calls it: a fit that computes the validation loss once over all predictions is as right.
    def loss_func(pred, yb):  # a mean loss that is not cross-entropy
        return ((pred - F.one_hot(yb, pred.shape[1]).float()) ** 2).mean() * 3

    model = _linears(t, (5, 3))
    x, y = t.randn(17, 5), t.randint(3, 17)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, acc = ns.fit(1, model, loss_func, opt, _batches(x[:9], y[:9], 4), _batches(x[9:], y[9:], 5))
    return [float(loss), float(acc), list(model.parameters())]


class _Phases(nn.Module):
    """Wraps a model; at each forward, notes whether the rows came from the training or the
    validation set, and the mode and grad mode it ran in. Which states each phase saw is observable;
    how many forwards fit makes is not graded."""

    def __init__(self, inner: nn.Module, valid_x: torch.Tensor):
        super().__init__()
        self.inner, self.valid_x, self.seen = inner, valid_x, {"train": set(), "valid": set()}

    def forward(self, x):
        valid = bool((x[:, None, :] == self.valid_x[None]).all(-1).any(-1).all())
        self.seen["valid" if valid else "train"].add((self.training, torch.is_grad_enabled()))
        return self.inner(x)


@check("fit", "trains in train mode, validates in eval mode without grad", judge=equal, visible=True)
def _(ns, t):
    x, y = t.randn(10, 4), t.randint(3, 10)
    model = _Phases(_linears(t, (4, 3)), x[6:])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ns.fit(2, model, F.cross_entropy, opt, _batches(x[:6], y[:6], 3), _batches(x[6:], y[6:], 3))
    return [sorted(model.seen["train"]), sorted(model.seen["valid"])]


@check("fit", "validation averages over samples: a short batch first, in the middle and last", visible=True)
def _(ns, t):
    # Fixed sizes, whatever the seed: a fit that assumes only the last batch is short is caught.
    model = _linears(t, (5, 3))
    x, y = t.randn(25, 5), t.randint(3, 25)
    cuts = [0, 1, 9, 11, 19, 25]  # batches of 1, 8, 2, 8, 6
    valid = [(x[a:b], y[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    loss, acc = ns.fit(1, model, F.cross_entropy, _NoStep(), [], valid)
    return [float(loss), float(acc)]


# ---- get_dls ------------------------------------------------------------------------------------


def _tensor_ds(t, n):
    return torch.utils.data.TensorDataset(t.randn(n, 2), torch.arange(n).to(t.device))


@check("get_dls", "valid: in order, batches of 2*bs", visible=True)
def _(ns, t):
    _, valid = ns.get_dls(_tensor_ds(t, 20), _tensor_ds(t, 37), 8)
    return [yb for _, yb in valid]


@check("get_dls", "train: batches of bs, every sample once", judge=equal, visible=True)
def _(ns, t):
    train, _ = ns.get_dls(_tensor_ds(t, 37), _tensor_ds(t, 5), 8)
    batches = [yb.tolist() for _, yb in train]
    return [[len(b) for b in batches], sorted(i for b in batches for i in b)]


@check("get_dls", "train: reshuffled every epoch", judge=two_different_permutations, visible=True)
def _(ns, t):
    t.manual_seed()
    train, _ = ns.get_dls(_tensor_ds(t, 40), _tensor_ds(t, 5), 8)
    return [[i for _, yb in train for i in yb.tolist()] for _ in range(2)]


@check("get_dls", "passes keyword arguments on to both loaders", judge=equal, visible=True)
def _(ns, t):
    train, valid = ns.get_dls(_tensor_ds(t, 37), _tensor_ds(t, 37), 8, drop_last=True)
    return [[len(yb) for _, yb in train], [len(yb) for _, yb in valid]]
