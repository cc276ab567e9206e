"""Realistic wrong solutions for 04_callbacks, one cell source each.

Used by the tests (each must lose points on its own exercise and no other)
and by `course release` for samples/04_callbacks/buggy.ipynb.
"""

MUTANTS = {
    "Runner": {
        "forgets to reset stop": '''class Runner():
    """The training loop, with an event at each step for the callbacks.

    `cbs`: callback instances. `cb_funcs`: factories, each called with no arguments; the runner
    also keeps each such callback as an attribute named after it (`run.avg_stats`).
    `self.cbs` is `[TrainEvalCallback()]` followed by `cbs`, then the callbacks of `cb_funcs`."""
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = list(listify(cbs))
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
        """Store xb, yb; begin_batch; pred; after_pred; loss; after_loss; then, in training only,
        backward; after_backward; step; after_step; zero_grad. Return at the first True event."""
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
        """Set `self.iters = len(dl)`; for each batch, unless `self.stop` is set: one_batch, then
        after_batch. At the end reset `self.stop` to False."""
        self.iters = len(dl)
        for xb,yb in dl:
            if self.stop: break
            self.one_batch(xb, yb)
            self('after_batch')

    def fit(self, epochs, learn):
        """Store epochs, learn and `self.loss = tensor(0.)`; give every callback this runner;
        begin_fit; per epoch: `self.epoch`, begin_epoch, train pass, then under no_grad
        begin_validate and valid pass; after_epoch. after_fit always fires; then `self.learn = None`."""
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
        """Call method `cb_name` of each callback that has one, in `_order` (ties keep list order).
        Return True as soon as one returns a truthy value; otherwise False."""
        for cb in sorted(self.cbs, key=lambda cb: cb._order):
            f = getattr(cb, cb_name, None)
            if f and f(): return True
        return False
''',
        "validates with grad on": '''class Runner():
    """The training loop, with an event at each step for the callbacks.

    `cbs`: callback instances. `cb_funcs`: factories, each called with no arguments; the runner
    also keeps each such callback as an attribute named after it (`run.avg_stats`).
    `self.cbs` is `[TrainEvalCallback()]` followed by `cbs`, then the callbacks of `cb_funcs`."""
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = list(listify(cbs))
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
        """Store xb, yb; begin_batch; pred; after_pred; loss; after_loss; then, in training only,
        backward; after_backward; step; after_step; zero_grad. Return at the first True event."""
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
        """Set `self.iters = len(dl)`; for each batch, unless `self.stop` is set: one_batch, then
        after_batch. At the end reset `self.stop` to False."""
        self.iters = len(dl)
        for xb,yb in dl:
            if self.stop: break
            self.one_batch(xb, yb)
            self('after_batch')
        self.stop = False

    def fit(self, epochs, learn):
        """Store epochs, learn and `self.loss = tensor(0.)`; give every callback this runner;
        begin_fit; per epoch: `self.epoch`, begin_epoch, train pass, then under no_grad
        begin_validate and valid pass; after_epoch. after_fit always fires; then `self.learn = None`."""
        self.epochs,self.learn,self.loss = epochs,learn,tensor(0.)
        try:
            for cb in self.cbs: cb.set_runner(self)
            if self('begin_fit'): return
            for epoch in range(epochs):
                self.epoch = epoch
                if not self('begin_epoch'): self.all_batches(self.data.train_dl)
                if not self('begin_validate'): self.all_batches(self.data.valid_dl)
                if self('after_epoch'): break
        finally:
            self('after_fit')
            self.learn = None

    def __call__(self, cb_name):
        """Call method `cb_name` of each callback that has one, in `_order` (ties keep list order).
        Return True as soon as one returns a truthy value; otherwise False."""
        for cb in sorted(self.cbs, key=lambda cb: cb._order):
            f = getattr(cb, cb_name, None)
            if f and f(): return True
        return False
''',
        "calls callbacks in list order": '''class Runner():
    """The training loop, with an event at each step for the callbacks.

    `cbs`: callback instances. `cb_funcs`: factories, each called with no arguments; the runner
    also keeps each such callback as an attribute named after it (`run.avg_stats`).
    `self.cbs` is `[TrainEvalCallback()]` followed by `cbs`, then the callbacks of `cb_funcs`."""
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = list(listify(cbs))
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
        """Store xb, yb; begin_batch; pred; after_pred; loss; after_loss; then, in training only,
        backward; after_backward; step; after_step; zero_grad. Return at the first True event."""
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
        """Set `self.iters = len(dl)`; for each batch, unless `self.stop` is set: one_batch, then
        after_batch. At the end reset `self.stop` to False."""
        self.iters = len(dl)
        for xb,yb in dl:
            if self.stop: break
            self.one_batch(xb, yb)
            self('after_batch')
        self.stop = False

    def fit(self, epochs, learn):
        """Store epochs, learn and `self.loss = tensor(0.)`; give every callback this runner;
        begin_fit; per epoch: `self.epoch`, begin_epoch, train pass, then under no_grad
        begin_validate and valid pass; after_epoch. after_fit always fires; then `self.learn = None`."""
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
        """Call method `cb_name` of each callback that has one, in `_order` (ties keep list order).
        Return True as soon as one returns a truthy value; otherwise False."""
        for cb in self.cbs:
            f = getattr(cb, cb_name, None)
            if f and f(): return True
        return False
''',
        "calls every callback before answering": '''class Runner():
    """The training loop, with an event at each step for the callbacks.

    `cbs`: callback instances. `cb_funcs`: factories, each called with no arguments; the runner
    also keeps each such callback as an attribute named after it (`run.avg_stats`).
    `self.cbs` is `[TrainEvalCallback()]` followed by `cbs`, then the callbacks of `cb_funcs`."""
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = list(listify(cbs))
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
        """Store xb, yb; begin_batch; pred; after_pred; loss; after_loss; then, in training only,
        backward; after_backward; step; after_step; zero_grad. Return at the first True event."""
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
        """Set `self.iters = len(dl)`; for each batch, unless `self.stop` is set: one_batch, then
        after_batch. At the end reset `self.stop` to False."""
        self.iters = len(dl)
        for xb,yb in dl:
            if self.stop: break
            self.one_batch(xb, yb)
            self('after_batch')
        self.stop = False

    def fit(self, epochs, learn):
        """Store epochs, learn and `self.loss = tensor(0.)`; give every callback this runner;
        begin_fit; per epoch: `self.epoch`, begin_epoch, train pass, then under no_grad
        begin_validate and valid pass; after_epoch. after_fit always fires; then `self.learn = None`."""
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
        """Call method `cb_name` of each callback that has one, in `_order` (ties keep list order).
        Return True as soon as one returns a truthy value; otherwise False."""
        res = False
        for cb in sorted(self.cbs, key=lambda cb: cb._order):
            f = getattr(cb, cb_name, None)
            if f and f(): res = True
        return res
''',
        "no finally: after_fit skipped on error": '''class Runner():
    """The training loop, with an event at each step for the callbacks.

    `cbs`: callback instances. `cb_funcs`: factories, each called with no arguments; the runner
    also keeps each such callback as an attribute named after it (`run.avg_stats`).
    `self.cbs` is `[TrainEvalCallback()]` followed by `cbs`, then the callbacks of `cb_funcs`."""
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = list(listify(cbs))
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
        """Store xb, yb; begin_batch; pred; after_pred; loss; after_loss; then, in training only,
        backward; after_backward; step; after_step; zero_grad. Return at the first True event."""
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
        """Set `self.iters = len(dl)`; for each batch, unless `self.stop` is set: one_batch, then
        after_batch. At the end reset `self.stop` to False."""
        self.iters = len(dl)
        for xb,yb in dl:
            if self.stop: break
            self.one_batch(xb, yb)
            self('after_batch')
        self.stop = False

    def fit(self, epochs, learn):
        """Store epochs, learn and `self.loss = tensor(0.)`; give every callback this runner;
        begin_fit; per epoch: `self.epoch`, begin_epoch, train pass, then under no_grad
        begin_validate and valid pass; after_epoch. after_fit always fires; then `self.learn = None`."""
        self.epochs,self.learn,self.loss = epochs,learn,tensor(0.)
        for cb in self.cbs: cb.set_runner(self)
        if not self('begin_fit'):
            for epoch in range(epochs):
                self.epoch = epoch
                if not self('begin_epoch'): self.all_batches(self.data.train_dl)
                with torch.no_grad():
                    if not self('begin_validate'): self.all_batches(self.data.valid_dl)
                if self('after_epoch'): break
        self('after_fit')
        self.learn = None

    def __call__(self, cb_name):
        """Call method `cb_name` of each callback that has one, in `_order` (ties keep list order).
        Return True as soon as one returns a truthy value; otherwise False."""
        for cb in sorted(self.cbs, key=lambda cb: cb._order):
            f = getattr(cb, cb_name, None)
            if f and f(): return True
        return False
''',
        "TrainEvalCallback last": '''class Runner():
    """The training loop, with an event at each step for the callbacks.

    `cbs`: callback instances. `cb_funcs`: factories, each called with no arguments; the runner
    also keeps each such callback as an attribute named after it (`run.avg_stats`).
    `self.cbs` is `[TrainEvalCallback()]` followed by `cbs`, then the callbacks of `cb_funcs`."""
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = list(listify(cbs))
        for cbf in listify(cb_funcs):
            cb = cbf()
            setattr(self, cb.name, cb)
            cbs.append(cb)
        self.stop,self.cbs = False,cbs+[TrainEvalCallback()]

    @property
    def opt(self):       return self.learn.opt
    @property
    def model(self):     return self.learn.model
    @property
    def loss_func(self): return self.learn.loss_func
    @property
    def data(self):      return self.learn.data

    def one_batch(self, xb, yb):
        """Store xb, yb; begin_batch; pred; after_pred; loss; after_loss; then, in training only,
        backward; after_backward; step; after_step; zero_grad. Return at the first True event."""
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
        """Set `self.iters = len(dl)`; for each batch, unless `self.stop` is set: one_batch, then
        after_batch. At the end reset `self.stop` to False."""
        self.iters = len(dl)
        for xb,yb in dl:
            if self.stop: break
            self.one_batch(xb, yb)
            self('after_batch')
        self.stop = False

    def fit(self, epochs, learn):
        """Store epochs, learn and `self.loss = tensor(0.)`; give every callback this runner;
        begin_fit; per epoch: `self.epoch`, begin_epoch, train pass, then under no_grad
        begin_validate and valid pass; after_epoch. after_fit always fires; then `self.learn = None`."""
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
        """Call method `cb_name` of each callback that has one, in `_order` (ties keep list order).
        Return True as soon as one returns a truthy value; otherwise False."""
        for cb in sorted(self.cbs, key=lambda cb: cb._order):
            f = getattr(cb, cb_name, None)
            if f and f(): return True
        return False
''',
        "checks stop after the batch": '''class Runner():
    """The training loop, with an event at each step for the callbacks.

    `cbs`: callback instances. `cb_funcs`: factories, each called with no arguments; the runner
    also keeps each such callback as an attribute named after it (`run.avg_stats`).
    `self.cbs` is `[TrainEvalCallback()]` followed by `cbs`, then the callbacks of `cb_funcs`."""
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = list(listify(cbs))
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
        """Store xb, yb; begin_batch; pred; after_pred; loss; after_loss; then, in training only,
        backward; after_backward; step; after_step; zero_grad. Return at the first True event."""
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
        """Set `self.iters = len(dl)`; for each batch, unless `self.stop` is set: one_batch, then
        after_batch. At the end reset `self.stop` to False."""
        self.iters = len(dl)
        for xb,yb in dl:
            self.one_batch(xb, yb)
            self('after_batch')
            if self.stop: break
        self.stop = False

    def fit(self, epochs, learn):
        """Store epochs, learn and `self.loss = tensor(0.)`; give every callback this runner;
        begin_fit; per epoch: `self.epoch`, begin_epoch, train pass, then under no_grad
        begin_validate and valid pass; after_epoch. after_fit always fires; then `self.learn = None`."""
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
        """Call method `cb_name` of each callback that has one, in `_order` (ties keep list order).
        Return True as soon as one returns a truthy value; otherwise False."""
        for cb in sorted(self.cbs, key=lambda cb: cb._order):
            f = getattr(cb, cb_name, None)
            if f and f(): return True
        return False
''',
        "lesson-10 __call__: always False": '''class Runner():
    """The training loop, with an event at each step for the callbacks.

    `cbs`: callback instances. `cb_funcs`: factories, each called with no arguments; the runner
    also keeps each such callback as an attribute named after it (`run.avg_stats`).
    `self.cbs` is `[TrainEvalCallback()]` followed by `cbs`, then the callbacks of `cb_funcs`."""
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = list(listify(cbs))
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
        """Store xb, yb; begin_batch; pred; after_pred; loss; after_loss; then, in training only,
        backward; after_backward; step; after_step; zero_grad. Return at the first True event."""
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
        """Set `self.iters = len(dl)`; for each batch, unless `self.stop` is set: one_batch, then
        after_batch. At the end reset `self.stop` to False."""
        self.iters = len(dl)
        for xb,yb in dl:
            if self.stop: break
            self.one_batch(xb, yb)
            self('after_batch')
        self.stop = False

    def fit(self, epochs, learn):
        """Store epochs, learn and `self.loss = tensor(0.)`; give every callback this runner;
        begin_fit; per epoch: `self.epoch`, begin_epoch, train pass, then under no_grad
        begin_validate and valid pass; after_epoch. after_fit always fires; then `self.learn = None`."""
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
        """Call method `cb_name` of each callback that has one, in `_order` (ties keep list order).
        Return True as soon as one returns a truthy value; otherwise False."""
        res = False
        for cb in sorted(self.cbs, key=lambda cb: cb._order):
            f = getattr(cb, cb_name, None)
            if f: res = f() and res
        return res
''',
        "ignores a True after_step": '''class Runner():
    """The training loop, with an event at each step for the callbacks.

    `cbs`: callback instances. `cb_funcs`: factories, each called with no arguments; the runner
    also keeps each such callback as an attribute named after it (`run.avg_stats`).
    `self.cbs` is `[TrainEvalCallback()]` followed by `cbs`, then the callbacks of `cb_funcs`."""
    def __init__(self, cbs=None, cb_funcs=None):
        cbs = list(listify(cbs))
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
        """Store xb, yb; begin_batch; pred; after_pred; loss; after_loss; then, in training only,
        backward; after_backward; step; after_step; zero_grad. Return at the first True event."""
        self.xb,self.yb = xb,yb
        if self('begin_batch'): return
        self.pred = self.model(self.xb)
        if self('after_pred'): return
        self.loss = self.loss_func(self.pred, self.yb)
        if self('after_loss') or not self.in_train: return
        self.loss.backward()
        if self('after_backward'): return
        self.opt.step()
        self('after_step')
        self.opt.zero_grad()

    def all_batches(self, dl):
        """Set `self.iters = len(dl)`; for each batch, unless `self.stop` is set: one_batch, then
        after_batch. At the end reset `self.stop` to False."""
        self.iters = len(dl)
        for xb,yb in dl:
            if self.stop: break
            self.one_batch(xb, yb)
            self('after_batch')
        self.stop = False

    def fit(self, epochs, learn):
        """Store epochs, learn and `self.loss = tensor(0.)`; give every callback this runner;
        begin_fit; per epoch: `self.epoch`, begin_epoch, train pass, then under no_grad
        begin_validate and valid pass; after_epoch. after_fit always fires; then `self.learn = None`."""
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
        """Call method `cb_name` of each callback that has one, in `_order` (ties keep list order).
        Return True as soon as one returns a truthy value; otherwise False."""
        for cb in sorted(self.cbs, key=lambda cb: cb._order):
            f = getattr(cb, cb_name, None)
            if f and f(): return True
        return False
''',
    },
    "AvgStats": {
        "mean of batch means": '''class AvgStats():
    """The loss and the metrics of one pass (training if `in_train`), averaged over samples."""
    def __init__(self, metrics, in_train):
        self.metrics,self.in_train = listify(metrics),in_train
        self.reset()

    def reset(self):
        """Empty sums: tot_loss = 0., count = 0, one 0. in tot_mets per metric."""
        self.tot_loss,self.count = 0.,0
        self.tot_mets = [0.] * len(self.metrics)

    @property
    def all_stats(self):
        """[total loss (a float), total of each metric], each summed over samples."""
        return [float(self.tot_loss)] + self.tot_mets

    @property
    def avg_stats(self):
        """all_stats divided by count: the mean loss and metrics per sample."""
        return [o/self.count for o in self.all_stats]

    def accumulate(self, run):
        """Add one batch: its mean loss and metrics (of run.pred, run.yb), each times the batch
        size bn = run.xb.shape[0]; count += bn."""
        bn = run.xb.shape[0]
        self.tot_loss += run.loss * bn
        self.count += 1
        for i,m in enumerate(self.metrics):
            self.tot_mets[i] += m(run.pred, run.yb) * bn

    def __repr__(self):
        if not self.count: return ""
        return f"{'train' if self.in_train else 'valid'}: {self.avg_stats}"
''',
        "metrics not weighted by batch size": '''class AvgStats():
    """The loss and the metrics of one pass (training if `in_train`), averaged over samples."""
    def __init__(self, metrics, in_train):
        self.metrics,self.in_train = listify(metrics),in_train
        self.reset()

    def reset(self):
        """Empty sums: tot_loss = 0., count = 0, one 0. in tot_mets per metric."""
        self.tot_loss,self.count = 0.,0
        self.tot_mets = [0.] * len(self.metrics)

    @property
    def all_stats(self):
        """[total loss (a float), total of each metric], each summed over samples."""
        return [float(self.tot_loss)] + self.tot_mets

    @property
    def avg_stats(self):
        """all_stats divided by count: the mean loss and metrics per sample."""
        return [o/self.count for o in self.all_stats]

    def accumulate(self, run):
        """Add one batch: its mean loss and metrics (of run.pred, run.yb), each times the batch
        size bn = run.xb.shape[0]; count += bn."""
        bn = run.xb.shape[0]
        self.tot_loss += run.loss * bn
        self.count += bn
        for i,m in enumerate(self.metrics):
            self.tot_mets[i] += m(run.pred, run.yb)

    def __repr__(self):
        if not self.count: return ""
        return f"{'train' if self.in_train else 'valid'}: {self.avg_stats}"
''',
        "reset forgets the metrics": '''class AvgStats():
    """The loss and the metrics of one pass (training if `in_train`), averaged over samples."""
    def __init__(self, metrics, in_train):
        self.metrics,self.in_train = listify(metrics),in_train
        self.tot_mets = [0.] * len(self.metrics)
        self.reset()

    def reset(self):
        """Empty sums: tot_loss = 0., count = 0, one 0. in tot_mets per metric."""
        self.tot_loss,self.count = 0.,0

    @property
    def all_stats(self):
        """[total loss (a float), total of each metric], each summed over samples."""
        return [float(self.tot_loss)] + self.tot_mets

    @property
    def avg_stats(self):
        """all_stats divided by count: the mean loss and metrics per sample."""
        return [o/self.count for o in self.all_stats]

    def accumulate(self, run):
        """Add one batch: its mean loss and metrics (of run.pred, run.yb), each times the batch
        size bn = run.xb.shape[0]; count += bn."""
        bn = run.xb.shape[0]
        self.tot_loss += run.loss * bn
        self.count += bn
        for i,m in enumerate(self.metrics):
            self.tot_mets[i] += m(run.pred, run.yb) * bn

    def __repr__(self):
        if not self.count: return ""
        return f"{'train' if self.in_train else 'valid'}: {self.avg_stats}"
''',
        "keeps the loss a tensor": '''class AvgStats():
    """The loss and the metrics of one pass (training if `in_train`), averaged over samples."""
    def __init__(self, metrics, in_train):
        self.metrics,self.in_train = listify(metrics),in_train
        self.reset()

    def reset(self):
        """Empty sums: tot_loss = 0., count = 0, one 0. in tot_mets per metric."""
        self.tot_loss,self.count = 0.,0
        self.tot_mets = [0.] * len(self.metrics)

    @property
    def all_stats(self):
        """[total loss (a float), total of each metric], each summed over samples."""
        return [self.tot_loss] + self.tot_mets

    @property
    def avg_stats(self):
        """all_stats divided by count: the mean loss and metrics per sample."""
        return [o/self.count for o in self.all_stats]

    def accumulate(self, run):
        """Add one batch: its mean loss and metrics (of run.pred, run.yb), each times the batch
        size bn = run.xb.shape[0]; count += bn."""
        bn = run.xb.shape[0]
        self.tot_loss += run.loss * bn
        self.count += bn
        for i,m in enumerate(self.metrics):
            self.tot_mets[i] += m(run.pred, run.yb) * bn

    def __repr__(self):
        if not self.count: return ""
        return f"{'train' if self.in_train else 'valid'}: {self.avg_stats}"
''',
    },
    "TestCallback": {
        "stops after 11 steps": '''class TestCallback(Callback):
    """Stops training once 10 training batches are done (run.n_iter >= 10)."""
    _order = 1
    def after_batch(self):
        if self.in_train and self.n_iter > 10: self.run.stop = True
''',
        "stops after 9 steps": '''class TestCallback(Callback):
    """Stops training once 10 training batches are done (run.n_iter >= 10)."""
    _order = 1
    def after_batch(self):
        if self.in_train and self.n_iter >= 9: self.run.stop = True
''',
        "sets its own stop attribute": '''class TestCallback(Callback):
    """Stops training once 10 training batches are done (run.n_iter >= 10)."""
    _order = 1
    def after_batch(self):
        if self.in_train and self.n_iter >= 10: self.stop = True
''',
        "counts validation batches too": '''class TestCallback(Callback):
    """Stops training once 10 training batches are done (run.n_iter >= 10)."""
    _order = 1
    def begin_fit(self): self.count = 0

    def after_batch(self):
        self.count += 1
        if self.count >= 10: self.run.stop = True
''',
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

# The bugs in samples/04_callbacks/buggy.ipynb: (exercise, mutant).
BUGGY_SAMPLE = [
    ("Runner", "forgets to reset stop"),
    ("AvgStats", "mean of batch means"),
    ("TestCallback", "stops after 11 steps"),
]
