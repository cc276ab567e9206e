"""A class of 03_minibatch_training solutions for `course similar`'s tests and bench: independent
students who each wrote the big exercises their own way, and ways to disguise a copy.

Each style below is one student's own code for the cells that leave room for choices (the others
keep the reference). `disguise` does what a copier does to hide a copy: renames, comments,
reordered methods and statements, no-op lines, other indentation and spacing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

A = "03_minibatch_training"

OPT = """class Optimizer():
    "Plain SGD on a fixed list of parameters: `p -= p.grad * lr`."
    def __init__(self, params, lr=0.5):
        "Keep the parameters as a list (`params` may be a generator, which can be walked only once) and `lr`."
{init}

    def step(self):
        "Move each parameter against its gradient, in place, without autograd recording the update."
{step}

    def zero_grad(self):
        "Reset to zero the gradients of this object's own parameters, and of no others."
{zero}
"""

DS = """class Dataset():
    "Inputs `x` and targets `y` side by side: `ds[i]` is `(x[i], y[i])`."
    def __init__(self, x, y):
        "Keep `x` and `y` as the attributes `self.x` and `self.y`."
{init}

    def __len__(self):
        "The number of items."
{len}

    def __getitem__(self, i):
        "The pair `(x[i], y[i])`, for any index tensors accept: int, slice, list, index tensor."
{get}
"""

SAMP = """class Sampler():
    "Batches of indices into a dataset of `len(ds)` items: in order, or in a fresh random order on every pass."
    def __init__(self, ds, bs, shuffle=False):
        "Keep `n = len(ds)`, `bs` and `shuffle`."
{init}

    def __iter__(self):
        "Make the order (`torch.randperm(n)` if shuffling, else `torch.arange(n)`) and yield it in slices of `bs`."
{iter}
"""

DL = """class DataLoader():
    "Batches of `ds`: for each batch of indices from `sampler`, the collated items."
    def __init__(self, ds, sampler, collate_fn=collate):
        "Keep the dataset, the sampler and the collate function."
{init}

    def __iter__(self):
        "For each batch of indices `s` from the sampler, yield `collate_fn([ds[i] for i in s])`."
{iter}
"""

COLLATE = """def collate(b):
    "A list of `(x, y)` pairs to the pair `(xs, ys)`, each stacked along a new first dim."
{body}
"""

FIT = '''def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    """Train `model` on `train_dl` for `epochs` epochs, validating on `valid_dl` after each one.

    Returns the last epoch's `(valid_loss, valid_acc)`, each a mean over validation samples."""
{body}
'''


def _indent(code: str, n: int) -> str:
    return "\n".join((" " * n + line) if line.strip() else "" for line in code.strip("\n").splitlines())


def optimizer(init: str, step: str, zero: str) -> str:
    return OPT.format(init=_indent(init, 8), step=_indent(step, 8), zero=_indent(zero, 8))


def dataset(init: str, length: str, get: str) -> str:
    return DS.format(init=_indent(init, 8), len=_indent(length, 8), get=_indent(get, 8))


def sampler(init: str, it: str) -> str:
    return SAMP.format(init=_indent(init, 8), iter=_indent(it, 8))


def dataloader(init: str, it: str) -> str:
    return DL.format(init=_indent(init, 8), iter=_indent(it, 8))


def collate(body: str) -> str:
    return COLLATE.format(body=_indent(body, 4))


def fit(body: str) -> str:
    return FIT.format(body=_indent(body, 4))


# Six students' own code. Each differs from the others in how it is built, not only in names.
STYLES: dict[str, dict[str, str]] = {
    "ada": {
        "Optimizer": optimizer(
            "self.params = [p for p in params]\nself.lr = lr",
            "for p in self.params:\n    with torch.no_grad():\n        p.sub_(self.lr * p.grad)",
            "for p in self.params:\n    if p.grad is not None:\n        p.grad.data.zero_()",
        ),
        "Dataset": dataset("self.x = x\nself.y = y", "return self.x.shape[0]", "return (self.x[i], self.y[i])"),
        "Sampler": sampler(
            "self.n = len(ds)\nself.bs = bs\nself.shuffle = shuffle",
            "order = torch.randperm(self.n) if self.shuffle else torch.arange(self.n)\n"
            "start = 0\nwhile start < self.n:\n    yield order[start:start + self.bs]\n    start += self.bs",
        ),
        "collate": collate(
            "xs = torch.stack([pair[0] for pair in b])\nys = torch.stack([pair[1] for pair in b])\nreturn xs, ys"
        ),
        "DataLoader": dataloader(
            "self.ds = ds\nself.sampler = sampler\nself.collate_fn = collate_fn",
            "for idxs in self.sampler:\n    items = [self.ds[j] for j in idxs]\n    yield self.collate_fn(items)",
        ),
        "fit": fit(
            "for ep in range(epochs):\n"
            "    model.train()\n"
            "    for xb, yb in train_dl:\n"
            "        out = model(xb)\n"
            "        loss = loss_func(out, yb)\n"
            "        loss.backward()\n"
            "        opt.step()\n"
            "        opt.zero_grad()\n"
            "    model.eval()\n"
            "    n_seen = 0\n"
            "    sum_loss = 0.\n"
            "    sum_acc = 0.\n"
            "    with torch.no_grad():\n"
            "        for xb, yb in valid_dl:\n"
            "            out = model(xb)\n"
            "            bsz = xb.shape[0]\n"
            "            sum_loss += loss_func(out, yb).item() * bsz\n"
            "            sum_acc += accuracy(out, yb).item() * bsz\n"
            "            n_seen += bsz\n"
            "    mean_loss, mean_acc = sum_loss / n_seen, sum_acc / n_seen\n"
            "    print(ep, mean_loss, mean_acc)\n"
            "return torch.tensor(mean_loss), torch.tensor(mean_acc)"
        ),
    },
    "ben": {
        "Optimizer": optimizer(
            "self.params = list(params)\nself.lr = lr",
            "with torch.no_grad():\n    for i in range(len(self.params)):\n"
            "        self.params[i] -= self.lr * self.params[i].grad",
            "for i in range(len(self.params)):\n    g = self.params[i].grad\n    if g is not None:\n        g.zero_()",
        ),
        "Dataset": dataset(
            "self.x, self.y = x, y", "return len(self.y)", "xi, yi = self.x[i], self.y[i]\nreturn xi, yi"
        ),
        "Sampler": sampler(
            "self.n, self.bs, self.shuffle = len(ds), bs, shuffle",
            "if self.shuffle:\n    perm = torch.randperm(self.n)\nelse:\n    perm = torch.arange(self.n)\n"
            "for k in range((self.n + self.bs - 1) // self.bs):\n    yield perm[k * self.bs:(k + 1) * self.bs]",
        ),
        "collate": collate(
            "xs, ys = [], []\nfor x, y in b:\n    xs.append(x)\n    ys.append(y)\n"
            "return torch.stack(xs, 0), torch.stack(ys, 0)"
        ),
        "DataLoader": dataloader(
            "self.ds, self.sampler = ds, sampler\nself.collate_fn = collate_fn",
            "it = iter(self.sampler)\nwhile True:\n    try:\n        batch = next(it)\n    except StopIteration:\n"
            "        return\n    yield self.collate_fn([self.ds[int(t)] for t in batch])",
        ),
        "fit": fit(
            "result = None\n"
            "for e in range(epochs):\n"
            "    model.train()\n"
            "    for batch in train_dl:\n"
            "        inp, tgt = batch\n"
            "        loss_func(model(inp), tgt).backward()\n"
            "        opt.step(); opt.zero_grad()\n"
            "    model.eval()\n"
            "    losses, accs, sizes = [], [], []\n"
            "    with torch.no_grad():\n"
            "        for inp, tgt in valid_dl:\n"
            "            p = model(inp)\n"
            "            losses.append(loss_func(p, tgt))\n"
            "            accs.append(accuracy(p, tgt))\n"
            "            sizes.append(len(tgt))\n"
            "    w = torch.tensor(sizes, dtype=torch.float32)\n"
            "    vl = (torch.stack(losses) * w).sum() / w.sum()\n"
            "    va = (torch.stack(accs) * w).sum() / w.sum()\n"
            "    result = (vl, va)\n"
            "return result"
        ),
    },
    "cy": {
        "Optimizer": optimizer(
            "self.params, self.lr = list(params), lr",
            "with torch.no_grad():\n    [p.add_(p.grad, alpha=-self.lr) for p in self.params]",
            "[p.grad.zero_() for p in self.params if p.grad is not None]",
        ),
        "Dataset": dataset(
            "self.x = x; self.y = y", "return int(self.x.size(0))", "return tuple(t[i] for t in (self.x, self.y))"
        ),
        "Sampler": sampler(
            "self.n = len(ds); self.bs = bs; self.shuffle = shuffle",
            "idx = (torch.randperm if self.shuffle else torch.arange)(self.n)\n"
            "yield from (idx[s:s + self.bs] for s in range(0, self.n, self.bs))",
        ),
        "collate": collate("return tuple(torch.stack(list(col)) for col in zip(*b))"),
        "DataLoader": dataloader(
            "self.ds = ds; self.sampler = sampler; self.collate_fn = collate_fn",
            "yield from (self.collate_fn(list(map(self.ds.__getitem__, s))) for s in self.sampler)",
        ),
        "fit": fit(
            "def one_pass(dl, train):\n"
            "    total_l = total_a = 0.\n"
            "    n = 0\n"
            "    for xb, yb in dl:\n"
            "        pred = model(xb)\n"
            "        l = loss_func(pred, yb)\n"
            "        if train:\n"
            "            l.backward(); opt.step(); opt.zero_grad()\n"
            "        total_l += l.detach() * len(xb)\n"
            "        total_a += accuracy(pred.detach(), yb) * len(xb)\n"
            "        n += len(xb)\n"
            "    return total_l / n, total_a / n\n"
            "for _ in range(epochs):\n"
            "    model.train()\n"
            "    one_pass(train_dl, True)\n"
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        stats = one_pass(valid_dl, False)\n"
            "return stats"
        ),
    },
    "dee": {
        "Optimizer": optimizer(
            "self.lr = lr\nself.params = []\nfor p in params:\n    self.params.append(p)",
            "for p in self.params:\n    update = p.grad * self.lr\n    p.data -= update",
            "for p in self.params:\n    if p.grad is None:\n        continue\n    p.grad.detach_()\n    p.grad.zero_()",
        ),
        "Dataset": dataset(
            "assert len(x) == len(y)\nself.x = x\nself.y = y",
            "n = len(self.x)\nreturn n",
            "item_x = self.x[i]\nitem_y = self.y[i]\nreturn item_x, item_y",
        ),
        "Sampler": sampler(
            "self.bs = bs\nself.n = len(ds)\nself.shuffle = shuffle",
            "if self.shuffle:\n    order = torch.randperm(self.n)\nelse:\n    order = torch.arange(self.n)\n"
            "batches = torch.split(order, self.bs)\nfor batch in batches:\n    yield batch",
        ),
        "collate": collate(
            "inputs = [item[0] for item in b]\ntargets = [item[1] for item in b]\n"
            "inputs = torch.stack(inputs)\ntargets = torch.stack(targets)\nreturn inputs, targets"
        ),
        "DataLoader": dataloader(
            "self.collate_fn = collate_fn\nself.sampler = sampler\nself.ds = ds",
            "for batch_idx in self.sampler:\n    samples = []\n    for i in batch_idx:\n"
            "        samples.append(self.ds[i])\n    yield self.collate_fn(samples)",
        ),
        "fit": fit(
            "epoch = 0\n"
            "while epoch < epochs:\n"
            "    model.train()\n"
            "    for inputs, targets in train_dl:\n"
            "        predictions = model(inputs)\n"
            "        batch_loss = loss_func(predictions, targets)\n"
            "        batch_loss.backward()\n"
            "        opt.step()\n"
            "        opt.zero_grad()\n"
            "    model.eval()\n"
            "    valid_loss = torch.tensor(0.)\n"
            "    valid_acc = torch.tensor(0.)\n"
            "    count = 0\n"
            "    for inputs, targets in valid_dl:\n"
            "        with torch.no_grad():\n"
            "            predictions = model(inputs)\n"
            "            valid_loss = valid_loss + loss_func(predictions, targets) * targets.shape[0]\n"
            "            valid_acc = valid_acc + accuracy(predictions, targets) * targets.shape[0]\n"
            "        count = count + targets.shape[0]\n"
            "    epoch = epoch + 1\n"
            "valid_loss = valid_loss / count\n"
            "valid_acc = valid_acc / count\n"
            "return valid_loss, valid_acc"
        ),
    },
    "eve": {
        "Optimizer": optimizer(
            "self.params = list(params)\nself.lr = float(lr)",
            "for p in self.params:\n    p.data.add_(-self.lr * p.grad.data)",
            "for p in filter(lambda t: t.grad is not None, self.params):\n    p.grad.fill_(0)",
        ),
        "Dataset": dataset(
            "self.x, self.y = x, y", "return self.x.__len__()", "return self.x.__getitem__(i), self.y.__getitem__(i)"
        ),
        "Sampler": sampler(
            "self.n, self.bs = len(ds), bs\nself.shuffle = bool(shuffle)",
            "g = torch.randperm(self.n).tolist() if self.shuffle else list(range(self.n))\n"
            "chunk = []\nfor j in g:\n    chunk.append(j)\n    if len(chunk) == self.bs:\n"
            "        yield torch.tensor(chunk)\n        chunk = []\nif chunk:\n    yield torch.tensor(chunk)",
        ),
        "collate": collate(
            "xs = torch.cat([x.unsqueeze(0) for x, _ in b])\nys = torch.cat([y.view(1) for _, y in b])\nreturn xs, ys"
        ),
        "DataLoader": dataloader(
            "self.ds, self.sampler, self.collate_fn = ds, sampler, collate_fn",
            "for s in self.sampler:\n    xb, yb = self.ds[s]\n    yield self.collate_fn(list(zip(xb, yb)))",
        ),
        "fit": fit(
            "history = []\n"
            "for epoch in range(epochs):\n"
            "    model.train()\n"
            "    for xb, yb in train_dl:\n"
            "        opt.zero_grad()\n"
            "        loss_func(model(xb), yb).backward()\n"
            "        opt.step()\n"
            "    model.eval()\n"
            "    with torch.no_grad():\n"
            "        parts = [(loss_func(model(xb), yb), accuracy(model(xb), yb), len(yb)) for xb, yb in valid_dl]\n"
            "    total = sum(k for _, _, k in parts)\n"
            "    vloss = sum(l * k for l, _, k in parts) / total\n"
            "    vacc = sum(a * k for _, a, k in parts) / total\n"
            "    history.append((vloss, vacc))\n"
            "return history[-1]"
        ),
    },
    "fay": {
        "Optimizer": optimizer(
            "self.params = tuple(params)\nself.lr = lr",
            "torch.set_grad_enabled(False)\ntry:\n    for w in self.params:\n        w.copy_(w - w.grad * self.lr)\n"
            "finally:\n    torch.set_grad_enabled(True)",
            "for w in self.params:\n    w.grad = None if w.grad is None else torch.zeros_like(w.grad)",
        ),
        "Dataset": dataset(
            "self.data = (x, y)\nself.x = x\nself.y = y",
            "return min(len(self.x), len(self.y))",
            "return self.data[0][i], self.data[1][i]",
        ),
        "Sampler": sampler(
            "self.shuffle = shuffle\nself.bs = bs\nself.n = len(ds)",
            "perm = torch.randperm(self.n) if self.shuffle else torch.arange(0, self.n)\n"
            "for b in perm.split(self.bs):\n    yield b.clone()",
        ),
        "collate": collate("first, second = map(list, zip(*b))\nreturn torch.stack(first), torch.stack(second)"),
        "DataLoader": dataloader(
            "vars(self).update(ds=ds, sampler=sampler, collate_fn=collate_fn)",
            "def fetch(s):\n    return self.collate_fn([self.ds[i] for i in s])\nreturn map(fetch, iter(self.sampler))",
        ),
        "fit": fit(
            "for epoch in range(1, epochs + 1):\n"
            "    model.train()\n"
            "    running = 0.\n"
            "    for step, (xb, yb) in enumerate(train_dl):\n"
            "        loss = loss_func(model(xb), yb)\n"
            "        loss.backward()\n"
            "        opt.step()\n"
            "        opt.zero_grad()\n"
            "        running += loss.item()\n"
            "    model.eval()\n"
            "    weighted = torch.zeros(2)\n"
            "    seen = 0\n"
            "    with torch.no_grad():\n"
            "        for xb, yb in valid_dl:\n"
            "            pred = model(xb)\n"
            "            weighted += torch.stack([loss_func(pred, yb), accuracy(pred, yb)]) * len(yb)\n"
            "            seen += len(yb)\n"
            "    print(f'epoch {epoch}: train {running / (step + 1):.3f}')\n"
            "val = weighted / seen\n"
            "return val[0], val[1]"
        ),
    },
}

# The small exercises leave little room: two ways of writing logsumexp between them.
LOGSUMEXP_B = (
    "def logsumexp(x):\n"
    '    "log(sum(exp(x))) of each row of the 2-D tensor `x` (over the last dim), '
    'with the max trick: m + log(sum(exp(x - m)))."\n'
    """    m = x.max(dim=-1, keepdim=True).values
    return (m + (x - m).exp().sum(dim=-1, keepdim=True).log()).squeeze(-1)
"""
)

# What each copier renames (word by word), per exercise's code.
RENAMES = [
    {
        "p": "param",
        "xb": "inputs",
        "yb": "labels",
        "ep": "epoch_i",
        "order": "perm",
        "start": "pos",
        "idxs": "batch",
        "items": "elems",
        "pair": "tup",
        "out": "logits",
        "bsz": "m",
        "n_seen": "total",
        "sum_loss": "acc_l",
        "sum_acc": "acc_a",
        "mean_loss": "ml",
        "mean_acc": "ma",
        "xs": "a",
        "ys": "b_",
    },
    {
        "total_l": "L",
        "total_a": "A",
        "one_pass": "run_epoch",
        "pred": "y_hat",
        "l": "lv",
        "idx": "ordering",
        "s": "sl",
        "col": "column",
        "dl": "loader",
        "train": "is_train",
        "stats": "res",
        "n": "cnt",
    },
    {
        "history": "hist",
        "parts": "vals",
        "total": "N",
        "vloss": "VL",
        "vacc": "VA",
        "chunk": "buf",
        "g": "ids",
        "j": "jj",
        "xs": "X",
        "ys": "Y",
        "s": "batch_idx",
        "t": "tensor_",
    },
    {
        "w": "weight",
        "perm": "order",
        "b": "bt",
        "first": "xs",
        "second": "ys",
        "fetch": "get_batch",
        "running": "tr_loss",
        "weighted": "acc",
        "seen": "count",
        "pred": "out",
        "val": "final",
    },
    {
        "w": "param",
        "perm": "p",
        "first": "inp",
        "second": "tgt",
        "fetch": "load",
        "running": "r",
        "weighted": "tot",
        "seen": "m",
        "pred": "yhat",
        "val": "v",
        "xb": "xx",
        "yb": "yy",
    },
]


def rename(code: str, names: dict[str, str]) -> str:
    """Rename whole words outside strings (the cells here keep names out of their strings)."""
    out = []
    for line in code.splitlines():
        head, quote, rest = line.partition('"')  # docstrings stay as they were
        for old, new in names.items():
            head = re.sub(rf"(?<![\w.]){re.escape(old)}\b", new, head)
            head = re.sub(rf"(?<=self\.){re.escape(old)}\b", new, head)
        out.append(head + quote + rest)
    return "\n".join(out) + "\n"


def reorder_methods(code: str) -> str:
    """A class's methods in the opposite order (the class means the same)."""
    lines = code.rstrip("\n").split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("    def ")]
    if len(starts) < 2:
        return code
    head, chunks = lines[: starts[0]], []
    for a, b in zip(starts, [*starts[1:], len(lines)], strict=True):
        chunks.append([line for line in lines[a:b] if line.strip()])
    return "\n".join(head + [line for chunk in reversed(chunks) for line in (*chunk, "")]) + "\n"


def simple_ends(lines: list[str]) -> list[bool]:
    """Whether each line is a whole simple statement, after which another one may follow (not a
    block's header, not part of a bracketed expression over several lines, not in a docstring)."""
    out, depth, in_doc = [], 0, False
    for line in lines:
        body = line.strip()
        started = depth
        in_doc ^= body.count('"""') % 2 == 1
        depth += sum(body.count(c) for c in "([{") - sum(body.count(c) for c in ")]}")
        out.append(bool(body) and not started and not depth and not in_doc and not body.endswith((":", "\\")))
    return out


def add_noise(code: str, tag: str) -> str:
    """Comments, blank lines, no-op lines (some the normaliser removes, one it keeps) and
    two-space indentation."""
    lines = code.rstrip("\n").split("\n")
    unit = min((len(x) - len(x.lstrip(" ")) for x in lines if x.strip() and x[0] == " "), default=4)
    ends = simple_ends(lines)

    def indent(line: str) -> str:
        return "  " * ((len(line) - len(line.lstrip(" "))) // unit)

    out = [f"# {tag}: my own work"]
    for n, line in enumerate(lines):
        body = line.strip()
        out.append(indent(line) + body + ("   # step" if n % 3 == 1 and ends[n] and '"' not in body else ""))
        following = next((x for x in lines[n + 1 :] if x.strip()), None)
        if body.endswith(":") and n % 2 and following and len(indent(following)) > len(indent(line)):
            out.append(indent(following) + "pass")  # a no-op as the block's first statement
        if n % 4 == 2:
            out.append("")
        elif n % 5 == 3 and ends[n] and '"' not in body:
            out.append(indent(line) + "assert True")  # a no-op the normaliser keeps: it breaks fingerprints
    return "\n".join(out) + "\n"


# A copier who also rewrites loops as comprehensions and `map`, and comprehensions as loops (the
# same program): dee's code, each piece as written -> its rewrite.
REWRITES = {
    "self.params = []\n        for p in params:\n            self.params.append(p)": (
        "self.params = list(p for p in params)"
    ),
    "inputs = [item[0] for item in b]\n    targets = [item[1] for item in b]": (
        "inputs = list(map(lambda item: item[0], b))\n    targets = []\n    for item in b:\n"
        "        targets.append(item[1])"
    ),
    "samples = []\n            for i in batch_idx:\n                samples.append(self.ds[i])": (
        "samples = list(map(self.ds.__getitem__, batch_idx))"
    ),
    "for p in self.params:\n            update = p.grad * self.lr": (
        "for p in self.params:\n            update = self.lr * p.grad"
    ),
}


def rewrite(cells: dict[str, str]) -> dict[str, str]:
    out = {}
    for ex, code in cells.items():
        for old, new in REWRITES.items():
            code = code.replace(old, new)
        out[ex] = code
    return out


def disguise(cells: dict[str, str], names: dict[str, str], tag: str) -> dict[str, str]:
    return {ex: add_noise(reorder_methods(rename(code, names)), tag) for ex, code in cells.items()}


def notebook_with(base: Path, cells: dict[str, str], out: Path) -> Path:
    """The notebook `base` with these solution cells' sources."""
    nb = json.loads(base.read_text())
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in cells:
            cell["source"] = cells[gid]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(nb))
    return out


def build_class(root: Path, out: Path) -> dict[str, Path]:
    """The test class: six independent students, five disguised copies (one copied twice: a group
    of three), and two who only share the starter code and the reference's shape."""
    base = root / "samples" / A / "perfect.ipynb"
    own = {name: dict(style) for name, style in STYLES.items()}
    own["ben"]["logsumexp"] = own["dee"]["logsumexp"] = LOGSUMEXP_B
    copies = {  # copier: (original, renames)
        "zed": ("ada", RENAMES[0]),
        "yan": ("cy", RENAMES[1]),
        "xia": ("eve", RENAMES[2]),
        "wes": ("fay", RENAMES[3]),
        "vic": ("fay", RENAMES[4]),
    }
    paths = {name: notebook_with(base, cells, out / f"{name}.ipynb") for name, cells in own.items()}
    for copier, (original, names) in copies.items():
        paths[copier] = notebook_with(base, disguise(own[original], names, copier), out / f"{copier}.ipynb")
    rewritten = rewrite(own["dee"])
    assert sum(a != b for a, b in zip(rewritten.values(), own["dee"].values(), strict=True)) >= 3
    paths["uma"] = notebook_with(base, disguise(rewritten, RENAMES[1], "uma"), out / "uma.ipynb")
    reference = {
        c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
        for c in json.loads(base.read_text())["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")
    }
    paths["sam"] = notebook_with(base, reference, out / "sam.ipynb")
    renamed = {"m": "mx", "p": "w", "xb": "a", "yb": "b", "tot_loss": "tl", "tot_acc": "ta", "count": "c"}
    paths["tom"] = notebook_with(base, disguise(reference, renamed, "tom"), out / "tom.ipynb")
    return paths


COPIES = {
    ("ada", "zed"),
    ("cy", "yan"),
    ("eve", "xia"),
    ("fay", "wes"),
    ("fay", "vic"),
    ("vic", "wes"),
    ("dee", "uma"),  # loops rewritten as comprehensions and map, and back
}
STARTER_ONLY = ("sam", "tom")
