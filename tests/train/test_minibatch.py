"""fit_minibatch and forward_batch against full-graph oracles."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from train.minibatch_sources import FailAt, WholeGraph

from jgnn import datasets
from jgnn.graph import CompileCounter
from jgnn.loader import Budget, Loader
from jgnn.models import GCN, GraphSAGE
from jgnn.sampling import NeighborSampler, SeedBatches, as_csc_graph
from jgnn.train import (
    SamplerConfig,
    WeightedBatches,
    adam_l2,
    fit_minibatch,
    fit_node_classifier,
    forward_batch,
    gcn_normalized_edges,
    make_source,
    training_labels,
)

N = 300


@pytest.fixture(scope="module")
def data():
    ds = datasets.contextual_sbm(num_nodes=N, num_classes=3, num_features=8, avg_degree=6.0, seed=1)
    edges = np.stack([ds.graph.senders, ds.graph.receivers]).astype(np.int64)
    return ds, edges, np.asarray(ds.graph.nodes, np.float32)


def _loader(source, ds, x, **kw):
    budget = Budget.fit(source, num_batches=8, percentile=90.0, num_rungs=2)
    labels = training_labels(ds.labels, ds.train_mask)
    return Loader(source, budget, features=x, labels=labels, **kw)


@pytest.mark.parametrize("trim", [False, True])
def test_full_fanout_batches_give_the_full_graph_output(data, trim):
    """With fanout -1 the seeds' receptive field is complete: their logits are exact."""
    ds, edges, x = data
    model = GraphSAGE(8, 16, 3, num_layers=2, rngs=nnx.Rngs(0))
    full = np.asarray(model(edges, x, deterministic=True))
    seeds = np.flatnonzero(ds.train_mask | ds.val_mask)
    source = SeedBatches(NeighborSampler(edges, [-1, -1]), seeds, 16, shuffle=False)
    with _loader(source, ds, x) as loader:
        for batch in loader.epoch(0):
            out = forward_batch(model, batch, deterministic=True, trim=trim)
            if trim:  # the last layer ran on hop 0 and hop 1 only
                assert out.shape[0] == sum(batch.node_blocks[:2])
            seed = np.asarray(batch.seed_mask)[: out.shape[0]]
            got, ids = np.asarray(out)[seed], np.asarray(batch.n_id)[: out.shape[0]][seed]
            np.testing.assert_allclose(got, full[ids], rtol=1e-5, atol=1e-5)


def test_trimming_keeps_the_seed_logits_of_sampled_batches(data):
    ds, edges, x = data
    model = GraphSAGE(8, 16, 3, num_layers=2, jk="cat", rngs=nnx.Rngs(1))
    source = SeedBatches(NeighborSampler(edges, [3, 2], seed=4), np.arange(N), 32)
    with _loader(source, ds, x) as loader:
        for batch in loader.epoch(0):
            plain = forward_batch(model, batch, deterministic=True)
            trimmed = forward_batch(model, batch, deterministic=True, trim=True)
            seed = np.asarray(batch.seed_mask)
            np.testing.assert_allclose(
                np.asarray(trimmed)[seed[: trimmed.shape[0]]],
                np.asarray(plain)[seed],
                rtol=1e-5,
                atol=1e-5,
            )


def test_weighted_gcn_batches_with_full_fanout_are_exact(data):
    """GCN on the full graph's normalised weights: the neighbour correction is 1 at fanout -1."""
    ds, edges, x = data
    looped, weight = gcn_normalized_edges(edges, N)
    model = GCN(8, 16, 3, normalize=False, rngs=nnx.Rngs(2))
    from jgnn.nn import gcn_norm

    full = np.asarray(model(gcn_norm(edges, num_nodes=N), x, deterministic=True))
    graph = as_csc_graph(looped, num_nodes=N)
    config = SamplerConfig("neighbor", num_neighbors=(-1, -1), batch_size=32).resolve(N)
    source = make_source(config, graph, np.arange(N), weight=weight)
    assert isinstance(source, WeightedBatches)
    with _loader(source, ds, x) as loader:
        for batch in loader.epoch(0):
            out = np.asarray(forward_batch(model, batch, deterministic=True, edge_weight=True))
            seed = np.asarray(batch.seed_mask)
            np.testing.assert_allclose(
                out[seed], full[np.asarray(batch.n_id)[seed]], rtol=1e-5, atol=1e-5
            )


def test_one_whole_graph_batch_trains_as_full_batch(data):
    """The oracle of the loss, masks and optimizer: full-batch training, step for step."""
    ds, edges, x = data
    tx = adam_l2(0.01, 5e-4)
    want = fit_node_classifier(
        GraphSAGE(8, 16, 3, rngs=nnx.Rngs(3)),
        edges,
        jnp.asarray(x),
        ds.labels,
        ds.train_mask,
        ds.val_mask,
        ds.test_mask,
        tx=tx,
        epochs=4,
        progress=False,
    )
    model = GraphSAGE(8, 16, 3, rngs=nnx.Rngs(3))
    with _loader(WholeGraph(edges, N), ds, x) as loader:
        got = fit_minibatch(model, loader, tx=tx, epochs=4, progress=False)
    np.testing.assert_allclose(
        [h["loss"] for h in got.history], [h["loss"] for h in want.history], rtol=1e-5
    )
    # The batch accuracy is the training forward's (before the update); full-batch reports
    # the accuracy after each update: one epoch apart.
    np.testing.assert_allclose(
        [h["train_batch_accuracy"] for h in got.history[1:]],
        [h["train_accuracy"] for h in want.history[:-1]],
        rtol=1e-6,
    )
    assert got.metrics["node_waste"] > 1.0 and got.metrics["skipped_batches"] == 0


class NodeMLP(nnx.Module):
    """A model that ignores the graph: its per-node loss is the same on any batch."""

    def __init__(self, rngs):
        self.lin = nnx.Linear(8, 3, rngs=rngs)

    def __call__(self, graph, x, *, deterministic=False):
        return self.lin(x)


def test_graphsaint_loss_norm_estimates_the_mean_training_loss(data):
    ds, edges, x = data
    model = NodeMLP(nnx.Rngs(4))
    logits = model(None, jnp.asarray(x))
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.asarray(ds.labels))
    want = float(jnp.mean(losses[ds.train_mask]))
    graph = as_csc_graph(edges, num_nodes=N)
    config = SamplerConfig("saint-rw", batch_size=20, num_steps=50, sample_coverage=200.0)
    source = make_source(config.resolve(N), graph, np.arange(N))
    with _loader(source, ds, x) as loader:
        result = fit_minibatch(model, loader, tx=optax.sgd(0.0), epochs=6, progress=False)
    estimate = np.mean([h["loss"] for h in result.history])  # 300 batches
    assert abs(estimate - want) < 0.03 * want, (estimate, want)
    # Without the norm (the plain mean over each batch's training nodes) the estimate is the
    # degree-biased mean of the random walks' nodes: check that the norm changes something.
    config0 = SamplerConfig("saint-rw", batch_size=20, num_steps=50, sample_coverage=0.0)
    assert make_source(config0.resolve(N), graph, np.arange(N)).get(0, 0).node_weight is None


def _aggregate_estimate(source, x, epochs, plain_weight=None):
    """Mean over batches of each seed's weighted in-sum; and how often each node was a seed.

    With ``plain_weight`` the batches' own weights are replaced by ``plain_weight[e_id]``.
    """
    total, count = np.zeros(N), np.zeros(N)
    for epoch in range(epochs):
        for sub in source.iter_epoch(epoch):
            w = sub.edge_weight if plain_weight is None else plain_weight[sub.e_id]
            out = np.zeros(sub.num_nodes)
            np.add.at(out, sub.receivers, w * x[sub.n_id[sub.senders]])
            total[sub.n_id[: sub.batch_size]] += out[: sub.batch_size]
            count[sub.n_id[: sub.batch_size]] += 1
    return total / np.maximum(count, 1), count


@pytest.mark.parametrize(
    ("config", "epochs", "tolerance"),
    [
        (SamplerConfig("neighbor", num_neighbors=(2,), batch_size=50), 300, 0.04),
        (SamplerConfig("saint-edge", batch_size=60, num_steps=10, sample_coverage=400.0), 60, 0.06),
    ],
)
def test_weighted_batches_estimate_the_full_aggregation(data, config, epochs, tolerance):
    """sum_u w_uv x_u over a batch's edges estimates the full-graph sum without bias."""
    _, edges, _ = data
    looped, weight = gcn_normalized_edges(edges, N)
    feat = np.random.default_rng(0).normal(size=N) + 1.0
    full = np.zeros(N)
    np.add.at(full, looped[1], weight * feat[looped[0]])
    graph = as_csc_graph(looped, num_nodes=N)
    source = make_source(config.resolve(N), graph, np.arange(N), weight=weight)
    est, count = _aggregate_estimate(source, feat, epochs)
    seen = count > 20
    assert seen.sum() > 0.9 * N
    error = np.abs(est[seen] - full[seen]).mean() / np.abs(full[seen]).mean()
    assert error < tolerance, error
    # The same batches with the plain full-graph weights (no correction) are far off.
    est_raw, _ = _aggregate_estimate(source.source, feat, epochs // 3, plain_weight=weight)
    raw_error = np.abs(est_raw[seen] - full[seen]).mean() / np.abs(full[seen]).mean()
    assert raw_error > 3 * tolerance, raw_error


def test_one_compilation_per_rung(data):
    ds, edges, x = data
    model = GraphSAGE(8, 16, 3, rngs=nnx.Rngs(5))
    source = SeedBatches(NeighborSampler(edges, [4, 3], seed=1), np.arange(N), 24)
    with _loader(source, ds, x, overflow="grow") as loader:
        with CompileCounter(match="jit(step)") as cc:
            result = fit_minibatch(model, loader, tx=optax.adam(0.01), epochs=3, progress=False)
        report = loader.report()
    assert cc.count == report.num_shapes == result.metrics["num_shapes"]
    assert cc.count <= len(loader.budget.rungs) + len(report.grown)
    assert report.batches == 3 * len(source) and result.history[-1]["batches"] == len(source)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_a_failing_sampler_surfaces_in_the_loop(data, num_workers):
    ds, edges, x = data
    source = FailAt(SeedBatches(NeighborSampler(edges, [3, 2], seed=1), np.arange(N), 24), 2)
    loader = _loader(SeedBatches(NeighborSampler(edges, [3, 2]), np.arange(N), 24), ds, x)
    loader.close()
    with Loader(
        source,
        loader.budget,
        features=x,
        labels=training_labels(ds.labels, ds.train_mask),
        num_workers=num_workers,
        startup_timeout_s=120.0,
    ) as failing:
        model = GraphSAGE(8, 16, 3, rngs=nnx.Rngs(6))
        with pytest.raises(KeyError, match="planted sampler failure at batch 2"):
            fit_minibatch(model, failing, tx=optax.adam(0.01), epochs=2, progress=False)


def test_bad_arguments_are_named(data):
    ds, edges, x = data
    with _loader(WholeGraph(edges, N), ds, x) as loader:
        model = GraphSAGE(8, 16, 3, rngs=nnx.Rngs(0))
        with pytest.raises(ValueError, match="epochs"):
            fit_minibatch(model, loader, tx=optax.adam(0.01), epochs=0)
        with pytest.raises(ValueError, match="trim=True.*BasicGNN"):
            fit_minibatch(NodeMLP(nnx.Rngs(0)), loader, tx=optax.adam(0.01), epochs=1, trim=True)
        with pytest.raises(TypeError, match="loader"):
            fit_minibatch(model, [1], tx=optax.adam(0.01), epochs=1)
    no_labels = Loader(WholeGraph(edges, N), loader.budget, features=x)
    with pytest.raises(ValueError, match="labels"):
        fit_minibatch(model, no_labels, tx=optax.adam(0.01), epochs=1)
    with pytest.raises(ValueError, match="labels.*train_mask"):
        training_labels(ds.labels, ds.train_mask[:-1])
    assert training_labels(np.array([2, 1]), np.array([True, False])).tolist() == [2, -1]
