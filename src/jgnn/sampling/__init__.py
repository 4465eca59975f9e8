"""jgnn.sampling: host-side graph samplers (NumPy and numba; nothing here runs on a device).

* :class:`CSCGraph` / :func:`as_csc_graph`: the graph store (in-edges in CSC order, original
  edge ids, optional weights) that every sampler reads; :meth:`CSCGraph.share` moves it to
  shared memory so worker processes map it instead of copying it.
* :class:`NeighborSampler` (GraphSAGE / PyG ``NeighborLoader`` semantics) and
  :class:`SeedBatches`, its epochs of seed batches.
* :class:`ClusterData` (METIS parts, renumbered contiguously, cached) and
  :class:`ClusterLoader` (Cluster-GCN batches).
* :class:`GraphSAINTNodeSampler`, :class:`GraphSAINTEdgeSampler`,
  :class:`GraphSAINTRandomWalkSampler` with the paper's loss and aggregation norms.

Every sampler returns a :class:`SampledSubgraph`; every batch source implements the
:class:`BatchSource` protocol (``len``, ``get(epoch, index)``, ``iter_epoch(epoch)``), whose
batches are pure functions of ``(seed, epoch, index)``.
"""

from jgnn.sampling._cluster import ClusterData as ClusterData
from jgnn.sampling._cluster import ClusterLoader as ClusterLoader
from jgnn.sampling._neighbor import NeighborSampler as NeighborSampler
from jgnn.sampling._saint import GraphSAINTEdgeSampler as GraphSAINTEdgeSampler
from jgnn.sampling._saint import GraphSAINTNodeSampler as GraphSAINTNodeSampler
from jgnn.sampling._saint import GraphSAINTRandomWalkSampler as GraphSAINTRandomWalkSampler
from jgnn.sampling._seed_batches import SeedBatches as SeedBatches
from jgnn.sampling._shared import SharedArrays as SharedArrays
from jgnn.sampling._source import BatchSource as BatchSource
from jgnn.sampling._store import CSCGraph as CSCGraph
from jgnn.sampling._store import as_csc_graph as as_csc_graph
from jgnn.sampling._subgraph import SampledSubgraph as SampledSubgraph

__all__ = [
    "BatchSource",
    "CSCGraph",
    "ClusterData",
    "ClusterLoader",
    "GraphSAINTEdgeSampler",
    "GraphSAINTNodeSampler",
    "GraphSAINTRandomWalkSampler",
    "NeighborSampler",
    "SampledSubgraph",
    "SeedBatches",
    "SharedArrays",
    "as_csc_graph",
]
