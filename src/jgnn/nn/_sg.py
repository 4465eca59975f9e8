"""Simple graph convolution of Wu et al., "Simplifying Graph Convolutional Networks" (ICML 2019):
``X' = S^K X W + b`` with ``S = D^-1/2 (A + I) D^-1/2``.

``S`` is the GCN operator of :mod:`jgnn.nn._gcn_operator`; :func:`sg_propagate` is ``S^K X``,
the part PyG caches with ``cached=True``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.nn._gcn_operator import gcn_hop, gcn_operator
from jgnn.nn._linear import linear_params
from jgnn.sparse import Graph

__all__ = ["SGConv", "sg_conv", "sg_propagate"]


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
