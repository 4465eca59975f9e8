"""Chebyshev spectral graph convolution of Defferrard, Bresson & Vandergheynst, "Convolutional
Neural Networks on Graphs with Fast Localized Spectral Filtering" (NeurIPS 2016).

``X' = sum_{k<K} T_k(L~) X W_k + b`` with the scaled Laplacian ``L~ = 2 L / lambda_max - I``
and the Chebyshev recurrence ``T_0 X = X``, ``T_1 X = L~ X``, ``T_k X = 2 L~ T_{k-1} X -
T_{k-2} X``.

:func:`scaled_laplacian` writes ``L~`` as one weight per edge plus a diagonal, so applying it
is one message-passing step (a fused sparse product on a ``SparseTensor``) plus an elementwise
term and the graph's sparsity pattern never changes (jittable). :func:`cheb_conv` runs the
recurrence; :class:`ChebConv` only owns the parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from jgnn._numerics import safe_reciprocal
from jgnn.message_passing import propagate
from jgnn.segment import segment_sum
from jgnn.sparse import Graph, SparseTensor, endpoints, symmetric_norm

__all__ = ["ChebConv", "cheb_conv", "scaled_laplacian"]

NORMALIZATIONS = ("sym", "rw", None)


def _per_node_lambda(
    graph: Graph, lambda_max: float | jax.Array, num_nodes: int, dtype: jnp.dtype
) -> jax.Array:
    """``lambda_max`` as a scalar, or per node ``[N]`` when one value per graph is given."""
    lam = jnp.asarray(lambda_max, dtype)
    if lam.ndim == 0:
        return lam
    if lam.ndim != 1 or not isinstance(graph, jraph.GraphsTuple) or graph.n_node is None:
        raise ValueError(
            "lambda_max must be a scalar, or one value per graph [G] together with a "
            f"GraphsTuple that carries n_node; got shape {lam.shape} with "
            f"{type(graph).__name__}"
        )
    if lam.shape[0] != graph.n_node.shape[0]:
        raise ValueError(
            f"lambda_max has {lam.shape[0]} values but the graph batch holds "
            f"{graph.n_node.shape[0]} graphs (n_node)"
        )
    graph_of_node = jnp.repeat(
        jnp.arange(lam.shape[0]), graph.n_node, total_repeat_length=num_nodes
    )
    return lam[graph_of_node]


def scaled_laplacian(
    graph: Graph,
    edge_weight: jax.Array | None = None,
    *,
    num_nodes: int,
    normalization: str | None = "sym",
    lambda_max: float | jax.Array | None = None,
    dtype: jnp.dtype = jnp.float32,
) -> tuple[jax.Array, jax.Array]:
    """The scaled Laplacian ``L~ = 2 L / lambda_max - I`` as edge weights plus a diagonal.

    ``L~ x = propagate(graph, x, edge_attr=off) + diag[:, None] * x``. As in PyG's
    ``get_laplacian``, the adjacency ``A[j, i] = w_ji`` is read with degrees ``d_j = sum_i
    w_ji`` taken over each edge's *source* (out-degrees; the same as in-degrees on an undirected
    graph) and the graph's own self loops are dropped (here they get weight 0, which keeps the
    pattern and stays jittable):

    * ``"sym"``: ``L = I - D^-1/2 A D^-1/2``;
    * ``"rw"``: ``L = I - D^-1 A``;
    * ``None``: ``L = D - A``.

    Nodes without edges have degree 0 and no inf/nan (their normalised weights are 0).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``.
      edge_weight: optional ``[E]`` weights in the graph's edge order (default: ones, or the
        SparseTensor's values when it has some).
      num_nodes: static node count ``N``.
      normalization: ``"sym"``, ``"rw"`` or None.
      lambda_max: largest eigenvalue of ``L``: a scalar, or one value per graph ``[G]`` with a
        batched GraphsTuple. Default (PyG's rule): twice the largest entry of ``L`` over the
        whole input, which is exactly 2.0 for ``"sym"``/``"rw"`` with non-negative weights
        and ``2 max_j d_j`` (a Gershgorin bound) for ``None``.
      dtype: dtype of the returned weights.

    Returns:
      ``(off [E], diag [N])``: the off-diagonal entries of ``L~`` per edge (0 on self loops)
      and its diagonal.

    Raises:
      ValueError: an unknown ``normalization``, a badly shaped ``edge_weight`` or
        ``lambda_max``.

    Examples:
      >>> import jax.numpy as jnp
      >>> off, diag = scaled_laplacian(jnp.array([[0, 1], [1, 0]]), num_nodes=2)
      >>> off.tolist(), diag.tolist()
      ([-1.0, -1.0], [0.0, 0.0])
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    src, dst = endpoints(graph)
    num_edges = src.shape[0]
    if edge_weight is None and isinstance(graph, SparseTensor):
        edge_weight = graph.coo()[2]
    if edge_weight is None:
        edge_weight = jnp.ones((num_edges,), dtype)
    edge_weight = jnp.asarray(edge_weight)
    if edge_weight.shape not in ((num_edges,), (num_edges, 1)):
        raise ValueError(
            f"edge_weight must have shape ({num_edges},) to match the graph's {num_edges} edges, "
            f"got {edge_weight.shape}"
        )
    keep = src != dst
    w = jnp.where(keep, edge_weight.reshape(-1).astype(dtype), jnp.zeros((), dtype))
    if normalization == "sym":
        weight, _ = symmetric_norm(w, src, dst, num_nodes, degree_ids=src)
        lap_off = -weight
        lap_diag = jnp.ones((num_nodes,), dtype)
    elif normalization == "rw":
        lap_off = -(safe_reciprocal(segment_sum(w, src, num_nodes))[src] * w)
        lap_diag = jnp.ones((num_nodes,), dtype)
    else:
        lap_off = -w
        lap_diag = segment_sum(w, src, num_nodes)
    if lambda_max is None:
        masked = jnp.where(keep, lap_off, jnp.asarray(-jnp.inf, dtype))
        lam = 2.0 * jnp.max(jnp.concatenate([lap_diag, masked]))
    else:
        lam = _per_node_lambda(graph, lambda_max, num_nodes, dtype)
    scale = jnp.where(lam > 0, 2.0 / jnp.where(lam > 0, lam, 1.0), 0.0)
    edge_scale = scale[src] if scale.ndim else scale
    return lap_off * edge_scale, lap_diag * scale - 1.0


def _apply_laplacian(graph: Graph, x: jax.Array, off: jax.Array, diag: jax.Array) -> jax.Array:
    return propagate(graph, x, edge_attr=off) + diag[:, None] * x


def cheb_conv(
    graph: Graph,
    x: jax.Array,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    laplacian: tuple[jax.Array, jax.Array],
) -> jax.Array:
    """``sum_{k<K} T_k(L~) x W_k + b`` for a Laplacian from :func:`scaled_laplacian`.

    Each ``L~`` product is one :func:`jgnn.message_passing.propagate` call with a scalar weight
    per edge, a fused sparse product on a SparseTensor ``adj_t``. The ``K`` Chebyshev terms are
    concatenated and projected with one matrix product.

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``.
      x: node features ``[N, F_in]``.
      kernel: ``[K, F_in, F_out]``.
      bias: optional ``[F_out]``.
      laplacian: ``(off [E], diag [N])`` in ``x``'s dtype.

    Returns:
      ``[N, F_out]``.
    """
    off, diag = laplacian
    order, f_in, f_out = kernel.shape
    terms = [x]
    if order > 1:
        terms.append(_apply_laplacian(graph, x, off, diag))
    for _ in range(2, order):
        terms.append(2.0 * _apply_laplacian(graph, terms[-1], off, diag) - terms[-2])
    out = jnp.concatenate(terms, axis=-1) @ kernel.reshape(order * f_in, f_out)
    return out if bias is None else out + bias


class ChebConv(nnx.Module):
    """Chebyshev spectral graph convolution (Defferrard et al., NeurIPS 2016).

    ``X' = sum_{k<K} T_k(L~) X W_k + b`` with ``L~ = 2 L / lambda_max - I`` (see
    :func:`scaled_laplacian` for ``L`` under each ``normalization``). ``K = 1`` is a plain
    linear layer; ``K`` terms reach ``K - 1`` hops.

    Departures from the paper, as in PyG: the filter runs on any graph through the recurrence
    (no eigendecomposition), ``lambda_max`` defaults to twice the largest Laplacian entry (2.0
    for the normalised Laplacians) instead of being computed, a bias is added, and on a
    directed graph degrees are out-degrees (messages still flow senders to receivers, i.e.
    the layer applies ``L^T``). Self loops of the input are ignored (weight 0), matching PyG's
    ``remove_self_loops`` while keeping the pattern, so the layer is jittable on either graph
    form; a SparseTensor ``adj_t`` takes the fused sparse-product path.

    Parameters: ``kernel`` ``[K, in_features, out_features]`` (PyG's ``lins[k].weight`` is the
    transpose of ``kernel[k]``), ``bias`` ``[out_features]``.

    Shapes:
      - input: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t`` with ``N``
        nodes and ``E`` edges; node features ``[N, in_features]``; optional edge weights
        ``[E]`` (the COO order for a SparseTensor, whose values are used by default);
        optional ``lambda_max``, a scalar or ``[G]`` for a batch of ``G`` graphs.
      - output: ``[N, out_features]``.

    Args:
      in_features: input feature size.
      out_features: output feature size.
      K: Chebyshev filter size (number of terms), ``>= 1``.
      normalization: ``"sym"`` (default), ``"rw"`` or None.
      use_bias: add a learnable bias.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: random number generators for initialisation (keyword-only).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> conv = ChebConv(3, 4, K=3, rngs=nnx.Rngs(0))
      >>> conv(jnp.array([[0, 1, 1], [1, 0, 2]]), jnp.ones((3, 3))).shape
      (3, 4)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        K: int,  # noqa: N803 - the paper's and PyG's name
        *,
        normalization: str | None = "sym",
        use_bias: bool = True,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if not isinstance(K, int) or K < 1:
            raise ValueError(f"ChebConv needs K >= 1 Chebyshev terms, got K={K!r}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}"
            )
        self.in_features = in_features
        self.out_features = out_features
        self.K = K
        self.normalization = normalization
        self.dtype = dtype
        init = nnx.initializers.glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(0,))
        self.kernel = nnx.Param(init(rngs.params(), (K, in_features, out_features), param_dtype))
        self.bias = nnx.Param(jnp.zeros((out_features,), param_dtype)) if use_bias else None

    def __call__(
        self,
        graph: Graph,
        x: jax.Array,
        edge_weight: jax.Array | None = None,
        *,
        lambda_max: float | jax.Array | None = None,
    ) -> jax.Array:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"ChebConv expects node features [N, {self.in_features}], got {tuple(x.shape)}"
            )
        dtype = self.dtype or x.dtype
        x = x.astype(dtype)
        lap = scaled_laplacian(
            graph,
            edge_weight,
            num_nodes=x.shape[0],
            normalization=self.normalization,
            lambda_max=lambda_max,
            dtype=dtype,
        )
        bias = None if self.bias is None else self.bias[...].astype(dtype)
        return cheb_conv(graph, x, self.kernel[...].astype(dtype), bias, laplacian=lap)
