"""Batch sources for the mini-batch training tests (importable by spawned worker processes)."""

from __future__ import annotations

import numpy as np

from jgnn.sampling import SampledSubgraph


class WholeGraph:
    """One batch per epoch holding the whole graph, every node a seed (a full-batch oracle)."""

    def __init__(self, edge_index: np.ndarray, num_nodes: int, edge_weight=None) -> None:
        self.edge_index = np.asarray(edge_index)
        self.num_nodes = num_nodes
        self.edge_weight = None if edge_weight is None else np.asarray(edge_weight, np.float32)

    def __len__(self) -> int:
        return 1

    def get(self, epoch: int, index: int) -> SampledSubgraph:
        e = self.edge_index.shape[1]
        return SampledSubgraph(
            n_id=np.arange(self.num_nodes, dtype=np.int64),
            e_id=np.arange(e, dtype=np.int64),
            senders=self.edge_index[0].astype(np.int32),
            receivers=self.edge_index[1].astype(np.int32),
            batch_size=self.num_nodes,
            num_sampled_nodes=(self.num_nodes,),
            num_sampled_edges=(e,),
            edge_weight=self.edge_weight,
        )

    def iter_epoch(self, epoch: int):
        yield self.get(epoch, 0)


class FailAt:
    """Wraps a source; batch ``index`` of every epoch raises ``KeyError``."""

    def __init__(self, source, index: int) -> None:
        self.source, self.index = source, index

    def __len__(self) -> int:
        return len(self.source)

    def get(self, epoch: int, index: int) -> SampledSubgraph:
        if index == self.index:
            raise KeyError(f"planted sampler failure at batch {index}")
        return self.source.get(epoch, index)

    def iter_epoch(self, epoch: int):
        for i in range(len(self)):
            yield self.get(epoch, i)
