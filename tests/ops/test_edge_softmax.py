"""edge_softmax against a dense masked softmax (values and gradients), both graph forms."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jgnn.ops import edge_softmax
from jgnn.sparse import SparseTensor

N = 6
# Node 5 receives nothing; node 0 has a self loop; (1 -> 2) is a parallel edge.
SRC = np.array([1, 2, 1, 1, 3, 0, 4, 0, 2], np.int32)
DST = np.array([0, 0, 2, 2, 2, 0, 4, 3, 3], np.int32)
E = len(SRC)


def _graph(nodes=True):
    return jraph.GraphsTuple(
        nodes=jnp.zeros((N, 1)) if nodes else None,
        edges=None,
        senders=jnp.asarray(SRC),
        receivers=jnp.asarray(DST),
        globals=None,
        n_node=jnp.array([N]),
        n_edge=jnp.array([E]),
    )


def dense_softmax(logits, group, n, xp=np):
    """Softmax over a dense [n, E, *H] masked tensor, read back per edge."""
    mask = group[None, :] == np.arange(n)[:, None]  # [n, E]
    m = mask.reshape(mask.shape + (1,) * (logits.ndim - 1))
    dense = xp.where(m, logits[None], -xp.inf)
    shifted = dense - xp.max(xp.where(m, dense, -1e30), axis=1, keepdims=True)
    ex = xp.where(m, xp.exp(shifted), 0.0)
    probs = ex / xp.maximum(ex.sum(axis=1, keepdims=True), 1e-30)
    return xp.sum(xp.where(m, probs, 0.0), axis=0)  # each edge is in exactly one group


@pytest.mark.parametrize("shape", [(E,), (E, 3)])
@pytest.mark.parametrize("norm_by", ["dst", "src"])
def test_matches_dense_softmax_and_sums_to_one(shape, norm_by):
    logits = jnp.asarray(np.random.default_rng(0).normal(size=shape) * 3, jnp.float32)
    group = DST if norm_by == "dst" else SRC
    for f in (edge_softmax, jax.jit(edge_softmax, static_argnames="norm_by")):
        out = f(_graph(), logits, norm_by=norm_by)
        assert out.shape == shape and out.dtype == jnp.float32
        np.testing.assert_allclose(out, dense_softmax(np.asarray(logits), group, N), rtol=1e-5)
        sums = jax.ops.segment_sum(out, jnp.asarray(group), N)
        has = np.bincount(group, minlength=N) > 0
        np.testing.assert_allclose(np.asarray(sums)[has], 1.0, rtol=1e-5)
        np.testing.assert_array_equal(np.asarray(sums)[~has], 0.0)


def test_gradient_matches_dense_softmax():
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(size=(E, 2)), jnp.float32)
    cot = jnp.asarray(rng.normal(size=(E, 2)), jnp.float32)
    g = _graph()
    got = jax.jit(jax.grad(lambda x: jnp.sum(edge_softmax(g, x) * cot)))(logits)
    want = jax.grad(lambda x: jnp.sum(dense_softmax(x, DST, N, xp=jnp) * cot))(logits)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # Softmax is shift-invariant per group, so the gradient sums to 0 over each group.
    sums = jax.ops.segment_sum(got, jnp.asarray(DST), N)
    np.testing.assert_allclose(sums, 0.0, atol=1e-6)


def test_numerically_stable_with_huge_logits():
    logits = jnp.asarray(np.linspace(-1, 1, E) * 1e4, jnp.float32)
    out = edge_softmax(_graph(), logits)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(
        out, dense_softmax(np.asarray(logits, np.float64), DST, N), atol=1e-6
    )


def test_sparse_tensor_groups_by_rows():
    key = np.unique(DST.astype(np.int64) * N + SRC)
    adj_t = SparseTensor(key // N, key % N, None, (N, N))
    row, col, _ = adj_t.coo()
    logits = jnp.asarray(np.random.default_rng(2).normal(size=(len(key), 2)), jnp.float32)
    out = jax.jit(edge_softmax)(adj_t, logits)
    np.testing.assert_allclose(
        out, dense_softmax(np.asarray(logits), np.asarray(row), N), rtol=1e-5
    )
    out_src = edge_softmax(adj_t, logits, norm_by="src")
    np.testing.assert_allclose(
        out_src, dense_softmax(np.asarray(logits), np.asarray(col), N), rtol=1e-5
    )


def test_bf16():
    logits = jnp.asarray(np.random.default_rng(3).normal(size=(E, 4)), jnp.bfloat16)
    out = edge_softmax(_graph(), logits)
    assert out.dtype == jnp.bfloat16
    expected = dense_softmax(np.asarray(logits, np.float32), DST, N)
    np.testing.assert_allclose(np.asarray(out, np.float32), expected, rtol=1e-2, atol=1e-2)


def test_errors_and_num_nodes():
    g = _graph(nodes=False)
    logits = jnp.zeros(E)
    with pytest.raises(ValueError, match="cannot determine the number of nodes"):
        edge_softmax(g, logits)
    np.testing.assert_allclose(
        edge_softmax(g, logits, num_nodes=N), dense_softmax(np.zeros(E), DST, N)
    )
    with pytest.raises(ValueError, match="norm_by must be"):
        edge_softmax(_graph(), logits, norm_by="in")
    with pytest.raises(ValueError, match="has 3 rows but the graph has 9 edges"):
        edge_softmax(_graph(), jnp.zeros(3))
    with pytest.raises(TypeError, match="floating"):
        edge_softmax(_graph(), jnp.zeros(E, jnp.int32))
