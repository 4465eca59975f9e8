"""Structural transforms: degrees, self loops, undirected closure and coalescing.

``degree``, ``in_degree``, ``out_degree`` and ``add_self_loops`` are jittable (static node
count). Transforms whose edge count depends on the data (``remove_self_loops``,
``add_remaining_self_loops``, ``to_undirected``, ``coalesce``) run on the host with NumPy.

All transforms respect batched graphs: the edges of graph ``g`` stay contiguous and ``n_edge``
is updated per graph, so :func:`jgnn.graph.unbatch` still works on the result.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jgnn._checks import is_traced
from jgnn._host import to_device
from jgnn.graph._construct import _resolve_num_nodes, num_edges
from jgnn.segment import segment_count

__all__ = [
    "add_remaining_self_loops",
    "add_self_loops",
    "coalesce",
    "degree",
    "in_degree",
    "out_degree",
    "remove_self_loops",
    "to_undirected",
]

_REDUCERS = ("sum", "add", "mean", "max", "min", "mul")


def degree(index: Any, num_nodes: int, dtype: Any = jnp.int32) -> jax.Array:
    """Counts how often each node id occurs in ``index`` (jittable).

    Args:
        index: Integer node ids ``[E]`` (``senders`` for out-degree, ``receivers`` for
            in-degree). Ids outside ``[0, num_nodes)`` are ignored.
        num_nodes: Number of nodes ``N`` (static Python int).
        dtype: Output dtype.

    Returns:
        Array ``[N]`` of counts.

    Examples:
        >>> degree(jnp.array([0, 2, 2]), 3).tolist()
        [1, 0, 2]
    """
    return segment_count(jnp.asarray(index), int(num_nodes), dtype=dtype)


def in_degree(
    graph: jraph.GraphsTuple, *, num_nodes: int | None = None, dtype: Any = jnp.int32
) -> jax.Array:
    """Number of incoming edges (edges whose receiver is the node) per node (jittable).

    Args:
        graph: The graph.
        num_nodes: Static node count; defaults to :func:`jgnn.graph.num_nodes` (required under
            ``jit`` when ``graph.nodes`` is None).
        dtype: Output dtype.

    Returns:
        Array ``[N]``.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> in_degree(from_edge_index([[0, 1], [2, 2]], 3)).tolist()
        [0, 0, 2]
    """
    return degree(graph.receivers, _resolve_num_nodes(graph, num_nodes), dtype)


def out_degree(
    graph: jraph.GraphsTuple, *, num_nodes: int | None = None, dtype: Any = jnp.int32
) -> jax.Array:
    """Number of outgoing edges (edges whose sender is the node) per node (jittable).

    Args:
        graph: The graph.
        num_nodes: Static node count; defaults to :func:`jgnn.graph.num_nodes` (required under
            ``jit`` when ``graph.nodes`` is None).
        dtype: Output dtype.

    Returns:
        Array ``[N]``.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> out_degree(from_edge_index([[0, 1], [2, 2]], 3)).tolist()
        [1, 1, 0]
    """
    return degree(graph.senders, _resolve_num_nodes(graph, num_nodes), dtype)


def _fill_like(leaf: Any, rows: int, fill_value: Any, xp: Any = jnp) -> Any:
    """``[rows, *leaf.shape[1:]]`` of ``fill_value`` in ``leaf``'s dtype; ``xp`` is np or jnp."""
    tail = tuple(np.shape(leaf)[1:])
    fill = xp.asarray(fill_value)
    try:
        ok = np.broadcast_shapes(np.shape(fill), tail) == tail
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"`fill_value` of shape {np.shape(fill)} does not broadcast to the edge feature "
            f"shape {tail}."
        )
    return xp.broadcast_to(fill.astype(leaf.dtype), (rows, *tail))


def add_self_loops(
    graph: jraph.GraphsTuple, *, fill_value: Any = 1.0, num_nodes: int | None = None
) -> jraph.GraphsTuple:
    """Appends one self loop ``i -> i`` for every node (jittable; existing loops are kept).

    Within each graph of a batch the loops follow that graph's edges, so edges stay grouped by
    graph and ``n_edge`` grows by ``n_node`` per graph. For a single graph this is PyG's
    ``add_self_loops``: the ``N`` loops are appended after the ``E`` edges. Called eagerly on
    concrete arrays the work is done with NumPy (no XLA compilation per input size).

    Args:
        graph: The graph; edges ``[E]``.
        fill_value: Value of the loops' edge features, a scalar or an array broadcastable to
            each edge feature leaf's trailing shape; cast to the leaf dtype. Ignored when
            ``graph.edges`` is None.
        num_nodes: Static node count; defaults to :func:`jgnn.graph.num_nodes`.

    Returns:
        A graph with ``E + N`` edges.

    Raises:
        ValueError: If ``fill_value`` does not broadcast to the edge features.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> g = add_self_loops(from_edge_index([[0], [1]], 2))
        >>> g.senders.tolist(), g.receivers.tolist(), g.n_edge.tolist()
        ([0, 0, 1], [1, 0, 1], [3])
    """
    n = _resolve_num_nodes(graph, num_nodes)
    e = num_edges(graph)
    if not is_traced(graph, fill_value):
        return _add_self_loops_host(graph, fill_value, n)
    loops = jnp.arange(n, dtype=jnp.asarray(graph.senders).dtype)
    n_node = jnp.asarray(graph.n_node)
    n_edge = jnp.asarray(graph.n_edge)
    g = int(n_node.shape[0])

    if g == 1:

        def place(old: jax.Array, new: jax.Array) -> jax.Array:
            return jnp.concatenate([old, new], axis=0)

    else:
        gid = jnp.arange(g, dtype=jnp.int32)
        gid_e = jnp.repeat(gid, n_edge, total_repeat_length=e)
        gid_n = jnp.repeat(gid, n_node, total_repeat_length=n)
        n_before = (jnp.cumsum(n_node) - n_node).astype(jnp.int32)
        e_through = jnp.cumsum(n_edge).astype(jnp.int32)
        pos_e = jnp.arange(e, dtype=jnp.int32) + n_before[gid_e]
        pos_n = e_through[gid_n] + jnp.arange(n, dtype=jnp.int32)

        def place(old: jax.Array, new: jax.Array) -> jax.Array:
            out = jnp.zeros((e + n, *old.shape[1:]), old.dtype)
            out = out.at[pos_e].set(old, unique_indices=True)
            return out.at[pos_n].set(new, unique_indices=True)

    senders = place(jnp.asarray(graph.senders), loops)
    receivers = place(jnp.asarray(graph.receivers), loops)
    edges = graph.edges
    if edges is not None:
        edges = jax.tree_util.tree_map(
            lambda x: place(jnp.asarray(x), _fill_like(jnp.asarray(x), n, fill_value)), edges
        )
    return graph._replace(
        senders=senders,
        receivers=receivers,
        edges=edges,
        n_edge=n_edge + n_node.astype(n_edge.dtype),
    )


# ---------------------------------------------------------------------------------------------
# Host-side transforms.


def _add_self_loops_host(graph: jraph.GraphsTuple, fill_value: Any, n: int) -> jraph.GraphsTuple:
    """NumPy twin of :func:`add_self_loops` for concrete inputs (no per-shape compilation)."""
    _, s, r, n_node, n_edge, gid_node, gid_edge = _host_structure(graph, n)
    gid = np.concatenate([gid_edge, gid_node])
    order = np.argsort(gid, kind="stable")
    loops = np.arange(n)

    def leaf_fn(x):
        x = np.asarray(x)
        return to_device(np.concatenate([x, _fill_like(x, n, fill_value, np)])[order])

    edges = graph.edges
    if edges is not None:
        edges = jax.tree_util.tree_map(leaf_fn, edges)
    senders = np.concatenate([s, loops])[order]
    receivers = np.concatenate([r, loops])[order]
    return _rebuild(graph, senders, receivers, edges, gid[order], n_edge.dtype, len(n_node))


def _host_structure(graph: jraph.GraphsTuple, num_nodes: int | None):
    n = _resolve_num_nodes(graph, num_nodes)
    s = np.asarray(graph.senders)
    r = np.asarray(graph.receivers)
    n_node = np.asarray(graph.n_node)
    n_edge = np.asarray(graph.n_edge)
    g = n_node.shape[0]
    gid_node = np.repeat(np.arange(g), n_node)
    gid_edge = np.repeat(np.arange(g), n_edge)
    if gid_node.shape[0] != n or gid_edge.shape[0] != s.shape[0]:
        raise ValueError(
            f"Inconsistent graph: sum(n_node) = {gid_node.shape[0]} vs {n} nodes, "
            f"sum(n_edge) = {gid_edge.shape[0]} vs {s.shape[0]} edges."
        )
    return n, s, r, n_node, n_edge, gid_node, gid_edge


def _rebuild(graph, senders, receivers, edges, edge_gid, n_edge_dtype, n_graph):
    ids_dtype = np.asarray(graph.senders).dtype
    return graph._replace(
        senders=to_device(senders.astype(ids_dtype)),
        receivers=to_device(receivers.astype(ids_dtype)),
        edges=edges,
        n_edge=to_device(np.bincount(edge_gid, minlength=n_graph).astype(n_edge_dtype)),
    )


def remove_self_loops(
    graph: jraph.GraphsTuple, *, num_nodes: int | None = None
) -> jraph.GraphsTuple:
    """Drops every edge ``i -> i`` (and its edge features), updating ``n_edge`` per graph.

    Host-side: not jittable.

    Args:
        graph: The graph.
        num_nodes: Node count; defaults to :func:`jgnn.graph.num_nodes` or ``sum(n_node)``.

    Returns:
        The graph without self loops; other edges keep their order.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> remove_self_loops(from_edge_index([[0, 1], [0, 0]], 2)).senders.tolist()
        [1]
    """
    _, s, r, n_node, n_edge, _, gid_edge = _host_structure(graph, num_nodes)
    keep = np.flatnonzero(s != r)
    edges = graph.edges
    if edges is not None:
        edges = jax.tree_util.tree_map(lambda x: to_device(np.asarray(x)[keep]), edges)
    return _rebuild(graph, s[keep], r[keep], edges, gid_edge[keep], n_edge.dtype, len(n_node))


def add_remaining_self_loops(
    graph: jraph.GraphsTuple, *, fill_value: Any = 1.0, num_nodes: int | None = None
) -> jraph.GraphsTuple:
    """Gives every node exactly one self loop, keeping existing loops' features (PyG semantics).

    Host-side: not jittable. Like PyG's ``add_remaining_self_loops``: existing self loops are
    removed, then one loop per node is appended after the remaining edges of its graph; a node
    that already had a loop keeps that loop's edge features (the last one if it had several),
    other loops get ``fill_value``.

    Args:
        graph: The graph.
        fill_value: Edge feature value for new loops (scalar or broadcastable array).
        num_nodes: Node count; defaults to :func:`jgnn.graph.num_nodes` or ``sum(n_node)``.

    Returns:
        A graph with ``E - (#loops) + N`` edges.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> g = add_remaining_self_loops(from_edge_index([[0, 1], [0, 0]], 2))
        >>> g.senders.tolist(), g.receivers.tolist()
        ([1, 0, 1], [0, 0, 1])
    """
    n, s, r, n_node, n_edge, gid_node, gid_edge = _host_structure(graph, num_nodes)
    is_loop = s == r
    keep = np.flatnonzero(~is_loop)
    loop_pos = np.flatnonzero(is_loop)
    nodes_ids = np.arange(n)
    gid = np.concatenate([gid_edge[keep], gid_node])
    order = np.argsort(gid, kind="stable")
    senders = np.concatenate([s[keep], nodes_ids])[order]
    receivers = np.concatenate([r[keep], nodes_ids])[order]

    def leaf_fn(x):
        x = np.asarray(x)
        loop_feat = np.array(_fill_like(x, n, fill_value, np))
        loop_feat[s[loop_pos]] = x[loop_pos]  # later loops overwrite earlier ones
        return to_device(np.concatenate([x[keep], loop_feat])[order])

    edges = graph.edges
    if edges is not None:
        edges = jax.tree_util.tree_map(leaf_fn, edges)
    return _rebuild(graph, senders, receivers, edges, gid[order], n_edge.dtype, len(n_node))


def _reduce_sorted(x: np.ndarray, starts: np.ndarray, counts: np.ndarray, reduce: str):
    if x.shape[0] == 0:
        return x[:0]
    if reduce in ("sum", "add"):
        out = np.add.reduceat(x, starts, axis=0)
    elif reduce == "mul":
        out = np.multiply.reduceat(x, starts, axis=0)
    elif reduce == "max":
        out = np.maximum.reduceat(x, starts, axis=0)
    elif reduce == "min":
        out = np.minimum.reduceat(x, starts, axis=0)
    else:  # mean
        total = np.add.reduceat(x.astype(np.float64), starts, axis=0)
        out = total / counts.reshape((-1,) + (1,) * (x.ndim - 1))
    return out.astype(x.dtype)


def _coalesce_arrays(n, s, r, edges, reduce):
    if reduce not in _REDUCERS:
        raise ValueError(f"`reduce` must be one of {_REDUCERS}, got {reduce!r}.")
    key = s.astype(np.int64) * max(n, 1) + r.astype(np.int64)
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    first = np.ones(key_sorted.shape[0], bool)
    first[1:] = key_sorted[1:] != key_sorted[:-1]
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, key_sorted.shape[0]))
    s_out = s[order][starts]
    r_out = r[order][starts]
    if edges is not None:
        edges = jax.tree_util.tree_map(
            lambda x: to_device(_reduce_sorted(np.asarray(x)[order], starts, counts, reduce)),
            edges,
        )
    return s_out, r_out, edges


def coalesce(
    graph: jraph.GraphsTuple, reduce: str = "sum", *, num_nodes: int | None = None
) -> jraph.GraphsTuple:
    """Sorts edges by ``(sender, receiver)`` and merges duplicates, reducing their features.

    Host-side: not jittable. Matches PyG's ``coalesce(edge_index, edge_attr, reduce=...)``: the
    output is sorted row-major by sender then receiver, and the features of duplicate edges are
    combined with ``reduce``. In a batch, node ids of graph ``g`` precede those of ``g + 1``, so
    sorting keeps edges grouped by graph and ``n_edge`` is recomputed per graph.

    Args:
        graph: The graph.
        reduce: One of ``"sum"`` (alias ``"add"``), ``"mean"``, ``"max"``, ``"min"``,
            ``"mul"``. ``"mean"`` is computed in float64 and cast back to the leaf dtype
            (integer features are truncated).
        num_nodes: Node count; defaults to :func:`jgnn.graph.num_nodes` or ``sum(n_node)``.

    Returns:
        The coalesced graph.

    Raises:
        ValueError: For an unknown ``reduce``.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> g = from_edge_index([[1, 0, 1], [0, 1, 0]], 2, edges=jnp.array([1.0, 2.0, 3.0]))
        >>> c = coalesce(g)
        >>> c.senders.tolist(), c.receivers.tolist(), c.edges.tolist()
        ([0, 1], [1, 0], [2.0, 4.0])
    """
    n, s, r, n_node, n_edge, gid_node, _ = _host_structure(graph, num_nodes)
    s_out, r_out, edges = _coalesce_arrays(n, s, r, graph.edges, reduce)
    return _rebuild(graph, s_out, r_out, edges, gid_node[s_out], n_edge.dtype, len(n_node))


def to_undirected(
    graph: jraph.GraphsTuple, reduce: str = "sum", *, num_nodes: int | None = None
) -> jraph.GraphsTuple:
    """Adds the reverse of every edge and coalesces (PyG's ``to_undirected``).

    Host-side: not jittable. Edge ``s -> r`` with features ``f`` contributes ``f`` to both
    ``s -> r`` and ``r -> s``; duplicates (including an edge and its existing reverse) are
    merged with ``reduce``, so with ``"sum"`` an edge present in both directions ends with the
    sum of both features in both directions. A self loop with features ``f`` becomes
    ``reduce(f, f)``.

    Args:
        graph: The graph.
        reduce: Reducer for merged duplicates, as in :func:`coalesce`.
        num_nodes: Node count; defaults to :func:`jgnn.graph.num_nodes` or ``sum(n_node)``.

    Returns:
        A symmetric, coalesced graph sorted by ``(sender, receiver)``.

    Raises:
        ValueError: For an unknown ``reduce``.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> g = to_undirected(from_edge_index([[0, 1], [1, 2]], 3))
        >>> g.senders.tolist(), g.receivers.tolist()
        ([0, 1, 1, 2], [1, 0, 2, 1])
    """
    n, s, r, n_node, n_edge, gid_node, _ = _host_structure(graph, num_nodes)
    s2 = np.concatenate([s, r])
    r2 = np.concatenate([r, s])
    edges = graph.edges
    if edges is not None:
        edges = jax.tree_util.tree_map(lambda x: np.concatenate([np.asarray(x)] * 2), edges)
    s_out, r_out, edges = _coalesce_arrays(n, s2, r2, edges, reduce)
    return _rebuild(graph, s_out, r_out, edges, gid_node[s_out], n_edge.dtype, len(n_node))
