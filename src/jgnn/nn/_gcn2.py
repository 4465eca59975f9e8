"""GCNII convolution of Chen et al., "Simple and Deep Graph Convolutional Networks" (ICML 2020).

``X' = ((1 - alpha) P X + alpha X_0) ((1 - beta) I + beta W)`` with the GCN propagation matrix
``P = D^-1/2 (A + I) D^-1/2``, the initial representation ``X_0`` (initial residual) and
``beta = log(theta / layer + 1)`` (identity mapping).

With ``M = (1 - beta) I + beta W`` the layer is one propagation of ``X`` and one product
with ``M`` (``W`` and ``W_2`` apart in GCNII*). The normalisation is :func:`jgnn.nn.gcn_norm`;
on a SparseTensor ``adj_t`` normalised on the fly the layer uses the equal form
``(1 - alpha) P (X M) + alpha X_0 M`` to reuse GCNConv's jittable sparse path.
:class:`GCN2Conv` only owns the parameters.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.message_passing import propagate
from jgnn.nn._gcn_operator import gcn_hop, gcn_operator
from jgnn.sparse import Graph, SparseTensor, as_graph, gcn_norm

__all__ = ["GCN2Conv", "gcn2_beta", "gcn2_conv"]


def gcn2_beta(theta: float | None, layer: int | None) -> float:
    """The identity-mapping strength ``beta = log(theta / layer + 1)`` (1.0 when both are None).

    Raises:
      ValueError: only one of ``theta``/``layer`` is given, or ``layer < 1``.

    Examples:
      >>> round(gcn2_beta(0.5, 1), 4)
      0.4055
    """
    if theta is None and layer is None:
        return 1.0
    if theta is None or layer is None:
        raise ValueError(
            f"GCN2Conv needs theta and layer together (beta = log(theta / layer + 1)), got "
            f"theta={theta!r}, layer={layer!r}"
        )
    if layer < 1:
        raise ValueError(f"layer counts from 1 (the paper's l), got layer={layer}")
    return math.log(theta / layer + 1.0)


def _identity_mapping(kernel: jax.Array, beta: float) -> jax.Array:
    """``(1 - beta) I + beta W``."""
    eye = jnp.eye(kernel.shape[0], dtype=kernel.dtype)
    return (1.0 - beta) * eye + beta * kernel


def gcn2_conv(
    graph: Graph,
    x: jax.Array,
    x_0: jax.Array,
    kernel1: jax.Array,
    kernel2: jax.Array | None = None,
    *,
    alpha: float,
    beta: float,
    normalize: bool = True,
    edge_weight: jax.Array | None = None,
) -> jax.Array:
    """One GCNII layer: ``(1 - alpha) P x M_1 + alpha x_0 M_2``, ``M = (1 - beta) I + beta W``.

    With shared weights (``kernel2=None``) this is ``((1 - alpha) P x + alpha x_0) M_1``,
    computed with a single matrix product.

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``. With
        ``normalize=False`` it must be normalised already: a GraphsTuple from
        :func:`jgnn.nn.gcn_norm` (its ``edges`` are the weights; an edge index has none, so
        every weight is 1) or a normalised ``adj_t`` (e.g. ``jgnn.sparse.gcn_norm(adj_t)``).
      x: node features ``[N, F]``.
      x_0: initial node features ``[N, F]``.
      kernel1: ``[F, F]``, the weight of the smoothed features.
      kernel2: optional ``[F, F]`` weight of the initial residual (GCNII*); default
        ``kernel1``.
      alpha: initial-residual strength.
      beta: identity-mapping strength (see :func:`gcn2_beta`).
      normalize: apply ``D^-1/2 (A + I) D^-1/2`` on the fly (the graph must then hold no
        self loops, as for :class:`jgnn.nn.GCNConv`).
      edge_weight: optional ``[E]`` edge weights (the COO order for a SparseTensor).

    Returns:
      ``[N, F]``.
    """
    graph = as_graph(graph, "gcn2_conv")
    m1 = _identity_mapping(kernel1, beta)
    m2 = m1 if kernel2 is None else _identity_mapping(kernel2, beta)
    if isinstance(graph, SparseTensor):
        if edge_weight is not None:
            graph = graph.set_value(edge_weight)
        if normalize:
            # The jittable on-the-fly normalisation of an adj_t (self loops as a dense term)
            # multiplies by a kernel first, so use the reassociated form (1 - a) P (x M1).
            h = gcn_hop(gcn_operator(graph, num_nodes=x.shape[0]), x @ m1)
            return (1.0 - alpha) * h + alpha * (x_0 @ m2)
        px = propagate(graph, x)
    else:
        if normalize:
            graph = gcn_norm(graph, edge_weight, num_nodes=x.shape[0], dtype=x.dtype)
        elif edge_weight is not None:
            graph = graph._replace(edges=edge_weight)
        if graph.edges is None:
            px = propagate(graph, x)
        else:
            px = propagate(graph, x, edge_attr=graph.edges.astype(x.dtype))
    if kernel2 is None:  # one product, as in the paper: ((1 - a) P x + a x_0) M
        return ((1.0 - alpha) * px + alpha * x_0) @ m1
    return (1.0 - alpha) * (px @ m1) + alpha * (x_0 @ m2)


class GCN2Conv(nnx.Module):
    """GCNII layer: initial residual and identity mapping (Chen et al., ICML 2020).

    ``X' = ((1 - alpha) P X + alpha X_0) ((1 - beta) I + beta W)`` with
    ``P = D^-1/2 (A + I) D^-1/2`` and ``beta = log(theta / layer + 1)`` (1.0 when ``theta``
    and ``layer`` are None, a plain GCN-with-residual step). ``shared_weights=False`` gives the
    paper's GCNII* variant, whose residual ``X_0`` has its own weight ``W_2``. The layer has no
    activation and no bias, as in the paper and PyG.

    The propagation is GCN's (:func:`jgnn.nn.gcn_norm`): with ``normalize=True`` the graph
    must hold no self loops (one loop per node is added; PyG adds only the missing ones). A
    SparseTensor ``adj_t`` takes the fused sparse-product path; normalised on the fly its
    loops are applied as a dense term (jittable). For a fixed graph, normalise once with
    :func:`jgnn.nn.gcn_norm` (or ``jgnn.sparse.gcn_norm`` for an ``adj_t``) and build the layer
    with ``normalize=False``, which is what PyG's ``cached=True`` and its Cora example do.

    Parameters: ``kernel1`` ``[features, features]`` (PyG's ``weight1``, the same layout
    since PyG multiplies ``x @ weight1``), ``kernel2`` likewise when ``shared_weights=False``.

    Shapes:
      - input: a GraphsTuple (or a SparseTensor ``adj_t``) with ``N`` nodes and ``E`` edges,
        node features ``x [N, features]``, initial features ``x_0 [N, features]``, optional
        edge weights ``[E]`` (the COO order for a SparseTensor).
      - output: ``[N, features]``.

    Args:
      features: input and output feature size.
      alpha: initial-residual strength (the paper uses 0.1 on Cora).
      theta: the paper's ``lambda``: ``beta = log(theta / layer + 1)``.
      layer: this layer's 1-based depth ``l``.
      shared_weights: one weight for both terms (GCNII); False: GCNII*.
      normalize: apply the symmetric normalisation with self loops on every call.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: random number generators for initialisation (keyword-only).

    Raises:
      ValueError: only one of ``theta``/``layer``, or ``layer < 1``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import jgnn
      >>> g = jgnn.from_edge_index(jnp.array([[0, 1], [1, 0]]), 2)
      >>> conv = GCN2Conv(4, alpha=0.1, theta=0.5, layer=1, rngs=nnx.Rngs(0))
      >>> conv(g, jnp.ones((2, 4)), jnp.ones((2, 4))).shape
      (2, 4)
    """

    def __init__(
        self,
        features: int,
        alpha: float,
        theta: float | None = None,
        layer: int | None = None,
        *,
        shared_weights: bool = True,
        normalize: bool = True,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.features = features
        self.alpha = float(alpha)
        self.beta = gcn2_beta(theta, layer)
        self.normalize = normalize
        self.dtype = dtype
        init = nnx.initializers.glorot_uniform()
        shape = (features, features)
        self.kernel1 = nnx.Param(init(rngs.params(), shape, param_dtype))
        self.kernel2 = (
            None if shared_weights else nnx.Param(init(rngs.params(), shape, param_dtype))
        )

    def __call__(
        self,
        graph: Graph,
        x: jax.Array,
        x_0: jax.Array,
        edge_weight: jax.Array | None = None,
    ) -> jax.Array:
        for name, value in (("x", x), ("x_0", x_0)):
            if value.ndim != 2 or value.shape[1] != self.features:
                raise ValueError(
                    f"GCN2Conv expects {name} [N, {self.features}], got {tuple(value.shape)}"
                )
        if x_0.shape[0] != x.shape[0]:
            raise ValueError(
                f"GCN2Conv: x_0 has {x_0.shape[0]} rows but x has {x.shape[0]}; they must match"
            )
        dtype = self.dtype or x.dtype
        kernel2 = None if self.kernel2 is None else self.kernel2[...].astype(dtype)
        return gcn2_conv(
            graph,
            x.astype(dtype),
            x_0.astype(dtype),
            self.kernel1[...].astype(dtype),
            kernel2,
            alpha=self.alpha,
            beta=self.beta,
            normalize=self.normalize,
            edge_weight=edge_weight,
        )
