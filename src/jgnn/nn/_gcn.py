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
from jgnn.ops import segment_sum

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
    graph: jraph.GraphsTuple,
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
) -> jax.Array:
    """One GCN propagation over a graph already normalised by :func:`gcn_norm`.

    Args:
      graph: normalised graph; ``edges`` holds the ``[E]`` edge weights.
      x: node features ``[N, F_in]``.
      kernel: ``[F_in, F_out]``.
      bias: optional ``[F_out]``.

    Returns:
      ``[N, F_out]`` = ``sum_j w_ji (x_j W) + b``.
    """
    if graph.edges is None:
        raise ValueError("gcn_conv needs a graph from gcn_norm (edges = normalised weights)")
    n = x.shape[0]
    h = x @ kernel
    out = segment_sum(h[graph.senders] * graph.edges[:, None].astype(h.dtype), graph.receivers, n)
    if bias is not None:
        out = out + bias
    return out


class GCNConv(nnx.Module):
    """Graph convolution layer (Kipf & Welling, 2017).

    Shapes:
      - input: graph with ``N`` nodes and ``E`` edges, node features ``[N, in_features]``,
        optional edge weights ``[E]``.
      - output: ``[N, out_features]``.

    With ``normalize=True`` (default) the layer runs :func:`gcn_norm` on every call. For a fixed
    graph, normalise once outside (``gcn_norm(graph)``) and build the layer with
    ``normalize=False``: the graph's ``edges`` are then used as the edge weights, which is what
    PyG's ``cached=True`` amounts to under ``jit``.

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
        self, graph: jraph.GraphsTuple, x: jax.Array, edge_weight: jax.Array | None = None
    ) -> jax.Array:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"GCNConv expects node features [N, {self.in_features}], got {tuple(x.shape)}"
            )
        if self.normalize:
            graph = gcn_norm(graph, edge_weight, num_nodes=x.shape[0], improved=self.improved)
        elif edge_weight is not None:
            graph = graph._replace(edges=edge_weight)
        elif graph.edges is None:
            graph = graph._replace(edges=jnp.ones(graph.senders.shape, jnp.float32))
        dtype = self.dtype or x.dtype
        kernel = self.kernel[...].astype(dtype)
        bias = None if self.bias is None else self.bias[...].astype(dtype)
        return gcn_conv(graph, x.astype(dtype), kernel, bias)
