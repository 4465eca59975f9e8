"""Degree normalisations, the one home of GCN's ``D^-1/2 (A + I) D^-1/2`` in jgnn.

* :func:`symmetric_norm` is the maths every GCN-style operator uses (``GCNConv``, ``GCN2Conv``,
  ``SGConv``, ``APPNP``, ``ChebConv``'s Laplacian): edge weights ``w_ji / sqrt(d_j d_i)`` from
  the weighted degrees, with isolated nodes weighted 0 (never ``inf``/``nan``).
* :func:`gcn_norm` applies it to any graph form, like PyG's ``gcn_norm``: an edge list gets one
  self loop per node appended (jittable), a ``SparseTensor`` gets its diagonal set
  (``torch_sparse.fill_diag``, host-side when it changes the pattern).
* :func:`row_normalize` / :func:`col_normalize` scale a ``SparseTensor`` by its row / column
  sums (jittable: the pattern does not change).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import jraph
from jax import Array

from jgnn._numerics import broadcast_rows, safe_reciprocal, safe_rsqrt
from jgnn.graph import num_nodes as _num_nodes
from jgnn.segment import segment_sum
from jgnn.sparse._graph_like import as_graph
from jgnn.sparse._ops import reduce_sum, set_diag
from jgnn.sparse._tensor import SparseTensor

__all__ = ["col_normalize", "gcn_norm", "row_normalize", "symmetric_norm"]


def symmetric_norm(
    weight: Array,
    src: Array,
    dst: Array,
    num_nodes: int,
    *,
    self_loop: float = 0.0,
    degree_ids: Array | None = None,
) -> tuple[Array, Array]:
    """Symmetric degree normalisation of edge weights (jittable).

    ``d = segment_sum(weight, degree_ids) + self_loop`` (``degree_ids`` defaults to ``dst``:
    weighted in-degrees) and ``out_e = d_src^-1/2 * weight_e * d_dst^-1/2``; a node of degree 0
    gets the factor 0.

    Args:
      weight: ``[E]`` edge weights (float).
      src: ``[E]`` source ids.
      dst: ``[E]`` destination ids.
      num_nodes: static number of nodes.
      self_loop: weight of an implicit self loop added to every degree (a loop that is not
        an edge of the pattern; the caller applies its ``self_loop * d^-1`` term itself).
      degree_ids: ids whose weighted counts are the degrees (default ``dst``).

    Returns:
      ``(normalised weights [E], d^-1/2 [num_nodes])``.
    """
    deg = segment_sum(weight, dst if degree_ids is None else degree_ids, num_nodes)
    if self_loop:
        deg = deg + self_loop
    inv_sqrt = safe_rsqrt(deg)
    return inv_sqrt[src] * weight * inv_sqrt[dst], inv_sqrt


def _float_values(adj: SparseTensor) -> SparseTensor:
    if adj.value is None:
        return adj.fill_value(1.0)
    if not jnp.issubdtype(adj.value.dtype, jnp.inexact):
        return adj.set_value(adj.value.astype(jnp.float32))
    return adj


def _edge_scale(scale: Array, ids: Array, value: Array) -> Array:
    """``scale[ids]`` shaped to broadcast against ``value [nnz, *D]``."""
    return broadcast_rows(jnp.take(scale, ids, axis=0), value)


def row_normalize(adj: SparseTensor) -> SparseTensor:
    """``D_row^-1 A``: each row's stored values divided by the row sum (jittable).

    With ``adj_t`` (rows = receivers) this makes ``adj_t @ x`` a weighted mean of neighbours.

    Args:
      adj: ``[M, N]`` sparse matrix; missing values count as 1.

    Returns:
      A ``SparseTensor`` with the same pattern and float values.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[1.0, 3.0], [0.0, 2.0]]))
      >>> row_normalize(adj).to_dense()
      Array([[0.25, 0.75],
             [0.  , 1.  ]], dtype=float32)
    """
    adj = _float_values(adj)
    inv = safe_reciprocal(reduce_sum(adj, 1))
    return adj.set_value(adj.value * _edge_scale(inv, adj.row, adj.value))


def col_normalize(adj: SparseTensor) -> SparseTensor:
    """``A D_col^-1``: each column's stored values divided by the column sum (jittable).

    Args:
      adj: ``[M, N]`` sparse matrix; missing values count as 1.

    Returns:
      A ``SparseTensor`` with the same pattern and float values.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[1.0, 3.0], [0.0, 1.0]]))
      >>> col_normalize(adj).to_dense()
      Array([[1.  , 0.75],
             [0.  , 0.25]], dtype=float32)
    """
    adj = _float_values(adj)
    inv = safe_reciprocal(reduce_sum(adj, 0))
    return adj.set_value(adj.value * _edge_scale(inv, adj.col, adj.value))


def _gcn_norm_sparse(adj: SparseTensor, add_self_loops: bool, fill: float) -> SparseTensor:
    adj = _float_values(adj)
    if add_self_loops:
        m, n = adj.sparse_sizes()
        if m != n:
            raise ValueError(f"gcn_norm with add_self_loops needs a square matrix, got {m} x {n}.")
        adj = set_diag(adj, jnp.full((n,), fill, adj.value.dtype))
    value, _ = symmetric_norm(adj.value, adj.col, adj.row, adj.sparse_sizes()[0])
    return adj.set_value(value)


def _gcn_norm_edges(
    graph: jraph.GraphsTuple,
    edge_weight: Array | None,
    num_nodes: int | None,
    add_self_loops: bool,
    fill: float,
    dtype: Any,
) -> jraph.GraphsTuple:
    n = _num_nodes(graph) if num_nodes is None else num_nodes
    senders, receivers = graph.senders, graph.receivers
    num_edges = senders.shape[0]
    if edge_weight is None:
        edge_weight = jnp.ones((num_edges,), dtype)
    elif edge_weight.shape != (num_edges,):
        raise ValueError(
            f"edge_weight must have shape ({num_edges},) to match the graph's {num_edges} edges, "
            f"got {edge_weight.shape}"
        )
    edge_weight = edge_weight.astype(dtype)
    n_edge = graph.n_edge
    if add_self_loops:
        loops = jnp.arange(n, dtype=senders.dtype)
        senders = jnp.concatenate([senders, loops])
        receivers = jnp.concatenate([receivers, loops])
        edge_weight = jnp.concatenate([edge_weight, jnp.full((n,), fill, dtype)])
        if graph.n_edge is not None and graph.n_node is not None:
            n_edge = graph.n_edge + graph.n_node
    weight, _ = symmetric_norm(edge_weight, senders, receivers, n)
    return graph._replace(senders=senders, receivers=receivers, edges=weight, n_edge=n_edge)


def gcn_norm(
    graph: Any,
    edge_weight: Array | None = None,
    *,
    num_nodes: int | None = None,
    add_self_loops: bool = True,
    improved: bool = False,
    fill_value: float | None = None,
    dtype: Any = jnp.float32,
) -> Any:
    """Symmetric GCN normalisation ``D^-1/2 (A + fill I) D^-1/2`` (Kipf & Welling, ICLR 2017).

    One function for every graph form, as PyG's ``gcn_norm``; ``D`` holds the weighted
    in-degrees (self loop included) and a node of degree 0 gets weight 0.

    * A ``jraph.GraphsTuple`` or an edge index ``[2, E]``: returns a GraphsTuple with one self
      loop per node appended after the ``E`` edges (weight ``fill``) and ``edges`` set to the
      ``[E + N]`` normalised weights. Jittable: loops are appended whatever the graph holds, so
      call ``jgnn.graph.remove_self_loops`` first on graphs that already have loops. Padding
      nodes get their own loops and stay disconnected from real nodes.
    * A ``SparseTensor`` ``adj_t``: missing values become 1, the diagonal is *replaced* by
      ``fill`` (``torch_sparse.fill_diag``; host-side, as it may change the pattern), and the
      values are normalised. Jittable with ``add_self_loops=False``.

    Args:
      graph: a GraphsTuple (``nodes`` fixes the node count unless ``num_nodes`` is given), an
        edge index ``[2, E]``, or a square ``SparseTensor`` ``adj_t``.
      edge_weight: optional ``[E]`` edge weights (default ones; a SparseTensor's own values).
      num_nodes: static node count when it cannot be read from the graph.
      add_self_loops: add the self loops first.
      improved: loops weigh 2 (the paper's ``A + 2I`` variant).
      fill_value: the loop weight; overrides ``improved`` (default 1, or 2 when ``improved``).
      dtype: dtype of the weights of an edge list (a SparseTensor keeps its float dtype).

    Returns:
      A GraphsTuple with normalised ``edges``, or the normalised ``SparseTensor``.

    Raises:
      ValueError: ``edge_weight`` does not match the edges, or a non-square ``adj_t`` with
        ``add_self_loops``.

    Examples:
      >>> import jax.numpy as jnp, jgnn
      >>> g = jgnn.from_edge_index(jnp.array([[0, 1], [1, 0]]), 2, nodes=jnp.ones((2, 3)))
      >>> gcn_norm(g).edges.shape
      (4,)
      >>> adj = SparseTensor.from_edge_index(jnp.array([[0, 1], [1, 0]]))
      >>> gcn_norm(adj).to_dense().round(4)
      Array([[0.5, 0.5],
             [0.5, 0.5]], dtype=float32)
    """
    fill = float(fill_value) if fill_value is not None else (2.0 if improved else 1.0)
    graph = as_graph(graph, "gcn_norm")
    if isinstance(graph, SparseTensor):
        if edge_weight is not None:
            graph = graph.set_value(edge_weight)
        return _gcn_norm_sparse(graph, add_self_loops, fill)
    return _gcn_norm_edges(graph, edge_weight, num_nodes, add_self_loops, fill, dtype)
