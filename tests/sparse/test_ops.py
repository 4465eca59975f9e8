"""SparseTensor ops against dense NumPy: indexing, diagonal edits, sums/means, arithmetic."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgnn.sparse import SparseTensor, index_select, reduce_mean, reduce_sum, remove_diag, set_diag


@pytest.fixture
def adj_dense(helpers):
    rng = np.random.default_rng(0)
    row, col = helpers.random_pattern(rng, 6, 5, 14)
    value = rng.standard_normal(14).astype(np.float32)
    adj = SparseTensor.from_edge_index(np.stack([row, col]), value, sparse_sizes=(6, 5))
    return adj, helpers.dense_from(row, col, value, 6, 5)


@pytest.mark.parametrize(
    "key",
    [
        slice(1, 4),
        (slice(1, 4), slice(2, 5)),
        (slice(None), slice(0, 2)),
        (slice(None, None, 2), slice(4, 0, -1)),
        (Ellipsis, slice(1, 3)),
        2,
        -1,
        np.array([4, 0, 0, 2]),
        (np.array([1, 3]), np.array([4, 1])),
        np.array([True, False, True, True, False, True]),
        (slice(None), np.array([False, True, True, False, True])),
        jnp.array([5, 1]),
    ],
)
def test_getitem_matches_dense(adj_dense, key):
    adj, dense = adj_dense
    out = adj[key]
    # Dense oracle: the same key applied axis by axis (NumPy's outer indexing).
    keys = key if isinstance(key, tuple) else (key,)
    if keys[0] is Ellipsis:
        keys = (slice(None),) + keys[1:]
    keys = keys + (slice(None),) * (2 - len(keys))
    expected = dense
    for axis, k in enumerate(keys):
        k = np.asarray(k) if not isinstance(k, (slice, int)) else k
        if isinstance(k, int):
            k = [k]
        expected = expected[k] if axis == 0 else expected[:, k]
    assert out.sparse_sizes() == expected.shape
    np.testing.assert_array_equal(out.to_dense(), expected)
    # pattern stays valid (sorted row-major, CSC consistent)
    row, col = np.asarray(out.row), np.asarray(out.col)
    assert np.all(np.diff(row.astype(np.int64) * expected.shape[1] + col) > 0)
    perm = np.asarray(out.csr2csc)
    assert np.all(np.diff(col[perm].astype(np.int64) * expected.shape[0] + row[perm]) > 0)
    np.testing.assert_array_equal(np.asarray(out.csc_row), row[perm])


def test_index_select_keeps_value_gradients(adj_dense):
    adj, dense = adj_dense
    idx = np.array([3, 3, 0])

    def f(v):
        return jnp.sum(index_select(adj.set_value(v), idx, dim=1).to_dense() ** 2)

    def oracle(v):
        d = jnp.zeros((6, 5)).at[adj.row, adj.col].set(v)
        return jnp.sum(d[:, idx] ** 2)

    np.testing.assert_allclose(
        jax.jit(jax.grad(f))(adj.value), jax.grad(oracle)(adj.value), rtol=1e-6
    )


def test_indexing_errors(adj_dense):
    adj, _ = adj_dense
    with pytest.raises(IndexError, match="out of range"):
        adj[np.array([0, 6])]
    with pytest.raises(IndexError, match=r"shape \(5,\)"):
        adj[:, np.array([True, False])]
    with pytest.raises(IndexError, match="2 sparse dimensions"):
        adj[0, 0, 0]
    with pytest.raises(TypeError, match="integer array"):
        adj[np.array([0.5])]
    with pytest.raises(ValueError, match="dim"):
        index_select(adj, np.array([0]), dim=2)
    with pytest.raises(TypeError, match="host-side"):
        jax.jit(lambda a, i: a[i].nnz())(adj, jnp.array([0]))


def test_multidim_values_slice():
    value = jnp.arange(8.0).reshape(4, 2)
    adj = SparseTensor.from_edge_index(np.array([[0, 0, 1, 2], [0, 2, 1, 2]]), value)
    np.testing.assert_array_equal(adj[1:, 1:].to_dense(), adj.to_dense()[1:, 1:])


def test_remove_and_set_diag(adj_dense):
    adj, dense = adj_dense
    eye = np.eye(6, 5, dtype=bool)
    np.testing.assert_array_equal(remove_diag(adj).to_dense(), np.where(eye, 0, dense))
    d = np.arange(1.0, 6.0, dtype=np.float32)
    expected = np.where(eye, 0, dense) + np.eye(6, 5) * d
    np.testing.assert_array_equal(adj.set_diag(jnp.asarray(d)).to_dense(), expected)
    np.testing.assert_array_equal(set_diag(adj).to_dense(), np.where(eye, 0, dense) + np.eye(6, 5))
    np.testing.assert_array_equal(
        set_diag(adj, 3.0).to_dense(), np.where(eye, 0, dense) + 3 * np.eye(6, 5)
    )
    assert set_diag(adj).nnz() == remove_diag(adj).nnz() + 5
    with pytest.raises(ValueError, match="K = min"):
        set_diag(adj, jnp.ones(6))


def test_set_diag_without_values_and_multidim():
    pattern = SparseTensor.from_edge_index(np.array([[0, 1, 1], [1, 0, 1]]))
    out = set_diag(pattern)
    assert not out.has_value()
    np.testing.assert_array_equal(out.to_dense(), [[1, 1], [1, 1]])
    out = set_diag(pattern, jnp.array([5.0, 6.0]))
    np.testing.assert_array_equal(out.to_dense(), [[5, 1], [1, 6]])
    multi = pattern.set_value(jnp.ones((3, 2)))
    np.testing.assert_array_equal(
        set_diag(multi, jnp.array([5.0, 6.0])).to_dense()[:, :, 1], [[5, 1], [1, 6]]
    )


def test_set_diag_gradient_flows_to_both_inputs(adj_dense):
    adj, _ = adj_dense
    w = jnp.arange(30.0).reshape(6, 5)

    def f(v, d):
        return jnp.sum(set_diag(adj.set_value(v), d).to_dense() * w)

    def oracle(v, d):
        dense = jnp.zeros((6, 5)).at[adj.row, adj.col].set(v)
        dense = jnp.where(jnp.eye(6, 5, dtype=bool), 0.0, dense)
        dense = dense.at[jnp.arange(5), jnp.arange(5)].set(d)
        return jnp.sum(dense * w)

    args = (adj.value, jnp.ones(5))
    got, want = jax.jit(jax.grad(f, (0, 1)))(*args), jax.jit(jax.grad(oracle, (0, 1)))(*args)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b)


@pytest.mark.parametrize("jit", [False, True])
def test_sum_and_mean(adj_dense, jit):
    adj, dense = adj_dense
    wrap = jax.jit if jit else (lambda f: f)
    mask = dense != 0
    for dim in (0, 1, -1):
        axis = dim % 2
        np.testing.assert_allclose(
            wrap(lambda a, d=dim: reduce_sum(a, d))(adj), dense.sum(axis), rtol=1e-6
        )
        count = np.maximum(mask.sum(axis), 1)
        np.testing.assert_allclose(
            wrap(lambda a, d=dim: a.mean(d))(adj), dense.sum(axis) / count, rtol=1e-6
        )
    pattern = adj.set_value(None)
    np.testing.assert_array_equal(pattern.sum(1), mask.sum(1).astype(np.float32))
    with pytest.raises(ValueError, match="dim"):
        reduce_sum(adj, 2)


def test_sum_multidim_and_empty():
    adj = SparseTensor.from_edge_index(np.array([[0, 0], [0, 2]]), jnp.ones((2, 3)), (3, 3))
    np.testing.assert_array_equal(reduce_sum(adj, 1), [[2, 2, 2], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(reduce_mean(adj, 0), [[1, 1, 1], [0, 0, 0], [1, 1, 1]])


_OPS = {
    "*": (lambda a, o: a * o, np.multiply),
    "/": (lambda a, o: a / o, np.divide),
    "+": (lambda a, o: a + o, np.add),
    "-": (lambda a, o: a - o, np.subtract),
    "r*": (lambda a, o: a.__rmul__(o), lambda d, o: o * d),
    "r/": (lambda a, o: a.__rtruediv__(o), lambda d, o: o / d),
    "r+": (lambda a, o: a.__radd__(o), lambda d, o: o + d),
    "r-": (lambda a, o: a.__rsub__(o), lambda d, o: o - d),
}


@pytest.mark.parametrize("kind", ["scalar", "row", "col", "col1d", "dense"])
def test_elementwise_matches_dense_on_pattern(adj_dense, kind):
    adj, dense = adj_dense
    rng = np.random.default_rng(1)
    other = {
        "scalar": 2.5,
        "row": rng.uniform(1, 2, (6, 1)).astype(np.float32),
        "col": rng.uniform(1, 2, (1, 5)).astype(np.float32),
        "col1d": rng.uniform(1, 2, (5,)).astype(np.float32),
        "dense": rng.uniform(1, 2, (6, 5)).astype(np.float32),
    }[kind]
    o = other if kind == "scalar" else jnp.asarray(other)
    mask = dense != 0
    for name, (fn, np_fn) in _OPS.items():
        with np.errstate(divide="ignore"):  # o / 0 off the pattern, masked out below
            expected = np.where(mask, np_fn(dense, np.broadcast_to(other, dense.shape)), 0)
        out = fn(adj, o)
        assert out.nnz() == adj.nnz()
        np.testing.assert_allclose(out.to_dense(), expected, rtol=1e-6, err_msg=name)
    # Python-number operands on the left go through the reflected dunders.
    np.testing.assert_allclose((2.0 - adj).to_dense(), np.where(mask, 2.0 - dense, 0), rtol=1e-6)
    out = jax.jit(lambda a, o: a / o)(adj, o)
    np.testing.assert_allclose(out.to_dense(), np.where(mask, dense / other, 0), rtol=1e-6)


def test_elementwise_pattern_only_and_errors(adj_dense):
    adj, dense = adj_dense
    pattern = adj.set_value(None)
    np.testing.assert_array_equal((pattern * 3.0).to_dense(), (dense != 0) * 3.0)
    np.testing.assert_array_equal((-adj).to_dense(), -dense)
    with pytest.raises(ValueError, match="does not broadcast"):
        adj * jnp.ones((3, 1))
    with pytest.raises(NotImplementedError, match="to_dense"):
        adj * adj


def test_elementwise_multidim_values():
    value = jnp.arange(1.0, 7.0).reshape(3, 2)
    adj = SparseTensor.from_edge_index(np.array([[0, 1, 1], [1, 0, 1]]), value)
    scale = jnp.array([10.0, 100.0])
    expected = adj.to_dense() * scale  # [2, 2, 2] * [2] scales the trailing axis
    np.testing.assert_array_equal((adj * scale).to_dense(), expected)
    rowv = jnp.array([[[2.0]], [[3.0]]])  # [M, 1, 1]
    np.testing.assert_array_equal((adj * rowv).to_dense(), adj.to_dense() * rowv)
