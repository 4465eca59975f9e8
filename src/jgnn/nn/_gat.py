"""Graph attention of Veličković et al., "Graph Attention Networks" (ICLR 2018).

``x'_i = sum_{j in N(i) + {i}} alpha_ij W x_j`` with
``alpha_ij = softmax_j(LeakyReLU(a_s . W x_j + a_t . W x_i [+ a_e . W_e e_ji]))``.

The file also holds the pieces every attention layer of :mod:`jgnn.nn` shares (GATv2Conv and
TransformerConv import them): :func:`add_attention_self_loops` (PyG's remove-then-add self
loops, jittable) and :func:`attention_aggregate` (edge softmax, attention dropout, weighted sum
of the source values, head merge), plus the projection and constructor pieces they share
(:func:`project_src_dst`, :func:`attention_output_params`, :func:`dropout_fn`); input
splitting, feature checks and parameter reading are in :mod:`jgnn.nn._common`. Attention
cannot be one sparse-dense product (each edge's
weight depends on both endpoints), so a ``SparseTensor`` ``adj_t`` is read through its COO view
and gives the same result as the edge list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from jgnn.message_passing import propagate
from jgnn.nn._common import (
    Graph,
    Linear,
    NodeFeatures,
    add_root_and_bias,
    apply_linear,
    as_pair,
    kernel_of,
    linear,
    param_of,
    prepare_x,
    split_x,
)
from jgnn.ops import edge_softmax, gsddmm, segment_sum
from jgnn.sparse import SparseTensor

__all__ = ["GATConv", "add_attention_self_loops", "attention_aggregate", "gat_conv"]

Dropout = Callable[[jax.Array], jax.Array]


# --------------------------------------------------------------------------------------------
# Shared attention helpers (also used by _gatv2.py and _transformer_conv.py)
# --------------------------------------------------------------------------------------------


def endpoints(graph: Graph) -> tuple[jax.Array, jax.Array]:
    """``(src, dst)`` int32 ``[E]`` of a GraphsTuple, an edge index or a SparseTensor ``adj_t``."""
    if isinstance(graph, SparseTensor):
        row, col, _ = graph.coo()
        return col.astype(jnp.int32), row.astype(jnp.int32)
    if isinstance(graph, jraph.GraphsTuple):
        return jnp.asarray(graph.senders, jnp.int32), jnp.asarray(graph.receivers, jnp.int32)
    edge_index = jnp.asarray(graph)
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        raise ValueError(
            f"graph must be a GraphsTuple, a SparseTensor adj_t or an edge index [2, E], got an "
            f"array of shape {edge_index.shape}"
        )
    return edge_index[0].astype(jnp.int32), edge_index[1].astype(jnp.int32)


def _edge_graph(src: jax.Array, dst: jax.Array) -> jraph.GraphsTuple:
    return jraph.GraphsTuple(
        nodes=None, edges=None, senders=src, receivers=dst, globals=None, n_node=None, n_edge=None
    )


def as_attention_graph(graph: Graph) -> jraph.GraphsTuple | SparseTensor:
    """A GraphsTuple or SparseTensor as is; an edge index as an edge-only GraphsTuple."""
    if isinstance(graph, (jraph.GraphsTuple, SparseTensor)):
        return graph
    return _edge_graph(*endpoints(graph))


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
    g = as_attention_graph(graph)
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
    return as_attention_graph(graph), edge_attr, None


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


def dropout_fn(dropout: nnx.Dropout, deterministic: bool) -> Dropout | None:
    """The attention-dropout function a module passes to its pure function (None: off)."""
    return None if deterministic else lambda a: dropout(a, deterministic=False)


# --------------------------------------------------------------------------------------------
# GAT
# --------------------------------------------------------------------------------------------


def gat_conv(
    graph: Graph,
    x: NodeFeatures,
    lin: jax.Array | tuple[jax.Array, jax.Array],
    att_src: jax.Array,
    att_dst: jax.Array,
    *,
    edge_attr: jax.Array | None = None,
    lin_edge: jax.Array | None = None,
    att_edge: jax.Array | None = None,
    res: jax.Array | None = None,
    bias: jax.Array | None = None,
    concat: bool = True,
    negative_slope: float = 0.2,
    add_self_loops: bool = True,
    fill_value: str | float | jax.Array = "mean",
    dropout: Dropout | None = None,
    return_attention: bool = False,
) -> jax.Array | tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """One GAT layer as a pure function (see :class:`GATConv` for the maths).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``.
      x: node features ``[N, F]`` (dense or a ``SparseTensor``: ``x @ W`` is then a sparse
        product), or ``(x_src [N_src, F_src], x_dst [N_dst, F_dst])``.
      lin: ``[F, H * C]``, or ``(kernel_src, kernel_dst)`` for separate projections.
      att_src: ``[H, C]`` source attention vector (``H`` heads of ``C`` channels).
      att_dst: ``[H, C]`` destination attention vector.
      edge_attr: ``[E, D]`` edge features (used only with ``lin_edge``).
      lin_edge: ``[D, H * C]`` edge projection.
      att_edge: ``[H, C]`` edge attention vector.
      res: ``[F_dst, H * C]`` (or ``[F_dst, C]`` when averaging) residual projection.
      bias: ``[H * C]`` or ``[C]``.
      concat: concatenate heads, else average them.
      negative_slope: LeakyReLU slope.
      add_self_loops: see :func:`add_attention_self_loops`.
      fill_value: edge features of the added loops.
      dropout: attention dropout, applied to the normalised coefficients.
      return_attention: also return ``(edge_index, alpha)``.

    Returns:
      ``[N_dst, H * C]`` (or ``[N_dst, C]``), and with ``return_attention`` the edge index
      ``[2, E']`` (loops appended last) and coefficients ``alpha`` ``[E', H]``.
    """
    x_src, x_dst, _ = split_x(x, "gat_conv", allow_sparse=True)
    heads, channels = att_src.shape
    k_src, k_dst = lin if isinstance(lin, tuple) else (lin, lin)
    lin_src = (k_src, None)
    lin_dst = lin_src if k_dst is k_src else (k_dst, None)
    h_src, h_dst = project_src_dst(x_src, x_dst, lin_src, lin_dst, heads, channels)
    counts = (x_src.shape[0], x_dst.shape[0])
    g, edge_attr, mask = graph_with_loops(
        graph,
        None if lin_edge is None else edge_attr,
        num_nodes=counts,
        add_self_loops=add_self_loops,
        fill_value=fill_value,
    )
    a_src = jnp.sum(h_src * att_src, axis=-1)
    a_dst = jnp.sum(h_dst * att_dst, axis=-1)
    logits = gsddmm(g, "add", a_src, a_dst, num_nodes=counts)
    if lin_edge is not None:
        h_edge = (edge_attr @ lin_edge).reshape(-1, heads, channels)
        logits = logits + jnp.sum(h_edge * att_edge, axis=-1)
    logits = jax.nn.leaky_relu(logits, negative_slope)
    out, alpha = attention_aggregate(
        g, logits, h_src, num_nodes=counts, edge_mask=mask, dropout=dropout, concat=concat
    )
    out = add_root_and_bias(out, x_dst, res, bias)
    return attention_result(out, alpha, g, return_attention)


def glorot(rngs: nnx.Rngs, shape: tuple[int, ...], dtype: Any) -> nnx.Param:
    """A Glorot-uniform parameter over the last two axes (PyG's ``glorot``)."""
    return nnx.Param(nnx.initializers.glorot_uniform()(rngs.params(), shape, dtype))


class GATConv(nnx.Module):
    """Graph attention layer (Veličković et al., "Graph Attention Networks", ICLR 2018).

    ``x'_i = sum_{j in N(i) + {i}} alpha_ij W x_j + b``, with per-head coefficients
    ``alpha_ij = softmax_j(LeakyReLU(a_s . W x_j + a_t . W x_i + a_e . W_e e_ji))``
    normalised over each node's incoming edges by :func:`jgnn.ops.edge_softmax`. ``H`` heads
    are concatenated (``[N, H * C]``) or averaged (``[N, C]``). As in PyG (and unlike the
    paper, which applies a nonlinearity per head) no activation is applied; the edge term,
    residual projection and bipartite inputs are PyG extensions.

    Self loops: like PyG, existing self loops are dropped and one loop per node added, but
    jittably: the graph's own loops are masked out of the softmax and ``N`` loops appended
    (:func:`add_attention_self_loops`); their edge features are the mean of the node's incoming
    edge features (``fill_value="mean"``). A SparseTensor ``adj_t`` is read through its COO
    view (attention depends on both endpoints, so no fused sparse product applies) and gives
    the same result as the edge list, under ``jit`` too; unlike PyG it may carry edge features
    together with ``add_self_loops``.

    Parameters mirror PyG's names: ``lin`` (or ``lin_src``/``lin_dst`` for a pair of input
    sizes), ``att_src``/``att_dst``/``att_edge`` ``[H, C]`` (PyG ``[1, H, C]``), ``lin_edge``,
    ``res``, ``bias``; an ``nnx.Linear`` kernel is the transpose of torch's weight.

    Shapes:
      - input: a GraphsTuple / edge index ``[2, E]`` / SparseTensor ``adj_t``, node features
        ``[N, in_features]`` (dense, or a ``SparseTensor`` for bag-of-words inputs: ``x @ W``
        is then a sparse product) or ``(x_src, x_dst)``, edge features ``[E, edge_dim]`` (edge
        order of the graph; COO order for a SparseTensor).
      - output: ``[N, heads * out_features]`` (``concat``) or ``[N, out_features]``; with
        ``return_attention`` also ``(edge_index [2, E + N], alpha [E + N, heads])``.

    Args:
      in_features: input size, or ``(in_src, in_dst)`` for separate source/target projections.
      out_features: channels per head ``C``.
      heads: number of attention heads ``H``.
      concat: concatenate the heads (else average).
      negative_slope: LeakyReLU slope.
      dropout: dropout rate on the normalised attention coefficients (training only).
      add_self_loops: add self loops (see above).
      edge_dim: edge feature size, or None to ignore edge features.
      fill_value: edge features of the added loops: ``"mean"``, ``"add"`` or a constant.
      bias: learn an additive bias.
      residual: add a learnable projection of the target features.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: parameter initialisation and dropout generators (keyword-only).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> conv = GATConv(4, 8, heads=2, rngs=nnx.Rngs(0))
      >>> conv(jnp.array([[0, 1], [1, 2]]), jnp.ones((3, 4))).shape
      (3, 16)
    """

    def __init__(
        self,
        in_features: int | tuple[int, int],
        out_features: int,
        *,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: int | None = None,
        fill_value: str | float = "mean",
        bias: bool = True,
        residual: bool = False,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_features = in_features
        self.out_features = out_features
        self.heads = heads
        self.concat = concat
        self.negative_slope = negative_slope
        self.add_self_loops = add_self_loops
        self.edge_dim = edge_dim
        self.fill_value = fill_value
        self.dtype = dtype
        hc = heads * out_features
        in_src, in_dst = as_pair(in_features)
        kw = dict(bias=False, param_dtype=param_dtype, rngs=rngs)
        if isinstance(in_features, tuple):
            self.lin = None
            self.lin_src = linear(in_src, hc, **kw)
            self.lin_dst = linear(in_dst, hc, **kw)
        else:
            self.lin = linear(in_src, hc, **kw)
            self.lin_src = self.lin_dst = None
        self.att_src = glorot(rngs, (heads, out_features), param_dtype)
        self.att_dst = glorot(rngs, (heads, out_features), param_dtype)
        self.lin_edge = None if edge_dim is None else linear(edge_dim, hc, **kw)
        self.att_edge = (
            None if edge_dim is None else glorot(rngs, (heads, out_features), param_dtype)
        )
        self.res, self.bias, self.dropout = attention_output_params(
            in_dst,
            heads,
            out_features,
            concat=concat,
            residual=residual,
            bias=bias,
            dropout=dropout,
            param_dtype=param_dtype,
            rngs=rngs,
        )

    def __call__(
        self,
        graph: Graph,
        x: NodeFeatures,
        edge_attr: jax.Array | None = None,
        *,
        deterministic: bool = True,
        return_attention: bool = False,
    ) -> jax.Array | tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        """Applies the layer; ``deterministic=False`` turns attention dropout on."""
        x, dtype = prepare_x(x, self.in_features, self.dtype, "GATConv", allow_sparse=True)
        if self.lin is not None:
            lin = kernel_of(self.lin, dtype)
        else:
            lin = (kernel_of(self.lin_src, dtype), kernel_of(self.lin_dst, dtype))
        edge_attr = resolve_edge_attr(graph, edge_attr, self.edge_dim, dtype, "GATConv")
        return gat_conv(
            graph,
            x,
            lin,
            param_of(self.att_src, dtype),
            param_of(self.att_dst, dtype),
            edge_attr=edge_attr,
            lin_edge=kernel_of(self.lin_edge, dtype),
            att_edge=param_of(self.att_edge, dtype),
            res=kernel_of(self.res, dtype),
            bias=param_of(self.bias, dtype),
            concat=self.concat,
            negative_slope=self.negative_slope,
            add_self_loops=self.add_self_loops,
            fill_value=self.fill_value,
            dropout=dropout_fn(self.dropout, deterministic),
            return_attention=return_attention,
        )
