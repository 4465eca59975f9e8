"""Cluster-GCN (Chiang et al., KDD 2019): METIS parts renumbered contiguously, merged in batches."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from jgnn.sampling._checks import check_flag, check_int, require_edges
from jgnn.sampling._induced import induced_edges
from jgnn.sampling._metis import cached_partition
from jgnn.sampling._scratch import ScratchPool
from jgnn.sampling._shared import maybe_share
from jgnn.sampling._source import IndexedSource
from jgnn.sampling._store import CSCGraph, as_csc_graph
from jgnn.sampling._subgraph import SampledSubgraph

__all__ = ["ClusterData", "ClusterLoader"]


def _default_cache_dir() -> Path:
    from jgnn.datasets import cache_dir

    return cache_dir() / "metis"


def part_ranges(partptr: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """int64 concatenation of ``arange(partptr[p], partptr[p + 1])`` over ``parts``."""
    starts = partptr[parts]
    sizes = partptr[parts + 1] - starts
    offsets = np.repeat(starts - np.cumsum(sizes) + sizes, sizes)
    return np.arange(int(sizes.sum()), dtype=np.int64) + offsets


class ClusterData:
    """A METIS partition of a symmetric graph, with nodes renumbered part by part.

    Host-side: not jittable. Partitions with ``pymetis.part_graph`` (k-way unless
    ``recursive``; self-loops and parallel edges are dropped for METIS only), then renumbers
    the nodes so that part ``p`` is the contiguous range ``partptr[p]:partptr[p + 1]`` of the
    new order (``perm[new] = original id``, stable within a part) and stores the graph in that
    numbering (``graph``, with the original edge ids and weights). Contiguous parts make
    per-part slices (GNNAutoScale's history pushes) plain slice copies. METIS may leave a part
    empty on tiny or disconnected graphs; its range is then empty.

    The partition is cached in ``cache_dir`` (default ``jgnn.datasets.cache_dir() / "metis"``,
    i.e. ``$JGNN_CACHE/metis`` or ``~/.cache/jgnn/metis``) under a key hashing the graph
    structure, the arguments and the pymetis version; the file is written atomically and
    verified on load (graph hash, key, shape, range, checksum), and a bad file is reported with
    a ``RuntimeWarning`` and rebuilt. When the input store is shared, so are the results.

    Args:
        graph: A symmetric graph, anything :func:`as_csc_graph` accepts.
        num_parts: Number of parts, ``1 <= num_parts <= N``.
        recursive: Recursive bisection instead of k-way partitioning.
        cache_dir: Cache folder (created when missing).
        seed: METIS seed (non-negative int).

    Attributes:
      graph: The :class:`CSCGraph` in the new numbering.
      part: int64 ``[N]`` part of every original node.
      perm: int64 ``[N]`` original id of every new node.
      partptr: int64 ``[num_parts + 1]`` part boundaries in the new order.
      num_parts: Number of parts.
      cache_path: The cache file.
      from_cache: Whether the partition was read from the cache.

    Raises:
        TypeError: On non-int ``num_parts``/``seed`` or a non-bool ``recursive``.
        ValueError: On a graph with no edges, an asymmetric graph (use
            :func:`jgnn.graph.to_undirected`), or ``num_parts`` outside ``[1, N]``.

    Examples:
        >>> ring = np.array([[0, 1, 1, 2, 2, 3, 3, 0], [1, 0, 2, 1, 3, 2, 0, 3]])
        >>> import tempfile
        >>> cd = ClusterData(ring, 2, cache_dir=tempfile.mkdtemp())
        >>> cd.partptr.tolist(), sorted(np.bincount(cd.part).tolist())
        ([0, 2, 4], [2, 2])
    """

    def __init__(
        self,
        graph: Any,
        num_parts: int,
        *,
        recursive: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
        seed: int = 0,
    ) -> None:
        source = as_csc_graph(graph)
        require_edges(source, "ClusterData")
        n = source.num_nodes
        self.num_parts = check_int(num_parts, "num_parts", minimum=1)
        if self.num_parts > n:
            raise ValueError(
                f"`num_parts` must be in [1, {n}] (the number of nodes), got {self.num_parts}."
            )
        recursive = check_flag(recursive, "recursive")
        seed = check_int(seed, "seed", minimum=0)
        folder = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
        part, self.cache_path, self.from_cache = cached_partition(
            source, self.num_parts, recursive, seed, folder
        )
        perm = np.argsort(part, kind="stable").astype(np.int64)
        partptr = np.zeros(self.num_parts + 1, np.int64)
        np.cumsum(np.bincount(part, minlength=self.num_parts), out=partptr[1:])
        new_id = np.empty(n, np.int64)
        new_id[perm] = np.arange(n)
        permuted = CSCGraph.from_edges(
            new_id[source.indices],
            new_id[source.destinations()],
            n,
            source.weight,
            edge_ids=source.edge_ids,
        )
        self.graph = permuted.share() if source.is_shared else permuted
        self._arrays = maybe_share(
            {"part": part, "perm": perm, "partptr": partptr}, source.is_shared
        )

    @property
    def part(self) -> np.ndarray:
        """int64 ``[N]`` part of every original node."""
        return self._arrays["part"]

    @property
    def perm(self) -> np.ndarray:
        """int64 ``[N]`` original id of every node of the new order."""
        return self._arrays["perm"]

    @property
    def partptr(self) -> np.ndarray:
        """int64 ``[num_parts + 1]`` boundaries of the parts in the new order."""
        return self._arrays["partptr"]

    def __repr__(self) -> str:
        return (
            f"ClusterData(num_nodes={self.graph.num_nodes}, num_parts={self.num_parts}, "
            f"from_cache={self.from_cache})"
        )


class ClusterLoader(IndexedSource):
    """Batches of ``parts_per_batch`` METIS parts with every edge among them (Cluster-GCN).

    Host-side: not jittable. Implements :class:`BatchSource`. Epoch ``e`` shuffles the part
    ids with a permutation drawn from ``(seed, e)`` (or keeps them in order without
    ``shuffle``); batch ``i`` takes the ``i``-th group of ``parts_per_batch`` of them (the last
    group may be smaller, as with PyG's ``ClusterLoader``), sorts them, and returns the
    subgraph induced by their nodes, which keeps the edges between the parts. Its nodes are
    the parts' ranges of the new order, concatenated (so ``n_id = perm[ranges]``, original ids);
    :meth:`parts` gives the part ids. Every node counts as a seed: ``batch_size`` is the number
    of nodes. ``edge_weight`` holds the graph's weights when it has them.

    Args:
        cluster_data: The :class:`ClusterData`.
        parts_per_batch: Parts merged per batch, ``1 <= parts_per_batch <= num_parts``.
        shuffle: Shuffle the parts every epoch.
        seed: Non-negative int fixing the shuffles.

    Raises:
        TypeError: On a wrong ``cluster_data`` type or non-int arguments.
        ValueError: If ``parts_per_batch`` is outside ``[1, num_parts]``.

    Examples:
        >>> import tempfile
        >>> ring = np.array([[0, 1, 1, 2, 2, 3, 3, 0], [1, 0, 2, 1, 3, 2, 0, 3]])
        >>> loader = ClusterLoader(ClusterData(ring, 2, cache_dir=tempfile.mkdtemp()), 2)
        >>> len(loader), loader.get(0, 0).num_edges
        (1, 8)
    """

    def __init__(
        self,
        cluster_data: ClusterData,
        parts_per_batch: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        if not isinstance(cluster_data, ClusterData):
            raise TypeError(
                f"`cluster_data` must be a ClusterData, got {type(cluster_data).__name__}."
            )
        self.cluster_data = cluster_data
        self.parts_per_batch = check_int(parts_per_batch, "parts_per_batch", minimum=1)
        if self.parts_per_batch > cluster_data.num_parts:
            raise ValueError(
                f"`parts_per_batch` ({self.parts_per_batch}) exceeds `num_parts` "
                f"({cluster_data.num_parts})."
            )
        self.shuffle = check_flag(shuffle, "shuffle")
        self.seed = check_int(seed, "seed", minimum=0)
        self._pool = ScratchPool(cluster_data.graph.num_nodes)

    def __len__(self) -> int:
        return -(-self.cluster_data.num_parts // self.parts_per_batch)

    def parts(self, epoch: int, index: int) -> np.ndarray:
        """Sorted int64 part ids of batch ``index`` of epoch ``epoch``.

        Raises:
            TypeError, ValueError: As :meth:`get`.
        """
        epoch, index = self.check_position(epoch, index)
        order = self.epoch_order(epoch, self.cluster_data.num_parts, self.shuffle)
        k = self.parts_per_batch
        return np.sort(order[index * k : (index + 1) * k])

    def _batch(self, epoch: int, index: int) -> SampledSubgraph:
        cd = self.cluster_data
        nodes = part_ranges(cd.partptr, self.parts(epoch, index))
        senders, receivers, pos = induced_edges(cd.graph, nodes, self._pool)
        weight = cd.graph.weight
        return SampledSubgraph(
            n_id=cd.perm[nodes],
            e_id=cd.graph.edge_ids[pos].astype(np.int64),
            senders=senders,
            receivers=receivers,
            batch_size=int(nodes.size),
            num_sampled_nodes=(int(nodes.size),),
            num_sampled_edges=(int(pos.size),),
            edge_weight=None if weight is None else weight[pos],
        )

    def __repr__(self) -> str:
        return (
            f"ClusterLoader({self.cluster_data!r}, parts_per_batch={self.parts_per_batch}, "
            f"shuffle={self.shuffle}, seed={self.seed})"
        )
