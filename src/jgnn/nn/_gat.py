"""Graph attention of Veličković et al., "Graph Attention Networks" (ICLR 2018).

``x'_i = sum_{j in N(i) + {i}} alpha_ij W x_j`` with
``alpha_ij = softmax_j(LeakyReLU(a_s . W x_j + a_t . W x_i [+ a_e . W_e e_ji]))``.

The pieces every attention layer shares (self loops, edge softmax and aggregation, head
projections) are in :mod:`jgnn.nn._attention`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.nn._attention import (
    attention_aggregate,
    attention_output_params,
    attention_result,
    fused_gat_aggregate,
    graph_with_loops,
    project_src_dst,
    resolve_edge_attr,
)
from jgnn.nn._dropout import Dropout, dropout_fn
from jgnn.nn._features import NodeFeatures, as_pair, prepare_x, split_x
from jgnn.nn._linear import add_root_and_bias, glorot, kernel_of, linear, param_of
from jgnn.ops import gsddmm
from jgnn.sparse import Graph, SparseTensor, use_fused_attention

__all__ = ["GATConv", "gat_conv"]


# --------------------------------------------------------------------------------------------
# Shared attention helpers (also used by _gatv2.py and _transformer_conv.py)
# --------------------------------------------------------------------------------------------


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
    impl: str = "auto",
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
      impl: ``"auto"``, ``"segment"``, ``"bcsr"`` or ``"pallas"``: whether the fused Pallas
        attention kernel runs is :func:`jgnn.sparse.use_fused_attention`'s decision.

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
    a_src = jnp.sum(h_src * att_src, axis=-1)
    a_dst = jnp.sum(h_dst * att_dst, axis=-1)
    if use_fused_attention(
        impl,
        sparse_graph=isinstance(graph, SparseTensor),
        dropout=dropout is not None,
        return_attention=return_attention,
        add_self_loops=add_self_loops,
        fn="gat_conv",
    ):
        edge_logits = None
        if lin_edge is not None:
            h_edge = (edge_attr @ lin_edge).reshape(-1, heads, channels)
            edge_logits = jnp.sum(h_edge * att_edge, axis=-1)
        out = fused_gat_aggregate(
            graph, h_src, a_src, a_dst, edge_logits, negative_slope=negative_slope, concat=concat
        )
        return add_root_and_bias(out, x_dst, res, bias)
    g, edge_attr, mask = graph_with_loops(
        graph,
        None if lin_edge is None else edge_attr,
        num_nodes=counts,
        add_self_loops=add_self_loops,
        fill_value=fill_value,
    )
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
    together with ``add_self_loops``. On a GPU, a SparseTensor ``adj_t`` whose self loops are
    stored (``adj_t.set_diag()``, with ``add_self_loops=False``) runs the fused Pallas kernel
    when attention dropout is off (logits never touch memory; see ``impl``).

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
      impl: ``"auto"`` (the fused Pallas attention kernel on a GPU when the call allows it,
        see :func:`jgnn.sparse.use_fused_attention`), ``"segment"`` (always the edge list) or
        ``"pallas"`` (always fused; raises where it cannot run).
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
        impl: str = "auto",
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.impl = impl
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
            impl=self.impl,
        )
