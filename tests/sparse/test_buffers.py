"""Host helpers: concrete (NumPy) and traced (jnp) value paths agree, coalescing is exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgnn._checks import static_int as _static_size
from jgnn.sparse._buffers import coalesce_ids as _coalesce
from jgnn.sparse._buffers import gather_values as _gather_values
from jgnn.sparse._buffers import index_buffers as _index_buffers
from jgnn.sparse._buffers import sum_runs as _sum_runs


def test_concrete_and_traced_value_paths_agree():
    rng = np.random.default_rng(0)
    value = jnp.asarray(rng.standard_normal((7, 2)).astype(np.float32))
    pos = np.array([3, 0, 6, 6])
    runs = np.array([True, False, True, True, False, False, True])
    host = (_gather_values(value, pos), _sum_runs(value, runs))
    traced = jax.jit(lambda v: (_gather_values(v, pos), _sum_runs(v, runs)))(value)
    for a, b in zip(host, traced, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_array_equal(host[0], np.asarray(value)[pos])
    np.testing.assert_allclose(host[1][0], value[0] + value[1], rtol=1e-6)
    assert host[1].shape == (4, 2)


def test_coalesce_sorts_and_sums_duplicates():
    row, col = np.array([2, 0, 2, 1, 0]), np.array([1, 3, 1, 0, 3])
    value = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0])
    r, c, v = _coalesce(row, col, value, 4)
    np.testing.assert_array_equal(r, [0, 1, 2])
    np.testing.assert_array_equal(c, [3, 0, 1])
    np.testing.assert_array_equal(v, [7.0, 4.0, 4.0])
    r, c, v = _coalesce(row, col, None, 4)
    assert v is None and r.size == 3


def test_index_buffers_are_int32_and_consistent():
    bufs = _index_buffers(np.array([0, 0, 2]), np.array([1, 2, 0]), 3, 3)
    assert all(b.dtype == jnp.int32 for b in bufs.values())
    np.testing.assert_array_equal(bufs["rowptr"], [0, 2, 2, 3])
    np.testing.assert_array_equal(bufs["colptr"], [0, 1, 2, 3])
    np.testing.assert_array_equal(bufs["csr2csc"], [2, 0, 1])
    np.testing.assert_array_equal(bufs["csc_row"], [2, 0, 0])


def test_static_size_errors():
    assert _static_size(np.int64(3), "n") == 3
    with pytest.raises(ValueError, match=">= 0"):
        _static_size(-1, "n")
    with pytest.raises(TypeError, match="Python int"):
        _static_size(True, "n")
