"""Realistic wrong solutions for 04_callbacks, each an edit of the reference cell
(`autograder.mutants`) or a whole cell's source.

Used by the tests (each must lose points on its own exercise and no other)
and by `course release` for samples/04_callbacks/buggy.ipynb.
"""

MUTANTS = {
    'Runner': {
        'forgets to reset stop': [('        self.stop = False\n',
            '')],
        'validates with grad on': [("                with torch.no_grad():\n                    if not self('begin_validate'): self.all_batches(self.data.valid_dl)\n",
            "                if not self('begin_validate'): self.all_batches(self.data.valid_dl)\n")],
        'calls callbacks in list order': [('        for cb in sorted(self.cbs, key=lambda cb: cb._order):\n',
            '        for cb in self.cbs:\n')],
        'calls every callback before answering': [
            ('        Return True as soon as one returns a truthy value; otherwise False."""\n',
             '        Return True as soon as one returns a truthy value; otherwise False."""\n        res = False\n'),
            ('            if f and f(): return True\n        return False\n',
             '            if f and f(): res = True\n        return res\n'),
        ],
        'no finally: after_fit skipped on error': [
            ("        try:\n            for cb in self.cbs: cb.set_runner(self)\n            if self('begin_fit'): return\n",
             "        for cb in self.cbs: cb.set_runner(self)\n        if not self('begin_fit'):\n"),
            ("        finally:\n            self('after_fit')\n            self.learn = None\n",
             "        self('after_fit')\n        self.learn = None\n"),
        ],
        'TrainEvalCallback last': [('        self.stop,self.cbs = False,[TrainEvalCallback()]+cbs\n',
            '        self.stop,self.cbs = False,cbs+[TrainEvalCallback()]\n')],
        'checks stop after the batch': [
            ('            if self.stop: break\n',
             ''),
            ("            self('after_batch')\n",
             "            self('after_batch')\n            if self.stop: break\n"),
        ],
        'lesson-10 __call__: always False': [
            ('        Return True as soon as one returns a truthy value; otherwise False."""\n',
             '        Return True as soon as one returns a truthy value; otherwise False."""\n        res = False\n'),
            ('            if f and f(): return True\n        return False\n',
             '            if f: res = f() and res\n        return res\n'),
        ],
        'no loss before the first batch': [('        self.epochs,self.learn,self.loss = epochs,learn,tensor(0.)\n',
            '        self.epochs,self.learn = epochs,learn\n')],
        'factories not kept as attributes': [('            setattr(self, cb.name, cb)\n', '')],
        'keeps learn after fit': [('            self.learn = None\n', '')],
        'a True begin_epoch skips validation too': [("                if not self('begin_epoch'): self.all_batches(self.data.train_dl)\n",
            "                if self('begin_epoch'): continue\n                self.all_batches(self.data.train_dl)\n")],
        'ignores a True after_step': [("        if self('after_step'): return\n",
            "        self('after_step')\n")],
        'resets stop only when it breaks': [
            ("            if self.stop: break\n", "            if self.stop:\n                self.stop = False\n                break\n"),
            ("            self('after_batch')\n        self.stop = False\n", "            self('after_batch')\n"),
        ],
    },
    'AvgStats': {
        'mean of batch means': [('        self.count += bn\n',
            '        self.count += 1\n')],
        'metrics not weighted by batch size': [('            self.tot_mets[i] += m(run.pred, run.yb) * bn\n',
            '            self.tot_mets[i] += m(run.pred, run.yb)\n')],
        'reset forgets the metrics': [
            ('        self.reset()\n',
             '        self.tot_mets = [0.] * len(self.metrics)\n        self.reset()\n'),
            ('        self.tot_loss,self.count = 0.,0\n        self.tot_mets = [0.] * len(self.metrics)\n',
             '        self.tot_loss,self.count = 0.,0\n'),
        ],
        'a repr even when empty': [('        if not self.count: return ""\n', '')],
        'keeps the loss a tensor': [('        return [float(self.tot_loss)] + self.tot_mets\n',
            '        return [self.tot_loss] + self.tot_mets\n')],
        'repr shows the sums, not the averages': [('''        return f"{'train' if self.in_train else 'valid'}: {self.avg_stats}"\n''',
            '''        return f"{'train' if self.in_train else 'valid'}: {self.all_stats}"\n''')],
    },
    'TestCallback': {
        'stops after 11 steps': [('        if self.in_train and self.n_iter >= 10: self.run.stop = True\n',
            '        if self.in_train and self.n_iter > 10: self.run.stop = True\n')],
        'stops after 9 steps': [('        if self.in_train and self.n_iter >= 10: self.run.stop = True\n',
            '        if self.in_train and self.n_iter >= 9: self.run.stop = True\n')],
        'sets its own stop attribute': [('        if self.in_train and self.n_iter >= 10: self.run.stop = True\n',
            '        if self.in_train and self.n_iter >= 10: self.stop = True\n')],
        "the notebook's: returns True from after_step": '''class TestCallback(Callback):
    _order=1
    def after_step(self):
        if self.n_iter>=10: return True
''',
        'counts validation batches too': [
            ('    _order = 1\n',
             '    _order = 1\n    def begin_fit(self): self.count = 0\n\n'),
            ('        if self.in_train and self.n_iter >= 10: self.run.stop = True\n',
             '        self.count += 1\n        if self.count >= 10: self.run.stop = True\n'),
        ],
    },
}

ALTERNATIVES = {
    "Runner": '''class Runner:
    """The training loop, with an event at each step for the callbacks."""
    def __init__(self, cbs=None, cb_funcs=None):
        self.cbs = [TrainEvalCallback(), *listify(cbs)]
        for make in listify(cb_funcs):
            cb = make()
            self.__dict__[cb.name] = cb
            self.cbs.append(cb)
        self.stop = False

    opt = property(lambda self: self.learn.opt)
    model = property(lambda self: self.learn.model)
    loss_func = property(lambda self: self.learn.loss_func)
    data = property(lambda self: self.learn.data)

    def one_batch(self, xb, yb):
        self.xb, self.yb = xb, yb
        steps = [('begin_batch', None),
                 ('after_pred', lambda: setattr(self, 'pred', self.model(self.xb))),
                 ('after_loss', lambda: setattr(self, 'loss', self.loss_func(self.pred, self.yb))),
                 ('after_backward', lambda: self.loss.backward()),
                 ('after_step', lambda: self.opt.step())]
        for event, action in steps:
            if event == 'after_backward' and not self.in_train: return
            if action is not None: action()
            if self(event): return
        self.opt.zero_grad()

    def all_batches(self, dl):
        self.iters = len(dl)
        try:
            batches = iter(dl)
            while not self.stop:
                try: xb, yb = next(batches)
                except StopIteration: break
                self.one_batch(xb, yb)
                self('after_batch')
        finally:
            self.stop = False

    def fit(self, epochs, learn):
        self.epochs, self.learn, self.loss = epochs, learn, tensor(0.)
        try:
            for cb in self.cbs: cb.set_runner(self)
            if self('begin_fit'): return
            for self.epoch in range(epochs):
                if not self('begin_epoch'): self.all_batches(self.data.train_dl)
                with torch.no_grad():
                    if not self('begin_validate'): self.all_batches(self.data.valid_dl)
                if self('after_epoch'): break
        finally:
            self('after_fit')
            self.learn = None

    def __call__(self, cb_name):
        handlers = {id(cb): getattr(cb, cb_name) for cb in self.cbs if hasattr(cb, cb_name)}
        return any(handlers[id(cb)]() for cb in sorted(self.cbs, key=lambda c: c._order) if id(cb) in handlers)
''',
    "AvgStats": '''class AvgStats():
    """The loss and the metrics of one pass, averaged over samples."""
    def __init__(self, metrics, in_train):
        self.metrics, self.in_train = listify(metrics), in_train
        self.batches = []

    def reset(self):
        self.batches = []

    @property
    def count(self):
        return sum(bn for bn, _ in self.batches)

    @property
    def all_stats(self):
        sums = [0.] * (1 + len(self.metrics))
        for bn, vals in self.batches:
            sums = [s + v * bn for s, v in zip(sums, vals)]
        return [float(sums[0])] + sums[1:]

    @property
    def avg_stats(self):
        n = self.count
        return [s / n for s in self.all_stats]

    def accumulate(self, run):
        vals = [run.loss.item()] + [float(m(run.pred, run.yb)) for m in self.metrics]
        self.batches.append((len(run.xb), vals))

    def __repr__(self):
        if not self.count: return ""
        return f"{'train' if self.in_train else 'valid'}: {self.avg_stats}"
''',
    "TestCallback": '''class TestCallback(Callback):
    """Stops training once 10 training batches are done."""
    _order = 1
    def after_batch(self):
        if self.run.in_train and self.run.n_iter == 10:
            self.run.stop = True
''',
}

# The lesson's own code, line for line as shared/LESSON_API.md describes it (nb_04.py's Runner,
# the notebook's AvgStats with `.item()` and its `__repr__`), not the kit's reference: each must
# get full marks.
LESSON = {
    "Runner": '''class Runner():
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = listify(cbs)
        for cbf in listify(cb_funcs):
            cb = cbf()
            setattr(self, cb.name, cb)
            cbs.append(cb)
        self.stop,self.cbs = False,[TrainEvalCallback()]+cbs

    @property
    def opt(self):       return self.learn.opt
    @property
    def model(self):     return self.learn.model
    @property
    def loss_func(self): return self.learn.loss_func
    @property
    def data(self):      return self.learn.data

    def one_batch(self, xb, yb):
        self.xb,self.yb = xb,yb
        if self('begin_batch'): return
        self.pred = self.model(self.xb)
        if self('after_pred'): return
        self.loss = self.loss_func(self.pred, self.yb)
        if self('after_loss') or not self.in_train: return
        self.loss.backward()
        if self('after_backward'): return
        self.opt.step()
        if self('after_step'): return
        self.opt.zero_grad()

    def all_batches(self, dl):
        self.iters = len(dl)
        for xb,yb in dl:
            if self.stop: break
            self.one_batch(xb, yb)
            self('after_batch')
        self.stop=False

    def fit(self, epochs, learn):
        self.epochs,self.learn,self.loss = epochs,learn,tensor(0.)

        try:
            for cb in self.cbs: cb.set_runner(self)
            if self('begin_fit'): return
            for epoch in range(epochs):
                self.epoch = epoch
                if not self('begin_epoch'): self.all_batches(self.data.train_dl)

                with torch.no_grad(): 
                    if not self('begin_validate'): self.all_batches(self.data.valid_dl)
                if self('after_epoch'): break
            
        finally:
            self('after_fit')
            self.learn = None

    def __call__(self, cb_name):
        for cb in sorted(self.cbs, key=lambda x: x._order):
            f = getattr(cb, cb_name, None)
            if f and f(): return True
        return False
''',
    "AvgStats": '''class AvgStats():
    def __init__(self, metrics, in_train): self.metrics,self.in_train = listify(metrics),in_train
    
    def reset(self):
        self.tot_loss,self.count = 0.,0
        self.tot_mets = [0.] * len(self.metrics)
        
    @property
    def all_stats(self): return [self.tot_loss.item()] + self.tot_mets
    @property
    def avg_stats(self): return [o/self.count for o in self.all_stats]
    
    def __repr__(self):
        if not self.count: return ""
        return f"{'train' if self.in_train else 'valid'}: {self.avg_stats}"

    def accumulate(self, run):
        bn = run.xb.shape[0]
        self.tot_loss += run.loss * bn
        self.count += bn
        for i,m in enumerate(self.metrics):
            self.tot_mets[i] += m(run.pred, run.yb) * bn
''',
    # The notebook's TestCallback reads self.train_eval.n_iters (no such attribute: LESSON_API.md)
    # and returns True from after_step (which skips zero_grad and stops nothing). The working form
    # LESSON_API.md gives reads self.n_iter; SPEC asks for the stop flag after exactly 10 steps.
    "TestCallback": '''class TestCallback(Callback):
    _order=1
    def after_step(self):
        if self.n_iter>=9: self.run.stop = True
''',
}

# What each exercise must do (SPEC's "must do" and what LESSON_API.md says the lesson's code does),
# each with the mutants above that lack it: docs/BEHAVIOURS.md (bench/behaviours.py) lists the
# checks that fail on each, so every behaviour is seen to have a probe that fails without it.
BEHAVIOURS = {
    "Runner": {
        "SPEC: __call__ runs callbacks sorted by _order": ["calls callbacks in list order"],
        "SPEC: __call__ returns True at the first truthy answer, later ones not called": [
            "calls every callback before answering",
            "lesson-10 __call__: always False",
        ],
        "LESSON: TrainEvalCallback first": ["TrainEvalCallback last"],
        "SPEC: the stop flag ends the current pass only": ["forgets to reset stop", "checks stop after the batch"],
        "LESSON: after the loop it resets run.stop = False (also when the pass ran to its end)": ["resets stop only when it breaks"],
        "SPEC: validation under no_grad": ["validates with grad on"],
        "SPEC: after_fit always fires": ["no finally: after_fit skipped on error"],
        "LESSON: a True after_step skips zero_grad": ["ignores a True after_step"],
        "SPEC: fit starts loss at tensor(0.)": ["no loss before the first batch"],
        "LESSON: each cb_funcs callback kept as an attribute under its name": ["factories not kept as attributes"],
        "LESSON: run.learn is None after fit": ["keeps learn after fit"],
        "LESSON: a True begin_epoch skips training, not validation": ["a True begin_epoch skips validation too"],
    },
    "AvgStats": {
        "SPEC: accumulate weighted by batch size": ["mean of batch means", "metrics not weighted by batch size"],
        "SPEC: reset empties the sums": ["reset forgets the metrics"],
        "LESSON: all_stats' loss is a Python float (.item())": ["keeps the loss a tensor"],
        "LESSON: __repr__ is '' while count is 0": ["a repr even when empty"],
        "LESSON: otherwise \"train: [...]\" or \"valid: [...]\", the avg_stats": ["repr shows the sums, not the averages"],
    },
    "TestCallback": {
        "SPEC: exactly 10 optimizer steps": ["stops after 11 steps", "stops after 9 steps"],
        "SPEC: sets the runner's stop flag": ["sets its own stop attribute", "the notebook's: returns True from after_step"],
        "SPEC: counts training iterations only": ["counts validation batches too"],
    },
}

# Automatic mutants (`autograder.mutate`, `course selftest --auto`) that no check can tell from
# the reference, because SPEC lets them behave so: exercise -> {mutant name: why it is equivalent}.
EQUIVALENT = {
    "Runner": {
        "loop 45:26 break -> continue": "the rest of a stopped pass is drawn from the loader but not used: "
        "no callback, model or optimizer sees it (how many batches a stopped pass draws is not specified: "
        "the lesson's draws one more, the alternative one fewer)",
        "drop 74:8 return False -> (removed)": "None is as false as False: the Runner only tests the answer's truth",
        "const 72:37 None -> 0": "getattr(cb, name, 0): a missing handler is falsy either way",
        "return 73:26 return True -> return cb_name": "a truthy answer: the Runner only tests the answer's truth",
        "return 73:26 return True -> return f": "a truthy answer: the Runner only tests the answer's truth",
        "return 74:8 return False -> return None": "None is as false as False: the Runner only tests the answer's truth",
    },
    "AvgStats": {
        "drop 6:8 self.reset() -> (removed)": "the lesson's __init__ does not reset either: every use resets first "
        "(AvgStatsCallback.begin_epoch)",
    },
    "TestCallback": {
        "drop 3:4 _order = 1 -> (removed)": "TrainEvalCallback is first in the list, so any _order >= 0 runs after it",
        "const 3:13 1 -> 0": "TrainEvalCallback is first in the list, so any _order >= 0 runs after it",
        "const 3:13 1 -> 2": "TrainEvalCallback is first in the list, so any _order >= 0 runs after it",
    },
}

# The bugs in samples/04_callbacks/buggy.ipynb: (exercise, mutant).
BUGGY_SAMPLE = [
    ("Runner", "forgets to reset stop"),
    ("AvgStats", "mean of batch means"),
    ("TestCallback", "stops after 11 steps"),
]
