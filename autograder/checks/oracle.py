"""torch's own implementation of each exercise that torch has, for `oracle=True` checks.

Checks marked `oracle=True` compare the student's result with the reference
solution *and* with what these give on the same inputs, so the reference is
held to torch too. Every exercise is either defined here, from torch, or
named in `NO_TORCH_EQUIVALENT` with the reason; a check that claims an oracle
its exercise does not have fails the building of the registry (`checks.Registry`).
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


# Exercises torch has no function for: their checks compare with the reference only.
NO_TORCH_EQUIVALENT = {
    "stats_after_layers": "a loop over layers that records (mean, std): no torch function does it",
    "deep_chain": "the lesson's experiment, not a torch function",
    "accuracy": "torch has no accuracy metric (torchmetrics is not torch)",
    "DummyModule": "nn.Module's registration is what it imitates, but nn.Module has no such constructor",
    "fit": "torch has no training loop",
    "get_dls": "it is made of torch's DataLoader: the checks compare with the reference's",
    "Runner": "torch has no training loop or callbacks",
    "AvgStats": "torch has no running statistics of a training pass",
    "TestCallback": "torch has no callbacks",
    "Recorder": "torch has no callbacks",
    "ParamScheduler": "torch.optim.lr_scheduler steps per epoch or batch by calls, not by pos; no equivalent",
    "annealer": "a decorator of the lesson's, not a torch function",
    "sched_lin": "torch's schedulers are stateful objects, not functions of pos",
    "sched_cos": "torch's schedulers are stateful objects, not functions of pos",
    "sched_no": "torch's schedulers are stateful objects, not functions of pos",
    "sched_exp": "torch's schedulers are stateful objects, not functions of pos",
    "combine_scheds": "torch's SequentialLR chains scheduler objects, not functions of pos",
    "cos_1cycle_anneal": "torch's OneCycleLR is a stateful scheduler, not two functions of pos",
}


def defines(exercise: str) -> str | None:
    """Why `exercise` has no oracle here (None when it has one, defined from torch)."""
    if exercise in NO_TORCH_EQUIVALENT:
        return f"oracle.py says torch has no {exercise}: {NO_TORCH_EQUIVALENT[exercise]}"
    obj = globals().get(exercise)
    if obj is None:
        return f"oracle.py defines no {exercise}, and does not say why in NO_TORCH_EQUIVALENT"
    module = getattr(obj, "__module__", "") or ""
    if module != __name__ and not module.startswith("torch"):
        return f"oracle.{exercise} comes from {module}, not from torch"
    return None
