"""What the pool server does once, before it forks any sandbox: import, warm up, plan.

`server` calls `preload` and `sandbox_plan` at its start; every sandbox parent
it forks then shares torch, the checks and the isolation plan, paid for once.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import isolation

PRELOAD = [
    "torch",
    "torch.nn.functional",
    "torch.optim",
    "numpy",
    "matplotlib.pyplot",  # these two only where the notebook's cells import them (`preload`)
    "sklearn.datasets",
    "autograder.sandbox.cells",
    "autograder.sandbox.isolation",
    "autograder.sandbox.tripwire",
]  # once here, not once per child


def _warm_optim() -> None:
    """The first step of a torch optimizer imports dynamo machinery (about 1 s): pay it once, here."""
    import torch

    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.ones(1)
    torch.optim.SGD([p], lr=0.1).step()


def preload(imported: set[str] | None = None, forbidden: list[list[str]] = ()) -> None:
    """What every sandbox needs, imported once in the pool server before it forks. `imported`:
    the top-level packages the notebooks' cells import (None: not known). matplotlib and
    scikit-learn (0.3 s and 0.6 s) are preloaded only for notebooks that import them: 03's and
    04's run cells never import matplotlib. `forbidden`: course.toml's lists, whose watches
    (a walk of torch's operator table, about 40 ms) are worked out here once, not per sandbox."""
    for name in PRELOAD:
        top = name.split(".")[0]
        if imported is not None and top in ("matplotlib", "sklearn") and top not in imported:
            continue
        try:
            __import__(name)
        except ImportError:
            pass
    _warm_optim()
    from .tripwire import watch

    for names in forbidden:
        watch(names)  # `tripwire.operators` keeps what it found


def sandbox_plan(course_root: str):
    """Worked out once in the pool server, used by every child: what it may read, and as whom."""
    import importlib.util

    import torch

    from .. import KIT_DIR

    kit = KIT_DIR  # the whole installed kit, not just this folder
    solutions = importlib.util.find_spec("solutions")
    denied = [Path(course_root), kit] + ([Path(solutions.origin).parent] if solutions and solutions.origin else [])
    return isolation.plan(denied, probe=[os.__file__, torch.__file__])
