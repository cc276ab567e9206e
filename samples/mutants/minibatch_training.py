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
    },
    'accuracy': {
        'argmax over the wrong dim': '''def accuracy(out, yb):
    return (torch.argmax(out, dim=0) == yb[:out.shape[1]]).float().mean()
''',
        'counts instead of averaging': '''def accuracy(out, yb):
    return (torch.argmax(out, dim=1) == yb).float().sum()
''',
    },
    "DummyModule": {
        "registers underscore names too": [("        if not k.startswith('_'): self._modules[k] = v\n",
                                            "        if k != '_modules': self._modules[k] = v\n")],
        "forgets the relu": [("return self.l2(F.relu(self.l1(x)))", "return self.l2(self.l1(x))")],
        "parameters yields weights only": [("for l in self._modules.values(): yield from l.parameters()",
                                            "for l in self._modules.values(): yield l.weight")],
    },
    "Optimizer": {
        "uses a global lr": [("            for p in self.params: p -= p.grad * self.lr\n",
                              "            for p in self.params: p -= p.grad * lr\n"),
                             ("class Optimizer():\n", "lr = 0.5\nclass Optimizer():\n")],
        "keeps the generator, not a list": [("self.params, self.lr = list(params), lr", "self.params, self.lr = params, lr")],
        "adds the gradient": [("p -= p.grad * self.lr", "p += p.grad * self.lr")],
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
        "yields only the first batch": [("        for s in self.sampler: yield self.collate_fn([self.ds[i] for i in s])\n",
                                         "        s = next(iter(self.sampler))\n        yield self.collate_fn([self.ds[i] for i in s])\n")],
    },
    "fit": {
        "the lesson's mean of batch means": [("                tot_loss += loss_func(pred, yb) * n\n", "                tot_loss += loss_func(pred, yb)\n"),
                                             ("                tot_acc += accuracy(pred, yb) * n\n", "                tot_acc += accuracy(pred, yb)\n"),
                                             ("                count += n\n", "                count += 1\n")],
        "validates in train mode with grad": [("        model.eval()\n", ""), ("        with torch.no_grad():\n", "        if True:\n")],
        "zero_grad before step": [("            opt.step()\n            opt.zero_grad()\n", "            opt.zero_grad()\n            opt.step()\n")],
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

# The bugs in samples/03_minibatch_training/buggy.ipynb: (exercise, mutant).
BUGGY_SAMPLE = [
    ("logsumexp", "naive: overflows"),
    ("nll", "sums instead of averaging"),
    ("Sampler", "shuffles once, in __init__"),
    ("fit", "the lesson's mean of batch means"),
]
