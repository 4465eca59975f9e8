"""SparseTensor container: constructors, validation, views, transpose, conversions, pytree."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from jgnn.sparse import SparseTensor


def _check_invariants(adj: SparseTensor) -> None:
    """Every buffer agrees with the COO pattern (independent NumPy recomputation)."""
    m, n = adj.sparse_sizes()
    row, col = np.asarray(adj.row), np.asarray(adj.col)
    for name in ("row", "col", "rowptr", "colptr", "csr2csc", "csc2csr", "csc_row", "csc_col"):
        assert getattr(adj, name).dtype == jnp.int32, name
    key = row.astype(np.int64) * n + col
    assert np.all(np.diff(key) > 0), "COO must be strictly row-major sorted (coalesced)"
    np.testing.assert_array_equal(np.asarray(adj.rowptr), np.searchsorted(row, np.arange(m + 1)))
    perm = np.asarray(adj.csr2csc)
    ckey = col[perm].astype(np.int64) * m + row[perm]
    assert np.all(np.diff(ckey) > 0), "csr2csc must give column-major order"
    np.testing.assert_array_equal(np.asarray(adj.csc2csr)[perm], np.arange(adj.nnz()))
    np.testing.assert_array_equal(np.asarray(adj.csc_row), row[perm])
    np.testing.assert_array_equal(np.asarray(adj.csc_col), col[perm])
    np.testing.assert_array_equal(
        np.asarray(adj.colptr), np.searchsorted(col[perm], np.arange(n + 1))
    )


def test_from_edge_index_sorts_and_indexes(helpers):
    rng = np.random.default_rng(0)
    row, col = helpers.random_pattern(rng, 5, 7, 15)
    value = rng.standard_normal(15).astype(np.float32)
    adj = SparseTensor.from_edge_index(np.stack([row, col]), value, sparse_sizes=(5, 7))
    _check_invariants(adj)
    assert adj.sparse_sizes() == (5, 7) and adj.nnz() == 15 and adj.has_value()
    np.testing.assert_array_equal(adj.to_dense(), helpers.dense_from(row, col, value, 5, 7))


def test_duplicates_are_summed_like_torch_sparse():
    ei = np.array([[1, 0, 1, 1], [2, 0, 2, 0]])
    adj = SparseTensor.from_edge_index(ei, jnp.array([1.0, 2.0, 3.0, 4.0]))
    assert adj.nnz() == 3 and adj.sparse_sizes() == (2, 3)
    np.testing.assert_array_equal(adj.to_dense(), [[2.0, 0.0, 0.0], [4.0, 0.0, 4.0]])
    pattern = SparseTensor.from_edge_index(ei)
    assert pattern.nnz() == 3 and not pattern.has_value()
    np.testing.assert_array_equal(pattern.to_dense(), [[1.0, 0, 0], [1.0, 0, 1.0]])


def test_traced_values_get_gradients_through_construction():
    ei = np.array([[1, 0, 1], [2, 0, 2]])

    def f(v):
        return jnp.sum(
            SparseTensor.from_edge_index(ei, v).to_dense() * jnp.arange(6.0).reshape(2, 3)
        )

    np.testing.assert_allclose(jax.grad(f)(jnp.ones(3)), [5.0, 0.0, 5.0])


def test_multidim_values_and_shape():
    ei = np.array([[0, 1], [1, 0]])
    value = jnp.arange(6.0).reshape(2, 3)
    adj = SparseTensor.from_edge_index(ei, value)
    assert adj.shape == (2, 2, 3)
    dense = adj.to_dense()
    np.testing.assert_array_equal(dense[0, 1], [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(dense[1, 0], [3.0, 4.0, 5.0])
    back = SparseTensor.from_dense(dense)
    np.testing.assert_array_equal(back.value, value)


@pytest.mark.parametrize(
    "ei, kwargs, err, match",
    [
        (np.array([[0, 3], [1, 0]]), dict(sparse_sizes=(3, 3)), ValueError, r"row ids .*\[0, 3\)"),
        (np.array([[0, 1], [-1, 0]]), {}, ValueError, "col ids"),
        (np.array([[0.0, 1.0], [1.0, 0.0]]), {}, TypeError, "integer dtype"),
        (np.array([0, 1, 2]), {}, ValueError, r"\[2, E\]"),
        (np.array([[0, 1], [1, 0]]), dict(value=jnp.ones(3)), ValueError, "nnz = 2"),
        (np.array([[0, 1], [1, 0]]), dict(sparse_sizes=(2.0, 2)), TypeError, "Python int"),
    ],
)
def test_validation_errors(ei, kwargs, err, match):
    with pytest.raises(err, match=match):
        SparseTensor.from_edge_index(ei, **kwargs)


def test_construction_under_jit_is_refused():
    with pytest.raises(TypeError, match="host-side"):
        jax.jit(lambda ei: SparseTensor.from_edge_index(ei).nnz())(jnp.array([[0], [1]]))


def test_eye_and_rectangular_eye():
    np.testing.assert_array_equal(SparseTensor.eye(3).to_dense(), np.eye(3))
    np.testing.assert_array_equal(SparseTensor.eye(2, 4).to_dense(), np.eye(2, 4))
    e = SparseTensor.eye(3, has_value=False)
    assert not e.has_value() and e.nnz() == 3
    _check_invariants(SparseTensor.eye(4, 2))


def test_views_agree_with_dense(helpers):
    rng = np.random.default_rng(1)
    row, col = helpers.random_pattern(rng, 4, 6, 11)
    value = rng.standard_normal(11).astype(np.float32)
    adj = SparseTensor.from_edge_index(np.stack([row, col]), value, sparse_sizes=(4, 6))
    dense = helpers.dense_from(row, col, value, 4, 6)
    r, c, v = adj.coo()
    np.testing.assert_array_equal(dense[np.asarray(r), np.asarray(c)], v)
    rowptr, c2, v2 = adj.csr()
    r2 = np.repeat(np.arange(4), np.diff(np.asarray(rowptr)))
    np.testing.assert_array_equal(dense[r2, np.asarray(c2)], v2)
    colptr, rr, vv = adj.csc()
    cc = np.repeat(np.arange(6), np.diff(np.asarray(colptr)))
    assert np.all(np.diff(cc * 4 + np.asarray(rr)) > 0)
    np.testing.assert_array_equal(dense[np.asarray(rr), cc], vv)


def test_transpose_is_free_and_involutive(helpers):
    rng = np.random.default_rng(2)
    row, col = helpers.random_pattern(rng, 5, 3, 9)
    value = rng.standard_normal((9, 2)).astype(np.float32)
    adj = SparseTensor.from_edge_index(np.stack([row, col]), value, sparse_sizes=(5, 3))
    at = jax.jit(lambda a: a.t())(adj)
    assert at.sparse_sizes() == (3, 5)
    _check_invariants(at)
    np.testing.assert_array_equal(at.to_dense(), np.swapaxes(adj.to_dense(), 0, 1))
    att = adj.t().t()
    for a, b in zip(jax.tree_util.tree_leaves(att), jax.tree_util.tree_leaves(adj), strict=True):
        np.testing.assert_array_equal(a, b)
    # t() under jit lowers to gathers only: no sort of the indices.
    hlo = jax.jit(lambda a: a.t()).lower(adj).as_text()
    assert "stablehlo.sort" not in hlo and "stablehlo.gather" in hlo


def test_set_value_and_fill_value():
    adj = SparseTensor.from_edge_index(np.array([[0, 1, 1], [1, 0, 2]]))
    a2 = jax.jit(lambda a, v: a.set_value(v))(adj, jnp.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(a2.to_dense(), [[0, 1, 0], [2, 0, 3]])
    # layout="csc": values given in column-major order (col 0: (1,0); col 1: (0,1); col 2: (1,2))
    a3 = adj.set_value(jnp.array([10.0, 20.0, 30.0]), layout="csc")
    np.testing.assert_array_equal(a3.to_dense(), [[0, 20, 0], [10, 0, 30]])
    np.testing.assert_array_equal(adj.fill_value(7.0).to_dense(), [[0, 7, 0], [7, 0, 7]])
    assert adj.fill_value(2, dtype=jnp.int32).value.dtype == jnp.int32
    with pytest.raises(ValueError, match="nnz = 3"):
        adj.set_value(jnp.ones(4))
    with pytest.raises(ValueError, match="layout"):
        adj.set_value(jnp.ones(3), layout="bsr")
    assert not a2.set_value(None).has_value()


def test_immutable():
    adj = SparseTensor.eye(2)
    with pytest.raises(AttributeError, match="immutable"):
        adj.value = None


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_scipy_round_trip(fmt, helpers):
    rng = np.random.default_rng(3)
    mat = sp.random(6, 4, density=0.4, random_state=4, format=fmt, dtype=np.float32)
    adj = SparseTensor.from_scipy(mat)
    _check_invariants(adj)
    np.testing.assert_array_equal(adj.to_dense(), mat.toarray())
    back = adj.to_scipy(fmt)
    assert back.format == fmt
    np.testing.assert_array_equal(back.toarray(), mat.toarray())
    del rng


def test_scipy_errors():
    with pytest.raises(TypeError, match="scipy.sparse"):
        SparseTensor.from_scipy(np.eye(2))
    multi = SparseTensor.from_edge_index(np.array([[0], [0]]), jnp.ones((1, 2)))
    with pytest.raises(NotImplementedError, match="to_dense"):
        multi.to_scipy()


def test_edge_index_and_dense_round_trips(helpers):
    rng = np.random.default_rng(5)
    row, col = helpers.random_pattern(rng, 7, 7, 20)
    value = rng.standard_normal(20).astype(np.float32)
    adj = SparseTensor.from_edge_index(np.stack([row, col]), value, sparse_sizes=(7, 7))
    ei, v = adj.to_edge_index()
    again = SparseTensor.from_edge_index(ei, v, sparse_sizes=(7, 7))
    for a, b in zip(jax.tree_util.tree_leaves(again), jax.tree_util.tree_leaves(adj), strict=True):
        np.testing.assert_array_equal(a, b)
    dense = adj.to_dense()
    np.testing.assert_array_equal(SparseTensor.from_dense(dense).to_dense(), dense)
    assert not SparseTensor.from_dense(dense, has_value=False).has_value()


@given(
    m=st.integers(0, 6),
    n=st.integers(0, 6),
    seed=st.integers(0, 2**16),
    density=st.floats(0.0, 1.0),
)
def test_round_trip_property(m, n, seed, density):
    # Host-only checks (NumPy and scipy), so each example costs no compilation.
    rng = np.random.default_rng(seed)
    dense = (rng.random((m, n)) < density) * rng.integers(1, 5, (m, n)).astype(np.float32)
    adj = SparseTensor.from_dense(dense)
    _check_invariants(adj)
    np.testing.assert_array_equal(adj.to_scipy().toarray(), dense)
    edges = np.argwhere(dense != 0)[rng.permutation(int((dense != 0).sum()))]
    again = SparseTensor.from_edge_index(edges.T, dense[edges[:, 0], edges[:, 1]], (m, n))
    np.testing.assert_array_equal(np.asarray(again.value), np.asarray(adj.value))
    np.testing.assert_array_equal(np.asarray(again.col), np.asarray(adj.col))


def test_empty_matrix():
    adj = SparseTensor.from_edge_index(np.zeros((2, 0), np.int64), sparse_sizes=(3, 2))
    assert adj.nnz() == 0
    _check_invariants(adj)
    np.testing.assert_array_equal(adj.to_dense(), np.zeros((3, 2)))
    np.testing.assert_array_equal(adj.t().to_dense(), np.zeros((2, 3)))


def test_pytree_jit_and_static_sizes():
    adj = SparseTensor.from_edge_index(np.array([[0, 1], [1, 1]]), jnp.array([2.0, 3.0]))
    leaves, treedef = jax.tree_util.tree_flatten(adj)
    assert len(leaves) == 9
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert rebuilt.sparse_sizes() == (2, 2)

    @jax.jit
    def f(a):
        assert isinstance(a.sparse_sizes()[0], int)
        return a.to_dense()

    np.testing.assert_array_equal(f(adj), [[0.0, 2.0], [0.0, 3.0]])
    assert "nnz=2" in repr(adj)


def test_direct_constructor_and_accessors():
    adj = SparseTensor(jnp.array([1, 0]), jnp.array([0, 2]), jnp.array([5.0, 6.0]), (2, 3))
    np.testing.assert_array_equal(adj.to_dense(), [[0, 0, 6], [5, 0, 0]])
    assert adj.shape == (2, 3) and adj.dtype == jnp.float32
    np.testing.assert_array_equal(adj.T.to_dense(), adj.t().to_dense())
    assert SparseTensor.eye(2, has_value=False).dtype is None
