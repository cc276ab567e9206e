"""Tiny models and training problems the probes share.

`model` is a small net with weights drawn from the check's generator; `Spy`
wraps one to see how the code under test calls it. `learner` is the tiny
problem the Runner, Recorder and ParamScheduler probes train: 8 training
items in batches of 4 and 3 validation items in one batch by default
(LESSON_API's trace), torch's SGD that counts its steps, and a learner-like
object: what a Runner reads is `learn.model`, `.opt`, `.loss_func` and
`.data.train_dl` / `.data.valid_dl`, nothing more.
"""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def model(t, sizes=(5, 4, 3), relu=True, std=(0.7, 0.3)) -> nn.Sequential:
    """Linear layers of `sizes` (ReLUs between unless `relu=False`), on `t.device`.

    Weights and biases are normal with standard deviations `std`, drawn from `t.gen`: the sandbox
    and the grader build the same net. Each layer's weight is drawn, then its bias, layer by layer.
    """
    layers = []
    for a, b in pairwise(sizes):
        lin = nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(lin.weight.shape, generator=t.gen) * std[0])
            lin.bias.copy_(torch.randn(lin.bias.shape, generator=t.gen) * std[1])
        layers += [lin, nn.ReLU()] if relu else [lin]
    if relu:
        layers.pop()  # no ReLU after the last layer: its outputs are logits
    return nn.Sequential(*layers).to(t.device)


class Spy(nn.Module):
    """Wraps a model and records, at each forward, whether it trains and whether autograd records.

    Each row of `seen` is (training, grad enabled, batch size, output tracked by autograd).
    """

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner, self.seen = inner, []

    def forward(self, x):
        out = self.inner(x)
        self.seen.append((self.training, torch.is_grad_enabled(), x.shape[0], out.requires_grad))
        return out


class CountingSGD(torch.optim.SGD):
    """SGD that counts its steps."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def learner(t, n_train=8, n_valid=3, bs=4, vbs=8, lr=0.1, sizes=(5, 4, 3), two_groups=False, momentum=0.0):
    """A learner-like object; `two_groups` gives the last layer a param group of its own (lr 0.2)."""
    n = n_train + n_valid
    x, y = t.randn(n, sizes[0]), t.randint(sizes[-1], n)
    train = DataLoader(TensorDataset(x[:n_train], y[:n_train]), batch_size=bs)
    valid = DataLoader(TensorDataset(x[n_train:], y[n_train:]), batch_size=vbs)
    net = model(t, sizes)
    groups = (
        [{"params": net[0].parameters()}, {"params": net[-1].parameters(), "lr": 0.2}]
        if two_groups
        else net.parameters()
    )
    return SimpleNamespace(
        model=net,
        opt=CountingSGD(groups, lr=lr, momentum=momentum),
        loss_func=F.cross_entropy,
        data=SimpleNamespace(train_dl=train, valid_dl=valid),
    )


class ProbeCallback:
    """The minimum a Runner needs of a callback."""

    _order = 0
    name = "probe"

    def set_runner(self, run):
        self.run = run
