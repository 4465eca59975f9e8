"""The GCN propagation operator ``S = D^-1/2 (A + I) D^-1/2``, shared by GCNConv, GCN2Conv,
SGConv and APPNP (private).

:func:`gcn_operator` builds ``S`` once per call (edge weights on the graph's pattern, plus the
self loops as a dense per-node term on a SparseTensor, so the pattern never changes and the
fused sparse-product path stays jittable) and :func:`gcn_hop` applies it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jraph

from jgnn.message_passing import propagate
from jgnn.nn._dropout import Dropout
from jgnn.sparse import Graph, SparseTensor, as_graph, gcn_norm, symmetric_norm

__all__ = ["GCNOperator", "gcn_hop", "gcn_operator"]


class GCNOperator(NamedTuple):
    """``S`` as edge weights on a pattern plus an optional dense diagonal."""

    graph: jraph.GraphsTuple | SparseTensor  # the pattern the weights live on
    weight: jax.Array  # [E'] float32 edge weights, graph edge order (COO for a SparseTensor)
    self_weight: jax.Array | None  # [N] float32 self-loop weights applied as a dense term


def gcn_operator(
    graph: Graph,
    edge_weight: jax.Array | None = None,
    *,
    num_nodes: int,
    normalize: bool = True,
    add_self_loops: bool = True,
    improved: bool = False,
) -> GCNOperator:
    """The (normalised) GCN propagation operator of ``graph`` (jittable).

    With ``normalize``, ``S = D^-1/2 (A + fill I) D^-1/2`` (``fill`` = 1, or 2 when
    ``improved``; no ``I`` when ``add_self_loops`` is False; ``D`` the weighted in-degrees,
    zero-degree nodes get 0), computed by :func:`jgnn.sparse.symmetric_norm`. On the edge list
    this is :func:`jgnn.sparse.gcn_norm` (loops appended as edges); on a ``SparseTensor``
    ``adj_t`` the loops become ``self_weight = fill / deg`` so the pattern is unchanged and the
    product stays one fused SpMM. Both assume the graph holds no self loops. Without
    ``normalize`` the weights are ``edge_weight``, else the SparseTensor's values or the
    GraphsTuple's ``edges`` (e.g. from ``gcn_norm``), else ones.
    """
    f32 = jnp.float32
    fill = 2.0 if improved else 1.0
    if isinstance(graph, SparseTensor):
        m, n = graph.sparse_sizes()
        if m != n:
            raise ValueError(f"the GCN operator needs a square adj_t, got {m} x {n}")
        row, col, value = graph.coo()
        w = value if edge_weight is None else edge_weight
        w = jnp.ones(row.shape, f32) if w is None else jnp.asarray(w).reshape(-1).astype(f32)
        if not normalize:
            return GCNOperator(graph, w, None)
        loop = fill if add_self_loops else 0.0
        weight, inv_sqrt = symmetric_norm(w, col, row, n, self_loop=loop)
        loops = loop * inv_sqrt * inv_sqrt if add_self_loops else None
        return GCNOperator(graph, weight, loops)
    graph = as_graph(graph, "gcn_operator")
    if normalize:
        graph = gcn_norm(
            graph,
            edge_weight,
            num_nodes=num_nodes,
            add_self_loops=add_self_loops,
            improved=improved,
        )
        return GCNOperator(graph, graph.edges, None)
    w = graph.edges if edge_weight is None else edge_weight
    if w is None:
        w = jnp.ones(graph.senders.shape, f32)
    return GCNOperator(graph, jnp.asarray(w).reshape(-1).astype(f32), None)


def gcn_hop(op: GCNOperator, h: jax.Array, dropout: Dropout | None = None) -> jax.Array:
    """``S h`` through :func:`propagate`; ``dropout`` (if any) drops entries of ``S``."""
    weight, self_weight = op.weight, op.self_weight
    if dropout is not None:
        weight = dropout(weight)
        self_weight = None if self_weight is None else dropout(self_weight)
    out = propagate(op.graph, h, edge_attr=weight.astype(h.dtype))
    if self_weight is not None:
        out = out + self_weight.astype(h.dtype).reshape((-1,) + (1,) * (h.ndim - 1)) * h
    return out
