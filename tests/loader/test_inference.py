"""Layer-wise full-neighbourhood inference equals the full-batch model (and dense maths)."""

import jax
import numpy as np
import pytest
from flax import nnx
from loader.loader_sources import random_graph

from jgnn.graph import CompileCounter
from jgnn.loader import Budget, inference_batches, layerwise_inference
from jgnn.nn import SAGEConv
from jgnn.sampling import as_csc_graph

N, E = 300, 1500


@pytest.fixture(scope="module")
def data():
    edges = random_graph(N, E, seed=8)
    edges = edges[:, edges[1] % 17 != 0]  # some nodes without in-edges
    x = np.random.default_rng(3).normal(size=(N, 8)).astype(np.float32)
    return edges, x


def test_inference_batches_hold_every_in_edge_of_consecutive_destinations(data):
    edges, _ = data
    source = inference_batches(edges, N, 64)
    assert len(source) == 5
    for i in range(len(source)):
        sub = source.get(0, i)
        lo, hi = 64 * i, min(64 * i + 64, N)
        np.testing.assert_array_equal(sub.n_id[: hi - lo], np.arange(lo, hi))
        assert sub.batch_size == hi - lo and len(sub.num_sampled_nodes) == 2
        got = sorted(zip(sub.n_id[sub.senders].tolist(), sub.n_id[sub.receivers].tolist()))
        mask = (edges[1] >= lo) & (edges[1] < hi)
        assert got == sorted(zip(edges[0, mask].tolist(), edges[1, mask].tolist()))
        assert np.all(sub.receivers < hi - lo)  # destinations are the seeds


def _dense_sage(conv, x, edges):
    """Mean-aggregation GraphSAGE in dense NumPy: ``M x W_l + b + x W_r``."""
    m = np.zeros((N, N))
    np.add.at(m, (edges[1], edges[0]), 1.0)
    m /= np.maximum(m.sum(1, keepdims=True), 1.0)
    w_l, b = np.asarray(conv.lin_l.kernel[...]), np.asarray(conv.lin_l.bias[...])
    w_r = np.asarray(conv.lin_r.kernel[...])
    return m @ x @ w_l + b + x @ w_r


def test_two_layer_sage_matches_full_batch(data):
    edges, x = data
    convs = [SAGEConv(8, 16, rngs=nnx.Rngs(0)), SAGEConv(16, 4, rngs=nnx.Rngs(1))]

    def apply(i, x_src, x_dst, batch):
        out = convs[i](batch.edge_index, (x_src, x_dst))
        return jax.nn.relu(out) if i == 0 else out

    layer = jax.jit(apply, static_argnums=0)
    budget = Budget.fit(
        inference_batches(edges, N, 64), num_batches=5, percentile=50.0, num_rungs=2
    )
    with CompileCounter(match="jit(apply)") as cc:
        out = layerwise_inference(layer, x, edges, num_layers=2, batch_size=64, budget=budget)
    assert 2 <= cc.count <= 2 * 6  # per layer: a few rungs, not one shape per batch

    full = convs[1](edges, jax.nn.relu(convs[0](edges, x)))
    np.testing.assert_allclose(out, np.asarray(full), rtol=1e-5, atol=1e-5)
    dense = _dense_sage(convs[1], np.maximum(_dense_sage(convs[0], x, edges), 0.0), edges)
    np.testing.assert_allclose(out, dense, rtol=1e-4, atol=1e-4)


def test_default_budget_and_uneven_last_batch(data):
    edges, x = data
    conv = SAGEConv(8, 3, aggr="max", rngs=nnx.Rngs(2))
    layer = jax.jit(lambda i, xs, xd, b: conv(b.edge_index, (xs, xd)), static_argnums=0)
    out = layerwise_inference(layer, x, edges, num_layers=1, batch_size=70)  # 300 = 4*70 + 20
    np.testing.assert_allclose(out, np.asarray(conv(edges, x)), rtol=1e-5, atol=1e-5)


def test_bad_inputs(data):
    edges, x = data
    with pytest.raises(ValueError, match="out of range"):
        inference_batches(edges, N - 5, 8)
    with pytest.raises(ValueError, match="expected num_nodes"):
        inference_batches(as_csc_graph(edges, num_nodes=N), N + 5, 8)
    with pytest.raises(ValueError, match="rows"):
        layerwise_inference(lambda i, xs, xd, b: xd[:1], x, edges, num_layers=1, batch_size=64)
