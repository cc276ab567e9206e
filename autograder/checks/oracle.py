"""torch's own implementation of each exercise that torch has, for `oracle=True` checks.

Checks marked `oracle=True` compare the student's result with the reference
solution *and* with what these give on the same inputs, so the reference is
held to torch too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torch.utils.data as tud
from torch.nn import init


def logsumexp(x):
    return torch.logsumexp(x, -1)


def log_softmax(x):
    return F.log_softmax(x, -1)


def nll(input, target):
    return F.nll_loss(input, target)


def Optimizer(params, lr=0.5):
    # torch >= 2 sets grads to None in zero_grad by default; the lesson zeroes them
    opt = torch.optim.SGD(params, lr=lr)
    opt.zero_grad = lambda: torch.optim.SGD.zero_grad(opt, set_to_none=False)
    return opt


Dataset = tud.TensorDataset


def Sampler(ds, bs, shuffle=False):
    order = tud.RandomSampler(ds) if shuffle else tud.SequentialSampler(ds)
    return [torch.tensor(b) for b in tud.BatchSampler(order, bs, drop_last=False)]


def collate(b):
    return tud.default_collate(b)


def DataLoader(ds, sampler, collate_fn=collate):
    return tud.DataLoader(ds, batch_sampler=sampler, collate_fn=collate_fn)


# 02_init: torch.nn.init, whose functions the exercises rebuild.


def fan_in_out(w):
    return init._calculate_fan_in_and_fan_out(w)


def gain(a):
    return init.calculate_gain("leaky_relu", a)


def kaiming_uniform(w, a=0.0, use_fan_out=False):
    return init.kaiming_uniform_(w, a=a, mode="fan_out" if use_fan_out else "fan_in", nonlinearity="leaky_relu")
