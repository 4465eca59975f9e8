"""Graph transformer of Shi et al., "Masked Label Prediction: Unified Message Passing Model
for Semi-Supervised Classification" (IJCAI 2021).

``x'_i = W_1 x_i + sum_{j in N(i)} alpha_ij (W_2 x_j + W_6 e_ji)`` with scaled dot-product
attention ``alpha_ij = softmax_j((W_3 x_i) . (W_4 x_j + W_6 e_ji) / sqrt(C))`` per head, and
an optional gate ``beta`` between the root term and the aggregate. The softmax, attention
dropout, weighted sum and head merge are :func:`jgnn.nn._gat.attention_aggregate`.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.nn._attention import (
    attention_aggregate,
    attention_result,
    project_heads,
    resolve_edge_attr,
)
from jgnn.nn._dropout import Dropout, dropout_fn
from jgnn.nn._features import NodeFeatures, as_pair, prepare_x, split_x
from jgnn.nn._linear import Linear, apply_linear, kernel_of, linear, linear_params
from jgnn.ops import gsddmm
from jgnn.sparse import Graph, as_graph

__all__ = ["TransformerConv", "transformer_conv"]


def transformer_conv(
    graph: Graph,
    x: NodeFeatures,
    lin_query: Linear,
    lin_key: Linear,
    lin_value: Linear,
    *,
    heads: int,
    edge_attr: jax.Array | None = None,
    lin_edge: jax.Array | None = None,
    lin_skip: Linear | None = None,
    lin_beta: jax.Array | None = None,
    concat: bool = True,
    dropout: Dropout | None = None,
    return_attention: bool = False,
) -> jax.Array | tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """One TransformerConv layer as a pure function (see :class:`TransformerConv`).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``.
      x: node features ``[N, F]``, or ``(x_src [N_src, F_src], x_dst [N_dst, F_dst])``.
      lin_query: ``(kernel [F_dst, H * C], bias | None)``, applied to targets.
      lin_key: ``(kernel [F_src, H * C], bias | None)``, applied to sources.
      lin_value: ``(kernel [F_src, H * C], bias | None)``, applied to sources.
      heads: number of heads ``H``.
      edge_attr: ``[E, D]`` edge features (used only with ``lin_edge``).
      lin_edge: ``[D, H * C]``, added to keys and values.
      lin_skip: ``(kernel [F_dst, H * C or C], bias | None)`` root weight, or None.
      lin_beta: ``[3 * (H * C or C), 1]`` gate between root and aggregate, or None.
      concat: concatenate heads, else average them.
      dropout: attention dropout, applied to the normalised coefficients.
      return_attention: also return ``(edge_index [2, E], alpha [E, H])``.

    Returns:
      ``[N_dst, H * C]`` or ``[N_dst, C]`` (and the attention when asked).
    """
    x_src, x_dst, _ = split_x(x, "transformer_conv")
    channels = lin_query[0].shape[1] // heads
    query = project_heads(x_dst, lin_query, heads, channels)
    key = project_heads(x_src, lin_key, heads, channels)
    value = project_heads(x_src, lin_value, heads, channels)
    counts = (x_src.shape[0], x_dst.shape[0])
    g = as_graph(graph, "transformer_conv")
    scores = gsddmm(g, "dot", key, query, num_nodes=counts)[..., 0]  # [E, H]
    h_edge = None
    if lin_edge is not None:
        if edge_attr is None:
            raise ValueError("transformer_conv: lin_edge is set but edge_attr is None")
        h_edge = (edge_attr @ lin_edge).reshape(-1, heads, channels)
        edge_scores = gsddmm(
            g, "dot", h_edge, query, lhs_target="e", rhs_target="v", num_nodes=counts
        )
        scores = scores + edge_scores[..., 0]
    logits = scores / jnp.asarray(math.sqrt(channels), scores.dtype)
    out, alpha = attention_aggregate(
        g,
        logits,
        value,
        num_nodes=counts,
        edge_values=h_edge,
        dropout=dropout,
        concat=concat,
    )
    if lin_skip is not None:
        root = apply_linear(x_dst, *lin_skip)
        if lin_beta is not None:
            gate = jax.nn.sigmoid(jnp.concatenate([out, root, out - root], axis=-1) @ lin_beta)
            out = gate * root + (1 - gate) * out
        else:
            out = out + root
    return attention_result(out, alpha, g, return_attention)


class TransformerConv(nnx.Module):
    """Graph transformer layer (Shi et al., "Masked Label Prediction", IJCAI 2021).

    ``x'_i = W_1 x_i + sum_{j in N(i)} alpha_ij (W_2 x_j + W_6 e_ji)`` with
    ``alpha_ij = softmax_j((W_3 x_i) . (W_4 x_j + W_6 e_ji) / sqrt(C))`` per head, heads
    concatenated or averaged. With ``beta=True`` the root term is gated:
    ``x'_i = b_i W_1 x_i + (1 - b_i) m_i`` with
    ``b_i = sigmoid(w_5 . [m_i || W_1 x_i || m_i - W_1 x_i])``, where ``m_i`` is the
    aggregate. Like PyG (and the paper) no self loops are added; ``root_weight`` plays their
    role. A SparseTensor ``adj_t`` is read through its COO view (attention depends on both
    endpoints, so no fused product applies) and gives the same result as the edge list.

    Parameters mirror PyG: ``lin_query``, ``lin_key``, ``lin_value``, ``lin_edge`` (no bias),
    ``lin_skip``, ``lin_beta`` (no bias); each ``nnx.Linear`` kernel is the transpose of
    torch's weight.

    Shapes:
      - input: a GraphsTuple / edge index ``[2, E]`` / SparseTensor ``adj_t``, node features
        ``[N, in_features]`` (or ``(x_src, x_dst)``), edge features ``[E, edge_dim]``.
      - output: ``[N, heads * out_features]`` (``concat``) or ``[N, out_features]``; with
        ``return_attention`` also ``(edge_index [2, E], alpha [E, heads])``.

    Args:
      in_features: input size, or ``(in_src, in_dst)``.
      out_features: channels per head ``C``.
      heads: number of attention heads ``H``.
      concat: concatenate the heads (else average).
      beta: gate the root term (only with ``root_weight``).
      dropout: dropout rate on the normalised attention coefficients (training only).
      edge_dim: edge feature size, or None to ignore edge features.
      bias: biases in the query/key/value/skip projections.
      root_weight: add the projected target features ``W_1 x_i``.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: parameter initialisation and dropout generators (keyword-only).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> conv = TransformerConv(4, 8, heads=2, beta=True, rngs=nnx.Rngs(0))
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
        beta: bool = False,
        dropout: float = 0.0,
        edge_dim: int | None = None,
        bias: bool = True,
        root_weight: bool = True,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_features = in_features
        self.out_features = out_features
        self.heads = heads
        self.concat = concat
        self.beta = beta and root_weight
        self.root_weight = root_weight
        self.edge_dim = edge_dim
        self.dtype = dtype
        hc = heads * out_features
        total = hc if concat else out_features
        in_src, in_dst = as_pair(in_features)
        kw = dict(param_dtype=param_dtype, rngs=rngs, kernel_init=nnx.initializers.lecun_normal())
        self.lin_key = linear(in_src, hc, bias=bias, **kw)
        self.lin_query = linear(in_dst, hc, bias=bias, **kw)
        self.lin_value = linear(in_src, hc, bias=bias, **kw)
        self.lin_edge = None if edge_dim is None else linear(edge_dim, hc, bias=False, **kw)
        self.lin_skip = linear(in_dst, total, bias=bias, **kw) if root_weight else None
        self.lin_beta = linear(3 * total, 1, bias=False, **kw) if self.beta else None
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

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
        x, dtype = prepare_x(x, self.in_features, self.dtype, "TransformerConv")
        return transformer_conv(
            graph,
            x,
            linear_params(self.lin_query, dtype),
            linear_params(self.lin_key, dtype),
            linear_params(self.lin_value, dtype),
            heads=self.heads,
            edge_attr=resolve_edge_attr(graph, edge_attr, self.edge_dim, dtype, "TransformerConv"),
            lin_edge=kernel_of(self.lin_edge, dtype),
            lin_skip=None if self.lin_skip is None else linear_params(self.lin_skip, dtype),
            lin_beta=kernel_of(self.lin_beta, dtype),
            concat=self.concat,
            dropout=dropout_fn(self.dropout, deterministic),
            return_attention=return_attention,
        )
