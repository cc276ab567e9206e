"""Realistic wrong solutions for 02_init, each an edit of the reference cell
(`autograder.mutants`) or a whole cell's source.

Used by the tests (each must lose points on its own exercise and no other)
and by `course release` for samples/02_init/buggy.ipynb.
"""

MUTANTS = {
    'fan_in_out': {
        'fan_in and fan_out swapped': [('    return ni * rec_fs, nf * rec_fs\n',
            '    return nf * rec_fs, ni * rec_fs\n')],
        'receptive field ignored': [('    return ni * rec_fs, nf * rec_fs\n',
            '    return ni, nf\n')],
        'square kernels only': [('    rec_fs = w[0, 0].numel()\n',
            '    rec_fs = w.shape[-1] ** 2 if w.dim() > 2 else 1\n')],
        'Conv2d weights only': [('    nf, ni, *_ = w.shape\n    rec_fs = w[0, 0].numel()\n',
            '    nf, ni, kh, kw = w.shape\n    rec_fs = kh * kw\n')],
    },
    'gain': {
        'sqrt(2 / (1 + a))': [('    return math.sqrt(2. / (1 + a**2))\n',
            '    return math.sqrt(2. / (1 + a))\n')],
        'no square root': [('    return math.sqrt(2. / (1 + a**2))\n',
            '    return 2. / (1 + a**2)\n')],
        'sqrt(2) / (1 + a**2)': [('    return math.sqrt(2. / (1 + a**2))\n',
            '    return math.sqrt(2.) / (1 + a**2)\n')],
    },
    'kaiming_uniform': {
        'bound = std, without sqrt(3)': [('    bound = math.sqrt(3.) * std\n',
            '    bound = std\n')],
        'normal instead of uniform': [('        w.uniform_(-bound, bound)\n',
            '        w.normal_(0, std)\n')],
        'not in place: returns a new tensor': [('    with torch.no_grad():\n        w.uniform_(-bound, bound)\n    return w\n',
            '    return torch.empty_like(w).uniform_(-bound, bound)\n')],
        'use_fan_out ignored': [('    std = gain(a) / math.sqrt(fan_out if use_fan_out else fan_in)\n',
            '    std = gain(a) / math.sqrt(fan_in)\n')],
        "PyTorch's a = sqrt(5) as the default": [('def kaiming_uniform(w, a=0., use_fan_out=False):\n',
            'def kaiming_uniform(w, a=math.sqrt(5), use_fan_out=False):\n')],
        'no torch.no_grad(): fails on a Parameter': [('    with torch.no_grad():\n        w.uniform_(-bound, bound)\n',
            '    w.uniform_(-bound, bound)\n')],
    },
    'stats_after_layers': {
        'stats of the input, before each layer': [('        x = layer(x)\n        out.append(stats(x))\n',
            '        out.append(stats(x))\n        x = layer(x)\n')],
        'each layer applied to the original input': [('        x = layer(x)\n        out.append(stats(x))\n',
            '        out.append(stats(layer(x)))\n')],
        'skips the last layer': [('    for layer in layers:\n',
            '    for layer in list(layers)[:-1]:\n')],
        'indexes the layers: a generator has no len': [('    for layer in layers:\n',
            '    for i in range(len(layers)):\n        layer = layers[i]\n')],
    },
    'deep_chain': {
        'counts from 0': [('    for i in range(1, n + 1):\n',
            '    for i in range(n):\n')],
        "the lesson's x.std() != x.std() misses an infinite std": [('        if not torch.isfinite(x.std()):\n',
            '        if x.std() != x.std():\n')],
        'checks x, not its std': [('        if not torch.isfinite(x.std()):\n',
            '        if not torch.isfinite(x).all():\n')],
        'a fresh matrix at each step': [('        x = a @ x\n',
            '        x = torch.randn_like(a) @ x\n')],
        'ignores n: always 100 steps': [('    for i in range(1, n + 1):\n',
            '    for i in range(1, 101):\n')],
        'returns n instead of None': [('    return None\n',
            '    return n\n')],
    },
}

ALTERNATIVES = {
    "fan_in_out": '''def fan_in_out(w):
    """From the shape alone: the receptive field is everything after the first two dims."""
    receptive = math.prod(w.shape[2:])
    return w.shape[1] * receptive, w.shape[0] * receptive
''',
    "gain": '''def gain(a):
    """The leaky-ReLU gain."""
    return (2 / (1 + a * a)) ** 0.5
''',
    "kaiming_uniform": '''def kaiming_uniform(w, a=0., use_fan_out=False):
    """The lesson's kaiming2, on w.data, drawing with rand (other draws than uniform_); returns None."""
    nf, ni, *_ = w.shape
    rec_fs = w[0, 0].shape.numel()
    fan = nf * rec_fs if use_fan_out else ni * rec_fs
    bound = math.sqrt(3.) * gain(a) / math.sqrt(fan)
    w.data.copy_((torch.rand_like(w) * 2 - 1) * bound)
''',
    "stats_after_layers": '''def stats_after_layers(layers, x):
    """Population std, as 0-d tensors, in lists."""
    out = []
    for f in iter(layers):
        x = f(x)
        out.append([x.mean(), x.var(correction=0).sqrt()])
    return out
''',
    "deep_chain": '''def deep_chain(x, a, n):
    """A while loop and math.isfinite."""
    step = 0
    while step < n:
        step += 1
        x = torch.matmul(a, x)
        if not math.isfinite(x.std().item()):
            return step
    return None
''',
}

# The lesson's own code, line for line as shared/LESSON_API.md describes it (02a's fan-in
# arithmetic and kaiming2, `x.std()` in the stats, 02b's loop), not the kit's reference: each
# must get full marks.
LESSON = {
    "fan_in_out": '''def fan_in_out(w):
    rec_fs = w[0,0].numel()
    nf,ni,*_ = w.shape
    return ni*rec_fs, nf*rec_fs
''',
    "gain": '''def gain(a): return math.sqrt(2.0 / (1 + a**2))
''',
    "kaiming_uniform": '''def kaiming_uniform(x, a=0., use_fan_out=False):
    nf,ni,*_ = x.shape
    rec_fs = x[0,0].shape.numel()
    fan = nf*rec_fs if use_fan_out else ni*rec_fs
    std = gain(a) / math.sqrt(fan)
    bound = math.sqrt(3.) * std
    x.data.uniform_(-bound,bound)
''',
    "stats_after_layers": '''def stats_after_layers(layers, x):
    res = []
    for l in layers:
        x = l(x)
        res.append((x.mean(), x.std()))
    return res
''',
    # 02b breaks at the first NaN with x.std() != x.std() and prints the 0-based i; SPEC counts an
    # infinite std too and the exercise returns the step counted from 1, or None.
    "deep_chain": '''def deep_chain(x, a, n):
    for i in range(n):
        x = a @ x
        if x.std() != x.std() or x.std().abs() == float('inf'): return i+1
    return None
''',
}

# What each exercise must do (SPEC's "must do" and what LESSON_API.md says the lesson's code does),
# each with the mutants above that lack it: docs/BEHAVIOURS.md (bench/behaviours.py) lists the
# checks that fail on each, so every behaviour is seen to have a probe that fails without it.
BEHAVIOURS = {
    "fan_in_out": {
        "LESSON: fan_in = ni * rec_fs, fan_out = nf * rec_fs": ["fan_in and fan_out swapped"],
        "LESSON: rec_fs is the size of one kernel (prod of the kernel dims)": ["receptive field ignored", "square kernels only"],
        "SPEC: weights of rank 2 or more": ["Conv2d weights only"],
    },
    "gain": {
        "LESSON: gain(a) = sqrt(2 / (1 + a**2))": ["sqrt(2 / (1 + a))", "no square root", "sqrt(2) / (1 + a**2)"],
    },
    "kaiming_uniform": {
        "LESSON: U(-bound, bound), bound = sqrt(3) * std": ["normal instead of uniform", "bound = std, without sqrt(3)"],
        "LESSON: std = gain(a) / sqrt(fan), a = 0 by default": ["PyTorch's a = sqrt(5) as the default"],
        "LESSON: fan_out when use_fan_out": ["use_fan_out ignored"],
        "SPEC: in place, on a parameter that requires grad": ["not in place: returns a new tensor", "no torch.no_grad(): fails on a Parameter"],
    },
    "stats_after_layers": {
        "LESSON: (mean, std) after each layer": ["stats of the input, before each layer", "skips the last layer"],
        "LESSON: each layer takes the previous layer's output": ["each layer applied to the original input"],
        "SPEC: any iterable of callables (a generator too)": ["indexes the layers: a generator has no len"],
    },
    "deep_chain": {
        "SPEC: not finite means NaN or infinite (x.std() != x.std() is not enough)": ["the lesson's x.std() != x.std() misses an infinite std"],
        "LESSON: the test is on x.std()": ["checks x, not its std"],
        "LESSON: x = a @ x with the same a": ["a fresh matrix at each step"],
        "SPEC (02_init's exercise): the step counted from 1, n steps at most, None if finite": ["counts from 0", "ignores n: always 100 steps", "returns n instead of None"],
    },
}

# Automatic mutants (`autograder.mutate`, `course selftest --auto`) that no check can tell from
# the reference, because SPEC lets them behave so: exercise -> {mutant name: why it is equivalent}.
EQUIVALENT = {
    "fan_in_out": {
        "const 4:15 0 -> -1": "w[-1, 0].numel(): every kernel of a weight has the same number of elements",
        "const 4:18 0 -> -1": "w[0, -1].numel(): every kernel of a weight has the same number of elements",
    },
    "kaiming_uniform": {
        "drop 9:4 return w -> (removed)": "SPEC: kaiming_uniform may return w or None",
        "return 9:4 return w -> return None": "SPEC: kaiming_uniform may return w or None",
    },
    "deep_chain": {
        "drop 8:4 return None -> (removed)": "a function that falls off its end returns None",
    },
}

# The bugs in samples/02_init/buggy.ipynb: (exercise, mutant).
BUGGY_SAMPLE = [
    ("fan_in_out", "fan_in and fan_out swapped"),
    ("kaiming_uniform", "normal instead of uniform"),
    ("deep_chain", "the lesson's x.std() != x.std() misses an infinite std"),
]
