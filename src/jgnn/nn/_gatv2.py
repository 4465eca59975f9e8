"""GATv2 of Brody, Alon & Yahav, "How Attentive are Graph Attention Networks?" (ICLR 2022).

``x'_i = sum_{j in N(i) + {i}} alpha_ij W_s x_j`` with the *dynamic* attention
``alpha_ij = softmax_j(a . LeakyReLU(W_s x_j + W_t x_i [+ W_e e_ji]))``: the nonlinearity
comes before the attention vector, so the ranking of neighbours can depend on the query node.
Self loops, edge softmax, dropout and the head merge are shared with :mod:`jgnn.nn._gat`.
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
    fused_gatv2_aggregate,
    graph_with_loops,
    project_src_dst,
    resolve_edge_attr,
)
from jgnn.nn._dropout import Dropout, dropout_fn
from jgnn.nn._features import NodeFeatures, as_pair, prepare_x, split_x
from jgnn.nn._linear import (
    Linear,
    add_root_and_bias,
    glorot,
    kernel_of,
    linear,
    linear_params,
    param_of,
)
from jgnn.ops import gsddmm
from jgnn.sparse import Graph, SparseTensor, use_fused_attention

__all__ = ["GATv2Conv", "gatv2_conv"]


def gatv2_conv(
    graph: Graph,
    x: NodeFeatures,
    lin_l: Linear,
    lin_r: Linear,
    att: jax.Array,
    *,
    edge_attr: jax.Array | None = None,
    lin_edge: jax.Array | None = None,
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
    """One GATv2 layer as a pure function (see :class:`GATv2Conv` for the maths).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``.
      x: node features ``[N, F]``, or ``(x_src [N_src, F_src], x_dst [N_dst, F_dst])``.
      lin_l: ``(kernel [F_src, H * C], bias [H * C] | None)``, the source projection (PyG's
        ``lin_l``); its output is also the message.
      lin_r: ``(kernel [F_dst, H * C], bias | None)``, the target projection (``lin_r``);
        pass ``lin_l`` again to share weights.
      att: ``[H, C]`` attention vector.
      edge_attr: ``[E, D]`` edge features (used only with ``lin_edge``).
      lin_edge: ``[D, H * C]`` edge projection.
      res: ``[F_dst, H * C]`` (or ``[F_dst, C]`` when averaging) residual projection.
      bias: ``[H * C]`` or ``[C]``.
      concat: concatenate heads, else average them.
      negative_slope: LeakyReLU slope.
      add_self_loops: see :func:`jgnn.nn._gat.add_attention_self_loops`.
      fill_value: edge features of the added loops.
      dropout: attention dropout, applied to the normalised coefficients.
      return_attention: also return ``(edge_index, alpha)``.
      impl: whether the fused Pallas attention kernel runs is
        :func:`jgnn.sparse.use_fused_attention`'s decision for this value.

    Returns:
      ``[N_dst, H * C]`` (or ``[N_dst, C]``), and with ``return_attention`` the edge index
      ``[2, E']`` (loops appended last) and coefficients ``alpha`` ``[E', H]``.
    """
    x_src, x_dst, _ = split_x(x, "gatv2_conv")
    heads, channels = att.shape
    h_src, h_dst = project_src_dst(x_src, x_dst, lin_l, lin_r, heads, channels)
    counts = (x_src.shape[0], x_dst.shape[0])
    if use_fused_attention(
        impl,
        sparse_graph=isinstance(graph, SparseTensor),
        dropout=dropout is not None,
        return_attention=return_attention,
        add_self_loops=add_self_loops,
        fn="gatv2_conv",
    ):
        edge_x = None
        if lin_edge is not None:
            edge_x = (edge_attr @ lin_edge).reshape(-1, heads, channels)
        out = fused_gatv2_aggregate(
            graph, h_src, h_dst, att, edge_x, negative_slope=negative_slope, concat=concat
        )
        return add_root_and_bias(out, x_dst, res, bias)
    g, edge_attr, mask = graph_with_loops(
        graph,
        None if lin_edge is None else edge_attr,
        num_nodes=counts,
        add_self_loops=add_self_loops,
        fill_value=fill_value,
    )
    z = gsddmm(g, "add", h_src, h_dst, num_nodes=counts)  # [E, H, C]
    if lin_edge is not None:
        z = z + (edge_attr @ lin_edge).reshape(-1, heads, channels)
    logits = jnp.sum(jax.nn.leaky_relu(z, negative_slope) * att, axis=-1)
    out, alpha = attention_aggregate(
        g, logits, h_src, num_nodes=counts, edge_mask=mask, dropout=dropout, concat=concat
    )
    out = add_root_and_bias(out, x_dst, res, bias)
    return attention_result(out, alpha, g, return_attention)


class GATv2Conv(nnx.Module):
    """GATv2 attention layer (Brody et al., "How Attentive are Graph Attention Networks?").

    ``x'_i = sum_{j in N(i) + {i}} alpha_ij W_s x_j + b`` with
    ``alpha_ij = softmax_j(a . LeakyReLU(W_s x_j + W_t x_i + W_e e_ji))``, per head; heads
    are concatenated or averaged. As in PyG the projections ``W_s``/``W_t`` carry biases when
    ``bias=True`` and ``share_weights=True`` uses one projection for both (the paper's
    ``W [x_i || x_j]`` form is the sum of two projections, which this is).

    Self loops, edge-feature fill, attention dropout and the SparseTensor path behave exactly
    as in :class:`jgnn.nn.GATConv`: existing loops are masked out and one loop per node is
    appended, jittably, and a SparseTensor ``adj_t`` is read through its COO view (no fused
    product applies to attention) with the same result as the edge list.

    Parameters mirror PyG: ``lin_l`` (source, also the message), ``lin_r`` (target; absent
    with ``share_weights``), ``att`` ``[H, C]`` (PyG ``[1, H, C]``), ``lin_edge``, ``res``,
    ``bias``; an ``nnx.Linear`` kernel is the transpose of torch's weight.

    Shapes:
      - input: a GraphsTuple / edge index ``[2, E]`` / SparseTensor ``adj_t``, node features
        ``[N, in_features]`` (or ``(x_src, x_dst)``), edge features ``[E, edge_dim]``.
      - output: ``[N, heads * out_features]`` (``concat``) or ``[N, out_features]``; with
        ``return_attention`` also ``(edge_index [2, E + N], alpha [E + N, heads])``.

    Args:
      in_features: input size, or ``(in_src, in_dst)``.
      out_features: channels per head ``C``.
      heads: number of attention heads ``H``.
      concat: concatenate the heads (else average).
      negative_slope: LeakyReLU slope.
      dropout: dropout rate on the normalised attention coefficients (training only).
      add_self_loops: add self loops.
      edge_dim: edge feature size, or None to ignore edge features.
      fill_value: edge features of the added loops: ``"mean"``, ``"add"`` or a constant.
      bias: learn biases (in ``lin_l``/``lin_r`` and after aggregation).
      share_weights: use ``lin_l`` for the targets too.
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
      >>> conv = GATv2Conv(4, 8, heads=2, concat=False, rngs=nnx.Rngs(0))
      >>> conv(jnp.array([[0, 1], [1, 2]]), jnp.ones((3, 4))).shape
      (3, 8)
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
        share_weights: bool = False,
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
        self.share_weights = share_weights
        self.dtype = dtype
        hc = heads * out_features
        in_src, in_dst = as_pair(in_features)
        if share_weights and in_src != in_dst:
            raise ValueError(
                f"share_weights=True needs equal source and target sizes, got {in_features}"
            )
        kw = dict(param_dtype=param_dtype, rngs=rngs)
        self.lin_l = linear(in_src, hc, bias=bias, **kw)
        self.lin_r = None if share_weights else linear(in_dst, hc, bias=bias, **kw)
        self.att = glorot(rngs, (heads, out_features), param_dtype)
        self.lin_edge = None if edge_dim is None else linear(edge_dim, hc, bias=False, **kw)
        self.res, self.bias, self.dropout = attention_output_params(
            in_dst,
            heads,
            out_features,
            concat=concat,
            residual=residual,
            bias=bias,
            dropout=dropout,
            **kw,
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
        x, dtype = prepare_x(x, self.in_features, self.dtype, "GATv2Conv")
        lin_l = linear_params(self.lin_l, dtype)
        lin_r = lin_l if self.lin_r is None else linear_params(self.lin_r, dtype)
        return gatv2_conv(
            graph,
            x,
            lin_l,
            lin_r,
            param_of(self.att, dtype),
            edge_attr=resolve_edge_attr(graph, edge_attr, self.edge_dim, dtype, "GATv2Conv"),
            lin_edge=kernel_of(self.lin_edge, dtype),
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
