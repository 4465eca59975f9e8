"""GraphSAINT (Zeng et al., ICLR 2020): node, edge and random-walk subgraph samplers.

Each batch is the subgraph induced by a random node set. The normalisation follows the
paper's Section 3.2 and Algorithm 2: pre-sample ``N_s`` subgraphs until they hold
``sample_coverage * N`` nodes in total, count how many contain each node (``C_v``) and each
edge (``C_{u,v}``), and set

* loss norm ``node_weight[v] = 1 / lambda_v = N_s / (C_v * N)`` (``lambda_v = N p_v``, so
  ``sum_v node_weight[v] * L_v`` over a batch estimates the mean loss without bias);
* aggregation norm ``edge_weight[u -> v] = 1 / alpha_{u,v} = C_v / C_{u,v}`` (``alpha_{u,v} =
  p_{u,v} / p_v`` with ``v`` the aggregating node, the edge's target), clipped to
  ``[0, 1e4]`` (PyG's ``GraphSAINTSampler`` divides the source's count ``C_u`` instead);

zero counts are replaced by 0.1 (as GraphSAINT's and PyG's implementations do for nodes).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numba import njit

from jgnn.sampling._checks import check_int, require_edges
from jgnn.sampling._induced import induced_edges
from jgnn.sampling._rng import TAG_NORM, mix, new_state, randint
from jgnn.sampling._scratch import ScratchPool
from jgnn.sampling._shared import maybe_share
from jgnn.sampling._source import IndexedSource
from jgnn.sampling._store import as_csc_graph
from jgnn.sampling._subgraph import SampledSubgraph

__all__ = ["GraphSAINTEdgeSampler", "GraphSAINTNodeSampler", "GraphSAINTRandomWalkSampler"]

_ZERO_COUNT = 0.1
_MAX_AGGR_NORM = 1e4


@njit(cache=True, nogil=True)
def _random_walks(indptr, indices, num_roots, walk_length, num_nodes, state):
    """Nodes visited by ``num_roots`` uniform-root walks of ``walk_length`` in-edge steps."""
    out = np.empty(num_roots * (walk_length + 1), np.int64)
    k = 0
    for _ in range(num_roots):
        v = randint(state, num_nodes)
        out[k] = v
        k += 1
        for _ in range(walk_length):
            deg = indptr[v + 1] - indptr[v]
            if deg > 0:
                v = np.int64(indices[indptr[v] + randint(state, deg)])
            out[k] = v
            k += 1
    return out


def _draw(cdf: np.ndarray, size: int, key: int) -> np.ndarray:
    """``size`` indices drawn with replacement with ``P(i)`` proportional to ``diff(cdf)``."""
    u = np.random.default_rng(key).random(size) * cdf[-1]
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1)


class _GraphSAINTSampler(IndexedSource):
    """Shared machinery: validation, the norms, batches from node sets (see module docs)."""

    def __init__(
        self,
        graph: Any,
        batch_size: int,
        *,
        num_steps: int = 1,
        sample_coverage: float = 0,
        seed: int = 0,
    ) -> None:
        name = type(self).__name__
        self.graph = as_csc_graph(graph)
        require_edges(self.graph, name)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.num_steps = check_int(num_steps, "num_steps", minimum=1)
        if isinstance(sample_coverage, bool) or not isinstance(sample_coverage, numbers.Real):
            raise TypeError(
                f"`sample_coverage` must be a real number, got {type(sample_coverage).__name__}."
            )
        if not np.isfinite(sample_coverage) or sample_coverage < 0:
            raise ValueError(f"`sample_coverage` must be finite and >= 0, got {sample_coverage}.")
        self.sample_coverage = float(sample_coverage)
        self.seed = check_int(seed, "seed", minimum=0)
        self._pool = ScratchPool(self.graph.num_nodes)
        arrays = self._distribution()
        self.num_presampled = 0
        if self.sample_coverage > 0:
            self._arrays = arrays  # sample_nodes() reads the distribution while pre-sampling
            arrays.update(self._norms())
        self._arrays = maybe_share(arrays, self.graph.is_shared)

    # -- subclass hooks ----------------------------------------------------------------------

    def _distribution(self) -> dict[str, np.ndarray]:
        """Arrays the sampler draws from (kept in shared memory with a shared graph)."""
        return {}

    def sample_nodes(self, key: int) -> np.ndarray:
        """The sorted distinct node ids of one sample drawn with the 64-bit ``key``.

        Host-side: not jittable. Batch ``(epoch, index)`` uses ``key = batch_key(epoch,
        index)`` and pre-sample ``i`` of the norms uses ``norm_key(i)``.
        """
        raise NotImplementedError

    # -- norms and batches -------------------------------------------------------------------

    def _norms(self) -> dict[str, np.ndarray]:
        g = self.graph
        node_count = np.zeros(g.num_nodes, np.float64)
        edge_count = np.zeros(g.num_edges, np.float64)
        total = 0
        target = self.sample_coverage * g.num_nodes
        while total < target:
            nodes = self.sample_nodes(self.norm_key(self.num_presampled))
            _, _, pos = induced_edges(g, nodes, self._pool)
            node_count[nodes] += 1
            edge_count[pos] += 1
            total += nodes.size
            self.num_presampled += 1
        node_count[node_count == 0] = _ZERO_COUNT
        edge_count[edge_count == 0] = _ZERO_COUNT
        node_norm = self.num_presampled / (node_count * g.num_nodes)
        aggr_norm = np.clip(node_count[g.destinations()] / edge_count, 0, _MAX_AGGR_NORM)
        return {
            "node_norm": node_norm.astype(np.float32),
            "edge_norm": aggr_norm.astype(np.float32),
        }

    def norm_key(self, i: int) -> int:
        """The key of the ``i``-th pre-sampled subgraph of the norm estimate."""
        return mix(TAG_NORM, self.seed, i) >> 1

    def __len__(self) -> int:
        return self.num_steps

    def _batch(self, epoch: int, index: int) -> SampledSubgraph:
        return self._subgraph(self.sample_nodes(self.batch_key(epoch, index)))

    def _subgraph(self, nodes: np.ndarray) -> SampledSubgraph:
        """The batch for a sorted set of distinct node ids: induced edges and the norms.

        Host-side: not jittable.

        Args:
            nodes: int64 ``[K]`` sorted distinct node ids.

        Returns:
            A :class:`SampledSubgraph` with ``batch_size = K``, the loss norm in
            ``node_weight`` and the aggregation norm in ``edge_weight`` (both None when
            ``sample_coverage == 0``).
        """
        senders, receivers, pos = induced_edges(self.graph, nodes, self._pool)
        normed = "node_norm" in self._arrays
        return SampledSubgraph(
            n_id=nodes,
            e_id=self.graph.edge_ids[pos].astype(np.int64),
            senders=senders,
            receivers=receivers,
            batch_size=int(nodes.size),
            num_sampled_nodes=(int(nodes.size),),
            num_sampled_edges=(int(pos.size),),
            edge_weight=self._arrays["edge_norm"][pos] if normed else None,
            node_weight=self._arrays["node_norm"][nodes] if normed else None,
        )

    @property
    def node_norm(self) -> np.ndarray | None:
        """float32 ``[N]`` loss norm of every node (``node_weight`` source), or None."""
        return self._arrays.get("node_norm")

    @property
    def edge_norm(self) -> np.ndarray | None:
        """float32 ``[E]`` aggregation norm per CSC entry of ``graph``, or None."""
        return self._arrays.get("edge_norm")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.graph!r}, batch_size={self.batch_size}, "
            f"num_steps={self.num_steps}, sample_coverage={self.sample_coverage}, "
            f"seed={self.seed})"
        )


class GraphSAINTNodeSampler(_GraphSAINTSampler):
    """GraphSAINT's node sampler: the subgraph induced by ``batch_size`` node draws.

    Host-side: not jittable. Implements :class:`BatchSource`. Nodes are drawn with
    replacement with the paper's probability ``P(u)`` proportional to
    ``||A~[:, u]||^2 = sum over edges u -> v of 1 / deg_in(v)^2``, where ``A~ = D_in^-1 A``
    is the mean-aggregation matrix (PyG's ``GraphSAINTNodeSampler`` draws proportionally to
    the out-degree instead). Nodes without out-edges are never drawn. See the module
    docstring for the norms.

    Args:
        graph: Anything :func:`as_csc_graph` accepts.
        batch_size: Node draws per batch (repeated draws merge).
        num_steps: Batches per epoch (``len``).
        sample_coverage: Pre-sample subgraphs until they hold ``sample_coverage * N`` nodes to
            estimate the norms; ``0`` disables them (``node_weight``/``edge_weight`` None).
        seed: Non-negative int fixing pre-sampling and batches.

    Raises:
        TypeError: On non-int sizes or seed, or a non-real ``sample_coverage``.
        ValueError: On a graph with no edges, sizes below 1 or a negative coverage.

    Examples:
        >>> ring = np.array([[0, 1, 2, 3], [1, 2, 3, 0]])
        >>> GraphSAINTNodeSampler(ring, 2, sample_coverage=10).get(0, 0).num_nodes in (1, 2)
        True
    """

    def _distribution(self) -> dict[str, np.ndarray]:
        g = self.graph
        inv_deg = 1.0 / np.maximum(g.in_degree(), 1).astype(np.float64)
        score = np.bincount(
            g.indices, weights=inv_deg[g.destinations()] ** 2, minlength=g.num_nodes
        )
        return {"node_cdf": np.cumsum(score)}

    @property
    def node_probability(self) -> np.ndarray:
        """float64 ``[N]`` probability of each node per draw."""
        cdf = self._arrays["node_cdf"]
        return np.diff(cdf, prepend=0.0) / cdf[-1]

    def sample_nodes(self, key: int) -> np.ndarray:
        return np.unique(_draw(self._arrays["node_cdf"], self.batch_size, key))


class GraphSAINTEdgeSampler(_GraphSAINTSampler):
    """GraphSAINT's edge sampler: the subgraph induced by the ends of ``batch_size`` edges.

    Host-side: not jittable. Implements :class:`BatchSource`. Edges ``u -> v`` are drawn
    with replacement with the paper's probability ``p_{u,v}`` proportional to
    ``1 / deg(u) + 1 / deg(v)`` (Section 3.3; ``deg(u)`` is the out-degree of the source and
    ``deg(v)`` the in-degree of the target, both the degree on an undirected graph). PyG's
    ``GraphSAINTEdgeSampler`` uses ``deg(u) + deg(v)`` instead. The node set is the drawn
    edges' ends, and the batch is the subgraph they induce. See the module docstring for the
    norms.

    Args:
        graph: Anything :func:`as_csc_graph` accepts.
        batch_size: Edge draws per batch.
        num_steps: Batches per epoch (``len``).
        sample_coverage: Pre-sample subgraphs until they hold ``sample_coverage * N`` nodes to
            estimate the norms; ``0`` disables them (``node_weight``/``edge_weight`` None).
        seed: Non-negative int fixing pre-sampling and batches.

    Raises:
        TypeError: On non-int sizes or seed, or a non-real ``sample_coverage``.
        ValueError: On a graph with no edges, sizes below 1 or a negative coverage.

    Examples:
        >>> ring = np.array([[0, 1, 2, 3], [1, 2, 3, 0]])
        >>> GraphSAINTEdgeSampler(ring, 1).get(0, 0).num_nodes
        2
    """

    def _distribution(self) -> dict[str, np.ndarray]:
        g = self.graph
        out_deg = np.bincount(g.indices, minlength=g.num_nodes).astype(np.float64)
        in_deg = g.in_degree().astype(np.float64)
        p = 1.0 / out_deg[g.indices] + 1.0 / in_deg[g.destinations()]
        return {"edge_cdf": np.cumsum(p)}

    @property
    def edge_probability(self) -> np.ndarray:
        """float64 ``[E]`` probability of each CSC entry of ``graph`` per draw."""
        cdf = self._arrays["edge_cdf"]
        return np.diff(cdf, prepend=0.0) / cdf[-1]

    def sample_nodes(self, key: int) -> np.ndarray:
        pos = _draw(self._arrays["edge_cdf"], self.batch_size, key)
        dst = np.searchsorted(self.graph.indptr, pos, side="right") - 1
        return np.unique(np.concatenate([self.graph.indices[pos].astype(np.int64), dst]))


class GraphSAINTRandomWalkSampler(_GraphSAINTSampler):
    """GraphSAINT's random-walk sampler: the subgraph induced by the nodes of short walks.

    Host-side: not jittable. Implements :class:`BatchSource`. ``batch_size`` roots are drawn
    uniformly (with replacement); each walks ``walk_length`` steps, each step to a uniformly
    chosen in-neighbour (the same as out-neighbours on an undirected graph; a node without
    in-edges stays where it is). The batch is the subgraph induced by every visited node.
    See the module docstring for the norms.

    Args:
        graph: Anything :func:`as_csc_graph` accepts.
        batch_size: Walk roots per batch.
        walk_length: Steps per walk, ``>= 1``.
        num_steps: Batches per epoch (``len``).
        sample_coverage: Pre-sample subgraphs until they hold ``sample_coverage * N`` nodes to
            estimate the norms; ``0`` disables them (``node_weight``/``edge_weight`` None).
        seed: Non-negative int fixing pre-sampling and batches.

    Raises:
        TypeError: On non-int sizes or seed, or a non-real ``sample_coverage``.
        ValueError: On a graph with no edges, sizes below 1 or a negative coverage.

    Examples:
        >>> ring = np.array([[0, 1, 2, 3], [1, 2, 3, 0]])
        >>> GraphSAINTRandomWalkSampler(ring, 1, walk_length=2).get(0, 0).num_nodes
        3
    """

    def __init__(
        self,
        graph: Any,
        batch_size: int,
        *,
        walk_length: int,
        num_steps: int = 1,
        sample_coverage: float = 0,
        seed: int = 0,
    ) -> None:
        self.walk_length = check_int(walk_length, "walk_length", minimum=1)
        super().__init__(
            graph, batch_size, num_steps=num_steps, sample_coverage=sample_coverage, seed=seed
        )

    def sample_nodes(self, key: int) -> np.ndarray:
        g = self.graph
        visited = _random_walks(
            g.indptr, g.indices, self.batch_size, self.walk_length, g.num_nodes, new_state(key)
        )
        return np.unique(visited)
