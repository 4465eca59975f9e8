"""Graph convolution of Kipf & Welling, "Semi-Supervised Classification with Graph
Convolutional Networks" (ICLR 2017): ``X' = D^-1/2 (A + I) D^-1/2 X W + b``.

The math is :func:`jgnn.sparse.gcn_norm` (symmetric normalisation, computed once and passed in
when the graph does not change; re-exported as ``jgnn.nn.gcn_norm``) and :func:`gcn_conv`;
:class:`GCNConv` only owns the parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from jgnn.message_passing import propagate
from jgnn.nn._gcn_operator import gcn_hop, gcn_operator
from jgnn.sparse import SparseTensor, as_graph, gcn_norm

__all__ = ["gcn_conv", "GCNConv"]


def gcn_conv(
    graph: jraph.GraphsTuple | SparseTensor,
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
) -> jax.Array:
    """One GCN propagation over an already normalised graph: ``sum_j w_ji (x_j W) + b``.

    Args:
      graph: a GraphsTuple from :func:`gcn_norm` (``edges`` = ``[E]`` weights), or a
        normalised ``SparseTensor`` ``adj_t`` (e.g. ``jgnn.sparse.gcn_norm(adj_t)``), which takes
        the fused sparse-product path.
      x: node features ``[N, F_in]``, dense or a ``SparseTensor``.
      kernel: ``[F_in, F_out]``.
      bias: optional ``[F_out]``.

    Returns:
      ``[N, F_out]``.
    """
    h = x @ kernel
    if isinstance(graph, SparseTensor):
        out = propagate(graph, h)
    else:
        if graph.edges is None:
            raise ValueError("gcn_conv needs a graph from gcn_norm (edges = normalised weights)")
        out = propagate(graph, h, edge_attr=graph.edges.astype(h.dtype))
    return out if bias is None else out + bias


class GCNConv(nnx.Module):
    """Graph convolution layer (Kipf & Welling, 2017).

    Shapes:
      - input: a GraphsTuple (or a ``SparseTensor`` ``adj_t``) with ``N`` nodes and ``E``
        edges, node features ``[N, in_features]``, optional edge weights ``[E]`` (in the
        graph's edge order; the COO order for a SparseTensor).
      - output: ``[N, out_features]``.

    With ``normalize=True`` (default) the layer runs :func:`gcn_norm` on every call. For a fixed
    graph, normalise once outside (``gcn_norm(graph)``) and build the layer with
    ``normalize=False``: the graph's ``edges`` are then used as the edge weights, which is what
    PyG's ``cached=True`` amounts to under ``jit``. A ``SparseTensor`` ``adj_t`` takes the fused
    sparse-product path (no ``[E, F]`` messages); normalised on the fly, its self loops are
    applied as a dense term so the pattern never changes and the layer stays jittable.
    Both paths assume the input graph has no self loops (remove them first if it does).
    Node features may themselves be a ``SparseTensor`` ``[N, in_features]`` (bag-of-words
    features such as Planetoid's are ~1% dense): ``x @ W`` is then a sparse product whose
    gradient w.r.t. ``W`` uses the stored transpose.

    Args:
      in_features: input feature size.
      out_features: output feature size.
      use_bias: add a learnable bias (after aggregation, as in PyG).
      normalize: apply the symmetric normalisation with self loops.
      improved: self loops weigh 2.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: random number generators for initialisation (keyword-only).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        use_bias: bool = True,
        normalize: bool = True,
        improved: bool = False,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_features = in_features
        self.out_features = out_features
        self.normalize = normalize
        self.improved = improved
        self.dtype = dtype
        init = nnx.initializers.glorot_uniform()
        self.kernel = nnx.Param(init(rngs.params(), (in_features, out_features), param_dtype))
        self.bias = nnx.Param(jnp.zeros((out_features,), param_dtype)) if use_bias else None

    def __call__(
        self,
        graph: jraph.GraphsTuple | SparseTensor,
        x: jax.Array | SparseTensor,
        edge_weight: jax.Array | None = None,
    ) -> jax.Array:
        if len(x.shape) != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"GCNConv expects node features [N, {self.in_features}], got {tuple(x.shape)}"
            )
        dtype = self.dtype or x.dtype or self.kernel[...].dtype
        kernel = self.kernel[...].astype(dtype)
        bias = None if self.bias is None else self.bias[...].astype(dtype)
        if not isinstance(x, SparseTensor):
            x = x.astype(dtype)
        graph = as_graph(graph, "GCNConv")
        if isinstance(graph, SparseTensor):
            if edge_weight is not None:
                graph = graph.set_value(edge_weight)
            if self.normalize:
                op = gcn_operator(graph, num_nodes=x.shape[0], improved=self.improved)
                out = gcn_hop(op, x @ kernel)
                return out if bias is None else out + bias
            return gcn_conv(graph, x, kernel, bias)
        if self.normalize:
            graph = gcn_norm(graph, edge_weight, num_nodes=x.shape[0], improved=self.improved)
        elif edge_weight is not None:
            graph = graph._replace(edges=edge_weight)
        elif graph.edges is None:
            graph = graph._replace(edges=jnp.ones(graph.senders.shape, dtype))
        return gcn_conv(graph, x, kernel, bias)
