"""``SeedBatches``: epochs of seed-node mini-batches for a ``NeighborSampler`` (a batch source)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jgnn.sampling._checks import as_host_array, check_flag, check_int, check_node_ids
from jgnn.sampling._neighbor import NeighborSampler
from jgnn.sampling._shared import maybe_share
from jgnn.sampling._source import IndexedSource
from jgnn.sampling._subgraph import SampledSubgraph

__all__ = ["SeedBatches"]


class SeedBatches(IndexedSource):
    """Splits ``input_nodes`` into batches of seeds and samples each with ``sampler``.

    Host-side: not jittable. Implements :class:`BatchSource`: ``get(epoch, index)`` shuffles
    ``input_nodes`` with a permutation drawn from ``(seed, epoch)``, takes slice ``index`` of
    ``batch_size`` seeds, and samples it with ``rng`` derived from ``(seed, epoch, index)``.
    Like PyG's ``NeighborLoader`` (a ``DataLoader`` over the seeds), the last batch is smaller
    when ``batch_size`` does not divide the number of seeds, unless ``drop_last``; a
    ``batch_size`` larger than the input set gives one batch holding every seed.

    Args:
        sampler: The :class:`NeighborSampler`.
        input_nodes: Integer ``[S]`` seed ids (distinct unless the sampler is ``disjoint``),
            or a bool ``[N]`` mask. Kept in shared memory when the sampler's graph is shared.
        batch_size: Seeds per batch, ``>= 1``.
        shuffle: Shuffle the seeds every epoch.
        drop_last: Drop the last, incomplete batch.
        seed: Non-negative int; fixes the shuffles and the sampling.

    Raises:
        TypeError: On a non-int ``batch_size``/``seed``, a non-bool flag or non-integer ids.
        ValueError: On ids out of range, an empty input set, a mask of the wrong length, or
            ``drop_last`` with ``batch_size`` above the number of seeds (no batch left).

    Examples:
        >>> sampler = NeighborSampler(np.array([[1, 2, 0], [0, 1, 2]]), [2])
        >>> batches = SeedBatches(sampler, np.arange(3), batch_size=2)
        >>> len(batches), batches.get(0, 1).batch_size
        (2, 1)
    """

    def __init__(
        self,
        sampler: NeighborSampler,
        input_nodes: Any,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        if not isinstance(sampler, NeighborSampler):
            raise TypeError(f"`sampler` must be a NeighborSampler, got {type(sampler).__name__}.")
        self.sampler = sampler
        n = sampler.graph.num_nodes
        nodes = as_host_array(input_nodes, "input_nodes")
        if nodes.dtype == np.bool_:
            if nodes.shape != (n,):
                raise ValueError(
                    f"`input_nodes` as a mask must have shape ({n},), got {nodes.shape}."
                )
            nodes = np.flatnonzero(nodes)
        nodes = check_node_ids(nodes, n, "input_nodes")
        if nodes.size == 0:
            raise ValueError("`input_nodes` is empty; there is nothing to batch.")
        if not sampler.disjoint:
            uniq, counts = np.unique(nodes, return_counts=True)
            if uniq.size != nodes.size:
                raise ValueError(
                    f"`input_nodes` repeats node {int(uniq[counts > 1][0])}; seeds must be "
                    "distinct unless the sampler is `disjoint`."
                )
        self._arrays = maybe_share({"input_nodes": nodes}, sampler.graph.is_shared)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.shuffle = check_flag(shuffle, "shuffle")
        self.drop_last = check_flag(drop_last, "drop_last")
        self.seed = check_int(seed, "seed", minimum=0)
        count = nodes.size
        if self.drop_last and self.batch_size > count:
            raise ValueError(
                f"`batch_size` ({self.batch_size}) exceeds the {count} input nodes and "
                "`drop_last=True` would leave no batch."
            )
        self._len = count // self.batch_size if self.drop_last else -(-count // self.batch_size)

    @property
    def input_nodes(self) -> np.ndarray:
        """int64 ``[S]`` the seed ids, in input order."""
        return self._arrays["input_nodes"]

    def __len__(self) -> int:
        return self._len

    def _batch(self, epoch: int, index: int) -> SampledSubgraph:
        order = self.epoch_order(epoch, self.input_nodes.size, self.shuffle)
        chunk = order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.sampler.sample(self.input_nodes[chunk], rng=self.batch_key(epoch, index))

    def __repr__(self) -> str:
        return (
            f"SeedBatches({self.sampler!r}, {self.input_nodes.size} input nodes, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"seed={self.seed})"
        )
