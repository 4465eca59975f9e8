"""Batch sources for mini-batch training: a :class:`SamplerConfig` -> a ``BatchSource``.

Also the edge weights a weighted model (GCN) needs under sampling. GCN's propagation uses the
*full* graph's normalised weights ``w_uv = (d_u d_v)^-1/2`` (self loops as edges,
:func:`gcn_normalized_edges`), so that exact evaluation over the full neighbourhood is the
full-batch model. A batch holds some of a node's in-edges; :class:`WeightedBatches` gives
each sampled edge ``w_uv`` times an estimator correction that makes the batch's weighted sum
an unbiased estimate of the full one:

* neighbour sampling: ``deg(v) / sampled(v)`` (``deg(v)`` in-edges of ``v``, of which the batch
  holds ``sampled(v)``, drawn uniformly: the Horvitz-Thompson weight; 1 with fanout -1);
* GraphSAINT with norms: the sampler's aggregation norm ``1 / alpha_uv`` (Zeng et al., 2020);
* Cluster-GCN: no correction (the paper's choice: edges between batches are dropped).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jgnn.graph import from_edge_index, remove_self_loops
from jgnn.sampling import (
    ClusterData,
    ClusterLoader,
    CSCGraph,
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    NeighborSampler,
    SampledSubgraph,
    SeedBatches,
    SharedArrays,
)
from jgnn.sparse import gcn_norm
from jgnn.train._sampler_config import SamplerConfig

__all__ = ["WeightedBatches", "gcn_normalized_edges", "make_source"]


def gcn_normalized_edges(edge_index: Any, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """The full graph's GCN edges and weights ``D^-1/2 (A + I) D^-1/2``, on the host.

    Host-side: not jittable. Self loops already in ``edge_index`` are dropped first, then one
    loop per node is appended (:func:`jgnn.sparse.gcn_norm`).

    Args:
        edge_index: ``[2, E]`` integer edges (row 0 sources).
        num_nodes: ``N``.

    Returns:
        ``(edge_index [2, E' + N] int64, weight [E' + N] float32)``.
    """
    graph = remove_self_loops(
        from_edge_index(np.asarray(edge_index), num_nodes), num_nodes=num_nodes
    )
    normed = jax.device_get(gcn_norm(graph, num_nodes=num_nodes))
    edges = np.stack([np.asarray(normed.senders), np.asarray(normed.receivers)]).astype(np.int64)
    return edges, np.asarray(normed.edges, np.float32)


class WeightedBatches:
    """A batch source whose batches carry edge weights for a weighted model (GCN).

    Host-side: not jittable. Implements ``jgnn.sampling.BatchSource``. Batch ``(epoch,
    index)`` is ``source.get(epoch, index)`` with ``edge_weight = weight[e_id] * c`` where
    ``c`` is the batch's own ``edge_weight`` (GraphSAINT's aggregation norm) when it has one,
    times ``in_degree[v] / sampled(v)`` for the edges into ``v`` when ``in_degree`` is given
    (neighbour sampling; see the module docstring).

    Args:
        source: The wrapped batch source; its batches' ``e_id`` index ``weight``.
        weight: float32 ``[E]`` weight of every edge of the graph the source samples.
        in_degree: ``[N]`` in-degree of every node in that graph, or None.
        share: Keep the arrays in shared memory (for worker processes).

    Raises:
        ValueError: If ``weight`` or ``in_degree`` is not 1-D.
    """

    def __init__(
        self, source: Any, weight: Any, *, in_degree: Any = None, share: bool = False
    ) -> None:
        arrays = {"weight": np.asarray(weight, np.float32)}
        if in_degree is not None:
            arrays["in_degree"] = np.asarray(in_degree, np.float32)
        for key, arr in arrays.items():
            if arr.ndim != 1:
                raise ValueError(f"`{key}` must be 1-D, got shape {arr.shape}.")
        self.source = source
        self._arrays = SharedArrays(arrays) if share else arrays

    def __len__(self) -> int:
        return len(self.source)

    def get(self, epoch: int, index: int) -> SampledSubgraph:
        """Batch ``index`` of ``epoch`` with its edge weights (host-side: not jittable)."""
        sub = self.source.get(epoch, index)
        w = self._arrays["weight"][sub.e_id]
        if sub.edge_weight is not None:
            w = w * sub.edge_weight
        if "in_degree" in self._arrays and sub.num_edges:
            receivers = np.asarray(sub.receivers)
            sampled = np.bincount(receivers, minlength=sub.num_nodes).astype(np.float32)
            degree = self._arrays["in_degree"][sub.n_id]
            w = w * (degree / np.maximum(sampled, 1.0))[receivers]
        return sub._replace(edge_weight=w.astype(np.float32, copy=False))

    def iter_epoch(self, epoch: int) -> Iterator[SampledSubgraph]:
        """Yields the batches of ``epoch`` in order (host-side)."""
        for index in range(len(self)):
            yield self.get(epoch, index)


def make_source(
    config: SamplerConfig,
    graph: CSCGraph,
    train_nodes: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    cache_dir: str | Path | None = None,
) -> Any:
    """The batch source of a resolved :class:`SamplerConfig` over ``graph``.

    Host-side: not jittable. ``"neighbor"`` samples around the training nodes (shuffled every
    epoch); ``"cluster"`` partitions ``graph`` with METIS (cached) and every batch holds
    every node of its parts; GraphSAINT samples subgraphs of the whole graph. With
    ``weight``, batches carry edge weights (:class:`WeightedBatches`).

    Args:
        config: The loader settings, resolved (:meth:`SamplerConfig.resolve`).
        graph: The graph store (share it for worker processes).
        train_nodes: int ``[S]`` training node ids (the seeds of neighbour sampling).
        weight: float32 ``[E]`` edge weights in ``graph``'s edge-id order, or None.
        cache_dir: METIS cache folder (default ``jgnn.datasets.cache_dir() / "metis"``).

    Returns:
        A ``jgnn.sampling.BatchSource``.

    Raises:
        ValueError: If ``config`` is ``"full"`` or not resolved.
    """
    c, seed = config, config.seed
    if c.loader == "full" or not c.is_resolved():
        raise ValueError(f"make_source needs a resolved sampling config, got {config!r}.")
    in_degree = None
    if c.loader == "neighbor":
        sampler = NeighborSampler(graph, c.num_neighbors, seed=seed)
        source = SeedBatches(sampler, train_nodes, c.batch_size, shuffle=True, seed=seed)
        in_degree = graph.in_degree()
    elif c.loader == "cluster":
        data = ClusterData(graph, c.num_parts, cache_dir=cache_dir, seed=seed)
        source = ClusterLoader(data, c.parts_per_batch, shuffle=True, seed=seed)
    else:
        saint = {
            "saint-node": GraphSAINTNodeSampler,
            "saint-edge": GraphSAINTEdgeSampler,
            "saint-rw": GraphSAINTRandomWalkSampler,
        }[c.loader]
        extra = {"walk_length": c.walk_length} if c.loader == "saint-rw" else {}
        source = saint(
            graph,
            c.batch_size,
            num_steps=c.num_steps,
            sample_coverage=c.sample_coverage,
            seed=seed,
            **extra,
        )
    if weight is None:
        return source
    return WeightedBatches(source, weight, in_degree=in_degree, share=graph.is_shared)
