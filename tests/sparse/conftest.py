"""Shared helpers for the jgnn.sparse tests: small random sparse matrices and dense oracles."""

from types import SimpleNamespace

import numpy as np
import pytest


def random_pattern(rng, m, n, nnz):
    """Unique ``(row, col)`` pairs, unsorted, as int64 NumPy arrays."""
    nnz = min(nnz, m * n)
    key = rng.choice(m * n, size=nnz, replace=False) if nnz else np.zeros(0, np.int64)
    key = rng.permutation(key)
    return key // max(n, 1), key % max(n, 1)


def dense_from(row, col, value, m, n):
    """NumPy dense ``[M, N, *D]`` (value None -> ones) by direct assignment."""
    value = np.ones(len(row), np.float32) if value is None else np.asarray(value)
    out = np.zeros((m, n) + value.shape[1:], value.dtype)
    np.add.at(out, (np.asarray(row), np.asarray(col)), value)
    return out


@pytest.fixture
def helpers():
    return SimpleNamespace(random_pattern=random_pattern, dense_from=dense_from)
