"""Batching several graphs into one disjoint graph, and splitting it back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jgnn._checks import is_traced
from jgnn._host import like, to_device

__all__ = ["batch", "unbatch"]

_FEATURES = ("nodes", "edges", "globals")


def _concat_field(graphs: Sequence[jraph.GraphsTuple], field: str, xp: Any) -> Any:
    values = [getattr(g, field) for g in graphs]
    present = [v is not None for v in values]
    if not any(present):
        return None
    if not all(present):
        missing = [i for i, p in enumerate(present) if not p]
        raise ValueError(
            f"`{field}` is None for graph(s) {missing} but set for others; batch needs all "
            "graphs to have the same fields."
        )
    structs = [jax.tree_util.tree_structure(v) for v in values]
    for i, s in enumerate(structs[1:], start=1):
        if s != structs[0]:
            raise ValueError(
                f"`{field}` of graph {i} has pytree structure {s}, but graph 0 has {structs[0]}."
            )
    return jax.tree_util.tree_map(
        lambda *xs: xp.concatenate([xp.asarray(x) for x in xs], axis=0), *values
    )


def batch(graphs: Sequence[jraph.GraphsTuple]) -> jraph.GraphsTuple:
    """Combines graphs into one disjoint graph (jittable over a fixed-length list).

    Node ids of graph ``i`` are offset by the total node count of graphs ``0..i-1``; nodes,
    edges, globals (every pytree leaf), ``n_node`` and ``n_edge`` are concatenated. Inputs may
    themselves be batches. Called eagerly, the concatenation is done with NumPy on the host (no
    XLA compilation per input size) and the result is placed on the default device.

    Args:
        graphs: Non-empty sequence of graphs with the same fields and feature structure.

    Returns:
        One graph with ``sum`` of the node/edge counts and ``n_node``/``n_edge`` of length
        ``sum`` of the graph counts; ids have the dtype of ``graphs[0].senders``.

    Raises:
        ValueError: If ``graphs`` is empty or the graphs' fields disagree.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> g = batch([from_edge_index([[0], [1]], 2), from_edge_index([[1], [0]], 3)])
        >>> g.senders.tolist(), g.receivers.tolist(), g.n_node.tolist()
        ([0, 3], [1, 2], [2, 3])
    """
    graphs = list(graphs)
    if not graphs:
        raise ValueError("batch needs at least one graph, got an empty sequence.")
    for i, g in enumerate(graphs):
        if not isinstance(g, jraph.GraphsTuple):
            raise TypeError(f"graphs[{i}] must be a jraph.GraphsTuple, got {type(g).__name__}.")
    traced = is_traced(graphs)
    xp = jnp if traced else np
    ids_dtype = xp.asarray(graphs[0].senders).dtype
    senders, receivers = [], []
    offset = xp.zeros((), ids_dtype)
    for g in graphs:
        senders.append(xp.asarray(g.senders).astype(ids_dtype) + offset)
        receivers.append(xp.asarray(g.receivers).astype(ids_dtype) + offset)
        offset = offset + xp.sum(xp.asarray(g.n_node)).astype(ids_dtype)
    fields = {f: _concat_field(graphs, f, xp) for f in _FEATURES}
    out = jraph.GraphsTuple(
        senders=xp.concatenate(senders),
        receivers=xp.concatenate(receivers),
        n_node=xp.concatenate([xp.asarray(g.n_node) for g in graphs]),
        n_edge=xp.concatenate([xp.asarray(g.n_edge) for g in graphs]),
        **fields,
    )
    return out if traced else to_device(out)


def unbatch(graph: jraph.GraphsTuple) -> list[jraph.GraphsTuple]:
    """Splits a batched graph into its single graphs (exact inverse of :func:`batch`).

    Host-side: not jittable. Graph ``i`` gets its slice of nodes, edges and globals, node ids
    shifted back to start at 0, and ``n_node``/``n_edge`` of shape ``[1]``. Leaves keep their
    dtype and container type (``jax.Array`` or NumPy).

    Args:
        graph: A graph with ``n_node``/``n_edge`` of shape ``[G]``.

    Returns:
        A list of ``G`` single graphs.

    Examples:
        >>> from jgnn.graph import from_edge_index
        >>> gs = unbatch(batch([from_edge_index([[0], [1]], 2), from_edge_index([[1], [0]], 3)]))
        >>> [g.senders.tolist() for g in gs]
        [[0], [1]]
    """
    n_node = np.asarray(graph.n_node)
    n_edge = np.asarray(graph.n_edge)
    n_start = np.concatenate([[0], np.cumsum(n_node)]).astype(np.int64)
    e_start = np.concatenate([[0], np.cumsum(n_edge)]).astype(np.int64)
    host = jax.tree_util.tree_map(np.asarray, graph)

    def cut(tree: Any, ref: Any, a: int, b: int, shift: int = 0) -> Any:
        if tree is None:
            return None
        return jax.tree_util.tree_map(
            lambda x, r: like(r, x[a:b] - x.dtype.type(shift) if shift else x[a:b]), tree, ref
        )

    out = []
    for i in range(n_node.shape[0]):
        n0, n1 = int(n_start[i]), int(n_start[i + 1])
        e0, e1 = int(e_start[i]), int(e_start[i + 1])
        out.append(
            jraph.GraphsTuple(
                nodes=cut(host.nodes, graph.nodes, n0, n1),
                edges=cut(host.edges, graph.edges, e0, e1),
                senders=cut(host.senders, graph.senders, e0, e1, n0),
                receivers=cut(host.receivers, graph.receivers, e0, e1, n0),
                globals=cut(host.globals, graph.globals, i, i + 1),
                n_node=cut(host.n_node, graph.n_node, i, i + 1),
                n_edge=cut(host.n_edge, graph.n_edge, i, i + 1),
            )
        )
    return out
