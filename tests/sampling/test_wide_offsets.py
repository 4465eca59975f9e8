"""Graphs above 2**31 - 1 edges store int64 offsets; the kernels give the same samples with them.

A graph that large does not fit a test, so these tests widen a small store's offsets and edge
ids to int64 (the dtype ``CSCGraph`` picks beyond ``2**31 - 1`` edges) and compare every
sampler with the int32 store.
"""

from __future__ import annotations

import numpy as np
from sampling._oracle import random_edge_index, symmetric_edge_index

from jgnn.sampling import (
    CSCGraph,
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    NeighborSampler,
)


def widened(graph: CSCGraph) -> CSCGraph:
    wide = CSCGraph(graph.indptr, graph.indices, graph.edge_ids, graph.weight)
    wide.indptr = graph.indptr.astype(np.int64)
    wide.edge_ids = graph.edge_ids.astype(np.int64)
    return wide


def same(a, b):
    for field in ("n_id", "e_id", "senders", "receivers", "edge_weight", "node_weight", "batch"):
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)


def test_neighbor_sampler_with_int64_offsets():
    ei = random_edge_index(50, 400, seed=0)
    w = np.random.default_rng(0).random(400).astype(np.float32)
    narrow = CSCGraph.from_edge_index(ei, 50, edge_weight=w)
    wide = widened(narrow)
    assert wide.indptr.dtype == np.int64 and narrow.indptr.dtype == np.int32
    for flags in ({}, {"replace": True}, {"weighted": True}, {"disjoint": True}):
        a = NeighborSampler(narrow, [4, 3], seed=1, **flags).sample([0, 5, 9], rng=2)
        b = NeighborSampler(wide, [4, 3], seed=1, **flags).sample([0, 5, 9], rng=2)
        same(a, b)


def test_graphsaint_with_int64_offsets():
    narrow = CSCGraph.from_edge_index(symmetric_edge_index(60, 200, seed=1), 60)
    wide = widened(narrow)
    for cls, kwargs in (
        (GraphSAINTNodeSampler, {}),
        (GraphSAINTEdgeSampler, {}),
        (GraphSAINTRandomWalkSampler, {"walk_length": 3}),
    ):
        a = cls(narrow, 8, sample_coverage=2, seed=3, **kwargs)
        b = cls(wide, 8, sample_coverage=2, seed=3, **kwargs)
        same(a.get(0, 0), b.get(0, 0))
