"""GraphSAINT samplers: induced batches, the paper's probabilities and norms, by brute force."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sampling._oracle import assert_edges_exist, random_edge_index, symmetric_edge_index
from scipy import stats

from jgnn.sampling import (
    BatchSource,
    CSCGraph,
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
)

N = 80


@pytest.fixture(scope="module")
def edge_index():
    return symmetric_edge_index(N, 300, seed=0)


def samplers(graph, coverage=0.0, steps=4):
    return [
        GraphSAINTNodeSampler(graph, 20, num_steps=steps, sample_coverage=coverage, seed=1),
        GraphSAINTEdgeSampler(graph, 10, num_steps=steps, sample_coverage=coverage, seed=1),
        GraphSAINTRandomWalkSampler(
            graph, 5, walk_length=3, num_steps=steps, sample_coverage=coverage, seed=1
        ),
    ]


def test_batches_are_induced_subgraphs(edge_index):
    for sampler in samplers(edge_index):
        assert isinstance(sampler, BatchSource) and len(sampler) == 4
        for batch in sampler.iter_epoch(0):
            assert np.all(np.diff(batch.n_id) > 0)  # sorted, distinct
            assert batch.batch_size == batch.num_nodes
            assert_edges_exist(batch, edge_index)
            inside = np.isin(edge_index, batch.n_id).all(axis=0)
            np.testing.assert_array_equal(np.sort(batch.e_id), np.flatnonzero(inside))
            assert batch.node_weight is None and batch.edge_weight is None  # coverage 0


def test_node_probability_is_the_papers(edge_index):
    sampler = GraphSAINTNodeSampler(edge_index, 1)
    a = np.zeros((N, N))
    np.add.at(a, (edge_index[1], edge_index[0]), 1.0)  # a[v, u] = 1 for u -> v
    a_tilde = a / np.maximum(a.sum(1, keepdims=True), 1)  # mean aggregation D^-1 A
    expected = (a_tilde**2).sum(0)  # ||A~[:, u]||^2
    np.testing.assert_allclose(sampler.node_probability, expected / expected.sum(), rtol=1e-12)


def test_edge_probability_is_the_papers():
    ei = random_edge_index(40, 200, seed=5)
    graph = CSCGraph.from_edge_index(ei, 40)
    sampler = GraphSAINTEdgeSampler(graph, 1)
    out_deg = np.bincount(ei[0], minlength=40)
    in_deg = np.bincount(ei[1], minlength=40)
    p = 1.0 / out_deg[ei[0]] + 1.0 / in_deg[ei[1]]
    # edge_probability is in CSC entry order; graph.edge_ids maps entries to input edges
    np.testing.assert_allclose(sampler.edge_probability, (p / p.sum())[graph.edge_ids], rtol=1e-12)


def test_draws_follow_the_probabilities():
    # A directed graph whose edges have distinct endpoint pairs: with batch_size=1 the node
    # set of a batch names the drawn edge (edge sampler) or node and in-neighbour (node).
    ei = np.array([[1, 2, 3, 3, 4, 0, 5, 2], [0, 0, 0, 1, 1, 4, 4, 5]])
    graph = CSCGraph.from_edge_index(ei, 6)
    sampler = GraphSAINTEdgeSampler(graph, 1, num_steps=6000, seed=3)
    pairs = {tuple(sorted(e)): k for k, e in enumerate(ei.T.tolist())}
    counts = np.zeros(ei.shape[1])
    for batch in sampler.iter_epoch(0):
        counts[pairs[tuple(batch.n_id.tolist())]] += 1
    prob = sampler.edge_probability[np.argsort(graph.edge_ids)]  # input edge order
    assert stats.chisquare(counts, counts.sum() * prob).pvalue > 1e-4
    nodes = GraphSAINTNodeSampler(graph, 1, num_steps=6000, seed=3)
    counts = np.bincount([b.n_id[0] for b in nodes.iter_epoch(0)], minlength=6)
    keep = nodes.node_probability > 0
    assert np.all(counts[~keep] == 0)
    assert stats.chisquare(counts[keep], counts.sum() * nodes.node_probability[keep]).pvalue > 1e-4


def test_random_walks_follow_in_edges():
    ei = np.array([[1, 2, 3, 0], [0, 1, 2, 3]])  # a directed ring 3 -> 2 -> 1 -> 0 -> 3
    walks = GraphSAINTRandomWalkSampler(ei, 1, walk_length=2, num_steps=50, seed=0)
    for batch in walks.iter_epoch(0):
        start = [v for v in batch.n_id if (v + 1) % 4 in batch.n_id and (v + 2) % 4 in batch.n_id]
        assert batch.num_nodes == 3 and start  # root v walks to v + 1 and v + 2


def brute_force_norms(sampler, edge_index):
    """The paper's norms recomputed from the pre-sampled node sets with Python loops."""
    node_count = np.zeros(N)
    edge_count = np.zeros(edge_index.shape[1])
    total = 0
    for i in range(sampler.num_presampled):
        nodes = set(sampler.sample_nodes(sampler.norm_key(i)).tolist())
        total += len(nodes)
        for v in nodes:
            node_count[v] += 1
        for e, (u, v) in enumerate(edge_index.T.tolist()):
            if u in nodes and v in nodes:
                edge_count[e] += 1
    last = len(sampler.sample_nodes(sampler.norm_key(sampler.num_presampled - 1)))
    assert total - last < sampler.sample_coverage * N <= total  # stopped at the coverage
    node_count[node_count == 0] = 0.1
    edge_count[edge_count == 0] = 0.1
    node_norm = sampler.num_presampled / (node_count * N)
    edge_norm = np.minimum(node_count[edge_index[1]] / edge_count, 1e4)  # C_v / C_uv, v target
    return node_norm, edge_norm


def test_norms_equal_the_papers_formulas(edge_index):
    graph = CSCGraph.from_edge_index(edge_index, N)
    for sampler in samplers(graph, coverage=5):
        node_norm, edge_norm = brute_force_norms(sampler, edge_index)
        np.testing.assert_allclose(sampler.node_norm, node_norm, rtol=1e-6)
        np.testing.assert_allclose(
            sampler.edge_norm[np.argsort(graph.edge_ids)], edge_norm, rtol=1e-6
        )
        batch = sampler.get(1, 2)
        np.testing.assert_allclose(batch.node_weight, node_norm[batch.n_id], rtol=1e-6)
        np.testing.assert_allclose(batch.edge_weight, edge_norm[batch.e_id], rtol=1e-6)


def test_loss_norm_makes_the_batch_loss_unbiased(edge_index):
    # E[sum_{v in batch} node_weight[v] * L_v] = mean_v L_v (the paper's Proposition 3.2).
    # Losses that grow with the degree make the plain batch mean clearly biased (all three
    # samplers favour high-degree nodes), so the check has teeth.
    degree = np.bincount(edge_index[1], minlength=N)
    losses = degree / degree.mean()
    for sampler in samplers(edge_index, coverage=200, steps=1500):
        batches = list(sampler.iter_epoch(0))
        estimate = np.mean([np.dot(b.node_weight, losses[b.n_id]) for b in batches])
        naive = np.mean([losses[b.n_id].mean() for b in batches])
        assert estimate == pytest.approx(1.0, rel=0.02)
        assert naive > 1.04


def test_deterministic_and_shared(edge_index):
    shared = CSCGraph.from_edge_index(edge_index, N).share()
    for a, b in zip(samplers(shared, coverage=2), samplers(edge_index, coverage=2), strict=True):
        payload = pickle.dumps(a)
        assert len(payload) < 3_000
        x, y = pickle.loads(payload).get(3, 1), b.get(3, 1)
        np.testing.assert_array_equal(x.n_id, y.n_id)
        np.testing.assert_array_equal(x.edge_weight, y.edge_weight)
        assert not np.array_equal(a.get(3, 1).n_id, a.get(3, 2).n_id)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2, "num_steps": 0}, ValueError, "num_steps"),
        ({"batch_size": 2, "sample_coverage": -1}, ValueError, "sample_coverage"),
        ({"batch_size": 2, "sample_coverage": "10"}, TypeError, "sample_coverage"),
        ({"batch_size": 2, "seed": 1.5}, TypeError, "seed"),
    ],
)
def test_bad_arguments(edge_index, kwargs, error, match):
    for cls in (GraphSAINTNodeSampler, GraphSAINTEdgeSampler):
        with pytest.raises(error, match=match):
            cls(edge_index, **kwargs)
    with pytest.raises(error, match=match):
        GraphSAINTRandomWalkSampler(edge_index, walk_length=2, **kwargs)
    with pytest.raises(ValueError, match="walk_length"):
        GraphSAINTRandomWalkSampler(edge_index, 2, walk_length=0)
    with pytest.raises(ValueError, match="no edges"):
        GraphSAINTNodeSampler(np.zeros((2, 0), np.int64), 2)
