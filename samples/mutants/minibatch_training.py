"""Realistic wrong solutions for 03_minibatch_training, each an edit of the reference cell
(`autograder.mutants`) or a whole cell's source.

Used by the tests (each must lose points on its own exercise and no other)
and by `course release` for samples/03_minibatch_training/buggy.ipynb.
"""

MUTANTS = {
    'logsumexp': {
        'naive: overflows': '''def logsumexp(x):
    return x.exp().sum(-1).log()
''',
        'forgets to add the max back': '''def logsumexp(x):
    m = x.max(-1)[0]
    return (x - m[:, None]).exp().sum(-1).log()
''',
        'max over the wrong dim': '''def logsumexp(x):
    m = x.max(0)[0]
    return m.max() + (x - m.max()).exp().sum(-1).log()
''',
        "calls torch's logsumexp": '''def logsumexp(x):
    return torch.logsumexp(x, -1)
''',
    },
    'log_softmax': {
        'naive log of softmax': '''def log_softmax(x):
    return (x.exp() / x.exp().sum(-1, keepdim=True)).log()
''',
        'sums over the batch dim': '''def log_softmax(x):
    return x - x.exp().sum(0, keepdim=True).log()
''',
        'calls F.log_softmax': '''def log_softmax(x):
    return F.log_softmax(x, -1)
''',
    },
    'nll': {
        'forgets the minus sign': '''def nll(input, target):
    return input[range(target.shape[0]), target].mean()
''',
        'indexes a whole row per target': '''def nll(input, target):
    return -input[target].mean()
''',
        'sums instead of averaging': '''def nll(input, target):
    return -input[range(target.shape[0]), target].sum()
''',
        'one-hot target without the number of classes': '''def nll(input, target):
    return -(input * F.one_hot(target)).sum(1).mean()
''',
    },
    'accuracy': {
        'returns a Python float': '''def accuracy(out, yb):
    return (torch.argmax(out, dim=1) == yb).float().mean().item()
''',
        'argmax over the wrong dim': '''def accuracy(out, yb):
    return (torch.argmax(out, dim=0) == yb[:out.shape[1]]).float().mean()
''',
        'counts instead of averaging': '''def accuracy(out, yb):
    return (torch.argmax(out, dim=1) == yb).float().sum()
''',
        'compares one-hot rows sized by the classes present': '''def accuracy(out, yb):
    return (F.one_hot(out.argmax(1)) * F.one_hot(yb)).sum(1).float().mean()
''',
    },
    "DummyModule": {
        "registers underscore names too": [("        if not k.startswith('_'): self._modules[k] = v\n",
                                            "        if k != '_modules': self._modules[k] = v\n")],
        "forgets the relu": [("return self.l2(F.relu(self.l1(x)))", "return self.l2(self.l1(x))")],
        "parameters yields weights only": [("for l in self._modules.values(): yield from l.parameters()",
                                            "for l in self._modules.values(): yield l.weight")],
        "registers modules only": [("        if not k.startswith('_'): self._modules[k] = v\n",
                                    "        if not k.startswith('_') and isinstance(v, nn.Module): self._modules[k] = v\n")],
        "repr of the object, not of _modules": [("    def __repr__(self): return f'{self._modules}'\n", "")],
        "_modules shared by every instance (a class attribute)": [
            ("        self._modules = {}            # first: each assignment below goes through __setattr__, which uses it\n", ""),
            ("    def __init__(self, n_in, nh, n_out):\n", "    _modules = {}\n\n    def __init__(self, n_in, nh, n_out):\n"),
        ],
    },
    "Optimizer": {
        "uses a global lr": [("            for p in self.params: p -= p.grad * self.lr\n",
                              "            for p in self.params: p -= p.grad * lr\n"),
                             ("class Optimizer():\n", "lr = 0.5\nclass Optimizer():\n")],
        "keeps the generator, not a list": [("self.params, self.lr = list(params), lr", "self.params, self.lr = params, lr")],
        "adds the gradient": [("p -= p.grad * self.lr", "p += p.grad * self.lr")],
        "default lr 0.1": [("def __init__(self, params, lr=0.5):", "def __init__(self, params, lr=0.1):")],
        "zero_grad does nothing": [("            if p.grad is not None: p.grad.zero_()\n", "            pass\n")],
    },
    "Dataset": {
        "returns x only": [("        return self.x[i], self.y[i]\n", "        return self.x[i]\n")],
        "len off by one": [("        return len(self.x)\n", "        return len(self.x) - 1\n")],
    },
    "Sampler": {
        "shuffles once, in __init__": [
            ("        self.n, self.bs, self.shuffle = len(ds), bs, shuffle\n",
             "        self.n, self.bs, self.shuffle = len(ds), bs, shuffle\n"
             "        self.idxs = torch.randperm(self.n) if shuffle else torch.arange(self.n)\n"),
            ("        self.idxs = torch.randperm(self.n) if self.shuffle else torch.arange(self.n)\n", ""),
        ],
        "drops the last partial batch": [("for i in range(0, self.n, self.bs)", "for i in range(0, self.n - self.bs + 1, self.bs)")],
        "never shuffles": [("torch.randperm(self.n) if self.shuffle else torch.arange(self.n)", "torch.arange(self.n)")],
        "one batch too many (an empty one) when bs divides n": [
            ("for i in range(0, self.n, self.bs): yield self.idxs[i:i + self.bs]",
             "for i in range(self.n // self.bs + 1): yield self.idxs[i * self.bs:(i + 1) * self.bs]")],
        "shuffles within each batch only": [
            ("self.idxs = torch.randperm(self.n) if self.shuffle else torch.arange(self.n)", "self.idxs = torch.arange(self.n)"),
            ("yield self.idxs[i:i + self.bs]",
             "yield self.idxs[i:i + self.bs][torch.randperm(len(self.idxs[i:i + self.bs]))] if self.shuffle else self.idxs[i:i + self.bs]"),
        ],
    },
    'collate': {
        'concatenates instead of stacking': '''def collate(b):
    xs, ys = zip(*b)
    return torch.cat(xs), torch.stack(ys)
''',
        'returns the pairs unzipped but not stacked': '''def collate(b):
    xs, ys = zip(*b)
    return list(xs), list(ys)
''',
    },
    "DataLoader": {
        "ignores collate_fn": [("yield self.collate_fn([self.ds[i] for i in s])", "yield collate([self.ds[i] for i in s])")],
        "ignores the sampler's order: in order, in batches of its size": '''class DataLoader():
    def __init__(self, ds, sampler, collate_fn=collate):
        self.ds, self.sampler, self.collate_fn = ds, sampler, collate_fn

    def __iter__(self):
        bs = len(next(iter(self.sampler)))
        for i in range(0, len(self.ds), bs):
            yield self.collate_fn([self.ds[j] for j in range(i, min(i + bs, len(self.ds)))])
''',
        "yields only the first batch": [("        for s in self.sampler: yield self.collate_fn([self.ds[i] for i in s])\n",
                                         "        s = next(iter(self.sampler))\n        yield self.collate_fn([self.ds[i] for i in s])\n")],
    },
    "fit": {
        "the lesson's mean of batch means": [("                tot_loss += loss_func(pred, yb) * n\n", "                tot_loss += loss_func(pred, yb)\n"),
                                             ("                tot_acc += accuracy(pred, yb) * n\n", "                tot_acc += accuracy(pred, yb)\n"),
                                             ("                count += n\n", "                count += 1\n")],
        "validates in train mode with grad": [("        model.eval()\n", ""), ("        with torch.no_grad():\n", "        if True:\n")],
        "cross-entropy, not the loss_func given": [("            loss = loss_func(model(xb), yb)\n", "            loss = F.cross_entropy(model(xb), yb)\n"),
                                                   ("                tot_loss += loss_func(pred, yb) * n\n", "                tot_loss += F.cross_entropy(pred, yb) * n\n")],
        "zero_grad before step": [("            opt.step()\n            opt.zero_grad()\n", "            opt.zero_grad()\n            opt.step()\n")],
        "counts every batch but the last as full": '''def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss = loss_func(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        with torch.no_grad():
            sizes, tot_loss, tot_acc = [], 0., 0.
            for xb, yb in valid_dl:
                pred = model(xb)
                sizes.append(len(yb))
                tot_loss += loss_func(pred, yb) * len(yb)
                tot_acc += accuracy(pred, yb) * len(yb)
            count = sizes[0] * (len(sizes) - 1) + sizes[-1]  # the batch size times the batches, less what the last lacks
    return tot_loss / count, tot_acc / count
''',
    },
    'get_dls': {
        'valid loader shuffles too': '''def get_dls(train_ds, valid_ds, bs, **kwargs):
    return (torch.utils.data.DataLoader(train_ds, batch_size=bs, shuffle=True, **kwargs),
            torch.utils.data.DataLoader(valid_ds, batch_size=bs*2, shuffle=True, **kwargs))
''',
        'same batch size for both': '''def get_dls(train_ds, valid_ds, bs, **kwargs):
    return (torch.utils.data.DataLoader(train_ds, batch_size=bs, shuffle=True, **kwargs),
            torch.utils.data.DataLoader(valid_ds, batch_size=bs, **kwargs))
''',
        'passes no keyword arguments on': '''def get_dls(train_ds, valid_ds, bs, **kwargs):
    return (torch.utils.data.DataLoader(train_ds, batch_size=bs, shuffle=True),
            torch.utils.data.DataLoader(valid_ds, batch_size=bs*2))
''',
        'forgets to shuffle the training set': '''def get_dls(train_ds, valid_ds, bs, **kwargs):
    return (torch.utils.data.DataLoader(train_ds, batch_size=bs, **kwargs),
            torch.utils.data.DataLoader(valid_ds, batch_size=bs*2, **kwargs))
''',
    },
}

# Correct solutions written differently from the reference: full marks.
ALTERNATIVES = {
    "logsumexp": '''def logsumexp(x):
    m = x.amax(dim=-1, keepdim=True)
    return (m + torch.log(torch.sum(torch.exp(x - m), dim=-1, keepdim=True))).squeeze(-1)
''',
    "log_softmax": '''def log_softmax(x):
    return x - logsumexp(x)[..., None]
''',
    "nll": '''def nll(input, target):
    return -input.gather(1, target[:, None]).squeeze(1).mean()
''',
    "accuracy": '''def accuracy(out, yb):
    return out.argmax(-1).eq(yb).to(torch.float32).mean()
''',
    "DummyModule": '''class DummyModule:
    def __init__(self, n_in, nh, n_out):
        object.__setattr__(self, "_modules", {})
        self.l1 = nn.Linear(n_in, nh)
        self.l2 = nn.Linear(nh, n_out)

    def __setattr__(self, k, v):
        if k[:1] != "_":
            self._modules[k] = v
        object.__setattr__(self, k, v)

    def __repr__(self):
        return str(self._modules)

    def parameters(self):
        return [p for m in self._modules.values() for p in m.parameters()]

    def __call__(self, x):
        return self.l2(self.l1(x).clamp_min(0))
''',
    "Optimizer": '''class Optimizer:
    def __init__(self, params, lr=0.5):
        self.params = [*params]
        self.lr = lr

    @torch.no_grad()
    def step(self):
        for p in self.params:
            p.sub_(self.lr * p.grad)

    def zero_grad(self):
        for p in self.params:
            p.grad = None
''',
    "Sampler": '''class Sampler:
    def __init__(self, ds, bs, shuffle=False):
        self.n, self.bs, self.shuffle = len(ds), bs, shuffle

    def __iter__(self):
        idxs = torch.randperm(self.n) if self.shuffle else torch.arange(self.n)
        yield from idxs.split(self.bs)
''',
    "fit": '''def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss_func(model(xb), yb).backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        losses, accs, ns = [], [], []
        with torch.no_grad():
            for xb, yb in valid_dl:
                pred = model(xb)
                losses.append(float(loss_func(pred, yb)))
                accs.append(float(accuracy(pred, yb)))
                ns.append(len(xb))
        total = sum(ns)
        valid_loss = sum(l * n for l, n in zip(losses, ns)) / total
        valid_acc = sum(a * n for a, n in zip(accs, ns)) / total
    return valid_loss, valid_acc
''',
}

ALTERNATIVES.update({
    "Dataset": '''class Dataset:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):
        return (self.x[i], self.y[i])
''',
    "collate": '''def collate(b):
    return torch.stack([x for x, _ in b]), torch.stack([y for _, y in b])
''',
    "DataLoader": '''class DataLoader:
    def __init__(self, ds, sampler, collate_fn=collate):
        self.ds, self.sampler, self.collate_fn = ds, sampler, collate_fn

    def __iter__(self):
        return (self.collate_fn([self.ds[int(i)] for i in idxs]) for idxs in self.sampler)
''',
    "get_dls": '''import torch.utils.data as tud

def get_dls(train_ds, valid_ds, bs, **kwargs):
    train = tud.DataLoader(train_ds, bs, sampler=tud.RandomSampler(train_ds), **kwargs)
    valid = tud.DataLoader(valid_ds, 2 * bs, sampler=tud.SequentialSampler(valid_ds), **kwargs)
    return train, valid
''',
})

# More correct solutions, each written another way (`mutants.alternative_rounds`): full marks too.
# What is graded is what fit returns and does to the model it is given, never how often it calls
# the model or the loss_func.
MORE_ALTERNATIVES = {
    "fit": {
        "the validation loss once, over all predictions": '''def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss = loss_func(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        with torch.no_grad():
            preds, ys = zip(*[(model(xb), yb) for xb, yb in valid_dl])
            pred, y = torch.cat(preds), torch.cat(ys)
            valid_loss, valid_acc = loss_func(pred, y), accuracy(pred, y)
    return valid_loss, valid_acc
''',
        "the model called twice per validation batch, under inference_mode": '''def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            opt.zero_grad()
            loss_func(model(xb), yb).backward()
            opt.step()
        model.eval()
        sums, count = torch.zeros(2), 0
        with torch.inference_mode():
            for xb, yb in valid_dl:
                loss = loss_func(model(xb), yb)
                acc = accuracy(model(xb), yb)
                sums += torch.stack([loss.float().cpu(), acc.float().cpu()]) * len(yb)
                count += len(yb)
    return tuple(sums / count)
''',
    },
}

# The lesson's own code, line for line as shared/LESSON_API.md describes it (not the kit's
# reference): each must get full marks. Where the kit's SPEC fixes a choice the lesson's notebook
# did not make, the cell makes it as LESSON_API.md's own correction says, and a comment says so.
LESSON = {
    "logsumexp": '''def logsumexp(x):
    m = x.max(-1)[0]
    return m + (x-m[:,None]).exp().sum(-1).log()
''',
    "log_softmax": '''def log_softmax(x): return x - x.logsumexp(-1,keepdim=True)
''',
    "nll": '''def nll(input, target): return -input[range(target.shape[0]), target].mean()
''',
    "accuracy": '''def accuracy(out, yb): return (torch.argmax(out, dim=1)==yb).float().mean()
''',
    "DummyModule": '''class DummyModule():
    def __init__(self, n_in, nh, n_out):
        self._modules = {}
        self.l1 = nn.Linear(n_in,nh)
        self.l2 = nn.Linear(nh,n_out)

    def __setattr__(self,k,v):
        if not k.startswith("_"): self._modules[k] = v
        super().__setattr__(k,v)

    def __repr__(self): return f'{self._modules}'

    def parameters(self):
        for l in self._modules.values():
            for p in l.parameters(): yield p

    # SPEC: the kit adds __call__ so that it can be trained
    def __call__(self, x): return self.l2(F.relu(self.l1(x)))
''',
    "Optimizer": '''class Optimizer():
    def __init__(self, params, lr=0.5): self.params,self.lr=list(params),lr

    def step(self):
        with torch.no_grad():
            for p in self.params: p -= p.grad * self.lr

    def zero_grad(self):
        for p in self.params: p.grad.data.zero_()
''',
    "Dataset": '''class Dataset():
    def __init__(self, x, y): self.x,self.y = x,y
    def __len__(self): return len(self.x)
    def __getitem__(self, i): return self.x[i],self.y[i]
''',
    "Sampler": '''class Sampler():
    def __init__(self, ds, bs, shuffle=False):
        self.n,self.bs,self.shuffle = len(ds),bs,shuffle

    def __iter__(self):
        self.idxs = torch.randperm(self.n) if self.shuffle else torch.arange(self.n)
        for i in range(0, self.n, self.bs): yield self.idxs[i:i+self.bs]
''',
    "collate": '''def collate(b):
    xs,ys = zip(*b)
    return torch.stack(xs),torch.stack(ys)
''',
    "DataLoader": '''class DataLoader():
    def __init__(self, ds, sampler, collate_fn=collate):
        self.ds,self.sampler,self.collate_fn = ds,sampler,collate_fn

    def __iter__(self):
        for s in self.sampler: yield self.collate_fn([self.ds[i] for i in s])
''',
    # The lesson divides by nv, the number of batches (its averaging bug); SPEC grades the mean
    # over samples, so this is LESSON_API.md's "correct version": sums weighted by batch size.
    "fit": '''def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb,yb in train_dl:
            loss = loss_func(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()

        model.eval()
        with torch.no_grad():
            tot_loss,tot_acc,nv = 0.,0.,0
            for xb,yb in valid_dl:
                pred = model(xb)
                n = xb.shape[0]
                tot_loss += loss_func(pred, yb)*n
                tot_acc  += accuracy (pred,yb)*n
                nv += n
        print(epoch, tot_loss/nv, tot_acc/nv)
    return tot_loss/nv, tot_acc/nv
''',
    "get_dls": '''def get_dls(train_ds, valid_ds, bs, **kwargs):
    return (torch.utils.data.DataLoader(train_ds, batch_size=bs, shuffle=True, **kwargs),
            torch.utils.data.DataLoader(valid_ds, batch_size=bs*2, **kwargs))
''',
}

# What each exercise must do (SPEC's "must do" and what LESSON_API.md says the lesson's code does),
# each with the mutants above that lack it: docs/BEHAVIOURS.md (bench/behaviours.py) lists the
# checks that fail on each, so every behaviour is seen to have a probe that fails without it.
BEHAVIOURS = {
    "logsumexp": {
        "SPEC: over the last dim of a 2-D input": ["max over the wrong dim"],
        "SPEC: the max trick, finite for inputs of magnitude 1e4": ["naive: overflows"],
        "LESSON: m + log(sum(exp(x - m)))": ["forgets to add the max back"],
        "SPEC: not torch's logsumexp": ["calls torch's logsumexp"],
    },
    "log_softmax": {
        "SPEC: x - logsumexp(x) over the last dim, keeping dims": ["sums over the batch dim"],
        "LESSON: stable (row [1000, 0] gives [0, -1000])": ["naive log of softmax"],
        "SPEC: not torch's log_softmax or softmax": ["calls F.log_softmax"],
    },
    "nll": {
        "SPEC: the negative log-likelihood": ["forgets the minus sign"],
        "SPEC: the mean over the batch": ["sums instead of averaging"],
        "SPEC: by integer indexing, one entry per row": ["indexes a whole row per target"],
        "SPEC: input of shape (B, C), whatever classes the targets hold": ["one-hot target without the number of classes"],
    },
    "accuracy": {
        "SPEC: argmax over dim 1": ["argmax over the wrong dim"],
        "SPEC: the mean": ["counts instead of averaging"],
        "SPEC: a float tensor": ["returns a Python float"],
        "SPEC: argmax(out, 1) == yb, whatever classes appear": ["compares one-hot rows sized by the classes present"],
    },
    "DummyModule": {
        "SPEC: __setattr__ registers public attributes, not underscore ones": ["registers underscore names too"],
        "SPEC: every public attribute, not only modules": ["registers modules only"],
        "SPEC: parameters() yields every parameter, in order": ["parameters yields weights only"],
        "SPEC: __call__ = l2(relu(l1(x)))": ["forgets the relu"],
        "SPEC: __repr__ (the _modules dict)": ["repr of the object, not of _modules"],
        "LESSON: __init__ sets self._modules = {}: each instance its own": ["_modules shared by every instance (a class attribute)"],
    },
    "Optimizer": {
        "SPEC: step() updates against the gradient, in place": ["adds the gradient"],
        "SPEC: lr=0.5 by default": ["default lr 0.1"],
        "SPEC: step uses self.lr, never a global": ["uses a global lr"],
        "LESSON: keeps list(params): a generator is walked once": ["keeps the generator, not a list"],
        "SPEC: zero_grad() zeroes its own params' gradients": ["zero_grad does nothing"],
    },
    "Dataset": {
        "SPEC: len": ["len off by one"],
        "SPEC: ds[i] is (x[i], y[i]), by int and by slice": ["returns x only"],
    },
    "Sampler": {
        "SPEC: batches of bs, the last smaller": ["drops the last partial batch"],
        "LESSON: ceil(n/bs) batches (n=12, bs=4: three)": ["one batch too many (an empty one) when bs divides n"],
        "LESSON: with shuffle, the concatenation is a permutation of range(n)": ["shuffles within each batch only"],
        "SPEC: shuffles when asked": ["never shuffles"],
        "SPEC: a fresh permutation on every pass": ["shuffles once, in __init__"],
    },
    "collate": {
        "SPEC: stacked along a new first dim": ["concatenates instead of stacking"],
        "SPEC: (xs, ys) tensors": ["returns the pairs unzipped but not stacked"],
    },
    "DataLoader": {
        "SPEC: uses collate_fn": ["ignores collate_fn"],
        "LESSON: every batch the sampler yields": ["yields only the first batch"],
        "LESSON: follows whatever order the sampler yields (fixed or shuffling)": ["ignores the sampler's order: in order, in batches of its size"],
    },
    "fit": {
        "SPEC: the mean over validation samples": ["the lesson's mean of batch means"],
        "SPEC: validates with model.eval() under no_grad": ["validates in train mode with grad"],
        "LESSON: loss, backward, step, then zero_grad": ["zero_grad before step"],
        "SPEC: uses the loss_func it is given": ["cross-entropy, not the loss_func given"],
        "SPEC: the mean over validation samples, correct when batch sizes differ": ["counts every batch but the last as full"],
    },
    "get_dls": {
        "SPEC: shuffled train loader": ["forgets to shuffle the training set"],
        "SPEC: ordered valid loader": ["valid loader shuffles too"],
        "SPEC: valid batches of 2*bs": ["same batch size for both"],
        "LESSON: **kwargs go to both loaders": ["passes no keyword arguments on"],
    },
}

# Automatic mutants (`autograder.mutate`, `course selftest --auto`) that no check can tell from
# the reference, because SPEC lets them behave so: exercise -> {mutant name: why it is equivalent}.
EQUIVALENT = {
    "logsumexp": {
        "dim 3:14 -1 -> 1": "SPEC: the input is 2-D, whose last dim is dim 1",
        "dim 4:42 -1 -> 1": "SPEC: the input is 2-D, whose last dim is dim 1",
    },
    "log_softmax": {
        "dim 3:38 -1 -> 1": "SPEC: the input is 2-D, whose last dim is dim 1",
    },
    "nll": {
        "const 3:37 0 -> -1": "target.shape[-1] is target.shape[0]: the target is 1-D",
    },
    "Optimizer": {
        "const 15:29 None -> 0": "`p.grad is not 0` is always true: the lesson's zero_grad has no test at all, "
        "and zero_grad before any backward is not graded (the lesson's raises)",
    },
    "fit": {
        "drop 21:8 print(f'epoch {epoch}: valid loss {float(tot_loss / count... -> (removed)": "what fit prints is not graded",
        "arith 21:49 tot_loss / count -> tot_loss * count": "only in what fit prints",
        "arith 21:89 tot_acc / count -> tot_acc * count": "only in what fit prints",
    },
}

# The bugs in samples/03_minibatch_training/buggy.ipynb: (exercise, mutant).
BUGGY_SAMPLE = [
    ("logsumexp", "naive: overflows"),
    ("nll", "sums instead of averaging"),
    ("Sampler", "shuffles once, in __init__"),
    ("fit", "the lesson's mean of batch means"),
]
