"""Realistic wrong solutions for 05_anneal, each an edit of the reference cell
(`autograder.mutants`) or a whole cell's source.

Used by the tests (each must lose points on its own exercise and no other)
and by `course release` for samples/05_anneal/buggy.ipynb.
"""

MUTANTS = {
    'Recorder': {
        'records validation batches too': [('        if not self.in_train: return\n',
            '')],
        "records the first param group's lr": [("        self.lrs.append(self.opt.param_groups[-1]['lr'])\n",
            "        self.lrs.append(self.opt.param_groups[0]['lr'])\n")],
        "keeps each loss's graph": [('        self.losses.append(self.loss.detach().cpu())\n',
            '        self.losses.append(self.loss)\n')],
        'records in begin_batch': [('    def after_batch(self):\n',
            '    def begin_batch(self):\n')],
        'lists made once, in __init__': [('    def begin_fit(self):\n',
            '    def __init__(self):\n')],
        "nb_05.py's: lrs per param group": [("        self.lrs.append(self.opt.param_groups[-1]['lr'])\n",
            "        self.lrs.append([pg['lr'] for pg in self.opt.param_groups])\n")],
        'plots swapped': [
            ('def plot_lr(self):\n        """Plot the recorded learning rates, one point per training batch."""\n        plt.plot([float(o) for o in self.lrs])',
             'def plot_lr(self):\n        """Plot the recorded learning rates, one point per training batch."""\n        plt.plot([float(o) for o in self.losses])'),
            ('def plot_loss(self):\n        """Plot the recorded training losses, one point per training batch."""\n        plt.plot([float(o) for o in self.losses])',
             'def plot_loss(self):\n        """Plot the recorded training losses, one point per training batch."""\n        plt.plot([float(o) for o in self.lrs])'),
        ],
    },
    'ParamScheduler': {
        'forgets to divide by epochs': [('            pg[self.pname] = self.sched_func(self.n_epochs/self.epochs)\n',
            '            pg[self.pname] = self.sched_func(self.n_epochs)\n')],
        'sets the last param group only': [('        for pg in self.opt.param_groups:\n            pg[self.pname] = self.sched_func(self.n_epochs/self.epochs)\n',
            '        self.opt.param_groups[-1][self.pname] = self.sched_func(self.n_epochs/self.epochs)\n')],
        'sets it in validation too': [('        if self.in_train: self.set_param()\n',
            '        self.set_param()\n')],
        'sets it after the batch': [('    def begin_batch(self):\n',
            '    def after_batch(self):\n')],
        'order 2': [('    _order = 1\n',
            '    _order = 2\n')],
        'order 0': [('    _order = 1\n',
            '    _order = 0\n')],
    },
    'annealer': {
        'start and end swapped': [('    def _inner(start, end):\n        return partial(f, start, end)\n',
            '    def _inner(start, end): return partial(f, end, start)\n')],
        'forgets to return _inner': [('    def _inner(start, end):\n        return partial(f, start, end)\n    return _inner\n',
            '    def _inner(start, end): return partial(f, start, end)\n')],
        'passes pos first': [('    def _inner(start, end):\n        return partial(f, start, end)\n',
            '    def _inner(start, end): return lambda pos: f(pos, start, end)\n')],
        'converts pos to a float': [('    def _inner(start, end):\n        return partial(f, start, end)\n',
            '    def _inner(start, end): return lambda pos: f(start, end, float(pos))\n')],
    },
    'sched_lin': {
        'start and end swapped': [('    return start + pos*(end-start)\n',
            '    return end + pos*(start-end)\n')],
        'forgets start': [('    return start + pos*(end-start)\n',
            '    return pos*(end-start)\n')],
        'adds pos*end': [('    return start + pos*(end-start)\n',
            '    return start + pos*end\n')],
    },
    'sched_cos': {
        'cos(pi*pos) without the 1 - pos': [('    return start + (1 + math.cos(math.pi*(1-pos))) * (end-start) / 2\n',
            '    return start + (1 + math.cos(math.pi*pos)) * (end-start) / 2\n')],
        'forgets pi': [('    return start + (1 + math.cos(math.pi*(1-pos))) * (end-start) / 2\n',
            '    return start + (1 + math.cos(1-pos)) * (end-start) / 2\n')],
        'torch.cos fails on a float pos': [('    return start + (1 + math.cos(math.pi*(1-pos))) * (end-start) / 2\n',
            '    return start + (1 + torch.cos(math.pi*(1-pos))) * (end-start) / 2\n')],
    },
    'sched_no': {
        'returns end': [('    return start\n',
            '    return end\n')],
        'a line, copied from sched_lin': [('    return start\n',
            '    return start + pos*(end-start)\n')],
    },
    'sched_exp': {
        'linear, not geometric': [('    return start * (end/start) ** pos\n',
            '    return start + pos*(end-start)\n')],
        'ratio upside down': [('    return start * (end/start) ** pos\n',
            '    return start * (start/end) ** pos\n')],
        'forgets start': [('    return start * (end/start) ** pos\n',
            '    return (end/start) ** pos\n')],
    },
    'combine_scheds': {
        "the lesson's IndexError at pos 1": '''def combine_scheds(pcts, scheds):
    """One schedule over pos in [0, 1] made of pieces: scheds[i] runs over the fraction pcts[i] of
    training, seeing its own local pos from 0 to 1. pcts must be >= 0 and sum to 1 (within 1e-6).
    An inner edge starts the next piece; pos = 1 gives scheds[-1](1.0)."""
    assert abs(sum(pcts) - 1.) <= 1e-6
    pcts = tensor([0] + listify(pcts))
    assert torch.all(pcts >= 0)
    pcts = torch.cumsum(pcts, 0)
    def _inner(pos):
        idx = (pos >= pcts).nonzero().max()
        actual_pos = (pos-pcts[idx]) / (pcts[idx+1]-pcts[idx])
        return scheds[idx](actual_pos)
    return _inner
''',
        'local pos not normalised': [('        return scheds[idx](float((pos - edges[idx]) / (edges[idx+1] - edges[idx])))\n',
            '        return scheds[idx](float(pos - edges[idx]))\n')],
        'no check of the pcts': [("    if abs(sum(pcts) - 1) > 1e-6: raise ValueError(f'pcts sum to {sum(pcts)}, not 1')\n    if min(pcts) < 0: raise ValueError(f'negative pct in {pcts}')\n",
            '')],
        "the lesson's exact sum: rejects [0.1]*10": [("    if abs(sum(pcts) - 1) > 1e-6: raise ValueError(f'pcts sum to {sum(pcts)}, not 1')\n",
            "    if sum(pcts) != 1: raise ValueError(f'pcts sum to {sum(pcts)}, not 1')\n")],
        'a tolerance of 1e-5': [("    if abs(sum(pcts) - 1) > 1e-6: raise", "    if abs(sum(pcts) - 1) > 1e-5: raise")],
        'a tolerance of 1e-7': [("    if abs(sum(pcts) - 1) > 1e-6: raise", "    if abs(sum(pcts) - 1) > 1e-7: raise")],
        'rejects a piece of 0': [("    if min(pcts) < 0: raise", "    if min(pcts) <= 0: raise")],
        'pcts must be a list': [("    pcts = [float(p) for p in pcts]\n", "")],
        'an inner edge stays with the earlier piece': [('        idx = int((pos >= edges).nonzero().max())\n',
            '        idx = max(int((pos > edges).nonzero().max()) if pos > 0 else 0, 0)\n')],
    },
    'cos_1cycle_anneal': {
        'linear pieces': [('    return [sched_cos(start, high), sched_cos(high, end)]\n',
            '    return [sched_lin(start, high), sched_lin(high, end)]\n')],
        'second piece starts at start': [('    return [sched_cos(start, high), sched_cos(high, end)]\n',
            '    return [sched_cos(start, high), sched_cos(start, end)]\n')],
        'returns the combined schedule': [('    return [sched_cos(start, high), sched_cos(high, end)]\n',
            '    return combine_scheds([0.3, 0.7], [sched_cos(start, high), sched_cos(high, end)])\n')],
    },
}

ALTERNATIVES = {
    "Recorder": '''class Recorder(Callback):
    """Records the lr and the loss of each training batch."""
    def begin_fit(self):
        self.lrs = []
        self.losses = []

    def after_batch(self):
        if self.run.in_train:
            self.lrs.append(float(self.run.opt.param_groups[-1]['lr']))
            self.losses.append(self.run.loss.item())

    def plot_lr(self):
        plt.plot(range(len(self.lrs)), self.lrs)

    def plot_loss(self):
        fig, ax = plt.gcf(), plt.gca()
        ax.plot(self.losses)
''',
    "ParamScheduler": '''class ParamScheduler(Callback):
    """Sets pname of every param group from a schedule before each training batch."""
    _order = 1
    def __init__(self, pname, sched_func):
        self.pname, self.sched = pname, sched_func

    def begin_batch(self):
        if not self.run.in_train: return
        value = self.sched(self.run.n_epochs / self.run.epochs)
        for group in self.run.opt.param_groups:
            group[self.pname] = value
''',
    "annealer": '''def annealer(f):
    """Decorator: annealer(f)(start, end) is a function of pos."""
    return lambda start, end: (lambda pos: f(start, end, pos))
''',
    "sched_lin": '''@annealer
def sched_lin(start, end, pos):
    """A straight line from start (pos 0) to end (pos 1)."""
    return (1 - pos) * start + pos * end
''',
    "sched_cos": '''@annealer
def sched_cos(start, end, pos):
    """Half a cosine wave from start to end."""
    return start + (end - start) * (1 - math.cos(math.pi * pos)) / 2
''',
    "sched_no": '''@annealer
def sched_no(start, end, pos):
    """Constant."""
    return float(start)
''',
    "sched_exp": '''@annealer
def sched_exp(start, end, pos):
    """Geometric from start to end."""
    return start * math.exp(pos * math.log(end / start))
''',
    "combine_scheds": '''import bisect, itertools

def combine_scheds(pcts, scheds):
    """One schedule made of pieces, found with bisect."""
    pcts = list(map(float, pcts))
    if len(pcts) != len(scheds) or min(pcts) < 0 or not math.isclose(sum(pcts), 1., abs_tol=1e-6):
        raise ValueError(f'bad pcts {pcts}')
    edges = list(itertools.accumulate(pcts, initial=0.))
    def _inner(pos):
        pos = float(pos)
        i = min(bisect.bisect_right(edges, pos) - 1, len(scheds) - 1)
        return scheds[i]((pos - edges[i]) / (edges[i + 1] - edges[i]))
    return _inner
''',
    "cos_1cycle_anneal": '''def cos_1cycle_anneal(start, high, end):
    """The two cosine pieces of one cycle."""
    return tuple(sched_cos(a, b) for a, b in ((start, high), (high, end)))
''',
}

# The lesson's own code, line for line as shared/LESSON_API.md describes it (the notebook's
# single-schedule Recorder and ParamScheduler, nb_05.py's combine_scheds), not the kit's
# reference: each must get full marks.
LESSON = {
    "Recorder": '''class Recorder(Callback):
    def begin_fit(self): self.lrs,self.losses = [],[]

    def after_batch(self):
        if not self.in_train: return
        self.lrs.append(self.opt.param_groups[-1]['lr'])
        self.losses.append(self.loss.detach().cpu())        

    def plot_lr  (self): plt.plot(self.lrs)
    def plot_loss(self): plt.plot(self.losses)
''',
    "ParamScheduler": '''class ParamScheduler(Callback):
    _order=1
    def __init__(self, pname, sched_func): self.pname,self.sched_func = pname,sched_func

    def set_param(self):
        for pg in self.opt.param_groups:
            pg[self.pname] = self.sched_func(self.n_epochs/self.epochs)
            
    def begin_batch(self): 
        if self.in_train: self.set_param()
''',
    "annealer": '''def annealer(f):
    def _inner(start, end): return partial(f, start, end)
    return _inner
''',
    "sched_lin": '''@annealer
def sched_lin(start, end, pos): return start + pos*(end-start)
''',
    "sched_cos": '''@annealer
def sched_cos(start, end, pos): return start + (1 + math.cos(math.pi*(1-pos))) * (end-start) / 2
''',
    "sched_no": '''@annealer
def sched_no(start, end, pos):  return start
''',
    "sched_exp": '''@annealer
def sched_exp(start, end, pos): return start * (end/start) ** pos
''',
    # nb_05.py asserts sum(pcts) == 1. exactly and raises IndexError at pos = 1; SPEC takes a
    # tolerance of 1e-6 and pos = 1 -> scheds[-1](1.), with LESSON_API.md's fix (the last edge
    # uses the piece before it).
    "combine_scheds": '''def combine_scheds(pcts, scheds):
    assert abs(sum(pcts) - 1.) <= 1e-6
    pcts = tensor([0] + listify(pcts))
    assert torch.all(pcts >= 0)
    pcts = torch.cumsum(pcts, 0)
    def _inner(pos):
        idx = (pos >= pcts).nonzero().max()
        if idx == len(pcts)-1: idx -= 1
        actual_pos = (pos-pcts[idx]) / (pcts[idx+1]-pcts[idx])
        return scheds[idx](actual_pos)
    return _inner
''',
    "cos_1cycle_anneal": '''def cos_1cycle_anneal(start, high, end):
    return [sched_cos(start, high), sched_cos(high, end)]
''',
}

# What each exercise must do (SPEC's "must do" and what LESSON_API.md says the lesson's code does),
# each with the mutants above that lack it: docs/BEHAVIOURS.md (bench/behaviours.py) lists the
# checks that fail on each, so every behaviour is seen to have a probe that fails without it.
BEHAVIOURS = {
    "Recorder": {
        "SPEC: per training batch only": ["records validation batches too"],
        "SPEC: the lr of the last param group": ["records the first param group's lr"],
        "SPEC: the notebook's single-schedule version (one lr per batch)": ["nb_05.py's: lrs per param group"],
        "LESSON: the lr the batch used (after_batch)": ["records in begin_batch"],
        "LESSON: begin_fit starts new lists": ["lists made once, in __init__"],
        "LESSON: losses detached": ["keeps each loss's graph"],
        "SPEC: plot_lr and plot_loss draw them": ["plots swapped"],
    },
    "ParamScheduler": {
        "SPEC: sched_func(n_epochs/epochs)": ["forgets to divide by epochs"],
        "SPEC: every param group": ["sets the last param group only"],
        "SPEC: before each training batch (not validation)": ["sets it in validation too", "sets it after the batch"],
        "SPEC: _order = 1": ["order 0", "order 2"],
    },
    "annealer": {
        "SPEC: annealer(f)(start, end) is partial(f, start, end)": [
            "start and end swapped",
            "forgets to return _inner",
            "passes pos first",
        ],
        "LESSON: a 0-d tensor pos (as inside combine_scheds) reaches f as a tensor": ["converts pos to a float"],
    },
    "sched_lin": {"LESSON: start + pos*(end-start)": ["start and end swapped", "forgets start", "adds pos*end"]},
    "sched_cos": {
        "LESSON: start + (1 + cos(pi*(1-pos)))*(end-start)/2, a float pos too": [
            "cos(pi*pos) without the 1 - pos",
            "forgets pi",
            "torch.cos fails on a float pos",
        ],
    },
    "sched_no": {"LESSON: start, whatever pos": ["returns end", "a line, copied from sched_lin"]},
    "sched_exp": {"LESSON: start * (end/start)**pos": ["linear, not geometric", "ratio upside down", "forgets start"]},
    "combine_scheds": {
        "SPEC: pos = 1 gives scheds[-1](1.0)": ["the lesson's IndexError at pos 1"],
        "LESSON: each piece sees its local pos from 0 to 1": ["local pos not normalised"],
        "LESSON: an inner edge starts the next piece": ["an inner edge stays with the earlier piece"],
        "SPEC: raises when pcts miss 1 by more than 1e-6": ["no check of the pcts", "a tolerance of 1e-5"],
        "SPEC: accepts pcts within 1e-6 of 1": ["the lesson's exact sum: rejects [0.1]*10", "a tolerance of 1e-7"],
        "LESSON: pcts >= 0 (a piece of 0 too)": ["rejects a piece of 0"],
        "LESSON: listify(pcts): a tuple too": ["pcts must be a list"],
    },
    "cos_1cycle_anneal": {
        "SPEC: the two cosine pieces start->high, high->end": [
            "linear pieces",
            "second piece starts at start",
            "returns the combined schedule",
        ],
    },
}

# Automatic mutants (`autograder.mutate`, `course selftest --auto`) that no check can tell from
# the reference, because SPEC lets them behave so: exercise -> {mutant name: why it is equivalent}.
EQUIVALENT = {
    "sched_cos": {
        "arith 4:42 1 - pos -> 1 + pos": "cos(pi*(1 + pos)) = -cos(pi*pos) = cos(pi*(1 - pos))",
    },
    "combine_scheds": {
        "drop 6:4 if len(pcts) != len(scheds):;     raise ValueError(f'{len... -> (removed)": "SPEC does not ask "
        "for a check of the lengths (the lesson has none)",
        "drop 6:33 raise ValueError(f'{len(pcts)} pcts for {len(scheds)} sch... -> (removed)": "SPEC does not ask "
        "for a check of the lengths (the lesson has none)",
        "compare 7:7 abs(sum(pcts) - 1) > 1e-06 -> abs(sum(pcts) - 1) >= 1e-06": "a sum exactly 1e-6 from 1 is "
        "the limit itself: SPEC does not say which side it falls on",
        "const 9:45 0 -> -1": "cumsum(-1) of a 1-D tensor is cumsum(0)",
    },
}

# The bugs in samples/05_anneal/buggy.ipynb: (exercise, mutant).
BUGGY_SAMPLE = [
    ("ParamScheduler", "sets the last param group only"),
    ("sched_cos", "cos(pi*pos) without the 1 - pos"),
    ("combine_scheds", "the lesson's IndexError at pos 1"),
]
