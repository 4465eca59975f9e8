"""Graph convolution of Kipf & Welling, "Semi-Supervised Classification with Graph
Convolutional Networks" (ICLR 2017): ``X' = D^-1/2 (A + I) D^-1/2 X W + b``.

The math is two pure functions, :func:`gcn_norm` (symmetric normalisation, computed once and
passed in when the graph does not change) and :func:`gcn_conv`; :class:`GCNConv` only owns the
parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from jgnn.graph import num_nodes as _num_nodes
from jgnn.message_passing import propagate
from jgnn.ops import segment_sum
from jgnn.sparse import SparseTensor

__all__ = ["gcn_norm", "gcn_conv", "GCNConv"]


def gcn_norm(
    graph: jraph.GraphsTuple,
    edge_weight: jax.Array | None = None,
    *,
    num_nodes: int | None = None,
    add_self_loops: bool = True,
    improved: bool = False,
    dtype: jnp.dtype = jnp.float32,
) -> jraph.GraphsTuple:
    """Returns ``graph`` with self loops appended and ``edges`` set to GCN edge weights.

    The weight of edge ``j -> i`` is ``w_ji / sqrt(deg(j) deg(i))`` where ``deg`` is the weighted
    in-degree (self loop included, weight 1, or 2 when ``improved``), as in PyG's ``gcn_norm``.
    Jittable: one self loop is appended per node whatever the graph holds, so call
    ``jgnn.graph.remove_self_loops`` first on graphs that already have loops. Padding nodes get
    their own loops and stay disconnected from real nodes.

    Args:
      graph: graph with ``E`` edges; ``nodes`` fixes the node count unless ``num_nodes`` is given.
      edge_weight: optional ``[E]`` edge weights (default ones).
      num_nodes: static node count when ``graph.nodes`` is None.
      add_self_loops: append one loop per node.
      improved: self loops weigh 2 (the paper's ``A + 2I`` variant).
      dtype: dtype of the returned weights.

    Returns:
      A GraphsTuple with ``E + N`` edges (``E`` without self loops) whose ``edges`` are the
      ``[E + N]`` normalised weights; ``nodes``, ``globals`` untouched.

    Examples:
      >>> import jax.numpy as jnp, jgnn
      >>> g = jgnn.from_edge_index(jnp.array([[0, 1], [1, 0]]), 2, nodes=jnp.ones((2, 3)))
      >>> gcn_norm(g).edges.shape
      (4,)
    """
    n = _num_nodes(graph) if num_nodes is None else num_nodes
    senders, receivers = graph.senders, graph.receivers
    num_edges = senders.shape[0]
    if edge_weight is None:
        edge_weight = jnp.ones((num_edges,), dtype)
    elif edge_weight.shape != (num_edges,):
        raise ValueError(
            f"edge_weight must have shape ({num_edges},) to match the graph's {num_edges} edges, "
            f"got {edge_weight.shape}"
        )
    edge_weight = edge_weight.astype(dtype)
    n_edge = graph.n_edge
    if add_self_loops:
        loops = jnp.arange(n, dtype=senders.dtype)
        senders = jnp.concatenate([senders, loops])
        receivers = jnp.concatenate([receivers, loops])
        fill = jnp.full((n,), 2.0 if improved else 1.0, dtype)
        edge_weight = jnp.concatenate([edge_weight, fill])
        n_edge = graph.n_edge + graph.n_node
    deg = segment_sum(edge_weight, receivers, n)
    inv_sqrt = jnp.where(deg > 0, jax.lax.rsqrt(jnp.where(deg > 0, deg, 1.0)), 0.0)
    weight = inv_sqrt[senders] * edge_weight * inv_sqrt[receivers]
    return graph._replace(senders=senders, receivers=receivers, edges=weight, n_edge=n_edge)


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


def _gcn_conv_sparse(
    adj_t: SparseTensor, x: jax.Array, kernel: jax.Array, bias: jax.Array | None, fill: float
) -> jax.Array:
    """GCN on an un-normalised ``adj_t`` without changing its pattern (jittable).

    ``D^-1/2 (A + fill I) D^-1/2 H = D^-1/2 A D^-1/2 H + fill D^-1 H`` with ``D`` the row sums of
    ``A`` plus ``fill``: the self loops are applied as a dense term instead of being inserted
    into the sparse pattern, so the product stays one fused SpMM. Like the edge-list path, it
    assumes ``adj_t`` holds no self loops.
    """
    h = x @ kernel
    row, col, value = adj_t.coo()
    n = adj_t.sparse_sizes()[0]
    w = jnp.ones(row.shape, h.dtype) if value is None else value.astype(h.dtype)
    deg = segment_sum(w, row, n) + fill
    inv_sqrt = jax.lax.rsqrt(deg)
    out = propagate(adj_t.set_value(inv_sqrt[row] * w * inv_sqrt[col]), h)
    out = out + (fill * inv_sqrt * inv_sqrt)[:, None] * h
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
        if isinstance(graph, SparseTensor):
            if edge_weight is not None:
                graph = graph.set_value(edge_weight)
            if self.normalize:
                return _gcn_conv_sparse(graph, x, kernel, bias, 2.0 if self.improved else 1.0)
            return gcn_conv(graph, x, kernel, bias)
        if self.normalize:
            graph = gcn_norm(graph, edge_weight, num_nodes=x.shape[0], improved=self.improved)
        elif edge_weight is not None:
            graph = graph._replace(edges=edge_weight)
        elif graph.edges is None:
            graph = graph._replace(edges=jnp.ones(graph.senders.shape, dtype))
        return gcn_conv(graph, x, kernel, bias)
