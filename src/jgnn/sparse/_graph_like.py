"""The three graph forms and the one coercion every message-passing function uses.

Every function of jgnn that walks edges (``propagate``, ``gspmm``, ``gsddmm``,
``edge_softmax``, ``update_all``, the layers) accepts a :data:`Graph`, any of:

* a :class:`jraph.GraphsTuple`: ``senders`` are the sources (PyG's ``j``, DGL's ``u``),
  ``receivers`` the destinations (``i``, ``v``); the edge order is the order of those arrays;
* an edge index ``[2, E]`` (row 0 sources, row 1 destinations), read as an edge-only
  GraphsTuple;
* a :class:`jgnn.sparse.SparseTensor` ``adj_t`` of sparse sizes ``(num_dst, num_src)``:
  rows are destinations, columns sources (PyG's transposed adjacency); the edge order is the
  tensor's COO order (row-major after construction).

:func:`as_graph` turns an edge index into a GraphsTuple (the other forms pass through),
:func:`endpoints` returns ``(src, dst)`` of any form, and :func:`graph_args` returns
``(src, dst, num_src, num_dst)`` with static counts checked against the node data.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeAlias

import jax
import jax.numpy as jnp
import jraph
from jax import Array

from jgnn._checks import int_array, static_int
from jgnn.graph import num_nodes as _graph_num_nodes
from jgnn.sparse._tensor import SparseTensor

__all__ = ["Graph", "GraphArgs", "NumNodes", "as_graph", "endpoints", "graph_args", "is_sparse"]

#: A graph in any of its three forms: a GraphsTuple, an edge index ``[2, E]`` or an ``adj_t``.
Graph: TypeAlias = jraph.GraphsTuple | SparseTensor | Array

NumNodes = int | tuple[int, int] | None
"""A static node count: one int (same node set on both ends), ``(num_src, num_dst)`` or None."""


class GraphArgs(NamedTuple):
    """The edge list and static node counts of a graph argument.

    Attributes:
      src: int32 source ids, shape ``[E]``.
      dst: int32 destination ids, shape ``[E]``.
      num_src: number of source nodes (Python int), or None when unknown and not required.
      num_dst: number of destination nodes (Python int), or None when unknown and not required.
    """

    src: Array  # int32 [E]
    dst: Array  # int32 [E]
    num_src: int | None
    num_dst: int | None

    @property
    def num_edges(self) -> int:
        """``E`` (static)."""
        return int(self.src.shape[0])


def is_sparse(graph: Any) -> bool:
    """Whether ``graph`` is a :class:`jgnn.sparse.SparseTensor` (rather than a GraphsTuple)."""
    return isinstance(graph, SparseTensor)


def _static_count(value: Any, what: str, fn: str) -> int:
    return static_int(value, f"{fn}: {what}")


def _split_num_nodes(num_nodes: NumNodes, fn: str) -> tuple[int | None, int | None]:
    if num_nodes is None:
        return None, None
    if isinstance(num_nodes, (tuple, list)):
        if len(num_nodes) != 2:
            raise ValueError(
                f"{fn}: num_nodes must be an int or a pair (num_src, num_dst), got {num_nodes!r}."
            )
        return (
            _static_count(num_nodes[0], "num_nodes[0] (num_src)", fn),
            _static_count(num_nodes[1], "num_nodes[1] (num_dst)", fn),
        )
    n = _static_count(num_nodes, "num_nodes", fn)
    return n, n


def _ids(x: Any, what: str, fn: str) -> Array:
    if x is None:
        raise ValueError(f"{fn}: the graph has no {what}; expected an int array of shape [E].")
    return int_array(x, f"{fn}: graph {what} ([E])").astype(jnp.int32)


def _check_hint(count: int | None, hint: int | None, side: str, data: str, fn: str) -> None:
    if count is not None and hint is not None and count != hint:
        raise ValueError(
            f"{fn}: `{data}` has {hint} rows but the graph has {count} {side} nodes. For a "
            "bipartite graph pass num_nodes=(num_src, num_dst)."
        )


def graph_args(
    graph: Graph,
    *,
    num_nodes: NumNodes = None,
    src_hint: int | None = None,
    dst_hint: int | None = None,
    src_data: str = "u",
    dst_data: str = "v",
    require_counts: bool = True,
    fn: str = "graph_args",
) -> GraphArgs:
    """Turns any graph form into ``(src, dst, num_src, num_dst)`` with static counts.

    Node counts come from, in order: ``num_nodes=``; the SparseTensor's sparse sizes
    ``(num_dst, num_src)``; the GraphsTuple's ``nodes`` leaves (one node set on both ends);
    the leading dimension of the source / destination node data (``src_hint`` /
    ``dst_hint``), where a GraphsTuple without ``nodes`` is taken to have the same node set on
    both ends. Where a count is known from two places they must agree.

    Args:
      graph: a ``jraph.GraphsTuple`` (senders = sources), an edge index ``[2, E]`` or a
        ``SparseTensor`` ``adj_t`` (rows = destinations, columns = sources).
      num_nodes: a static int (same node set on both ends) or ``(num_src, num_dst)``.
      src_hint: the number of rows of the source-node data, if any.
      dst_hint: the number of rows of the destination-node data, if any.
      src_data: the argument name of the source-node data, for error messages.
      dst_data: the argument name of the destination-node data, for error messages.
      require_counts: raise when a count cannot be determined (else it is returned as None).
      fn: the calling function's name, for error messages.

    Returns:
      A :class:`GraphArgs` with int32 ``src``/``dst`` ``[E]`` and static counts.

    Raises:
      TypeError: ``graph`` is neither form, ids are not integers, or a count is not an int.
      ValueError: counts disagree, or cannot be determined while ``require_counts``.

    Examples:
      >>> import jax.numpy as jnp, jraph
      >>> g = jraph.GraphsTuple(nodes=jnp.zeros((3, 2)), edges=None, senders=jnp.array([0, 1]),
      ...     receivers=jnp.array([2, 2]), globals=None, n_node=jnp.array([3]),
      ...     n_edge=jnp.array([2]))
      >>> graph_args(g).num_dst
      3
    """
    ns, nd = _split_num_nodes(num_nodes, fn)
    graph = as_graph(graph, fn)
    if isinstance(graph, SparseTensor):
        rows, cols, _ = graph.coo()
        m, n = (int(s) for s in graph.sparse_sizes())
        if (ns is not None and ns != n) or (nd is not None and nd != m):
            raise ValueError(
                f"{fn}: num_nodes={num_nodes!r} disagrees with the SparseTensor's sparse sizes "
                f"({m}, {n}) = (num_dst, num_src)."
            )
        ns, nd = n, m
        src, dst = _ids(cols, "columns", fn), _ids(rows, "rows", fn)
    else:
        src = _ids(graph.senders, "senders", fn)
        dst = _ids(graph.receivers, "receivers", fn)
        if src.shape != dst.shape:
            raise ValueError(
                f"{fn}: senders and receivers must have the same shape [E], got "
                f"{src.shape} and {dst.shape}."
            )
        if ns is None and graph.nodes is not None and jax.tree_util.tree_leaves(graph.nodes):
            ns = nd = _graph_num_nodes(graph)
        elif ns is None:
            ns = src_hint if src_hint is not None else dst_hint
            nd = dst_hint if dst_hint is not None else src_hint
    _check_hint(ns, src_hint, "source", src_data, fn)
    _check_hint(nd, dst_hint, "destination", dst_data, fn)
    if require_counts and (ns is None or nd is None):
        raise ValueError(
            f"{fn}: cannot determine the number of nodes: pass num_nodes= (an int, or "
            "(num_src, num_dst)), give the GraphsTuple node features, or pass node data."
        )
    return GraphArgs(src, dst, ns, nd)


def as_graph(graph: Any, fn: str = "as_graph") -> jraph.GraphsTuple | SparseTensor:
    """A GraphsTuple or SparseTensor as is; an edge index ``[2, E]`` as an edge-only graph.

    Jittable (the edge index may be traced).

    Raises:
      TypeError: ``graph`` is none of the three forms, or the edge index is not integer.
      ValueError: the edge index is not ``[2, E]``.
    """
    if isinstance(graph, (jraph.GraphsTuple, SparseTensor)):
        return graph
    expected = "a jraph.GraphsTuple or a jgnn.sparse.SparseTensor adj_t, or an integer edge index"
    try:
        edge_index = jnp.asarray(graph)
    except TypeError:
        raise TypeError(
            f"{fn}: graph must be {expected} [2, E]; got {type(graph).__name__}."
        ) from None
    if not jnp.issubdtype(edge_index.dtype, jnp.integer):
        raise TypeError(
            f"{fn}: graph must be a jraph.GraphsTuple or a jgnn.sparse.SparseTensor adj_t, or an "
            f"edge index [2, E], which must be integer, got dtype {edge_index.dtype}."
        )
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"{fn}: an edge index must have shape [2, E], got {edge_index.shape}.")
    return jraph.GraphsTuple(
        nodes=None,
        edges=None,
        senders=edge_index[0],
        receivers=edge_index[1],
        globals=None,
        n_node=None,
        n_edge=None,
    )


def endpoints(graph: Any, fn: str = "endpoints") -> tuple[Array, Array]:
    """``(src, dst)``, int32 ``[E]``, of any graph form (jittable)."""
    graph = as_graph(graph, fn)
    if isinstance(graph, SparseTensor):
        row, col, _ = graph.coo()
        return col.astype(jnp.int32), row.astype(jnp.int32)
    return jnp.asarray(graph.senders, jnp.int32), jnp.asarray(graph.receivers, jnp.int32)
