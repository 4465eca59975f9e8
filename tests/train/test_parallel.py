"""Several devices (the 4 fake CPU devices of conftest): data parallelism and edge sharding.

Oracles: one device running the same step on the disjoint union of the devices' batches
(data parallel), and on the unsharded graph (edge sharding).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jgnn.graph import from_edge_index
from jgnn.loader import Budget, Loader, PaddedBatch, Rung
from jgnn.models import GAT, GCN, GraphSAGE
from jgnn.nn import gcn_norm
from jgnn.sampling import NeighborSampler, SeedBatches
from jgnn.train import (
    FullGraphBatch,
    common_rung,
    data_mesh,
    data_parallel_step,
    full_graph_loss,
    init_train_state,
    make_train_step,
    replicate,
    sampled_loss,
    shard_batch,
    shard_full_graph,
    stack_batches,
)

N, F, C, D = 240, 8, 3, 4


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    edge_index = rng.integers(0, N, (2, 1500)).astype(np.int32)
    x = rng.normal(size=(N, F)).astype(np.float32)
    y = rng.integers(0, C, N).astype(np.int32)
    return edge_index, x, y


@pytest.fixture(scope="module")
def batches(data):
    edge_index, x, y = data
    source = SeedBatches(
        NeighborSampler(edge_index, [4, 3], seed=1), np.arange(100), batch_size=16, seed=2
    )
    budget = Budget.fit(source, num_batches=7, percentile=50.0, num_rungs=2, multiple=4)
    with Loader(source, budget, features=x, labels=y) as loader:
        return list(loader.epoch(0))[:D]


def _union(batches):
    """One device's oracle input: the disjoint union of the batches, as one PaddedBatch."""
    host = [jax.tree_util.tree_map(np.asarray, b) for b in batches]
    offsets = np.cumsum([0] + [b.num_nodes for b in host])[:-1]

    def cat(name, shift=False):
        parts = [getattr(b, name) for b in host]
        if shift:
            parts = [p + o for p, o in zip(parts, offsets, strict=True)]
        return np.concatenate(parts)

    total_n, total_e = sum(b.num_nodes for b in host), sum(b.num_edges for b in host)
    return PaddedBatch(
        n_id=cat("n_id"),
        senders=cat("senders", True),
        receivers=cat("receivers", True),
        node_mask=cat("node_mask"),
        edge_mask=cat("edge_mask"),
        seed_mask=cat("seed_mask"),
        num_sampled_nodes=np.zeros(1, np.int32),
        num_sampled_edges=np.zeros(1, np.int32),
        x=cat("x"),
        y=cat("y"),
        node_blocks=(total_n,),
        edge_blocks=(total_e,),
    )


def _model(kind="gcn", dropout=0.0):
    rngs = nnx.Rngs(0)
    if kind == "sage":
        return GraphSAGE(F, 16, C, dropout=dropout, rngs=rngs)
    if kind == "gat":
        return GAT(F, 16, C, heads=2, dropout=dropout, rngs=rngs)
    return GCN(F, 16, C, dropout=dropout, rngs=rngs)


def _assert_trees_close(a, b, rtol=2e-5, atol=1e-6):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        if _is_key(x):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.mark.parametrize("kind", ["gcn", "sage", "gat"])
def test_data_parallel_step_equals_one_device_on_the_union(batches, kind):
    graphdef, state = init_train_state(_model(kind), optax.adam(0.01))
    mesh = data_mesh(D)
    step = data_parallel_step(
        make_train_step(graphdef, sampled_loss, axis_name="data", return_grads=True), mesh
    )
    single = jax.jit(make_train_step(graphdef, sampled_loss, return_grads=True))
    union = jax.tree_util.tree_map(jnp.asarray, _union(_same_rung(batches)))
    want_state, want = single(state, union)
    got_state, got = step(replicate(state, mesh), shard_batch(stack_batches(batches), mesh))
    np.testing.assert_allclose(float(got["loss"]), float(want["loss"]), rtol=1e-5)
    assert (
        float(got["weight"])
        == float(want["weight"])
        == sum(int(b.seed_mask.sum()) for b in batches)
    )
    _assert_trees_close(got["grads"], want["grads"])
    _assert_trees_close(got_state.model, want_state.model)
    # The returned state is replicated: the same on every device.
    leaf = jax.tree_util.tree_leaves(got_state.model)[0]
    assert leaf.sharding.is_fully_replicated


def _same_rung(batches):
    """The batches re-padded to their common rung (what each device sees)."""
    stacked = stack_batches(batches)
    return [jax.tree_util.tree_map(lambda a, i=i: a[i], stacked) for i in range(len(batches))]


@pytest.mark.parametrize("kind", ["dropout", "batch_norm"])
def test_data_parallel_per_device_randomness_and_statistics(batches, kind):
    """Dropout: device d draws from the model's key folded with d, and the stored keys do not
    change. Batch norm: each device normalises with its own batch's statistics and the
    running statistics are averaged. The oracle runs each batch alone on one device (keys
    folded by hand) and combines the gradients weighted by the seeds."""
    if kind == "dropout":
        model = _model(dropout=0.5)
    else:
        model = GraphSAGE(F, 16, C, norm="batch_norm", rngs=nnx.Rngs(0))
    graphdef, state = init_train_state(model, optax.sgd(0.1))
    mesh = data_mesh(D)
    step = data_parallel_step(
        make_train_step(graphdef, sampled_loss, axis_name="data", return_grads=True), mesh
    )
    got_state, got = step(replicate(state, mesh), shard_batch(stack_batches(batches), mesh))
    single = jax.jit(make_train_step(graphdef, sampled_loss, return_grads=True))
    sums, weights, grads, stats = 0.0, 0.0, None, []
    for d, batch in enumerate(_same_rung(batches)):
        folded = state._replace(
            model=jax.tree_util.tree_map(
                lambda a, d=d: jax.random.fold_in(a, d) if _is_key(a) else a, state.model
            )
        )
        new, m = single(folded, jax.tree_util.tree_map(jnp.asarray, batch))
        stats.append(_batch_stats(graphdef, new))
        w = float(m["weight"])
        sums += float(m["loss"]) * w
        weights += w
        g = jax.tree_util.tree_map(lambda a, w=w: a * w, m["grads"])
        grads = g if grads is None else jax.tree_util.tree_map(jnp.add, grads, g)
    np.testing.assert_allclose(float(got["loss"]), sums / weights, rtol=1e-5)
    _assert_trees_close(got["grads"], jax.tree_util.tree_map(lambda a: a / weights, grads))
    old, new = _keys(state.model), _keys(got_state.model)
    assert old and all(np.array_equal(a, b) for a, b in zip(old, new, strict=True))
    want_stats = jax.tree_util.tree_map(lambda *a: sum(a) / len(a), *stats)
    _assert_trees_close(_batch_stats(graphdef, got_state), want_stats)
    if kind == "batch_norm":
        assert jax.tree_util.tree_leaves(want_stats)


def _batch_stats(graphdef, state):
    model, _ = nnx.merge(graphdef, state.model, copy=True)
    return nnx.state(model, nnx.BatchStat)


def _is_key(a):
    return jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)


def _keys(tree):
    return [
        np.asarray(jax.random.key_data(a)) for a in jax.tree_util.tree_leaves(tree) if _is_key(a)
    ]


def test_stack_batches_repads_to_the_common_rung(batches):
    big = common_rung([b.rung for b in batches])
    bigger = Rung(tuple(n + 4 for n in big.nodes), tuple(e + 8 for e in big.edges))
    stacked = stack_batches(batches, rung=bigger)
    assert stacked.node_blocks == bigger.nodes and stacked.x.shape[:2] == (D, bigger.num_nodes)
    for i, b in enumerate(batches):
        host = jax.tree_util.tree_map(np.asarray, b)
        got = jax.tree_util.tree_map(lambda a, i=i: a[i], stacked)
        # Same real nodes (ids, features, labels, seeds) in the same order ...
        for name in ("n_id", "x", "y", "seed_mask"):
            np.testing.assert_array_equal(
                getattr(got, name)[got.node_mask], getattr(host, name)[host.node_mask]
            )

        # ... and the same real edges, as pairs of global ids.
        def pairs(t):
            m = t.edge_mask
            return sorted(zip(t.n_id[t.senders[m]].tolist(), t.n_id[t.receivers[m]].tolist()))

        assert pairs(got) == pairs(host)
        # Padding edges only touch padding nodes.
        pad = ~got.edge_mask
        assert not got.node_mask[got.senders[pad]].any()
        assert not got.node_mask[got.receivers[pad]].any()


def test_stack_batches_errors(batches):
    with pytest.raises(ValueError, match="empty"):
        stack_batches([])
    with pytest.raises(TypeError, match=r"batches\[1\]"):
        stack_batches([batches[0], "nope"])
    small = Rung(tuple(1 for _ in batches[0].node_blocks), tuple(0 for _ in batches[0].edge_blocks))
    with pytest.raises(ValueError, match="larger than `rung`"):
        stack_batches(batches, rung=small)
    with pytest.raises(ValueError, match="num_devices"):
        data_mesh(9)
    mesh = data_mesh(D)
    with pytest.raises(ValueError, match="expected 4, one batch per device"):
        shard_batch(stack_batches(batches[:2]), mesh)


@pytest.mark.parametrize("kind", ["gcn_prenormalised", "sage", "gat_no_self_loops"])
def test_edge_sharded_full_graph_equals_one_device(data, kind):
    edge_index, x, y = data
    mask = np.zeros(N, bool)
    mask[::3] = True
    graph = from_edge_index(jnp.asarray(edge_index), N)
    rngs = nnx.Rngs(0)
    if kind == "gcn_prenormalised":
        graph = gcn_norm(graph, num_nodes=N)
        model = GCN(F, 16, C, normalize=False, rngs=rngs)
    elif kind == "sage":
        model = GraphSAGE(F, 16, C, rngs=rngs)
    else:
        model = GAT(F, 16, C, heads=2, add_self_loops=False, rngs=rngs)
    graphdef, state = init_train_state(model, optax.adam(0.01))
    batch = FullGraphBatch(graph, jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask))
    step = jax.jit(make_train_step(graphdef, full_graph_loss, return_grads=True))
    want_state, want = step(state, batch)

    mesh = data_mesh(D)
    sharded = shard_full_graph(batch, mesh)
    assert sharded.graph.senders.sharding.spec == jax.sharding.PartitionSpec("data")
    assert sharded.x.shape == (N + 1, F) and not bool(sharded.mask[-1])
    got_state, got = step(replicate(state, mesh), sharded)
    np.testing.assert_allclose(float(got["loss"]), float(want["loss"]), rtol=1e-5)
    _assert_trees_close(got["grads"], want["grads"], rtol=1e-4, atol=1e-6)
    _assert_trees_close(got_state.model, want_state.model, rtol=1e-4, atol=1e-6)
    # The aggregation is combined across devices (all-reduce of the per-device partial
    # scatters) and the edge arrays are never gathered onto one device.
    hlo = step.lower(replicate(state, mesh), sharded).compile().as_text()
    assert re.search(r"all-reduce\(", hlo)
    edges = int(sharded.graph.senders.shape[0])
    assert not re.search(rf"s32\[{edges}\]\S* all-gather\(", hlo)


def test_shard_full_graph_rejects_sparse_tensor(data):
    from jgnn.sparse import to_adj_t

    edge_index, x, y = data
    adj_t = to_adj_t(from_edge_index(jnp.asarray(edge_index), N), N)
    batch = FullGraphBatch(adj_t, jnp.asarray(x), jnp.asarray(y), jnp.ones(N, bool))
    with pytest.raises(NotImplementedError, match="GraphsTuple or an edge index"):
        shard_full_graph(batch, data_mesh(D))
    with pytest.raises(TypeError, match="FullGraphBatch"):
        shard_full_graph((adj_t, x, y, None), data_mesh(D))
