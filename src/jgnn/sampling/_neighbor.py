"""``NeighborSampler``: PyG/GraphSAGE multi-hop neighbour sampling on the host (numba)."""

from __future__ import annotations

from typing import Any

import numpy as np

from jgnn.sampling._checks import check_flag, check_node_ids, check_num_neighbors, require_edges
from jgnn.sampling._neighbor_kernels import sample_neighbors_kernel
from jgnn.sampling._rng import CallKeys, new_state
from jgnn.sampling._scratch import ScratchPool
from jgnn.sampling._store import as_csc_graph
from jgnn.sampling._subgraph import SampledSubgraph

__all__ = ["NeighborSampler"]

_NO_WEIGHT = np.empty(0, np.float32)


class NeighborSampler:
    """Samples a multi-hop in-neighbourhood of seed nodes, as PyG's ``NeighborLoader`` does.

    Host-side: not jittable (numba kernels, single-threaded per call, GIL released, so
    separate threads sample in parallel). Follows Hamilton et al. (GraphSAGE, 2017) and PyG's
    semantics: hop ``k`` samples up to ``num_neighbors[k]`` in-edges ``j -> i`` of every node
    ``i`` added at hop ``k - 1``; ``n_id`` lists the seeds first, in the given order, then each
    hop's new nodes; nodes reached again keep their first local id. Without replacement, no
    in-edge of a node repeats within a hop (Floyd's algorithm); ``-1`` takes every in-edge.

    ``weighted=True`` draws in-edges proportionally to the graph's edge weights: with
    replacement by independent draws; without replacement by exponential keys (successive
    sampling, each pick proportional to the weights not yet picked, the distribution of
    ``torch.multinomial(w, f, replacement=False)``). Zero-weight edges are never drawn, so a
    node keeps at most its number of positive-weight in-edges.

    ``disjoint=True`` gives every seed its own tree (a node reached from two seeds appears
    twice) and fills ``batch`` with the seed index of every node; ``n_id`` is still ordered
    hop-major, then by seed.

    The randomness of a call is a function of ``(seed, rng)`` only (see :meth:`sample`).

    Args:
        graph: Anything :func:`as_csc_graph` accepts; share it (:meth:`CSCGraph.share`)
            before sending the sampler to worker processes.
        num_neighbors: Fanout per hop, each ``>= 1`` or ``-1``.
        replace: Sample with replacement.
        weighted: Sample proportionally to the edge weights (the graph must have them).
        disjoint: One tree per seed.
        seed: Non-negative int; the sampler's base seed.

    Raises:
        TypeError: On non-integer fanouts or seed, or non-bool flags.
        ValueError: On an empty or invalid fanout list, a graph with no edges, or
            ``weighted=True`` without (non-negative, finite) edge weights.

    Examples:
        >>> edge_index = np.array([[1, 2, 3, 3], [0, 0, 0, 1]])
        >>> sampler = NeighborSampler(edge_index, num_neighbors=[2, -1], seed=0)
        >>> out = sampler.sample([0], rng=7)
        >>> out.batch_size, out.num_sampled_edges[0], int(out.n_id[0])
        (1, 2, 0)
    """

    def __init__(
        self,
        graph: Any,
        num_neighbors: Any = (15, 10, 5),
        replace: bool = False,
        weighted: bool = False,
        disjoint: bool = False,
        seed: int = 0,
    ) -> None:
        self.graph = as_csc_graph(graph)
        require_edges(self.graph, "NeighborSampler")
        self.num_neighbors = check_num_neighbors(num_neighbors)
        self.replace = check_flag(replace, "replace")
        self.weighted = check_flag(weighted, "weighted")
        self.disjoint = check_flag(disjoint, "disjoint")
        self._keys = CallKeys(seed)
        if self.weighted:
            w = self.graph.weight
            if w is None:
                raise ValueError(
                    "NeighborSampler: `weighted=True` needs edge weights, but the graph has "
                    "none (pass `edge_weight=` when building it)."
                )
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError(
                    "NeighborSampler: `weighted=True` needs finite, non-negative edge "
                    f"weights; got min {float(np.nanmin(w))}, "
                    f"{int(np.count_nonzero(~np.isfinite(w)))} non-finite."
                )
        self._fanouts = np.asarray(self.num_neighbors, np.int64)
        work = max(self.graph.max_in_degree, max(self.num_neighbors))
        self._pool = ScratchPool(self.graph.num_nodes, self.graph.max_in_degree, work)

    @property
    def seed(self) -> int:
        """The sampler's base seed."""
        return self._keys.seed

    def sample(self, seed_nodes: Any, *, rng: Any = None) -> SampledSubgraph:
        """Samples the neighbourhood of ``seed_nodes``.

        Host-side: not jittable.

        Args:
            seed_nodes: Integer ``[B]`` node ids (NumPy, JAX or a list). Without ``disjoint``
                they must be distinct.
            rng: The call's randomness: a non-negative int, a ``numpy.random.Generator``
                (one integer is drawn from it) or ``SeedSequence``, or None (the sampler's
                own generator, seeded with ``seed``, advances). The output is a function of
                ``(seed, rng)``.

        Returns:
            A :class:`SampledSubgraph` with ``batch_size = B``, per-hop
            ``num_sampled_nodes`` (``H + 1`` entries) and ``num_sampled_edges`` (``H``),
            ``edge_weight`` = the graph's weights of the sampled edges (or None) and ``batch``
            (``disjoint`` only).

        Raises:
            TypeError: If ``seed_nodes`` is not integer-valued or ``rng`` has a wrong type.
            ValueError: If a seed is out of range, or repeated without ``disjoint``.
        """
        seeds = check_node_ids(seed_nodes, self.graph.num_nodes, "seed_nodes")
        state = new_state(self._keys(rng))
        g = self.graph
        weight = _NO_WEIGHT if g.weight is None else g.weight
        with self._pool.borrow() as s:
            n_id, batch, senders, receivers, pos, hop_nodes, hop_edges, dup = (
                sample_neighbors_kernel(
                    g.indptr, g.indices, weight, seeds, self._fanouts, self.replace,
                    self.weighted, self.disjoint, state, s.node_map, s.mark, s.work, s.chosen,
                )
            )  # fmt: skip
        if dup >= 0:
            first = int(np.flatnonzero(seeds == seeds[dup])[0])
            raise ValueError(
                f"`seed_nodes` repeats node {int(seeds[dup])} (positions {first} and {int(dup)}); "
                "seeds must be distinct unless `disjoint=True`."
            )
        return SampledSubgraph(
            n_id=n_id,
            e_id=g.edge_ids[pos].astype(np.int64),
            senders=senders,
            receivers=receivers,
            batch_size=int(seeds.shape[0]),
            num_sampled_nodes=tuple(int(c) for c in hop_nodes),
            num_sampled_edges=tuple(int(c) for c in hop_edges),
            edge_weight=None if g.weight is None else g.weight[pos],
            batch=batch if self.disjoint else None,
        )

    def __repr__(self) -> str:
        return (
            f"NeighborSampler({self.graph!r}, num_neighbors={list(self.num_neighbors)}, "
            f"replace={self.replace}, weighted={self.weighted}, disjoint={self.disjoint}, "
            f"seed={self.seed})"
        )
