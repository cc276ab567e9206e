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

# The bugs in samples/02_init/buggy.ipynb: (exercise, mutant).
BUGGY_SAMPLE = [
    ("fan_in_out", "fan_in and fan_out swapped"),
    ("kaiming_uniform", "normal instead of uniform"),
    ("deep_chain", "the lesson's x.std() != x.std() misses an infinite std"),
]
