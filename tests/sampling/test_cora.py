"""Cora: per-hop sample sizes of NeighborSampler against PyG's NeighborLoader on the same graph."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sampling._oracle import assert_edges_exist, hop_counts_from_edges

from jgnn.sampling import NeighborSampler, SeedBatches

FANOUTS = [10, 10, 10]
BATCH = 128
EPOCHS = 8  # 8 x 21 full batches of 128 seeds


@pytest.fixture(scope="module")
def cora_edge_index():
    env = os.environ.get("JGNN_DATA")
    if not env:
        pytest.skip("$JGNN_DATA is not set: the Planetoid raw files are unavailable")
    from jgnn.datasets import load

    for root in (Path(env), Path(env) / "planetoid"):
        if (root / "ind.cora.x").is_file():
            graph = load("cora", root=root, download=False).graph
            return np.stack([np.asarray(graph.senders), np.asarray(graph.receivers)])
    pytest.skip(f"no Cora raw files under $JGNN_DATA={env}")


def jgnn_hop_means(edge_index):
    n = int(edge_index.max()) + 1
    source = SeedBatches(
        NeighborSampler(edge_index, FANOUTS, seed=0), np.arange(n), BATCH, drop_last=True
    )
    nodes, edges = [], []
    for epoch in range(EPOCHS):
        for batch in source.iter_epoch(epoch):
            nodes.append(batch.num_sampled_nodes)
            edges.append(batch.num_sampled_edges)
    assert_edges_exist(batch, edge_index)
    return np.mean(nodes, axis=0), np.mean(edges, axis=0)


@pytest.mark.peers
def test_per_hop_counts_match_pyg(cora_edge_index):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_sparse")
    from torch_geometric.data import Data
    from torch_geometric.loader import NeighborLoader

    torch.manual_seed(0)
    n = int(cora_edge_index.max()) + 1
    data = Data(edge_index=torch.from_numpy(cora_edge_index.astype(np.int64)), num_nodes=n)
    loader = NeighborLoader(
        data, num_neighbors=FANOUTS, batch_size=BATCH, shuffle=True, drop_last=True
    )
    nodes, edges = [], []
    for _ in range(EPOCHS):
        for batch in loader:
            ei = batch.edge_index.numpy()
            hop_nodes, hop_edges = hop_counts_from_edges(BATCH, ei[0], ei[1], len(FANOUTS))
            assert sum(hop_nodes) == batch.num_nodes and sum(hop_edges) == ei.shape[1]
            nodes.append(hop_nodes)
            edges.append(hop_edges)
    pyg_nodes, pyg_edges = np.mean(nodes, axis=0), np.mean(edges, axis=0)
    ours_nodes, ours_edges = jgnn_hop_means(cora_edge_index)
    np.testing.assert_allclose(ours_nodes, pyg_nodes, rtol=0.03)
    np.testing.assert_allclose(ours_edges, pyg_edges, rtol=0.03)
