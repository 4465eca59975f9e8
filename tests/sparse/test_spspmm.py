"""spspmm against the dense product, its value gradients, and torch_sparse."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgnn.sparse import SparseTensor, spspmm


def _random(rng, m, n, nnz, helpers, value_shape=()):
    row, col = helpers.random_pattern(rng, m, n, nnz)
    value = rng.standard_normal((len(row),) + value_shape).astype(np.float32)
    return SparseTensor.from_edge_index(np.stack([row, col]), value, sparse_sizes=(m, n))


def test_matches_dense_product(helpers):
    rng = np.random.default_rng(0)
    a, b = _random(rng, 5, 4, 9, helpers), _random(rng, 4, 6, 10, helpers)
    c = spspmm(a, b)
    assert c.sparse_sizes() == (5, 6)
    np.testing.assert_allclose(c.to_dense(), a.to_dense() @ b.to_dense(), rtol=1e-5, atol=1e-6)
    # the pattern is exactly the structural product's
    structural = (np.asarray(a.to_dense()) != 0).astype(int) @ (np.asarray(b.to_dense()) != 0)
    assert c.nnz() == int((structural > 0).sum())
    np.testing.assert_allclose((a @ b).to_dense(), c.to_dense())
    np.testing.assert_allclose(a.matmul(b).to_dense(), c.to_dense())


def test_value_gradients_flow_to_both_operands(helpers):
    rng = np.random.default_rng(1)
    a, b = _random(rng, 4, 5, 8, helpers), _random(rng, 5, 3, 7, helpers)
    w = jnp.asarray(rng.standard_normal((4, 3)).astype(np.float32))

    def loss(va, vb):
        return jnp.sum(spspmm(a.set_value(va), b.set_value(vb)).to_dense() * w)

    def oracle(va, vb):
        da = jnp.zeros((4, 5)).at[a.row, a.col].set(va)
        db = jnp.zeros((5, 3)).at[b.row, b.col].set(vb)
        return jnp.sum((da @ db) * w)

    got = jax.grad(loss, (0, 1))(a.value, b.value)
    want = jax.jit(jax.grad(oracle, (0, 1)))(a.value, b.value)
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_pattern_only_counts_paths_and_multidim(helpers):
    a = SparseTensor.from_edge_index(np.array([[0, 0, 1], [0, 1, 1]]))
    b = SparseTensor.from_edge_index(np.array([[0, 1], [1, 1]]))
    c = spspmm(a, b)
    assert c.value.dtype == jnp.float32
    np.testing.assert_array_equal(c.to_dense(), [[0, 2], [0, 1]])
    rng = np.random.default_rng(2)
    am = _random(rng, 3, 4, 6, helpers, value_shape=(2,))
    bm = _random(rng, 4, 2, 5, helpers)
    expected = np.einsum("ikd,kj->ijd", am.to_dense(), bm.to_dense())
    np.testing.assert_allclose(spspmm(am, bm).to_dense(), expected, rtol=1e-5, atol=1e-6)


def test_empty_and_errors(helpers):
    a = SparseTensor.from_edge_index(np.zeros((2, 0), np.int64), jnp.zeros(0), (3, 2))
    b = SparseTensor.eye(2)
    c = spspmm(a, b)
    assert c.nnz() == 0 and c.sparse_sizes() == (3, 2)
    with pytest.raises(ValueError, match="inner sizes"):
        spspmm(a, SparseTensor.eye(3))
    with pytest.raises(TypeError, match="two SparseTensors"):
        spspmm(a, b.to_dense())
    with pytest.raises(TypeError, match="dtypes differ"):
        spspmm(b, b.set_value(jnp.ones(2, jnp.bfloat16)))
    with pytest.raises(NotImplementedError, match="reduce='sum'"):
        b.matmul(b, reduce="max")


@pytest.mark.peers
def test_matches_torch_sparse(helpers):
    torch = pytest.importorskip("torch")
    torch_sparse = pytest.importorskip("torch_sparse")
    rng = np.random.default_rng(3)
    a, b = _random(rng, 6, 5, 12, helpers), _random(rng, 5, 4, 9, helpers)

    def to_torch(x):
        row, col, value = (np.array(t) for t in x.coo())
        return torch_sparse.SparseTensor(
            row=torch.from_numpy(row.astype(np.int64)),
            col=torch.from_numpy(col.astype(np.int64)),
            value=torch.from_numpy(np.array(value)),
            sparse_sizes=x.sparse_sizes(),
        )

    tc = to_torch(a) @ to_torch(b)
    c = spspmm(a, b)
    trow, tcol, tval = tc.coo()
    np.testing.assert_array_equal(np.asarray(c.row), trow.numpy())
    np.testing.assert_array_equal(np.asarray(c.col), tcol.numpy())
    np.testing.assert_allclose(np.asarray(c.value), tval.numpy(), rtol=1e-5, atol=1e-6)
