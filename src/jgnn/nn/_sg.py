"""Simple graph convolution of Wu et al., "Simplifying Graph Convolutional Networks" (ICML 2019):
``X' = S^K X W + b`` with ``S = D^-1/2 (A + I) D^-1/2``.

The file also holds the GCN propagation operator that APPNP reuses: :func:`gcn_operator`
builds ``S`` once per call (edge weights on the graph's pattern, plus the self loops as a
dense per-node term on a SparseTensor, so the pattern never changes and the fused
sparse-product path stays jittable) and :func:`gcn_hop` applies it. :func:`sg_propagate` is
``S^K X``, the part PyG caches with ``cached=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from jgnn.graph import from_edge_index
from jgnn.message_passing import propagate
from jgnn.nn._gcn import gcn_norm
from jgnn.nn._graph_conv import Graph, linear_params
from jgnn.ops import segment_sum
from jgnn.sparse import SparseTensor

__all__ = ["SGConv", "sg_conv", "sg_propagate"]

Dropout = Callable[[jax.Array], jax.Array]


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
) -> GCNOperator:
    """The (normalised) GCN propagation operator of ``graph`` (jittable).

    With ``normalize``, ``S = D^-1/2 (A + I) D^-1/2`` (``A`` without ``I`` when
    ``add_self_loops`` is False; ``D`` the weighted in-degrees, zero-degree nodes get 0). On
    the edge list this is :func:`jgnn.nn.gcn_norm` (loops appended as edges); on a
    ``SparseTensor`` ``adj_t`` the loops become ``self_weight = 1 / deg`` so the pattern is
    unchanged. Both assume the graph holds no self loops. Without ``normalize`` the weights
    are ``edge_weight``, else the SparseTensor's values or the GraphsTuple's ``edges`` (e.g.
    from ``gcn_norm``), else ones.
    """
    f32 = jnp.float32
    if isinstance(graph, SparseTensor):
        m, n = graph.sparse_sizes()
        if m != n:
            raise ValueError(f"the GCN operator needs a square adj_t, got {m} x {n}")
        row, col, value = graph.coo()
        w = value if edge_weight is None else edge_weight
        w = jnp.ones(row.shape, f32) if w is None else jnp.asarray(w).reshape(-1).astype(f32)
        if not normalize:
            return GCNOperator(graph, w, None)
        fill = 1.0 if add_self_loops else 0.0
        deg = segment_sum(w, row, n) + fill
        inv_sqrt = jnp.where(deg > 0, jax.lax.rsqrt(jnp.where(deg > 0, deg, 1.0)), 0.0)
        loops = fill * inv_sqrt * inv_sqrt if add_self_loops else None
        return GCNOperator(graph, inv_sqrt[row] * w * inv_sqrt[col], loops)
    if not isinstance(graph, jraph.GraphsTuple):
        graph = from_edge_index(graph, num_nodes)
    if normalize:
        graph = gcn_norm(graph, edge_weight, num_nodes=num_nodes, add_self_loops=add_self_loops)
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


def sg_propagate(
    graph: Graph,
    x: jax.Array,
    *,
    k: int = 1,
    edge_weight: jax.Array | None = None,
    normalize: bool = True,
    add_self_loops: bool = True,
) -> jax.Array:
    """``S^K x``: ``k`` GCN propagations without weights (the features SGC trains on).

    For a fixed graph compute this once, outside the training step, and train
    ``SGConv(..., k=0)`` (a linear layer) on the result: that is PyG's ``cached=True``.

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a square SparseTensor ``adj_t``
        (fused sparse products). Assumed to hold no self loops.
      x: node features ``[N, *F]``.
      k: number of hops ``K >= 0``.
      edge_weight: optional ``[E]`` edge weights (a SparseTensor's values by default).
      normalize: apply the symmetric normalisation; False uses the weights as given (a graph
        already normalised by :func:`jgnn.nn.gcn_norm` or :func:`jgnn.sparse.gcn_norm`).
      add_self_loops: add ``I`` before normalising.

    Returns:
      ``[N, *F]``.
    """
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative int, got {k!r}")
    if k == 0:
        return x
    op = gcn_operator(
        graph,
        edge_weight,
        num_nodes=x.shape[0],
        normalize=normalize,
        add_self_loops=add_self_loops,
    )
    for _ in range(k):
        x = gcn_hop(op, x)
    return x


def sg_conv(
    graph: Graph,
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    k: int = 1,
    edge_weight: jax.Array | None = None,
    normalize: bool = True,
    add_self_loops: bool = True,
) -> jax.Array:
    """One SGC layer as a pure function: ``S^K x W + b`` (see :func:`sg_propagate`).

    ``W`` is applied before the hops when it shrinks the features (the same result up to
    rounding, ``K`` products on ``F_out`` columns instead of ``F_in``).

    Args:
      graph: see :func:`sg_propagate`.
      x: ``[N, F_in]``.
      kernel: ``[F_in, F_out]``.
      bias: optional ``[F_out]``.
      k, edge_weight, normalize, add_self_loops: see :func:`sg_propagate`.

    Returns:
      ``[N, F_out]``.
    """
    first = kernel.shape[1] < kernel.shape[0]
    h = x @ kernel if first else x
    h = sg_propagate(
        graph, h, k=k, edge_weight=edge_weight, normalize=normalize, add_self_loops=add_self_loops
    )
    out = h if first else h @ kernel
    return out if bias is None else out + bias


class SGConv(nnx.Module):
    """Simple graph convolution (Wu et al., ICML 2019), in the layout of PyG's ``SGConv``.

    ``X' = (D^-1/2 (A + I) D^-1/2)^K X W + b``: ``K`` weightless GCN propagations and one
    linear map ``lin`` (PyG's name). Departures: PyG caches ``S^K X`` inside the module with
    ``cached=True``; here compute :func:`sg_propagate` once outside and use ``k=0``. On a
    ``SparseTensor`` ``adj_t`` each hop is one fused sparse product and the self loops are a
    dense term (the pattern never changes, so it stays jittable). Both paths assume the graph
    holds no self loops (PyG keeps existing loops' weights; remove them first).

    Shapes:
      - input: a GraphsTuple, edge index ``[2, E]`` or square ``SparseTensor`` ``adj_t``; node
        features ``[N, in_features]``; optional edge weights ``[E]`` (COO order for a
        SparseTensor).
      - output: ``[N, out_features]``.

    Args:
      in_features: input size.
      out_features: output size.
      k: number of hops ``K``.
      use_bias: learn an additive bias.
      normalize: normalise on every call (False: the graph carries normalised weights).
      add_self_loops: add ``I`` before normalising.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: random number generators for initialisation (keyword-only).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> conv = SGConv(4, 2, k=2, rngs=nnx.Rngs(0))
      >>> conv(jnp.array([[0, 1], [1, 2]]), jnp.ones((3, 4))).shape
      (3, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        k: int = 1,
        use_bias: bool = True,
        normalize: bool = True,
        add_self_loops: bool = True,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"SGConv: k must be a non-negative int, got {k!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.k = k
        self.normalize = normalize
        self.add_self_loops = add_self_loops
        self.dtype = dtype
        self.lin = nnx.Linear(
            in_features, out_features, use_bias=use_bias, param_dtype=param_dtype, rngs=rngs
        )

    def __call__(
        self, graph: Graph, x: jax.Array, edge_weight: jax.Array | None = None
    ) -> jax.Array:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"SGConv expects node features [N, {self.in_features}], got {tuple(x.shape)}"
            )
        dtype = self.dtype or x.dtype
        kernel, bias = linear_params(self.lin, dtype)
        return sg_conv(
            graph,
            x.astype(dtype),
            kernel,
            bias,
            k=self.k,
            edge_weight=edge_weight,
            normalize=self.normalize,
            add_self_loops=self.add_self_loops,
        )
