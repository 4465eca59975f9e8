"""Tests for jgnn.nn global pooling: dense NumPy oracle, padding invariance, jit, grads, PyG."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jgnn.graph import node_mask, pad_graph
from jgnn.nn import global_add_pool, global_max_pool, global_mean_pool

POOLS = {"add": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}
SIZES = [3, 0, 4, 1]  # graph 1 is empty


def _graph(sizes=SIZES, f=5, seed=0):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    x = rng.normal(size=(n, f)).astype(np.float32)
    # one edge per non-empty graph (a self loop on its first node); pooling ignores edges
    starts = np.cumsum([0] + sizes[:-1])
    loops = np.array([s for s, k in zip(starts, sizes) if k], np.int32)
    g = jraph.GraphsTuple(
        nodes=jnp.asarray(x),
        edges=None,
        senders=jnp.asarray(loops),
        receivers=jnp.asarray(loops),
        globals=None,
        n_node=jnp.asarray(sizes, jnp.int32),
        n_edge=jnp.asarray([1 if k else 0 for k in sizes], jnp.int32),
    )
    batch = np.repeat(np.arange(len(sizes)), sizes).astype(np.int32)
    return g, x, batch


def _oracle(kind, x, batch, g):
    out = np.zeros((g, x.shape[1]), np.float64)
    for i in range(g):
        rows = x[batch == i].astype(np.float64)
        if len(rows):
            out[i] = {"add": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0)}[kind]
    return out


@pytest.mark.parametrize("kind", list(POOLS))
def test_matches_dense_oracle_graph_and_batch(kind):
    g, x, batch = _graph()
    want = _oracle(kind, x, batch, len(SIZES))
    got_graph = POOLS[kind](g.nodes, g)
    got_batch = POOLS[kind](x, batch=jnp.asarray(batch), num_graphs=len(SIZES))
    assert got_graph.shape == (len(SIZES), 5)
    np.testing.assert_allclose(got_graph, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got_batch, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got_graph[1], 0.0)  # empty graph gives 0


@pytest.mark.parametrize("kind", list(POOLS))
def test_batch_num_graphs_inferred_eagerly_and_single_graph_default(kind):
    _, x, batch = _graph()
    # inferred G = max(batch) + 1 = 4
    np.testing.assert_allclose(
        POOLS[kind](x, batch=batch), _oracle(kind, x, batch, 4), rtol=1e-6, atol=1e-6
    )
    # no graph, no batch: one graph holding every node
    one = np.zeros(len(x), np.int32)
    np.testing.assert_allclose(POOLS[kind](x), _oracle(kind, x, one, 1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", list(POOLS))
@pytest.mark.parametrize("garbage", [0.0, 1e6, np.nan])
def test_padding_invariance(kind, garbage):
    g, x, batch = _graph()
    want = POOLS[kind](g.nodes, g)
    padded = pad_graph(g, 13, 6, 7)
    nodes = padded.nodes.at[len(x) :].set(garbage)
    padded = padded._replace(nodes=nodes)
    mask = node_mask(padded)
    got_masked = POOLS[kind](nodes, padded, mask=mask)
    assert got_masked.shape == (7, 5)
    np.testing.assert_array_equal(got_masked[: len(SIZES)], want)
    np.testing.assert_array_equal(got_masked[len(SIZES) :], 0.0)  # padding + empty graphs
    if not np.isnan(garbage):
        # without a mask real graphs are unchanged too; the padding graph reduces its rows
        got = POOLS[kind](nodes, padded)
        np.testing.assert_array_equal(got[: len(SIZES)], want)
        if garbage == 0.0:
            np.testing.assert_array_equal(got[len(SIZES) :], 0.0)


@pytest.mark.parametrize("kind", list(POOLS))
def test_jit_equals_eager(kind):
    g, x, batch = _graph()
    padded = pad_graph(g, 10, 4, 6)
    eager = POOLS[kind](padded.nodes, padded, mask=node_mask(padded))
    jitted = jax.jit(lambda gr: POOLS[kind](gr.nodes, gr, mask=node_mask(gr)))(padded)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-6)
    jb = jax.jit(lambda xx, b: POOLS[kind](xx, batch=b, num_graphs=4))(x, batch)
    np.testing.assert_allclose(jb, _oracle(kind, x, batch, 4), rtol=1e-6, atol=1e-6)


def test_gradients_against_dense_and_finite_with_nan_padding():
    g, x, batch = _graph()
    counts = np.asarray(SIZES, np.float32)[batch]
    padded = pad_graph(g, 12, 4, 6)
    nodes = padded.nodes.at[len(x) :].set(np.nan)
    mask = node_mask(padded)
    for kind, want in (("add", np.ones_like(x)), ("mean", np.ones_like(x) / counts[:, None])):
        grad = jax.jit(jax.grad(lambda v, kind=kind: POOLS[kind](v, padded, mask=mask).sum()))(
            nodes
        )
        assert np.all(np.isfinite(grad))
        np.testing.assert_allclose(grad[: len(x)], want, rtol=1e-6)
        np.testing.assert_array_equal(grad[len(x) :], 0.0)
    grad = jax.jit(jax.grad(lambda v: global_max_pool(v, padded, mask=mask).sum()))(nodes)
    assert np.all(np.isfinite(grad))
    want = np.zeros_like(x)
    for i in range(len(SIZES)):
        rows = np.flatnonzero(batch == i)
        if len(rows):
            want[rows[np.argmax(x[rows], 0)], np.arange(x.shape[1])] = 1.0
    np.testing.assert_array_equal(grad[: len(x)], want)


def test_low_precision_keeps_dtype():
    g, x, batch = _graph()
    xb = jnp.asarray(x, jnp.bfloat16)
    for kind, pool in POOLS.items():
        out = pool(xb, g)
        assert out.dtype == jnp.bfloat16
        want = _oracle(kind, np.asarray(xb, np.float32), batch, len(SIZES))
        np.testing.assert_allclose(np.asarray(out, np.float32), want, rtol=2e-2, atol=2e-2)


def test_errors():
    g, x, batch = _graph()
    with pytest.raises(ValueError, match="either `graph` or `batch`"):
        global_add_pool(x, g, batch=batch)
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        global_add_pool(x, batch=batch[:-1], num_graphs=4)
    with pytest.raises(ValueError, match="sum\\(graph.n_node\\) = 8"):
        global_add_pool(x[:-1], g)
    with pytest.raises(TypeError, match="integer"):
        global_add_pool(x, batch=batch.astype(np.float32), num_graphs=4)
    with pytest.raises(TypeError, match="num_graphs"):
        jax.jit(lambda b: global_add_pool(x, batch=b))(batch)
    with pytest.raises(ValueError, match="num_graphs=3"):
        global_add_pool(x, g, num_graphs=3)
    with pytest.raises(ValueError, match="mask"):
        global_mean_pool(x, g, mask=np.ones(3, bool))
    with pytest.raises(TypeError, match="floating"):
        global_mean_pool(x.astype(np.int32), g)


@pytest.mark.peers
@pytest.mark.parametrize("kind", list(POOLS))
def test_matches_pyg(kind):
    torch = pytest.importorskip("torch")
    pyg = pytest.importorskip("torch_geometric.nn")
    _, x, batch = _graph(sizes=[2, 0, 5, 3, 0], f=4, seed=3)
    fn = {"add": pyg.global_add_pool, "mean": pyg.global_mean_pool, "max": pyg.global_max_pool}
    want = fn[kind](torch.from_numpy(x), torch.from_numpy(batch).long(), 5).numpy()
    got = POOLS[kind](x, batch=batch, num_graphs=5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
