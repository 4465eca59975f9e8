"""Padding to static sizes, bucket policies and padding masks.

``jit`` compiles once per input shape, so a stream of graphs of varying size compiles once per
distinct size. Padding every graph to one of a few *buckets* bounds the number of compilations.

Padding follows jraph's convention: :func:`pad_graph` appends **one padding graph** that owns
every padding node and every padding edge, followed (if more graph slots are requested) by empty
graphs with zero nodes and edges. Padding edges go from the first padding node to the first
padding node, so they only touch padding nodes. Consequently any message passing step
(gather from ``senders``, scatter into ``receivers``) gives exactly the same values on the real
nodes with or without padding, and per-graph readouts of real graphs are unchanged; only
whole-array reductions (e.g. a mean over all nodes) must use :func:`node_mask`/:func:`edge_mask`/
:func:`graph_mask`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jgnn._checks import is_traced, static_int
from jgnn._host import like, to_device
from jgnn._sizes import next_pow2, round_up_multiple
from jgnn.graph._construct import _resolve_num_nodes, num_edges

__all__ = [
    "BucketPolicy",
    "edge_mask",
    "graph_mask",
    "node_mask",
    "pad_graph",
    "pad_to_bucket",
    "unpad",
]


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    return static_int(value, f"`{name}`", minimum=minimum)


@dataclasses.dataclass(frozen=True)
class BucketPolicy:
    """How padded sizes ``(N, E, G)`` are chosen for real sizes ``(n, e, g)``.

    Build one with :meth:`powers_of_two`, :meth:`multiple_of` or :meth:`explicit`, then call
    :meth:`choose`. Every chosen bucket leaves room for the padding graph: ``N >= n + 1``,
    ``E >= e`` and ``G >= g + 1``.

    Attributes:
        kind: ``"powers_of_two"``, ``"multiple_of"`` or ``"explicit"``.
        params: For ``powers_of_two`` the minimum sizes ``(min_nodes, min_edges, min_graphs)``;
            for ``multiple_of`` the multiples ``(k_nodes, k_edges, k_graphs)``; unused
            (``()``) for ``explicit``.
        sizes: For ``explicit``, the buckets ``((N, E, G), ...)`` sorted by ``(N, E, G)``.

    Examples:
        >>> BucketPolicy.powers_of_two().choose(10, 30, 1)
        (16, 32, 2)
        >>> BucketPolicy.multiple_of(64, 256, 4).choose(10, 30, 1)
        (64, 256, 4)
        >>> BucketPolicy.explicit([(32, 64, 2), (128, 512, 8)]).choose(40, 10, 1)
        (128, 512, 8)
    """

    kind: str
    params: tuple[int, ...] = ()
    sizes: tuple[tuple[int, int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("powers_of_two", "multiple_of", "explicit"):
            raise ValueError(
                "`kind` must be 'powers_of_two', 'multiple_of' or 'explicit', "
                f"got {self.kind!r}; use the BucketPolicy constructors."
            )

    @classmethod
    def powers_of_two(
        cls, *, min_nodes: int = 8, min_edges: int = 8, min_graphs: int = 2
    ) -> BucketPolicy:
        """Rounds ``n + 1``, ``e`` and ``g + 1`` up to powers of two (at least the minimums).

        The number of distinct buckets, hence of compilations, grows only logarithmically with
        the largest graph; the padded size is at most twice the real size.

        Args:
            min_nodes: Smallest padded node count (>= 2).
            min_edges: Smallest padded edge count (>= 1).
            min_graphs: Smallest padded graph count (>= 2).

        Returns:
            The policy.

        Raises:
            ValueError: If a minimum is too small.
        """
        return cls(
            "powers_of_two",
            (
                _positive_int("min_nodes", min_nodes, 2),
                _positive_int("min_edges", min_edges, 1),
                _positive_int("min_graphs", min_graphs, 2),
            ),
        )

    @classmethod
    def multiple_of(cls, k_nodes: int, k_edges: int, k_graphs: int) -> BucketPolicy:
        """Rounds ``n + 1``, ``e`` (at least 1) and ``g + 1`` up to multiples of the ``k``'s.

        Args:
            k_nodes: Node multiple (>= 1).
            k_edges: Edge multiple (>= 1).
            k_graphs: Graph multiple (>= 1).

        Returns:
            The policy.

        Raises:
            ValueError: If a multiple is not positive.
        """
        return cls(
            "multiple_of",
            (
                _positive_int("k_nodes", k_nodes),
                _positive_int("k_edges", k_edges),
                _positive_int("k_graphs", k_graphs),
            ),
        )

    @classmethod
    def explicit(cls, sizes: Sequence[tuple[int, int, int]]) -> BucketPolicy:
        """Uses a fixed list of buckets ``(N, E, G)``; :meth:`choose` picks the smallest fit.

        Args:
            sizes: Non-empty sequence of ``(n_node, n_edge, n_graph)`` triples with
                ``n_node >= 1``, ``n_edge >= 0`` and ``n_graph >= 2`` (room for one real graph
                plus the padding graph).

        Returns:
            The policy.

        Raises:
            ValueError: If ``sizes`` is empty or holds an invalid triple.
        """
        triples = []
        for i, t in enumerate(sizes):
            if len(t) != 3:
                raise ValueError(
                    f"`sizes[{i}]` must be a triple (n_node, n_edge, n_graph), got {t!r}."
                )
            triples.append(
                (
                    _positive_int(f"sizes[{i}][0] (n_node)", t[0], 1),
                    _positive_int(f"sizes[{i}][1] (n_edge)", t[1], 0),
                    _positive_int(f"sizes[{i}][2] (n_graph)", t[2], 2),
                )
            )
        if not triples:
            raise ValueError("`sizes` must hold at least one (n_node, n_edge, n_graph) bucket.")
        return cls("explicit", (), tuple(sorted(set(triples))))

    def choose(self, n_node: int, n_edge: int, n_graph: int) -> tuple[int, int, int]:
        """Returns the padded sizes ``(N, E, G)`` for a graph with the given real totals.

        Args:
            n_node: Real number of nodes ``n`` (over all graphs).
            n_edge: Real number of edges ``e``.
            n_graph: Real number of graphs ``g``.

        Returns:
            ``(N, E, G)`` with ``N >= n + 1``, ``E >= e``, ``G >= g + 1``. For ``explicit``
            policies, the fitting bucket with the fewest nodes, then edges, then graphs.

        Raises:
            ValueError: If the counts are negative, or no explicit bucket fits.
        """
        n = _positive_int("n_node", n_node, 0)
        e = _positive_int("n_edge", n_edge, 0)
        g = _positive_int("n_graph", n_graph, 0)
        if self.kind == "powers_of_two":
            mn, me, mg = self.params
            return (
                max(next_pow2(n + 1), mn),
                max(next_pow2(e), me),
                max(next_pow2(g + 1), mg),
            )
        if self.kind == "multiple_of":
            kn, ke, kg = self.params
            return (
                round_up_multiple(n + 1, kn),
                round_up_multiple(max(e, 1), ke),
                round_up_multiple(g + 1, kg),
            )
        for bn, be, bg in self.sizes:
            if bn >= n + 1 and be >= e and bg >= g + 1:
                return (bn, be, bg)
        raise ValueError(
            f"No explicit bucket fits a graph with {n} nodes, {e} edges and {g} graphs (needs "
            f"N >= {n + 1}, E >= {e}, G >= {g + 1}); buckets are {list(self.sizes)}."
        )


def _pad_leaves(tree: Any, extra: int, xp: Any) -> Any:
    if tree is None:
        return None

    def pad(x: Any) -> Any:
        x = xp.asarray(x)
        return xp.concatenate([x, xp.zeros((extra, *x.shape[1:]), x.dtype)], axis=0)

    return jax.tree_util.tree_map(pad, tree)


def pad_graph(
    graph: jraph.GraphsTuple,
    n_node: int,
    n_edge: int,
    n_graph: int,
    *,
    num_nodes: int | None = None,
) -> jraph.GraphsTuple:
    """Pads a (batched) graph to exactly ``n_node`` nodes, ``n_edge`` edges, ``n_graph`` graphs.

    Jittable: the target sizes are static Python ints and the current sizes are read from array
    shapes. One padding graph is appended that holds all ``n_node - n`` padding nodes and all
    ``n_edge - e`` padding edges; the remaining ``n_graph - g - 1`` graphs are empty. Padding
    edges connect the first padding node (id ``n``) to itself, so message passing on real
    nodes is unchanged. Every leaf of ``nodes``, ``edges`` and ``globals`` is padded with zeros.
    Called eagerly, the padding is done with NumPy on the host (no XLA compilation per input
    size) and the result is placed on the default device.

    Args:
        graph: A graph with ``n`` nodes, ``e`` edges and ``g`` graphs.
        n_node: Target node count ``N >= n + 1``.
        n_edge: Target edge count ``E >= e``.
        n_graph: Target graph count ``G >= g + 1``.
        num_nodes: Static ``n``; defaults to :func:`jgnn.graph.num_nodes` (required under
            ``jit`` when ``graph.nodes`` is None).

    Returns:
        The padded graph: ``nodes`` ``[N, ...]``, ``edges`` ``[E, ...]``, ``globals``
        ``[G, ...]``, ``n_node``/``n_edge`` ``[G]``.

    Raises:
        ValueError: If a target is too small.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> g = pad_graph(from_edge_index([[0], [1]], 2), 4, 3, 3)
        >>> g.senders.tolist(), g.n_node.tolist(), g.n_edge.tolist()
        ([0, 2, 2], [2, 2, 0], [1, 2, 0])
    """
    n = _resolve_num_nodes(graph, num_nodes)
    e = num_edges(graph)
    g = int(jnp.shape(graph.n_node)[0])
    if n_node < n + 1 or n_edge < e or n_graph < g + 1:
        raise ValueError(
            f"Cannot pad a graph with {n} nodes, {e} edges and {g} graphs to ({n_node}, "
            f"{n_edge}, {n_graph}): need n_node >= {n + 1}, n_edge >= {e}, n_graph >= {g + 1}."
        )
    pad_n, pad_e, pad_g = n_node - n, n_edge - e, n_graph - g
    traced = is_traced(graph)
    xp = jnp if traced else np
    senders, receivers = xp.asarray(graph.senders), xp.asarray(graph.receivers)
    pad_ids = xp.full((pad_e,), n, senders.dtype)
    counts_n = np.zeros(pad_g, np.int64)
    counts_e = np.zeros(pad_g, np.int64)
    counts_n[0], counts_e[0] = pad_n, pad_e
    n_node_old, n_edge_old = xp.asarray(graph.n_node), xp.asarray(graph.n_edge)
    out = jraph.GraphsTuple(
        nodes=_pad_leaves(graph.nodes, pad_n, xp),
        edges=_pad_leaves(graph.edges, pad_e, xp),
        senders=xp.concatenate([senders, pad_ids]),
        receivers=xp.concatenate([receivers, pad_ids]),
        globals=_pad_leaves(graph.globals, pad_g, xp),
        n_node=xp.concatenate([n_node_old, counts_n.astype(n_node_old.dtype)]),
        n_edge=xp.concatenate([n_edge_old, counts_e.astype(n_edge_old.dtype)]),
    )
    return out if traced else to_device(out)


def pad_to_bucket(
    graph: jraph.GraphsTuple, policy: BucketPolicy, *, num_nodes: int | None = None
) -> jraph.GraphsTuple:
    """Pads ``graph`` to the bucket ``policy.choose(n, e, g)`` (see :func:`pad_graph`).

    The bucket depends only on static shapes, so this also works under ``jit``; call it on the
    host, before the jitted step, to benefit from the bounded number of compilations.

    Args:
        graph: The graph.
        policy: A :class:`BucketPolicy`.
        num_nodes: Static node count, as in :func:`pad_graph`.

    Returns:
        The padded graph.

    Raises:
        ValueError: If the policy has no fitting bucket.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> g = pad_to_bucket(from_edge_index([[0], [1]], 2), BucketPolicy.powers_of_two())
        >>> int(g.n_node.sum()), g.senders.shape[0], g.n_node.shape[0]
        (8, 8, 2)
    """
    if not isinstance(policy, BucketPolicy):
        raise TypeError(f"`policy` must be a BucketPolicy, got {type(policy).__name__}.")
    n = _resolve_num_nodes(graph, num_nodes)
    sizes = policy.choose(n, num_edges(graph), int(jnp.shape(graph.n_node)[0]))
    return pad_graph(graph, *sizes, num_nodes=n)


def _padding_graph_index(n_node: jax.Array) -> jax.Array:
    """Index of the last graph with at least one node: the padding graph (or -1)."""
    idx = jnp.arange(n_node.shape[0], dtype=jnp.int32)
    return jnp.max(jnp.where(n_node > 0, idx, -1), initial=-1)


def _padding_count(counts: jax.Array, p: jax.Array) -> jax.Array:
    counts = jnp.asarray(counts)
    safe = jnp.maximum(p, 0)
    return jnp.where(p >= 0, counts[safe], 0).astype(jnp.int32)


def node_mask(graph: jraph.GraphsTuple, *, num_nodes: int | None = None) -> jax.Array:
    """Boolean mask ``[N]``: True for real nodes, False for padding nodes (jittable).

    Assumes ``graph`` came from :func:`pad_graph` (or jraph's ``pad_with_graphs``): the padding
    graph is the last graph with at least one node, and its nodes are the trailing ones.

    Args:
        graph: A padded graph.
        num_nodes: Static ``N``; defaults to :func:`jgnn.graph.num_nodes`.

    Returns:
        Bool array ``[N]``.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> node_mask(pad_graph(from_edge_index([[0], [1]], 2), 4, 1, 2)).tolist()
        [True, True, False, False]
    """
    n = _resolve_num_nodes(graph, num_nodes)
    n_node = jnp.asarray(graph.n_node)
    pad = _padding_count(n_node, _padding_graph_index(n_node))
    return jnp.arange(n, dtype=jnp.int32) < n - pad


def edge_mask(graph: jraph.GraphsTuple) -> jax.Array:
    """Boolean mask ``[E]``: True for real edges, False for padding edges (jittable).

    Assumes ``graph`` came from :func:`pad_graph` (see :func:`node_mask`).

    Args:
        graph: A padded graph.

    Returns:
        Bool array ``[E]``.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> edge_mask(pad_graph(from_edge_index([[0], [1]], 2), 4, 3, 2)).tolist()
        [True, False, False]
    """
    e = num_edges(graph)
    p = _padding_graph_index(jnp.asarray(graph.n_node))
    pad = _padding_count(graph.n_edge, p)
    return jnp.arange(e, dtype=jnp.int32) < e - pad


def graph_mask(graph: jraph.GraphsTuple) -> jax.Array:
    """Boolean mask ``[G]``: True for real graphs, False for the padding and empty graphs.

    Jittable. Assumes ``graph`` came from :func:`pad_graph` (see :func:`node_mask`).

    Args:
        graph: A padded graph.

    Returns:
        Bool array ``[G]``.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> graph_mask(pad_graph(from_edge_index([[0], [1]], 2), 4, 3, 3)).tolist()
        [True, False, False]
    """
    n_node = jnp.asarray(graph.n_node)
    p = _padding_graph_index(n_node)
    return jnp.arange(n_node.shape[0], dtype=jnp.int32) < p


def unpad(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """Removes the padding added by :func:`pad_graph` (exact inverse).

    Host-side: not jittable. The padding graph is the last graph with at least one node; it and
    every graph after it are dropped together with its nodes, edges and globals. Leaves keep
    their dtype and container type (``jax.Array`` or NumPy).

    Args:
        graph: A graph produced by :func:`pad_graph`.

    Returns:
        The unpadded graph.

    Raises:
        ValueError: If no graph has a node (nothing looks like padding).

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> g = from_edge_index([[0], [1]], 2)
        >>> unpad(pad_graph(g, 4, 3, 3)).senders.tolist()
        [0]
    """
    n_node = np.asarray(graph.n_node)
    n_edge = np.asarray(graph.n_edge)
    nonempty = np.flatnonzero(n_node > 0)
    if nonempty.size == 0:
        raise ValueError(
            f"unpad expects a graph from pad_graph (the padding graph has >= 1 node), got "
            f"n_node = {n_node.tolist()}."
        )
    p = int(nonempty[-1])
    n_real = int(n_node[:p].sum())
    e_real = int(n_edge[:p].sum())

    def cut(tree: Any, k: int) -> Any:
        if tree is None:
            return None
        return jax.tree_util.tree_map(lambda x: like(x, np.asarray(x)[:k]), tree)

    return jraph.GraphsTuple(
        nodes=cut(graph.nodes, n_real),
        edges=cut(graph.edges, e_real),
        senders=cut(graph.senders, e_real),
        receivers=cut(graph.receivers, e_real),
        globals=cut(graph.globals, p),
        n_node=cut(graph.n_node, p),
        n_edge=cut(graph.n_edge, p),
    )
