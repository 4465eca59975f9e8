"""Edge convolution of Wang et al., "Dynamic Graph CNN for Learning on Point Clouds" (ACM TOG
2019): ``x'_i = max_{j -> i} h([x_i, x_j - x_i])``.

The math is :func:`edge_conv`, which takes the edge network ``h`` as a callable;
:class:`EdgeConv` owns ``h``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.message_passing import Edges, propagate
from jgnn.nn._features import NodeFeatures, split_x
from jgnn.nn._neighborhood import check_aggregate
from jgnn.sparse import Graph

__all__ = ["EdgeConv", "edge_conv"]

_AGGREGATES = ("max", "mean", "sum", "min")

EdgeNet = Callable[..., jax.Array]


def edge_conv(graph: Graph, x: NodeFeatures, nn: EdgeNet, *, aggr: str = "max") -> jax.Array:
    """One EdgeConv layer as a pure function: ``aggr_{j -> i} nn([x_i, x_j - x_i])``.

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t`` (read through
        its COO view; its values are ignored).
      x: node features ``[N, F]``, or ``(x_src [N_src, F], x_dst [N_dst, F])``.
      nn: the edge network ``[E, 2F] -> [E, F_out]``.
      aggr: ``"max"`` (the paper), ``"mean"``, ``"sum"`` (alias ``"add"``) or ``"min"``.

    Returns:
      ``[N_dst, F_out]``; nodes without incoming edges get 0.
    """
    aggr = check_aggregate(aggr, _AGGREGATES, "edge_conv")
    x_src, x_dst, bipartite = split_x(x, "edge_conv")
    if x_src.shape[-1] != x_dst.shape[-1]:
        raise ValueError(
            f"edge_conv: x_src and x_dst need the same feature size for x_j - x_i, got "
            f"{x_src.shape[-1]} and {x_dst.shape[-1]}"
        )

    def message(edges: Edges) -> jax.Array:
        x_i = edges.x_i
        return nn(jnp.concatenate([x_i, edges.x_j - x_i], axis=-1))

    return propagate(graph, (x_src, x_dst) if bipartite else x_src, message=message, aggregate=aggr)


class EdgeConv(nnx.Module):
    """Edge convolution (Wang et al., DGCNN, ACM TOG 2019), PyG's ``EdgeConv``.

    ``x'_i = max_{j in N(i)} h([x_i, x_j - x_i])`` for a given graph: the dynamic k-NN graph
    of DGCNN is built outside the layer (pass the graph you want). ``h`` runs once per edge,
    so every graph form uses per-edge messages (a ``SparseTensor`` ``adj_t`` is read through
    its COO view). Departure from the paper: ``aggr`` may also be mean, sum or min (PyG's).

    Padding: padding edges only reach padding nodes, but ``h`` runs on them too; if ``h``
    normalises over its batch (BatchNorm), pass it an edge mask through the call's keyword
    arguments.

    Shapes:
      - input: a GraphsTuple, edge index ``[2, E]`` or ``SparseTensor`` ``adj_t``; node
        features ``[N, F]`` or ``([N_src, F], [N_dst, F])``.
      - output: ``[N_dst, F_out]``, what ``h`` returns per edge.

    Args:
      nn: the edge network ``[E, 2F] -> [E, F_out]``, e.g.
        ``jgnn.nn.MLP([2 * F, H, F_out], rngs=rngs)``; extra keyword arguments of a call are
        forwarded to it.
      aggr: ``"max"``, ``"mean"``, ``"sum"`` (alias ``"add"``) or ``"min"``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from jgnn.nn import MLP
      >>> conv = EdgeConv(MLP([8, 16, 2], rngs=nnx.Rngs(0)))
      >>> conv(jnp.array([[0, 1], [1, 2]]), jnp.ones((3, 4))).shape
      (3, 2)
    """

    def __init__(self, nn: EdgeNet, *, aggr: str = "max"):
        if not callable(nn):
            raise TypeError(f"nn must be callable (e.g. a jgnn.nn.MLP), got {type(nn).__name__}")
        self.nn = nn
        self.aggr = check_aggregate(aggr, _AGGREGATES, "EdgeConv")

    def __call__(self, graph: Graph, x: NodeFeatures, **nn_kwargs: Any) -> jax.Array:
        return edge_conv(graph, x, lambda h: self.nn(h, **nn_kwargs), aggr=self.aggr)
