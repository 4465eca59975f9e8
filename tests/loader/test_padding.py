"""Padding a sampled subgraph: layout, masks, where padding edges go, invariance, trimming."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from loader.loader_sources import HopSource, InducedSource, SampledSubgraph, random_graph

import jgnn
from jgnn.loader import Budget, PaddedBatch, Rung, pad_subgraph, trim_to_layer

N = 120


@pytest.fixture(scope="module")
def hop_batches():
    src = HopSource(random_graph(N, 400, seed=2), N, num_batches=6, weights=True, seed=5)
    subs = [src.get(0, i) for i in range(len(src))]
    budget = Budget.fit(src, num_batches=6, percentile=100.0, num_rungs=1, multiple=8)
    return subs, [pad_subgraph(s, budget.rungs[0], pad_id=N) for s in subs]


def _block_of(blocks, slots):
    return np.searchsorted(np.cumsum(blocks), slots, side="right")


def test_layout_masks_and_real_edges(hop_batches):
    for sub, b in zip(*hop_batches):
        nb, eb = np.array(b.node_blocks), np.array(b.edge_blocks)
        assert b.n_id.shape == (nb.sum(),) and b.senders.shape == (eb.sum(),)
        # Hop k's real nodes open block k, in the subgraph's order.
        starts = np.concatenate([[0], np.cumsum(nb)])
        for k, c in enumerate(sub.num_sampled_nodes):
            block = slice(starts[k], starts[k + 1])
            assert b.node_mask[block].tolist() == [True] * c + [False] * (nb[k] - c)
        np.testing.assert_array_equal(b.n_id[b.node_mask], sub.n_id)
        assert np.all(b.n_id[~b.node_mask] == N)
        assert b.seed_mask.tolist() == [True] * sub.batch_size + [False] * (
            nb.sum() - sub.batch_size
        )
        # Real edges, in order, connect the same global nodes with the same weights.
        real = b.edge_mask
        np.testing.assert_array_equal(b.n_id[b.senders[real]], sub.n_id[sub.senders])
        np.testing.assert_array_equal(b.n_id[b.receivers[real]], sub.n_id[sub.receivers])
        np.testing.assert_array_equal(b.edge_weight[real], sub.edge_weight)
        assert np.all(b.edge_weight[~real] == 0)
        np.testing.assert_array_equal(b.num_sampled_nodes, sub.num_sampled_nodes)
        np.testing.assert_array_equal(b.num_sampled_edges, sub.num_sampled_edges)


def test_padding_edges_touch_padding_nodes_of_their_prefix_only(hop_batches):
    for b in hop_batches[1]:
        pad = ~b.edge_mask
        assert pad.any()
        assert not b.node_mask[b.senders[pad]].any()
        assert not b.node_mask[b.receivers[pad]].any()
        hop = _block_of(b.edge_blocks, np.flatnonzero(pad)) + 1  # hop of each padding edge
        assert np.all(_block_of(b.node_blocks, b.receivers[pad]) <= hop - 1)
        assert np.all(_block_of(b.node_blocks, b.senders[pad]) <= hop)


def test_padding_edges_are_spread_round_robin():
    # 2 seeds, 1 hop-1 node, 1 real edge; 3 padding nodes in block 0 and 5 in block 1.
    sub = SampledSubgraph(
        np.array([5, 6, 7]),
        np.array([0]),
        np.array([2], np.int32),
        np.array([0], np.int32),
        2,
        (2, 1),
        (1,),
    )
    b = pad_subgraph(sub, Rung((5, 6), (31,)))
    pad = ~b.edge_mask
    recv = np.bincount(b.receivers[pad], minlength=11)
    send = np.bincount(b.senders[pad], minlength=11)
    free0 = [2, 3, 4]  # block 0's padding slots: the receivers' pool for hop 1
    free01 = [2, 3, 4, 6, 7, 8, 9, 10]  # blocks 0..1: the senders' pool
    assert recv[free0].tolist() == [10, 10, 10] and recv.sum() == 30
    assert recv[free0].max() - recv[free0].min() <= 1
    assert send[free01].max() - send[free01].min() <= 1 and send.sum() == 30
    # jraph-style padding (jgnn.graph.pad_graph) would put all 30 into one node.
    assert recv.max() <= 30 // len(free0)


@pytest.mark.parametrize("aggregate", ["sum", "mean", "max"])
def test_jitted_aggregation_on_padded_batch_equals_unpadded(hop_batches, aggregate):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(N + 1, 3)).astype(np.float32)
    table[N] = 0.0  # the dummy row padding slots gather

    @jax.jit
    def step(batch, x):
        return jgnn.propagate(batch.edge_index, x, aggregate=aggregate)

    for sub, b in zip(*hop_batches):
        out = np.asarray(step(jax.device_put(b), table[b.n_id]))
        # Oracle: the aggregate over the unpadded subgraph's in-edges, per real node.
        x = table[sub.n_id]
        for i in range(sub.n_id.shape[0]):
            msgs = x[sub.senders[sub.receivers == i]]
            if msgs.shape[0] == 0:
                want = np.zeros(3, np.float32)
            else:
                want = {"sum": msgs.sum(0), "mean": msgs.mean(0), "max": msgs.max(0)}[aggregate]
            slot = np.flatnonzero(b.node_mask)[i]
            np.testing.assert_allclose(out[slot], want, rtol=1e-5, atol=1e-6)


def _sage_like(batch, x, params, *, trim):
    """An L-layer mean-aggregation model, with or without trimming finished hops."""
    h = x
    for layer, w in enumerate(params):
        b = batch
        if trim:
            b, h = trim_to_layer(batch, h, layer, len(params))
        agg = jgnn.propagate(b.edge_index, h, aggregate="mean")
        h = jnp.tanh(jnp.concatenate([h, agg], axis=1) @ w)
    return h


def test_trim_to_layer_keeps_seed_outputs_and_static_shapes():
    src = HopSource(random_graph(N, 500, seed=4), N, num_batches=4, num_hops=3, seed=1)
    budget = Budget.fit(src, num_batches=4, percentile=100.0, num_rungs=1, multiple=4)
    rng = np.random.default_rng(1)
    params = [jnp.asarray(rng.normal(size=(8, 4)), jnp.float32) for _ in range(3)]
    table = rng.normal(size=(N + 1, 4)).astype(np.float32)
    full = jax.jit(lambda b, x: _sage_like(b, x, params, trim=False))
    trimmed = jax.jit(lambda b, x: _sage_like(b, x, params, trim=True))
    for i in range(len(src)):
        sub = src.get(0, i)
        b = pad_subgraph(sub, budget.rungs[0], pad_id=N)
        x = table[b.n_id]
        out_full, out_trim = np.asarray(full(b, x)), np.asarray(trimmed(b, x))
        assert out_trim.shape == (sum(b.node_blocks[:2]), 4)  # the last layer: hops 0..1
        seeds = slice(0, sub.batch_size)
        np.testing.assert_allclose(out_trim[seeds], out_full[seeds], rtol=1e-5, atol=1e-6)
        # Oracle: the same model on the unpadded subgraph (dense NumPy).
        h = table[sub.n_id].astype(np.float64)
        for w in params:
            agg = np.zeros_like(h)
            deg = np.bincount(sub.receivers, minlength=h.shape[0])
            np.add.at(agg, sub.receivers, h[sub.senders])
            agg /= np.maximum(deg, 1)[:, None]
            h = np.tanh(np.concatenate([h, agg], 1) @ np.asarray(w, np.float64))
        np.testing.assert_allclose(out_trim[seeds], h[seeds], rtol=1e-4, atol=1e-5)


def test_trim_shapes_per_layer_and_single_block_is_unchanged(hop_batches):
    b = hop_batches[1][0]  # 2 hops: node blocks (b0, b1, b2), edge blocks (e1, e2)
    x = np.zeros((b.num_nodes, 2))
    t0, h0 = trim_to_layer(b, x, 0, 2)
    assert t0.node_blocks == b.node_blocks and h0.shape[0] == b.num_nodes
    t1, h1 = trim_to_layer(b, x, 1, 2)
    assert t1.node_blocks == b.node_blocks[:2] and t1.edge_blocks == b.edge_blocks[:1]
    assert h1.shape[0] == sum(b.node_blocks[:2]) and t1.senders.shape == (b.edge_blocks[0],)
    # A one-block (cluster-like) batch keeps everything at every layer.
    sub = InducedSource(random_graph(N, 400), N).get(0, 0)
    c = pad_subgraph(sub, Rung((64,), (256,)))
    for layer in range(3):
        t, h = trim_to_layer(c, np.zeros((64, 2)), layer, 3)
        assert t.node_blocks == (64,) and t.edge_blocks == (256,) and h.shape == (64, 2)
    with pytest.raises(ValueError, match="layer"):
        trim_to_layer(b, x, 2, 2)
    with pytest.raises(ValueError, match="rows"):
        trim_to_layer(b, x[:-1], 0, 2)


def test_padded_batch_is_a_pytree_with_static_blocks(hop_batches):
    b = hop_batches[1][0]
    leaves, treedef = jax.tree_util.tree_flatten(b)
    assert all(isinstance(leaf, np.ndarray) for leaf in leaves)
    back = jax.tree_util.tree_unflatten(treedef, leaves)
    assert isinstance(back, PaddedBatch) and back.node_blocks == b.node_blocks
    other = pad_subgraph(hop_batches[0][1], b.rung)
    assert jax.tree_util.tree_structure(other) == treedef  # same rung: same structure


def test_pad_subgraph_rejects_bad_input(hop_batches):
    sub = hop_batches[0][0]
    with pytest.raises(ValueError, match="does not fit"):
        pad_subgraph(sub, Rung((1, 1, 1), (1, 1)))
    with pytest.raises(TypeError, match="Rung"):
        pad_subgraph(sub, (8, 8))
    bad = sub._replace(senders=sub.senders + 1000)
    with pytest.raises(ValueError, match="senders"):
        pad_subgraph(bad, Rung((64, 64, 64), (256, 256)))
    with pytest.raises(ValueError, match="num_sampled_nodes"):
        pad_subgraph(sub._replace(num_sampled_nodes=(1, 1, 1)), Rung((64, 64, 64), (256, 256)))
    with pytest.raises(TypeError, match="SampledSubgraph"):
        pad_subgraph({"n_id": sub.n_id}, Rung((64, 64, 64), (256, 256)))
