"""Gaussian mixture model convolution of Monti et al., "Geometric Deep Learning on Graphs and
Manifolds using Mixture Model CNNs" (CVPR 2017), MoNet.

``x'_i = W_root x_i + aggr_{j in N(i)} sum_k w_k(e_ji) G_k x_j`` with Gaussian kernels
``w_k(u) = exp(-1/2 sum_d (u_d - mu_kd)^2 / sigma_kd^2)`` of the pseudo-coordinates
``u = e_ji`` (``edge_attr``).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.message_passing import propagate
from jgnn.nn._features import NodeFeatures, as_pair, prepare_x, split_x
from jgnn.nn._linear import add_root_and_bias, kernel_of, linear, param_of
from jgnn.sparse import Graph, SparseTensor, endpoints

__all__ = ["GMMConv", "gmm_conv"]

_EPS = 1e-15  # PyG's guard against sigma = 0
_LINEAR_AGGREGATES = ("sum", "add", "mean")


def _gaussian(diff: jax.Array, sigma: jax.Array) -> jax.Array:
    """``exp(sum_d -1/2 diff^2 / (eps + sigma^2))`` over the last axis."""
    eps = jnp.asarray(_EPS, diff.dtype)
    return jnp.exp(jnp.sum(-0.5 * diff**2 / (eps + sigma**2), axis=-1))


def gmm_conv(
    graph: Graph,
    x: NodeFeatures,
    g: jax.Array,
    mu: jax.Array,
    sigma: jax.Array,
    *,
    edge_attr: jax.Array,
    separate_gaussians: bool = False,
    aggr: str = "mean",
    root: jax.Array | None = None,
    bias: jax.Array | None = None,
) -> jax.Array:
    """One GMM (MoNet) convolution as a pure function (see :class:`GMMConv`).

    With one set of ``K`` Gaussians (``separate_gaussians=False``) the message is
    ``sum_k w_k(e_ji) (x_j G)[k]``; for the linear aggregates (``"sum"``, ``"mean"``) this is
    computed as ``K`` scalar-weighted propagations, which a SparseTensor ``adj_t`` turns into
    ``K`` fused sparse products (``[E, F]`` messages are never built there). Other aggregates,
    and ``separate_gaussians=True`` (one Gaussian per input channel, output channel and
    kernel), build the per-edge messages.

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``.
      x: node features ``[N, F]``, or ``(x_src [N_src, F], x_dst [N_dst, F_dst])``.
      g: ``[F, K * M]``: column ``k * M + m`` maps to output ``m`` under kernel ``k``; with
        ``separate_gaussians`` column ``m * K + k`` weighs kernel ``k`` of output ``m``
        (PyG's layouts).
      mu: means ``[K, D]`` (or ``[F, M, K, D]`` with ``separate_gaussians``).
      sigma: standard deviations, shaped like ``mu``.
      edge_attr: pseudo-coordinates ``[E, D]`` (``[E]`` when ``D = 1``), in the graph's edge
        order (COO order for a SparseTensor).
      separate_gaussians: one Gaussian per ``(input, output, kernel)`` triple.
      aggr: any :func:`jgnn.message_passing.propagate` aggregate (default ``"mean"``).
      root: ``[F_dst, M]`` root weight, or None.
      bias: ``[M]`` or None.

    Returns:
      ``[N_dst, M]``.
    """
    x_src, x_dst, _ = split_x(x, "gmm_conv")
    pseudo = edge_attr[:, None] if edge_attr.ndim == 1 else edge_attr
    counts = (x_src.shape[0], x_dst.shape[0])
    if not separate_gaussians:
        k = mu.shape[0]
        m = g.shape[1] // k
        h = (x_src @ g).reshape(-1, k, m)
        w = _gaussian(pseudo[:, None, :] - mu, sigma).astype(h.dtype)  # [E, K]
        if isinstance(aggr, str) and aggr in _LINEAR_AGGREGATES:
            parts = [
                propagate(
                    graph, (h[:, i], None), edge_attr=w[:, i], aggregate=aggr, num_nodes=counts
                )
                for i in range(k)
            ]
            out = sum(parts[1:], parts[0])
        else:
            out = propagate(
                graph,
                (h, None),
                message=lambda e: jnp.sum(e.x_j * w[:, :, None], axis=1),
                aggregate=aggr,
                num_nodes=counts,
            )
    else:
        f, m, k, _ = mu.shape
        g4 = g.reshape(f, m, k)

        def message(edges):
            diff = pseudo[:, None, None, None, :] - mu  # [E, F, M, K, D]
            kernel = jnp.sum(_gaussian(diff, sigma).astype(g4.dtype) * g4, axis=-1)  # [E, F, M]
            return jnp.einsum("ef,efm->em", edges.x_j, kernel)

        out = propagate(graph, (x_src, None), message=message, aggregate=aggr, num_nodes=counts)
    return add_root_and_bias(out, x_dst, root, bias)


def _glorot(rngs: nnx.Rngs, shape: tuple[int, ...], dtype: Any) -> nnx.Param:
    """PyG's ``glorot``: uniform with fans read from the last two axes only."""
    bound = math.sqrt(6.0 / (shape[-2] + shape[-1]))
    return nnx.Param(jax.random.uniform(rngs.params(), shape, dtype, -bound, bound))


class GMMConv(nnx.Module):
    """Gaussian mixture model convolution (Monti et al., "MoNet", CVPR 2017).

    ``x'_i = W_root x_i + mean_{j in N(i)} sum_k w_k(u_ji) G_k x_j + b`` with the learnable
    Gaussian kernels ``w_k(u) = exp(-1/2 sum_d (u_d - mu_kd)^2 / (eps + sigma_kd^2))`` of the
    edge pseudo-coordinates ``u_ji`` (``edge_attr [E, dim]``, e.g. degree-based polar
    coordinates as in the paper, which computes them inside the layer; here, as in PyG, the
    caller provides them). ``separate_gaussians=True`` learns one Gaussian per input channel,
    output channel and kernel (PyG's extension). The root weight and bias are PyG's additions.

    Fused path: with one set of kernels and a linear aggregate (``"mean"``, ``"sum"``) the
    layer is ``K`` scalar-weighted propagations, each a single sparse product on a
    SparseTensor ``adj_t``; otherwise per-edge messages are built. Both graph forms give the
    same result.

    Parameters mirror PyG: ``g``, ``mu``, ``sigma`` (same shapes and layouts), ``root`` (an
    ``nnx.Linear``; its kernel is the transpose of torch's weight), ``bias``.

    Shapes:
      - input: a GraphsTuple / edge index ``[2, E]`` / SparseTensor ``adj_t``, node features
        ``[N, in_features]`` (or ``(x_src, x_dst)``), pseudo-coordinates ``[E, dim]`` (edge
        order of the graph; COO order for a SparseTensor, whose values are used when
        ``edge_attr`` is None).
      - output: ``[N, out_features]``.

    Args:
      in_features: input size, or ``(in_src, in_dst)``.
      out_features: output size ``M``.
      dim: pseudo-coordinate dimension ``D``.
      kernel_size: number of Gaussian kernels ``K``.
      separate_gaussians: one Gaussian per (input, output, kernel).
      aggr: neighbourhood aggregate (``"mean"`` as in PyG; any ``propagate`` aggregate).
      root_weight: add ``W_root x_i``.
      bias: learn an additive bias.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: parameter initialisation generators (keyword-only).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> conv = GMMConv(4, 8, dim=2, kernel_size=3, rngs=nnx.Rngs(0))
      >>> conv(jnp.array([[0, 1], [1, 2]]), jnp.ones((3, 4)), jnp.ones((2, 2))).shape
      (3, 8)
    """

    def __init__(
        self,
        in_features: int | tuple[int, int],
        out_features: int,
        *,
        dim: int,
        kernel_size: int,
        separate_gaussians: bool = False,
        aggr: str = "mean",
        root_weight: bool = True,
        bias: bool = True,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.in_features = in_features
        self.out_features = out_features
        self.dim = dim
        self.kernel_size = kernel_size
        self.separate_gaussians = separate_gaussians
        self.aggr = aggr
        self.dtype = dtype
        in_src, in_dst = as_pair(in_features)
        self.g = _glorot(rngs, (in_src, out_features * kernel_size), param_dtype)
        shape = (
            (in_src, out_features, kernel_size, dim) if separate_gaussians else (kernel_size, dim)
        )
        self.mu = _glorot(rngs, shape, param_dtype)
        self.sigma = _glorot(rngs, shape, param_dtype)
        self.root = (
            linear(in_dst, out_features, bias=False, param_dtype=param_dtype, rngs=rngs)
            if root_weight
            else None
        )
        self.bias = nnx.Param(jnp.zeros((out_features,), param_dtype)) if bias else None

    def __call__(
        self, graph: Graph, x: NodeFeatures, edge_attr: jax.Array | None = None
    ) -> jax.Array:
        x, dtype = prepare_x(x, self.in_features, self.dtype, "GMMConv")
        if edge_attr is None and isinstance(graph, SparseTensor):
            edge_attr = graph.coo()[2]
        if edge_attr is None:
            raise ValueError(f"GMMConv needs pseudo-coordinates edge_attr [E, {self.dim}]")
        edge_attr = jnp.asarray(edge_attr)
        num_edges = endpoints(graph)[0].shape[0]
        pseudo_dim = 1 if edge_attr.ndim == 1 else edge_attr.shape[1]
        if edge_attr.shape[0] != num_edges or pseudo_dim != self.dim or edge_attr.ndim > 2:
            raise ValueError(
                f"GMMConv expects edge_attr [E, {self.dim}] with E = {num_edges}, got "
                f"{tuple(edge_attr.shape)}"
            )
        return gmm_conv(
            graph,
            x,
            param_of(self.g, dtype),
            param_of(self.mu, dtype),
            param_of(self.sigma, dtype),
            edge_attr=edge_attr.astype(dtype),
            separate_gaussians=self.separate_gaussians,
            aggr=self.aggr,
            root=kernel_of(self.root, dtype),
            bias=param_of(self.bias, dtype),
        )
