"""The loader on jgnn.sampling's sources: neighbour sampling, Cluster-GCN and GraphSAINT batches.

Oracle: the same computation on the unpadded subgraph the source returns, in dense NumPy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from loader.loader_sources import random_graph

import jgnn
from jgnn.loader import Budget, Loader, trim_to_layer
from jgnn.sampling import (
    ClusterData,
    ClusterLoader,
    GraphSAINTNodeSampler,
    NeighborSampler,
    SeedBatches,
    as_csc_graph,
)

N = 400


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    edges = random_graph(N, 2400, seed=6)
    x = rng.normal(size=(N, 5)).astype(np.float32)
    y = rng.integers(0, 3, N)
    return edges, x, y


def _dense_mean_model(sub, x, weights):
    h = x[sub.n_id].astype(np.float64)
    deg = np.maximum(np.bincount(sub.receivers, minlength=h.shape[0]), 1)[:, None]
    for w in weights:
        agg = np.zeros_like(h)
        np.add.at(agg, sub.receivers, h[sub.senders])
        h = np.tanh(np.concatenate([h, agg / deg], 1) @ np.asarray(w, np.float64))
    return h


def test_neighbor_sampler_batches_train_a_trimmed_model_exactly(data):
    edges, x, y = data
    sampler = NeighborSampler(as_csc_graph(edges, num_nodes=N), [5, 3], seed=1)
    source = SeedBatches(sampler, np.arange(0, N, 3), batch_size=16, shuffle=True, seed=2)
    budget = Budget.fit(source, num_batches=8, percentile=90.0, num_rungs=2)
    rng = np.random.default_rng(3)
    weights = [jnp.asarray(rng.normal(size=(10, 5)), jnp.float32) for _ in range(2)]

    @jax.jit
    def forward(batch):
        h = batch.x
        for layer, w in enumerate(weights):
            b, h = trim_to_layer(batch, h, layer, len(weights))
            agg = jgnn.propagate(b.edge_index, h, aggregate="mean")
            h = jnp.tanh(jnp.concatenate([h, agg], axis=1) @ w)
        return h

    with Loader(source, budget, features=x, labels=y, num_nodes=N) as loader:
        for epoch in (0, 1):
            for i, batch in enumerate(loader.epoch(epoch)):
                sub = source.get(epoch, i)
                k = sub.batch_size
                out = np.asarray(forward(batch))
                want = _dense_mean_model(sub, x, weights)[:k]
                np.testing.assert_allclose(out[:k], want, rtol=1e-4, atol=1e-5)
                np.testing.assert_array_equal(np.asarray(batch.y)[:k], y[sub.n_id[:k]])
                assert np.asarray(batch.seed_mask).sum() == k
        assert loader.report().num_shapes <= 4


def test_cluster_loader_batches(data, tmp_path):
    edges, x, _ = data
    both = np.unique(np.concatenate([edges, edges[::-1]], axis=1), axis=1)  # METIS: undirected
    parts = ClusterData(both, 8, cache_dir=tmp_path, seed=0)
    source = ClusterLoader(parts, 2, shuffle=True, seed=1)
    budget = Budget.fit(source, num_batches=len(source), percentile=75.0, num_rungs=2)

    @jax.jit
    def step(batch):
        return jgnn.propagate(batch.edge_index, batch.x, aggregate="sum")

    with Loader(source, budget, features=x) as loader:
        batches = list(loader.epoch(0))
    assert len(batches) == len(source) == 4
    for i, batch in enumerate(batches):
        sub = source.get(0, i)
        assert batch.node_blocks[0] > sub.num_nodes  # one block, with its padding node
        want = np.zeros((sub.num_nodes, 5))
        np.add.at(want, sub.receivers, x[sub.n_id][sub.senders])
        mask = np.asarray(batch.node_mask)
        np.testing.assert_allclose(np.asarray(step(batch))[mask], want, rtol=1e-5, atol=1e-5)


def test_graphsaint_weights_are_padded_with_zeros(data):
    edges, x, _ = data
    source = GraphSAINTNodeSampler(edges, 60, num_steps=5, sample_coverage=2, seed=4)
    budget = Budget.fit(source, num_batches=5, percentile=60.0, num_rungs=1)

    @jax.jit
    def weighted(batch):
        return jgnn.propagate(batch.edge_index, batch.x, edge_attr=batch.edge_weight)

    with Loader(source, budget, features=x, num_nodes=N) as loader:
        for i, batch in enumerate(loader.epoch(0)):
            sub = source.get(0, i)
            nm, em = np.asarray(batch.node_mask), np.asarray(batch.edge_mask)
            np.testing.assert_array_equal(np.asarray(batch.node_weight)[nm], sub.node_weight)
            assert np.all(np.asarray(batch.node_weight)[~nm] == 0)
            assert np.all(np.asarray(batch.edge_weight)[~em] == 0)
            want = np.zeros((sub.num_nodes, 5))
            np.add.at(want, sub.receivers, x[sub.n_id][sub.senders] * sub.edge_weight[:, None])
            np.testing.assert_allclose(np.asarray(weighted(batch))[nm], want, rtol=1e-4, atol=1e-5)
