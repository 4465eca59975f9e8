"""GNNAutoScale batches: METIS parts in contiguous numbering plus their 1-hop halo.

:class:`GASData` partitions the graph once (``jgnn.sampling.ClusterData``: METIS k-way, nodes
renumbered so that every part is a contiguous id range, so a push is a slice copy) and, when the
model needs it, computes the GCN normalisation once on the *full* graph; a batch then carries
those weights for its edges instead of renormalising its subgraph.

A batch (:class:`GASBatches`) is ``parts_per_batch`` parts (the *batch* nodes, in part order)
and their *halo*: every in-neighbour outside the batch. It holds every in-edge of every batch
node, so a layer computes the batch nodes' outputs exactly from the batch and halo inputs. In
the ``jgnn.loader`` hop-block layout, batch nodes are node block 0 and the halo is block 1;
a :class:`GASBudget` fixes both sizes and the edge count for every batch of a run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

from jgnn._sizes import round_up_multiple
from jgnn.loader import Budget, PaddedBatch, Rung, pad_subgraph
from jgnn.sampling import (
    ClusterData,
    ClusterLoader,
    CSCGraph,
    NeighborSampler,
    SampledSubgraph,
    as_csc_graph,
)

__all__ = ["GASBatches", "GASBudget", "GASData"]


class GASData:
    """The host side of a GNNAutoScale run: parts, renumbered graph, full-graph edge weights.

    Host-side: not jittable. Everything is in the *new* numbering of ``jgnn.sampling.
    ClusterData`` (``perm[new] = original id``; part ``p`` is ``partptr[p]:partptr[p + 1]``);
    :meth:`permute` and :meth:`unpermute` move node arrays between the two numberings.

    With ``normalize=True`` the edge weights are ``jgnn.sparse.gcn_norm`` of the full graph (one
    self loop per node appended, the same function full-batch training uses), so a batch's
    edges carry exactly the weights the full graph gives them.

    Args:
      graph: A symmetric graph: a ``GraphsTuple``, an edge index ``[2, E]``, a
        ``jgnn.sampling.CSCGraph``, a ``SparseTensor`` ``adj_t``. It must hold no self loops
        when ``normalize`` (``gcn_norm`` appends them).
      num_parts: Number of METIS parts (``1 <= num_parts <= N``).
      num_nodes: ``N`` for an edge index (default ``max(id) + 1``).
      normalize: Store GCN-normalised weights (with self loops) instead of the graph's own.
      edge_weight: Optional ``[E]`` input edge weights.
      recursive: Recursive bisection instead of k-way METIS.
      cache_dir: Partition cache folder (see ``ClusterData``).
      seed: METIS seed.

    Attributes:
      cluster: The ``ClusterData``.
      graph: The ``CSCGraph`` of the new numbering (weights: see ``normalize``).
      num_nodes: ``N``.
      num_parts: Number of parts.
      partptr: int64 ``[num_parts + 1]`` part boundaries.
      perm: int64 ``[N]`` original id of every new id.
      part_of: int32 ``[N]`` part of every new id.
      normalize: Whether the weights are the full-graph GCN normalisation.

    Raises:
      ValueError, TypeError: As ``jgnn.sampling.ClusterData`` (asymmetric graph, bad sizes).

    Examples:
      >>> import tempfile
      >>> ring = np.array([[0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0],
      ...                  [1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 0, 5]])
      >>> data = GASData(ring, num_parts=2, cache_dir=tempfile.mkdtemp())
      >>> data.partptr.tolist(), data.ranges([0, 1]).tolist()
      ([0, 3, 6], [[0, 6]])
      >>> sub = GASBatches(data, 1, shuffle=False).get(0, 0)
      >>> sub.num_sampled_nodes  # 3 batch nodes, 2 halo nodes (one per cut edge)
      (3, 2)
    """

    def __init__(
        self,
        graph: Any,
        *,
        num_parts: int,
        num_nodes: int | None = None,
        normalize: bool = False,
        edge_weight: Any = None,
        recursive: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
        seed: int = 0,
    ) -> None:
        base = as_csc_graph(graph, num_nodes=num_nodes, edge_weight=edge_weight)
        if normalize:
            base = _gcn_normalized(base)
        self.normalize = bool(normalize)
        self.cluster = ClusterData(
            base, num_parts, recursive=recursive, cache_dir=cache_dir, seed=seed
        )
        self.graph: CSCGraph = self.cluster.graph
        self.num_nodes = self.graph.num_nodes
        self.num_parts = self.cluster.num_parts
        self.partptr = self.cluster.partptr
        self.perm = self.cluster.perm
        self.part_of = np.repeat(np.arange(self.num_parts, dtype=np.int32), np.diff(self.partptr))
        self._stats: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def permute(self, values: Any) -> np.ndarray:
        """``values[perm]``: a node array ``[N, ...]`` in the new numbering.

        Host-side: not jittable.
        """
        values = np.asarray(values)
        self._check_rows(values, "permute")
        return values[self.perm]

    def unpermute(self, values: Any) -> np.ndarray:
        """The inverse of :meth:`permute`: back to the original numbering.

        Host-side: not jittable.
        """
        values = np.asarray(values)
        self._check_rows(values, "unpermute")
        out = np.empty_like(values)
        out[self.perm] = values
        return out

    def _check_rows(self, values: np.ndarray, fn: str) -> None:
        if values.ndim < 1 or values.shape[0] != self.num_nodes:
            raise ValueError(
                f"GASData.{fn}: expected a node array with {self.num_nodes} rows, got shape "
                f"{values.shape}."
            )

    def check_parts(self, parts: Any) -> np.ndarray:
        """Sorted int64 part ids, checked: integers in ``[0, num_parts)``, no repeats.

        Host-side: not jittable.

        Raises:
          ValueError: On an empty, repeated or unknown part id.
        """
        arr = np.asarray(parts)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"`parts` must be a non-empty 1-D integer array, got {parts!r}.")
        bad = arr[(arr < 0) | (arr >= self.num_parts)]
        if bad.size:
            raise ValueError(
                f"unknown part id {int(bad[0])}: the partition has {self.num_parts} parts "
                f"(ids 0..{self.num_parts - 1})."
            )
        arr = np.sort(arr.astype(np.int64))
        if np.any(arr[1:] == arr[:-1]):
            raise ValueError(f"`parts` repeats a part id: {arr.tolist()}.")
        return arr

    def nodes(self, parts: Any) -> np.ndarray:
        """int64 node ids of the batch of ``parts``: their ranges, in part order.

        Host-side: not jittable.
        """
        ranges = self.ranges(parts)
        sizes = ranges[:, 1] - ranges[:, 0]
        offsets = np.repeat(ranges[:, 0] - np.cumsum(sizes) + sizes, sizes)
        return np.arange(int(sizes.sum()), dtype=np.int64) + offsets

    def ranges(self, parts: Any) -> np.ndarray:
        """int64 ``[R, 2]`` ``[start, stop)`` node ranges of ``parts`` (adjacent parts merged).

        Host-side: not jittable. This is what a host history push of the batch writes
        (:func:`jgnn.history.push`).
        """
        parts = self.check_parts(parts)
        starts, stops = self.partptr[parts], self.partptr[parts + 1]
        new_run = np.ones(parts.size, bool)
        new_run[1:] = starts[1:] != stops[:-1]
        first = np.flatnonzero(new_run)
        last = np.append(first[1:], parts.size) - 1
        return np.stack([starts[first], stops[last]], axis=1)

    def positions(self, ids: Any, parts: Any, missing: int) -> np.ndarray:
        """Row of every node of ``ids`` in the batch of ``parts``, or ``missing`` if not there.

        Host-side: not jittable. ``ids`` may hold the padding id ``N`` (never in a batch).

        Returns:
          int32 ``[len(ids)]``.
        """
        parts = self.check_parts(parts)
        ids = np.asarray(ids, np.int64)
        sizes = self.partptr[parts + 1] - self.partptr[parts]
        present = np.zeros(self.num_parts + 1, bool)  # slot num_parts: the padding id
        present[parts] = True
        shift = np.zeros(self.num_parts + 1, np.int64)
        shift[parts] = np.cumsum(sizes) - sizes - self.partptr[parts]
        part = np.full(ids.shape, self.num_parts, np.int64)
        real = ids < self.num_nodes
        part[real] = self.part_of[ids[real]]
        return np.where(present[part], ids + shift[part], missing).astype(np.int32)

    def part_stats(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per part: ``(nodes, halo nodes, in-edges)``, int64 ``[num_parts]`` each (cached).

        Host-side: not jittable. The halo of a part is the set of its nodes' in-neighbours
        outside it.
        """
        if self._stats is None:
            dst = self.part_of[self.graph.destinations()]
            src = self.graph.indices.astype(np.int64)
            cross = self.part_of[src] != dst
            keys = np.unique(dst[cross].astype(np.int64) * self.num_nodes + src[cross])
            self._stats = (
                np.diff(self.partptr),
                np.bincount(keys // self.num_nodes, minlength=self.num_parts),
                np.bincount(dst, minlength=self.num_parts),
            )
        return self._stats

    def __repr__(self) -> str:
        return (
            f"GASData(num_nodes={self.num_nodes}, num_parts={self.num_parts}, "
            f"num_edges={self.graph.num_edges}, normalize={self.normalize})"
        )


def _gcn_normalized(base: CSCGraph) -> CSCGraph:
    """``base`` with one self loop per node and ``jgnn.sparse.gcn_norm`` weights (host-side)."""
    import jax
    import jax.numpy as jnp

    from jgnn.sparse import gcn_norm

    if np.any(base.indices == base.destinations()):
        raise ValueError(
            "GASData(normalize=True): the graph holds self loops, and gcn_norm appends one per "
            "node; remove them first (jgnn.graph.remove_self_loops)."
        )
    edge_index = base.to_edge_index()  # original edge order: the weights full-batch computes
    weight = None if base.weight is None else jnp.asarray(base.weight)
    g = gcn_norm(jnp.asarray(edge_index, jnp.int32), weight, num_nodes=base.num_nodes)
    senders, receivers, w = jax.device_get((g.senders, g.receivers, g.edges))
    return CSCGraph.from_edges(senders, receivers, base.num_nodes, w)


class GASBudget(NamedTuple):
    """Static padded sizes of every GAS batch of a run.

    Attributes:
      batch_nodes: Node slots of block 0; more than the largest batch (one padding slot).
      halo_nodes: Node slots of block 1, at least the largest halo.
      edges: Edge slots, at least the largest number of in-edges of a batch.
    """

    batch_nodes: int
    halo_nodes: int
    edges: int

    @property
    def rung(self) -> Rung:
        """The ``jgnn.loader.Rung`` ``((batch_nodes, halo_nodes), (edges,))``."""
        return Rung((self.batch_nodes, self.halo_nodes), (self.edges,))

    @classmethod
    def bound(cls, data: GASData, parts_per_batch: int, *, multiple: int = 8) -> GASBudget:
        """A budget that holds *any* batch of ``parts_per_batch`` parts.

        Host-side: not jittable. Sums of the ``parts_per_batch`` largest per-part counts
        (nodes, halo, in-edges): the halo of a union of parts is at most the sum of their
        halos, so every shuffled grouping of every epoch fits one compiled shape (GAS sizes its
        transfer buffers on the largest batch likewise).
        """
        k = _check_k(parts_per_batch, data.num_parts)
        nodes, halo, edges = (np.sort(a)[::-1][:k].sum() for a in data.part_stats())
        return cls(
            round_up_multiple(int(nodes) + 1, multiple),
            round_up_multiple(int(halo), multiple),
            round_up_multiple(max(int(edges), 1), multiple),
        )

    @classmethod
    def fit(cls, subgraphs: Iterable[SampledSubgraph], *, multiple: int = 8) -> GASBudget:
        """The smallest budget (rounded up to ``multiple``) that holds the given batches.

        Host-side: not jittable.
        """
        counts = np.array(
            [(s.num_sampled_nodes[0], s.num_sampled_nodes[1], s.num_edges) for s in subgraphs]
        )
        if counts.size == 0:
            raise ValueError("GASBudget.fit needs at least one batch.")
        b, h, e = (int(c) for c in counts.max(axis=0))
        return cls(
            round_up_multiple(b + 1, multiple),
            round_up_multiple(h, multiple),
            round_up_multiple(max(e, 1), multiple),
        )

    def check(self, subgraph: SampledSubgraph, where: str) -> None:
        """Raises ``ValueError`` naming the budget field a batch overflows."""
        b, h = subgraph.num_sampled_nodes
        for name, need, have in (
            ("batch_nodes", b + 1, self.batch_nodes),
            ("halo_nodes", h, self.halo_nodes),
            ("edges", subgraph.num_edges, self.edges),
        ):
            if need > have:
                extra = (
                    " (the batch's nodes plus one padding slot)" if name == "batch_nodes" else ""
                )
                raise ValueError(
                    f"{where} needs {need} slots for `{name}`{extra} but the GASBudget has "
                    f"{name}={have}; raise it, or use GASBudget.bound(data, parts_per_batch), "
                    "which holds every batch."
                )


def _check_k(parts_per_batch: Any, num_parts: int) -> int:
    if isinstance(parts_per_batch, bool) or not isinstance(parts_per_batch, int | np.integer):
        raise TypeError(f"`parts_per_batch` must be an int, got {parts_per_batch!r}.")
    if not 1 <= int(parts_per_batch) <= num_parts:
        raise ValueError(
            f"`parts_per_batch` must be in [1, {num_parts}] (num_parts), got {parts_per_batch}."
        )
    return int(parts_per_batch)


def _check_epochs(epochs: Any) -> int:
    if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 1:
        raise ValueError(f"`epochs` must be an int >= 1, got {epochs!r}.")
    return int(epochs)


class GASBatches:
    """GNNAutoScale batches: ``parts_per_batch`` parts and their halo (a ``BatchSource``).

    Host-side: not jittable. Epoch ``e`` groups the parts as ``jgnn.sampling.ClusterLoader``
    does (shuffled from ``(seed, e)`` unless ``shuffle=False``; the last group may be smaller).
    A batch is a ``SampledSubgraph`` in the new numbering of ``data``: ``n_id`` lists the batch
    nodes (the parts' ranges, in part order; ``batch_size`` of them, hop 0) then the halo
    (hop 1), and the edges are every in-edge of the batch nodes (``edge_weight`` the graph's,
    e.g. the full-graph GCN weights). Batches are checked against :attr:`budget`.

    Args:
      data: The :class:`GASData`.
      parts_per_batch: Parts per batch.
      shuffle: Regroup the parts every epoch.
      seed: Seed of the grouping.
      budget: Padding sizes. Default: without ``shuffle``, :meth:`GASBudget.fit` over the
        fixed batches; with ``shuffle`` and ``epochs``, :meth:`GASBudget.fit` over every batch
        of those epochs (exact; costs one extra sampling pass); else :meth:`GASBudget.bound`
        (holds any grouping, but may pad the halo generously).
      epochs: How many epochs the source will serve (for the default budget).

    Raises:
      TypeError, ValueError: On a bad ``parts_per_batch``, or (without ``shuffle``) a batch
        that overflows ``budget``.
    """

    def __init__(
        self,
        data: GASData,
        parts_per_batch: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        budget: GASBudget | None = None,
        epochs: int | None = None,
    ) -> None:
        if not isinstance(data, GASData):
            raise TypeError(f"`data` must be a GASData, got {type(data).__name__}.")
        self.data = data
        self.parts_per_batch = _check_k(parts_per_batch, data.num_parts)
        self.shuffle = bool(shuffle)
        self._groups = ClusterLoader(
            data.cluster, self.parts_per_batch, shuffle=self.shuffle, seed=seed
        )
        self._sampler = NeighborSampler(data.graph, [-1])
        if budget is None:
            fit_epochs = 1 if not self.shuffle else epochs
            if fit_epochs is None:
                budget = GASBudget.bound(data, self.parts_per_batch)
            else:
                budget = GASBudget.fit(
                    self._subgraph(self.parts(e, i))
                    for e in range(_check_epochs(fit_epochs))
                    for i in range(len(self))
                )
        elif not isinstance(budget, GASBudget):
            raise TypeError(f"`budget` must be a GASBudget, got {type(budget).__name__}.")
        self.budget = budget
        if not self.shuffle:
            for i in range(len(self)):
                self.get(0, i)  # fixed batches: report an overflowing budget now

    @property
    def seed(self) -> int:
        """Seed of the part grouping."""
        return self._groups.seed

    def __len__(self) -> int:
        return len(self._groups)

    def parts(self, epoch: int, index: int) -> np.ndarray:
        """Sorted int64 part ids of batch ``index`` of epoch ``epoch``."""
        return self._groups.parts(epoch, index)

    def get(self, epoch: int, index: int) -> SampledSubgraph:
        """Batch ``index`` of epoch ``epoch`` (see the class docstring).

        Raises:
          ValueError: If the batch overflows :attr:`budget` (the message names the field).
        """
        sub = self._subgraph(self.parts(epoch, index))
        self.budget.check(sub, f"GAS batch {index} of epoch {epoch}")
        return sub

    def subgraph(self, parts: Any) -> SampledSubgraph:
        """The batch of explicit ``parts`` (checked against :attr:`budget`).

        Raises:
          ValueError: On unknown or repeated part ids, or a batch that overflows the budget.
        """
        parts = self.data.check_parts(parts)
        sub = self._subgraph(parts)
        self.budget.check(sub, f"the GAS batch of parts {parts.tolist()}")
        return sub

    def _subgraph(self, parts: np.ndarray) -> SampledSubgraph:
        return self._sampler.sample(self.data.nodes(parts), rng=0)

    def iter_epoch(self, epoch: int) -> Iterator[SampledSubgraph]:
        """Yields the batches of ``epoch`` in order.

        Host-side: not jittable.
        """
        for i in range(len(self)):
            yield self.get(epoch, i)

    def pad(self, subgraph: SampledSubgraph) -> PaddedBatch:
        """``subgraph`` padded to :attr:`budget` (host ``PaddedBatch``; padding id ``N``)."""
        return pad_subgraph(subgraph, self.budget.rung, pad_id=self.data.num_nodes)

    def loader_budget(self) -> Budget:
        """The one-rung ``jgnn.loader.Budget`` of :attr:`budget`, for ``jgnn.loader.Loader``."""
        return Budget((self.budget.rung,))

    def __repr__(self) -> str:
        return (
            f"GASBatches({self.data!r}, parts_per_batch={self.parts_per_batch}, "
            f"shuffle={self.shuffle}, budget={tuple(self.budget)})"
        )
