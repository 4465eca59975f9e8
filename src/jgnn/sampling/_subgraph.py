"""The output type every host-side sampler returns: a relabelled subgraph in PyG's fields."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["SampledSubgraph"]


class SampledSubgraph(NamedTuple):
    """A sampled subgraph with local ids (host-side NumPy; nothing here lives on a device).

    Field names follow PyG's ``NeighborLoader`` output. Edges flow ``senders -> receivers``
    (``edge j -> i`` means ``j`` is a sampled in-neighbour of ``i``, PyG's
    ``flow="source_to_target"``), in local ids that index ``n_id``.

    Attributes:
      n_id: int64 ``[N]`` global node id of every local node; the ``batch_size`` seed nodes
        come first, in the order they were given, then each hop's new nodes.
      e_id: int64 ``[E]`` global edge id (position in the input edge list) of every edge.
      senders: int32 ``[E]`` local source ids.
      receivers: int32 ``[E]`` local destination ids.
      batch_size: number of seed nodes (the first ``batch_size`` entries of ``n_id``).
      num_sampled_nodes: nodes added per hop, hop 0 (the seeds) first; sums to ``N``.
      num_sampled_edges: edges sampled per hop, hop 1 first; sums to ``E``. Edges are ordered
        by hop, so ``senders[:sum(num_sampled_edges[:k])]`` are the first ``k`` hops' edges.
      edge_weight: float32 ``[E]`` per-edge weight or normalisation for the step (GraphSAINT's
        aggregation norm, or the input graph's edge weights), or None.
      node_weight: float32 ``[N]`` per-node loss weight (GraphSAINT's loss norm), or None.
      batch: int64 ``[N]`` index of the seed each node was sampled for (``disjoint=True``), or
        None.
    """

    n_id: np.ndarray
    e_id: np.ndarray
    senders: np.ndarray
    receivers: np.ndarray
    batch_size: int
    num_sampled_nodes: tuple[int, ...]
    num_sampled_edges: tuple[int, ...]
    edge_weight: np.ndarray | None = None
    node_weight: np.ndarray | None = None
    batch: np.ndarray | None = None

    @property
    def num_nodes(self) -> int:
        """``N``, the number of local nodes."""
        return int(self.n_id.shape[0])

    @property
    def num_edges(self) -> int:
        """``E``, the number of sampled edges."""
        return int(self.senders.shape[0])
