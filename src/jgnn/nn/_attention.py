"""Attention pieces shared by GATConv, GATv2Conv and TransformerConv (private).

:func:`add_attention_self_loops` (PyG's remove-then-add self loops, jittable) and
:func:`attention_aggregate` (edge softmax, attention dropout, weighted sum of the source values,
head merge), plus the projection and constructor pieces the attention layers share
(:func:`project_src_dst`, :func:`attention_output_params`, :func:`resolve_edge_attr`).
Attention cannot be one sparse-dense product (each edge's weight depends on both endpoints),
so a ``SparseTensor`` ``adj_t`` is read through its COO view and gives the same result as the
edge list.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from jgnn.message_passing import propagate
from jgnn.nn._dropout import Dropout
from jgnn.nn._linear import Linear, apply_linear, linear
from jgnn.ops import edge_softmax
from jgnn.segment import segment_sum
from jgnn.sparse import Graph, SparseTensor, as_graph, endpoints

__all__ = [
    "add_attention_self_loops",
    "attention_aggregate",
    "attention_output_params",
    "attention_result",
    "fused_gat_aggregate",
    "fused_gatv2_aggregate",
    "graph_with_loops",
    "merge_heads",
    "project_heads",
    "project_src_dst",
    "resolve_edge_attr",
]


def _edge_graph(src: jax.Array, dst: jax.Array) -> jraph.GraphsTuple:
    return jraph.GraphsTuple(
        nodes=None, edges=None, senders=src, receivers=dst, globals=None, n_node=None, n_edge=None
    )


def resolve_edge_attr(
    graph: Graph, edge_attr: jax.Array | None, edge_dim: int | None, dtype: Any, layer: str
) -> jax.Array | None:
    """The edge features a layer built with ``edge_dim`` reads, as ``[E, edge_dim]``.

    Explicit ``edge_attr`` first, else the SparseTensor's values or the GraphsTuple's ``edges``
    (PyG reads a SparseTensor's values the same way). Returns None when ``edge_dim`` is None.
    """
    if edge_dim is None:
        if edge_attr is not None:
            raise ValueError(
                f"{layer} was built with edge_dim=None but got edge_attr of shape "
                f"{jnp.shape(edge_attr)}; build it with edge_dim={jnp.shape(edge_attr)[-1]}"
            )
        return None
    if edge_attr is None:
        if isinstance(graph, SparseTensor):
            edge_attr = graph.coo()[2]
        elif isinstance(graph, jraph.GraphsTuple) and isinstance(graph.edges, jax.Array):
            edge_attr = graph.edges
    if edge_attr is None:
        raise ValueError(
            f"{layer} was built with edge_dim={edge_dim} and needs edge features: pass "
            f"edge_attr [E, {edge_dim}] (or store them in the graph)"
        )
    edge_attr = jnp.asarray(edge_attr)
    if edge_attr.ndim == 1:
        edge_attr = edge_attr[:, None]
    num_edges = endpoints(graph)[0].shape[0]
    if edge_attr.shape != (num_edges, edge_dim):
        raise ValueError(
            f"{layer} expects edge_attr [E, {edge_dim}] with E = {num_edges}, got "
            f"{tuple(edge_attr.shape)}"
        )
    return edge_attr.astype(dtype)


def add_attention_self_loops(
    graph: Graph,
    edge_attr: jax.Array | None = None,
    *,
    num_nodes: tuple[int, int],
    fill_value: str | float | jax.Array = "mean",
) -> tuple[jraph.GraphsTuple, jax.Array | None, jax.Array]:
    """Adds one self loop ``i -> i`` per node and masks the graph's own loops (jittable).

    PyG's attention layers call ``remove_self_loops`` then ``add_self_loops``; removing edges
    changes the edge count, so here the ``E`` edges are kept and ``L = min(num_src, num_dst)``
    loops are appended after them, and the returned mask marks the graph's existing loops
    ``j -> j`` False: :func:`attention_aggregate` gives them zero weight, which equals removing
    them. Works on a SparseTensor ``adj_t`` too (its COO view; the result is an edge list), so
    the two graph forms agree and both stay jittable.

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``.
      edge_attr: optional ``[E, D]`` edge features in the graph's edge order.
      num_nodes: static ``(num_src, num_dst)``.
      fill_value: the loops' edge features: ``"mean"`` (PyG's default for attention layers) or
        ``"add"`` of the features of each node's incoming non-loop edges (0 without any), or a
        constant broadcastable to ``[D]``.

    Returns:
      ``(graph with E + L edges, edge_attr [E + L, D] or None, keep mask [E + L] bool)``.

    Raises:
      ValueError: an unknown ``fill_value`` string.

    Examples:
      >>> import jax.numpy as jnp
      >>> g, _, keep = add_attention_self_loops(jnp.array([[0, 1], [1, 1]]), num_nodes=(2, 2))
      >>> g.senders.tolist(), g.receivers.tolist(), keep.tolist()
      ([0, 1, 0, 1], [1, 1, 0, 1], [True, False, True, True])
    """
    src, dst = endpoints(graph)
    num_src, num_dst = num_nodes
    n_loops = min(num_src, num_dst)
    loops = jnp.arange(n_loops, dtype=jnp.int32)
    keep = src != dst
    if edge_attr is not None:
        if isinstance(fill_value, str):
            if fill_value not in ("mean", "add", "sum"):
                raise ValueError(
                    f"fill_value must be 'mean', 'add' or a constant, got {fill_value!r}"
                )
            w = keep.astype(edge_attr.dtype).reshape((-1,) + (1,) * (edge_attr.ndim - 1))
            fill = segment_sum(edge_attr * w, dst, num_dst)[:n_loops]
            if fill_value == "mean":
                count = segment_sum(keep.astype(edge_attr.dtype), dst, num_dst)[:n_loops]
                count = jnp.maximum(count, jnp.ones((), edge_attr.dtype))
                fill = fill / count.reshape((-1,) + (1,) * (edge_attr.ndim - 1))
        else:
            value = jnp.asarray(fill_value, edge_attr.dtype)
            fill = jnp.broadcast_to(value, (n_loops, *edge_attr.shape[1:]))
        edge_attr = jnp.concatenate([edge_attr, fill], axis=0)
    g = _edge_graph(jnp.concatenate([src, loops]), jnp.concatenate([dst, loops]))
    keep = jnp.concatenate([keep, jnp.ones((n_loops,), bool)])
    return g, edge_attr, keep


def merge_heads(out: jax.Array, concat: bool) -> jax.Array:
    """``[N, H, C] -> [N, H * C]`` (concat) or the mean over heads ``[N, C]``."""
    if concat:
        return out.reshape(out.shape[0], -1)
    return jnp.mean(out, axis=1)


def attention_aggregate(
    graph: Graph,
    logits: jax.Array,
    values: jax.Array,
    *,
    num_nodes: tuple[int, int],
    edge_values: jax.Array | None = None,
    edge_mask: jax.Array | None = None,
    dropout: Dropout | None = None,
    concat: bool = True,
) -> tuple[jax.Array, jax.Array]:
    """Softmax-weighted sum of source values: ``out_i = sum_j alpha_ji (v_j [+ ev_ji])``.

    ``alpha = edge_softmax(logits)`` over each destination's incoming edges, per head; edges
    with ``edge_mask`` False get weight 0 (they are left out of the softmax). ``dropout`` is
    applied to the weights, not to the returned ``alpha``. The sum runs through
    :func:`jgnn.message_passing.propagate` with a per-edge message, on the edge list or the
    SparseTensor's COO view.

    Args:
      graph: a GraphsTuple, an edge index or a SparseTensor ``adj_t`` with ``E`` edges.
      logits: ``[E, H]`` attention scores.
      values: ``[N_src, H, C]`` source values.
      num_nodes: static ``(num_src, num_dst)``.
      edge_values: optional ``[E, H, C]`` added to each edge's source value.
      edge_mask: optional ``[E]`` bool; False edges get zero weight.
      dropout: optional function applied to the ``[E, H]`` weights (attention dropout).
      concat: concatenate the heads (``[N_dst, H * C]``) or average them (``[N_dst, C]``).

    Returns:
      ``(out, alpha)``: ``out`` ``[N_dst, H * C]`` or ``[N_dst, C]``, ``alpha`` ``[E, H]``.
    """
    g = as_graph(graph, "attention")
    if edge_mask is not None:
        low = jnp.asarray(jnp.finfo(logits.dtype).min, logits.dtype)
        logits = jnp.where(edge_mask[:, None], logits, low)
    alpha = edge_softmax(g, logits, num_nodes=num_nodes)
    weights = alpha if dropout is None else dropout(alpha)

    def message(edges):
        v = edges.x_j if edge_values is None else edges.x_j + edge_values
        return weights[..., None].astype(v.dtype) * v

    out = propagate(g, (values, None), message=message, num_nodes=num_nodes)
    return merge_heads(out, concat), alpha


def attention_result(
    out: jax.Array,
    alpha: jax.Array,
    graph: Graph,
    return_attention: bool,
) -> jax.Array | tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """``out``, or ``(out, (edge_index [2, E], alpha [E, H]))``."""
    if not return_attention:
        return out
    return out, (jnp.stack(endpoints(graph)), alpha)


def graph_with_loops(
    graph: Graph,
    edge_attr: jax.Array | None,
    *,
    num_nodes: tuple[int, int],
    add_self_loops: bool,
    fill_value: str | float | jax.Array,
) -> tuple[jraph.GraphsTuple | SparseTensor, jax.Array | None, jax.Array | None]:
    """:func:`add_attention_self_loops` when asked, else the graph as is and no mask."""
    if add_self_loops:
        return add_attention_self_loops(
            graph, edge_attr, num_nodes=num_nodes, fill_value=fill_value
        )
    return as_graph(graph, "attention"), edge_attr, None


def project_heads(x: jax.Array, lin: Linear, heads: int, channels: int) -> jax.Array:
    """``x @ kernel (+ bias)`` reshaped to ``[N, heads, channels]``."""
    return apply_linear(x, *lin).reshape(-1, heads, channels)


def project_src_dst(
    x_src: jax.Array,
    x_dst: jax.Array,
    lin_src: Linear,
    lin_dst: Linear,
    heads: int,
    channels: int,
) -> tuple[jax.Array, jax.Array]:
    """``(h_src [N_src, H, C], h_dst [N_dst, H, C])``, projected once when the two sides are
    the same array and the same ``(kernel, bias)`` object."""
    h_src = project_heads(x_src, lin_src, heads, channels)
    if x_dst is x_src and lin_dst is lin_src:
        return h_src, h_src
    return h_src, project_heads(x_dst, lin_dst, heads, channels)


def attention_output_params(
    in_dst: int,
    heads: int,
    out_features: int,
    *,
    concat: bool,
    residual: bool,
    bias: bool,
    dropout: float,
    param_dtype: Any,
    rngs: nnx.Rngs,
) -> tuple[nnx.Linear | None, nnx.Param | None, nnx.Dropout]:
    """``(res, bias, dropout)`` of GATConv/GATv2Conv: the optional residual projection
    ``[in_dst, H * C or C]``, the optional output bias (zeros) and the attention dropout."""
    total = heads * out_features if concat else out_features
    res = (
        linear(in_dst, total, bias=False, param_dtype=param_dtype, rngs=rngs) if residual else None
    )
    b = nnx.Param(jnp.zeros((total,), param_dtype)) if bias else None
    return res, b, nnx.Dropout(dropout, rngs=rngs)


def _csr_args(adj: SparseTensor) -> dict[str, Any]:
    return dict(
        transpose=(adj.colptr, adj.csc_row, adj.csr2csc),
        row=adj.row,
        interpret=jax.default_backend() == "cpu",
    )


def fused_gat_aggregate(
    adj: SparseTensor,
    h_src: jax.Array,
    a_src: jax.Array,
    a_dst: jax.Array,
    edge_logits: jax.Array | None,
    *,
    negative_slope: float,
    concat: bool,
) -> jax.Array:
    """GAT's logits, edge softmax and weighted sum in one Pallas kernel (``pallas_kernels``).

    ``adj`` is ``adj_t`` with its self loops stored; ``h_src [N, H, C]``, ``a_src [N, H]``,
    ``a_dst [M, H]``, ``edge_logits [nnz, H]`` in COO (= CSR) order. Taken only when
    :func:`jgnn.sparse.use_fused_attention` says so.
    """
    import pallas_kernels  # optional GPU backend; the dispatcher checked it imports

    out = pallas_kernels.gat_aggregate(
        adj.rowptr,
        adj.col,
        h_src,
        a_src,
        a_dst,
        edge_logits,
        negative_slope=negative_slope,
        **_csr_args(adj),
    )
    return merge_heads(out, concat)


def fused_gatv2_aggregate(
    adj: SparseTensor,
    h_src: jax.Array,
    h_dst: jax.Array,
    att: jax.Array,
    edge_x: jax.Array | None,
    *,
    negative_slope: float,
    concat: bool,
) -> jax.Array:
    """GATv2's logits ``att . leaky_relu(h_src[j] + h_dst[i] (+ e))``, edge softmax and
    weighted sum of ``h_src`` in one Pallas kernel; see :func:`fused_gat_aggregate`."""
    import pallas_kernels  # optional GPU backend; the dispatcher checked it imports

    out = pallas_kernels.gatv2_aggregate(
        adj.rowptr,
        adj.col,
        h_src,
        h_dst,
        att,
        edge_x,
        negative_slope=negative_slope,
        **_csr_args(adj),
    )
    return merge_heads(out, concat)
