"""Graph convolution of Morris et al., "Weisfeiler and Leman Go Neural: Higher-order Graph
Neural Networks" (AAAI 2019): ``x'_i = W_root x_i + W_rel aggr_{j -> i}(e_ji x_j) + b``.

The neighbourhood aggregation it shares with SAGEConv and EdgeConv is in
:mod:`jgnn.nn._neighborhood`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.nn._features import NodeFeatures, as_pair, prepare_x, split_x
from jgnn.nn._linear import add_root_and_bias, linear_params
from jgnn.nn._neighborhood import aggregate_linear, check_aggregate
from jgnn.sparse import Graph

__all__ = ["GraphConv", "graph_conv"]


# --------------------------------------------------------------------------------------------
# Shared helpers (also used by _sage.py and _edge_conv.py)
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# GraphConv
# --------------------------------------------------------------------------------------------

_AGGREGATES = ("sum", "mean", "max")


def graph_conv(
    graph: Graph,
    x: NodeFeatures,
    kernel_rel: jax.Array,
    kernel_root: jax.Array,
    bias: jax.Array | None = None,
    *,
    edge_weight: jax.Array | None = None,
    aggr: str = "sum",
) -> jax.Array:
    """One GraphConv layer as a pure function (see :class:`GraphConv` for the maths).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t`` (its stored
        values, if any, are the edge weights unless ``edge_weight`` is given).
      x: node features ``[N, F]``, or ``(x_src [N_src, F_src], x_dst [N_dst, F_dst])``.
      kernel_rel: ``[F_src, F_out]`` applied to the aggregated neighbours.
      kernel_root: ``[F_dst, F_out]`` applied to the node itself.
      bias: optional ``[F_out]``.
      edge_weight: optional ``[E]`` edge weights in the graph's edge order.
      aggr: ``"sum"`` (alias ``"add"``), ``"mean"`` or ``"max"``.

    Returns:
      ``[N_dst, F_out]``.
    """
    aggr = check_aggregate(aggr, _AGGREGATES, "graph_conv")
    x_src, x_dst, bipartite = split_x(x, "graph_conv")
    out = aggregate_linear(
        graph,
        x_src,
        x_dst,
        kernel_rel,
        bipartite=bipartite,
        aggregate=aggr,
        edge_weight=edge_weight,
    )
    return add_root_and_bias(out, x_dst, kernel_root, bias)


class GraphConv(nnx.Module):
    """Graph convolution of Morris et al. (AAAI 2019), the ``k = 1`` layer of the k-GNN.

    ``x'_i = W_root x_i + W_rel aggr_{j in N(i)} e_ji x_j + b`` with edge weights ``e_ji``
    (default 1) and ``aggr`` one of sum (the paper), mean or max, as in PyG's ``GraphConv``.
    The bias belongs to ``lin_rel`` as in PyG. Departures from the paper: the choice of
    aggregate and the edge weights (PyG's); for sum/mean with ``out_features < in_features``
    the neighbours are projected before aggregation (exact up to rounding, cheaper).

    A ``SparseTensor`` ``adj_t`` takes the fused sparse-product path for every ``aggr``; its
    stored values are the edge weights (as in PyG) unless ``edge_weight`` is passed. On a
    GraphsTuple, ``graph.edges`` is not read: pass edge weights explicitly.

    Shapes:
      - input: a GraphsTuple, edge index ``[2, E]`` or ``SparseTensor`` ``adj_t`` with ``E``
        edges; node features ``[N, in_features]`` or ``([N_src, F_src], [N_dst, F_dst])``;
        optional edge weights ``[E]`` (COO order for a SparseTensor).
      - output: ``[N_dst, out_features]``.

    Args:
      in_features: input size, or ``(F_src, F_dst)`` for bipartite inputs.
      out_features: output size.
      aggr: ``"sum"`` (alias ``"add"``), ``"mean"`` or ``"max"``.
      use_bias: learn an additive bias.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: random number generators for initialisation (keyword-only).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> conv = GraphConv(4, 2, aggr="mean", rngs=nnx.Rngs(0))
      >>> conv(jnp.array([[0, 1], [1, 2]]), jnp.ones((3, 4))).shape
      (3, 2)
    """

    def __init__(
        self,
        in_features: int | tuple[int, int],
        out_features: int,
        *,
        aggr: str = "sum",
        use_bias: bool = True,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.aggr = check_aggregate(aggr, _AGGREGATES, "GraphConv")
        self.in_features = as_pair(in_features)
        self.out_features = out_features
        self.dtype = dtype
        in_src, in_dst = self.in_features
        self.lin_rel = nnx.Linear(
            in_src, out_features, use_bias=use_bias, param_dtype=param_dtype, rngs=rngs
        )
        self.lin_root = nnx.Linear(
            in_dst, out_features, use_bias=False, param_dtype=param_dtype, rngs=rngs
        )

    def __call__(
        self, graph: Graph, x: NodeFeatures, edge_weight: jax.Array | None = None
    ) -> jax.Array:
        x, dtype = prepare_x(x, self.in_features, self.dtype, "GraphConv")
        kernel_rel, bias = linear_params(self.lin_rel, dtype)
        kernel_root, _ = linear_params(self.lin_root, dtype)
        return graph_conv(
            graph,
            x,
            kernel_rel,
            kernel_root,
            bias,
            edge_weight=edge_weight,
            aggr=self.aggr,
        )
