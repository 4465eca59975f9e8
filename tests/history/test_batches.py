"""GAS partition data and batches against brute-force sets built from the edge list."""

import jax.numpy as jnp
import numpy as np
import pytest

from jgnn.history import GASBatches, GASBudget, GASData
from jgnn.nn import gcn_norm

P = 8


@pytest.fixture(scope="module")
def edges(csbm):
    g = csbm.graph
    return np.stack([np.asarray(g.senders), np.asarray(g.receivers)]).astype(np.int64)


@pytest.fixture(scope="module")
def data(csbm):
    return GASData(csbm.graph, num_parts=P)


def test_parts_are_contiguous_ranges_of_the_new_numbering(data, csbm, edges):
    n = csbm.num_nodes
    part = data.cluster.part  # part of every original node
    assert sorted(data.perm.tolist()) == list(range(n))
    for p in range(P):
        lo, hi = data.partptr[p], data.partptr[p + 1]
        np.testing.assert_array_equal(part[data.perm[lo:hi]], p)
        np.testing.assert_array_equal(data.part_of[lo:hi], p)
    new = np.empty(n, np.int64)
    new[data.perm] = np.arange(n)
    got = set(zip(data.graph.indices.tolist(), data.graph.destinations().tolist()))
    assert got == set(zip(new[edges[0]].tolist(), new[edges[1]].tolist()))
    x = np.arange(n * 2).reshape(n, 2)
    np.testing.assert_array_equal(data.unpermute(data.permute(x)), x)
    np.testing.assert_array_equal(data.permute(x)[:, 0], 2 * data.perm)


def test_normalized_weights_are_the_full_graph_gcn_norm(csbm, edges):
    n = csbm.num_nodes
    data = GASData(csbm.graph, num_parts=P, normalize=True)
    a = np.zeros((n, n))
    a[edges[1], edges[0]] = 1.0
    a += np.eye(n)
    d = a.sum(1)
    s = a / np.sqrt(d[:, None] * d[None, :])  # S[dst, src]
    new = data.perm
    dst, src = data.graph.destinations(), data.graph.indices
    np.testing.assert_allclose(data.graph.weight, s[new[dst], new[src]], rtol=1e-6)
    assert data.graph.num_edges == edges.shape[1] + n
    # and the very function full-batch training uses gives the same numbers
    ref = gcn_norm(jnp.asarray(edges, jnp.int32), num_nodes=n)
    assert np.isclose(np.sort(np.asarray(ref.edges)), np.sort(data.graph.weight)).all()


def test_ranges_nodes_and_positions(data):
    parts = np.array([5, 2, 3])
    ptr = data.partptr
    nodes = np.concatenate([np.arange(ptr[p], ptr[p + 1]) for p in (2, 3, 5)])
    np.testing.assert_array_equal(data.nodes(parts), nodes)
    np.testing.assert_array_equal(data.ranges(parts), [[ptr[2], ptr[4]], [ptr[5], ptr[6]]])
    ids = np.array([ptr[3], ptr[0], ptr[5] + 1, data.num_nodes, ptr[2]])
    want = [int(np.flatnonzero(nodes == i)[0]) if i in nodes else -7 for i in ids]
    np.testing.assert_array_equal(data.positions(ids, parts, missing=-7), want)


def test_batches_hold_their_parts_the_exact_halo_and_every_in_edge(data, edges, csbm):
    n = csbm.num_nodes
    new = np.empty(n, np.int64)
    new[data.perm] = np.arange(n)
    src, dst = new[edges[0]], new[edges[1]]
    source = GASBatches(data, 3, shuffle=True, seed=4)
    assert len(source) == 3
    seen = []
    for epoch in range(2):
        for i in range(len(source)):
            parts = source.parts(epoch, i)
            sub = source.get(epoch, i)
            batch = data.nodes(parts)
            b = sub.batch_size
            assert sub.num_sampled_nodes == (b, sub.num_nodes - b)
            np.testing.assert_array_equal(sub.n_id[:b], batch)
            into = np.isin(dst, batch)
            halo = set(src[into].tolist()) - set(batch.tolist())
            assert set(sub.n_id[b:].tolist()) == halo
            got = sorted(zip(sub.n_id[sub.senders].tolist(), sub.n_id[sub.receivers].tolist()))
            assert got == sorted(zip(src[into].tolist(), dst[into].tolist()))
            seen.append(parts)
        assert sorted(np.concatenate(seen[-3:]).tolist()) == list(range(P))


def test_bound_holds_every_grouping_and_fit_is_tight(data):
    k = 3
    bound = GASBudget.bound(data, k)
    source = GASBatches(data, k, shuffle=True, seed=0)
    subs = [source.get(e, i) for e in range(6) for i in range(len(source))]
    fitted = GASBatches(data, k, shuffle=True, seed=0, epochs=6).budget
    for sub in subs:
        bound.check(sub, "batch")
        fitted.check(sub, "batch")
    most = max(s.num_nodes - s.batch_size for s in subs)
    assert most <= fitted.halo_nodes < most + 8 and fitted.halo_nodes <= bound.halo_nodes
    fixed = GASBatches(data, k, shuffle=False)
    tight = fixed.budget
    maxima = np.max(
        [(s.batch_size, s.num_nodes - s.batch_size, s.num_edges) for s in fixed.iter_epoch(0)],
        axis=0,
    )
    assert tight.batch_nodes >= maxima[0] + 1 and tight.batch_nodes - maxima[0] - 1 < 8
    assert tight.halo_nodes >= maxima[1] and tight.halo_nodes - maxima[1] < 8
    assert tight.edges >= maxima[2] and tight.edges - maxima[2] < 8
    padded = fixed.pad(fixed.get(0, 0))
    assert padded.node_blocks == (tight.batch_nodes, tight.halo_nodes)
    assert padded.edge_blocks == (tight.edges,)
    assert np.all(padded.n_id[~padded.node_mask] == data.num_nodes)


def test_small_budgets_and_unknown_parts_raise_clear_errors(data):
    fixed = GASBatches(data, 2, shuffle=False)
    b = fixed.budget
    with pytest.raises(ValueError, match=r"`halo_nodes`.*halo_nodes=1"):
        GASBatches(data, 2, shuffle=False, budget=b._replace(halo_nodes=1))
    with pytest.raises(ValueError, match="`batch_nodes`"):
        GASBatches(data, 2, shuffle=True, budget=b._replace(batch_nodes=2)).get(0, 0)
    with pytest.raises(ValueError, match="`edges`"):
        fixed.subgraph(np.array([0, 1, 2])) if False else GASBatches(
            data, 2, shuffle=False, budget=b._replace(edges=3)
        )
    with pytest.raises(ValueError, match=f"unknown part id {P}"):
        fixed.subgraph(np.array([0, P]))
    with pytest.raises(ValueError, match="repeats"):
        data.ranges(np.array([1, 1]))
    with pytest.raises(ValueError, match="parts_per_batch"):
        GASBatches(data, P + 1)
    with pytest.raises(TypeError, match="GASData"):
        GASBatches(object(), 2)
