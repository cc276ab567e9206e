"""The tiny training problem the Runner, Recorder and ParamScheduler probes share.

8 training items in batches of 4 and 3 validation items in one batch by
default (LESSON_API's trace), a small net with weights drawn from the
check's generator, torch's SGD that counts its steps, and a learner-like
object: what a Runner reads is `learn.model`, `.opt`, `.loss_func` and
`.data.train_dl` / `.data.valid_dl`, nothing more.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def model(t, sizes=(5, 4, 3)) -> nn.Sequential:
    """Linear layers with ReLUs between, weights from `t.gen`, on `t.device`."""
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        lin = nn.Linear(a, b)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(lin.weight.shape, generator=t.gen) * 0.7)
            lin.bias.copy_(torch.randn(lin.bias.shape, generator=t.gen) * 0.3)
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers[:-1]).to(t.device)


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
