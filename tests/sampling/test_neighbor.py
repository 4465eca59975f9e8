"""NeighborSampler: structure of the samples against brute force on small graphs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sampling._oracle import (
    assert_edges_exist,
    full_expansion,
    global_edges,
    in_edges,
    random_edge_index,
)

from jgnn.sampling import CSCGraph, NeighborSampler

N, E = 60, 400


@pytest.fixture(scope="module")
def edge_index():
    return random_edge_index(N, E, seed=0)


def hop_ranges(counts):
    ends = np.cumsum(counts)
    return list(zip(ends - np.asarray(counts), ends, strict=True))


@pytest.mark.parametrize("fanouts", [[3, 2], [5, 5, 5], [1]])
def test_edges_exist_and_in_degrees_follow_fanouts(edge_index, fanouts):
    incoming = in_edges(edge_index)
    sampler = NeighborSampler(edge_index, fanouts, seed=3)
    for call in range(20):
        seeds = np.random.default_rng(call).choice(N, 8, replace=False)
        out = sampler.sample(seeds, rng=call)
        assert_edges_exist(out, edge_index)
        np.testing.assert_array_equal(out.n_id[: out.batch_size], seeds)  # seeds first, in order
        assert len(np.unique(out.n_id)) == out.num_nodes  # no node twice
        assert sum(out.num_sampled_nodes) == out.num_nodes
        assert sum(out.num_sampled_edges) == out.num_edges
        assert len(out.num_sampled_edges) == len(fanouts)
        node_ranges = hop_ranges(out.num_sampled_nodes)
        edge_ranges = hop_ranges(out.num_sampled_edges)
        for hop, f in enumerate(fanouts):
            lo, hi = node_ranges[hop]
            elo, ehi = edge_ranges[hop]
            receivers = out.receivers[elo:ehi]
            assert np.all((receivers >= lo) & (receivers < hi))  # hop k edges end in hop k-1
            e_ids = out.e_id[elo:ehi]
            assert len(set(e_ids.tolist())) == e_ids.size  # no repeated edge per node and hop
            indeg = np.bincount(receivers - lo, minlength=hi - lo)
            expected = [min(f, len(incoming.get(int(v), []))) for v in out.n_id[lo:hi]]
            np.testing.assert_array_equal(indeg, expected)
            new_lo, new_hi = node_ranges[hop + 1]
            assert set(out.n_id[new_lo:new_hi]).isdisjoint(out.n_id[:new_lo])


def test_minus_one_takes_the_whole_neighbourhood(edge_index):
    seeds = [5, 17, 0, 42]
    out = NeighborSampler(edge_index, [-1, -1, -1]).sample(seeds, rng=0)
    hops, edges = full_expansion(edge_index, seeds, 3)
    assert sorted(global_edges(out)) == edges
    for (lo, hi), expected in zip(hop_ranges(out.num_sampled_nodes), hops, strict=True):
        assert set(out.n_id[lo:hi].tolist()) == expected


def test_fanout_above_degree_equals_minus_one(edge_index):
    seeds = [1, 2, 3]
    a = NeighborSampler(edge_index, [-1, -1]).sample(seeds, rng=0)
    b = NeighborSampler(edge_index, [1000, 1000]).sample(seeds, rng=5)
    assert sorted(global_edges(a)) == sorted(global_edges(b))


def test_with_replacement_draws_exactly_fanout_edges(edge_index):
    incoming = in_edges(edge_index)
    out = NeighborSampler(edge_index, [7], replace=True).sample(np.arange(N), rng=1)
    assert_edges_exist(out, edge_index)
    counts = np.bincount(out.receivers, minlength=N)
    np.testing.assert_array_equal(counts, [7 if incoming.get(v) else 0 for v in range(N)])
    per_target = Counter(zip(out.receivers.tolist(), out.e_id.tolist()))
    assert max(per_target.values()) > 1  # repeats happen (a node with 1 in-edge repeats it 7x)


def test_disjoint_gives_each_seed_its_own_tree(edge_index):
    seeds = np.array([4, 9, 4, 30])  # a repeated seed is allowed: two independent trees
    sampler = NeighborSampler(edge_index, [3, 2], disjoint=True, seed=1)
    out = sampler.sample(seeds, rng=2)
    assert_edges_exist(out, edge_index)
    np.testing.assert_array_equal(out.batch[: len(seeds)], np.arange(len(seeds)))
    np.testing.assert_array_equal(out.n_id[: len(seeds)], seeds)
    # edges never cross trees, and each tree has no repeated node
    np.testing.assert_array_equal(out.batch[out.senders], out.batch[out.receivers])
    for tree in range(len(seeds)):
        ids = out.n_id[out.batch == tree]
        assert len(np.unique(ids)) == ids.size
    # hop-major, then seed order, like PyG
    hops = np.repeat(np.arange(3), out.num_sampled_nodes)
    key = hops * len(seeds) + out.batch
    assert np.all(np.diff(key) >= 0)
    # each tree equals a single-seed sample's structure: its own fanout bound per node
    incoming = in_edges(edge_index)
    indeg = np.bincount(out.receivers, minlength=out.num_nodes)
    lo, hi = out.num_sampled_nodes[0], out.num_sampled_nodes[0] + out.num_sampled_nodes[1]
    for local in range(hi):
        f = 3 if local < lo else 2
        assert indeg[local] == min(f, len(incoming.get(int(out.n_id[local]), [])))


def test_weighted_sampling_never_draws_zero_weight_edges(edge_index):
    w = np.random.default_rng(0).random(E).astype(np.float32)
    w[::3] = 0.0
    graph = CSCGraph.from_edge_index(edge_index, N, edge_weight=w)
    positive = Counter(int(d) for d, x in zip(edge_index[1], w, strict=True) if x > 0)
    for replace in (False, True):
        out = NeighborSampler(graph, [4], weighted=True, replace=replace).sample(
            np.arange(N), rng=3
        )
        assert_edges_exist(out, edge_index)
        assert np.all(w[out.e_id] > 0)
        np.testing.assert_array_equal(out.edge_weight, w[out.e_id])
        counts = np.bincount(out.receivers, minlength=N)
        expected = [(4 if positive[v] else 0) if replace else min(4, positive[v]) for v in range(N)]
        np.testing.assert_array_equal(counts, expected)


def test_repeated_seeds_are_rejected_without_disjoint(edge_index):
    sampler = NeighborSampler(edge_index, [2])
    with pytest.raises(ValueError, match=r"seed_nodes.*repeats node 7.*positions 1 and 3"):
        sampler.sample([3, 7, 8, 7])
    out = sampler.sample([3, 7, 8], rng=0)  # the node map was restored after the error
    assert_edges_exist(out, edge_index)


def test_edge_weight_is_carried_without_weighted_sampling(edge_index):
    w = np.arange(E, dtype=np.float32)
    out = NeighborSampler(CSCGraph.from_edge_index(edge_index, N, edge_weight=w), [5]).sample(
        [0, 1], rng=0
    )
    np.testing.assert_array_equal(out.edge_weight, w[out.e_id])
    assert NeighborSampler(edge_index, [5]).sample([0], rng=0).edge_weight is None


def test_deterministic_in_seed_and_rng(edge_index):
    a = NeighborSampler(edge_index, [4, 4], seed=7)
    b = NeighborSampler(edge_index, [4, 4], seed=7)
    seeds = [10, 20, 30]
    x, y = a.sample(seeds, rng=11), b.sample(seeds, rng=11)
    for field in ("n_id", "e_id", "senders", "receivers"):
        np.testing.assert_array_equal(getattr(x, field), getattr(y, field))
    assert global_edges(a.sample(seeds, rng=12)) != global_edges(x)
    assert global_edges(NeighborSampler(edge_index, [4, 4], seed=8).sample(seeds, rng=11)) != (
        global_edges(x)
    )
    gen1, gen2 = np.random.default_rng(5), np.random.default_rng(5)
    assert global_edges(a.sample(seeds, rng=gen1)) == global_edges(b.sample(seeds, rng=gen2))
    # rng=None advances the sampler's own generator: a fresh sampler repeats the sequence
    c, d = NeighborSampler(edge_index, [4, 4], seed=7), NeighborSampler(edge_index, [4, 4], seed=7)
    first = [global_edges(c.sample(seeds)) for _ in range(2)]
    assert first[0] != first[1]
    assert first == [global_edges(d.sample(seeds)) for _ in range(2)]
