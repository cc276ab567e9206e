"""The notebooks' data: scikit-learn's digits by default, MNIST's pickle from course.toml."""

from __future__ import annotations

import gzip
import importlib
import pickle

import numpy as np
import pytest

MODULES = ["minibatch_training", "callbacks", "anneal"]


@pytest.fixture
def tiny_mnist(tmp_path):
    """A small file in the lesson's mnist.pkl.gz format: ((x, y), (x, y), (x, y)) of numpy arrays."""
    rng = np.random.default_rng(0)

    def split(n):
        return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64)

    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as f:
        pickle.dump((split(60), split(21), split(5)), f)
    (tmp_path / "course.toml").write_text('[data]\nmnist = "mnist.pkl.gz"\n')
    return tmp_path


@pytest.mark.parametrize("module", MODULES)
def test_mnist_from_course_toml(module, tiny_mnist, monkeypatch):
    monkeypatch.chdir(tiny_mnist)
    x_train, y_train, x_valid, y_valid = importlib.import_module(f"solutions.{module}").get_data()
    assert x_train.shape == (60, 784) and x_valid.shape == (21, 784)
    assert str(x_train.dtype) == "torch.float32" and str(y_train.dtype) == "torch.int64"


@pytest.mark.parametrize("module", MODULES)
def test_digits_by_default_with_a_valid_size_no_batch_size_divides(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no course.toml here
    x_train, y_train, x_valid, y_valid = importlib.import_module(f"solutions.{module}").get_data()
    assert x_train.shape == (1300, 64) and x_valid.shape == (497, 64)
    assert all(len(x_valid) % bs for bs in (16, 32, 64, 128, 256, 512, 1000))
    assert float(x_train.max()) <= 1.0 and set(y_train.tolist()) == set(range(10))
