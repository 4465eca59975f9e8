"""Graph normalisation (Cai et al., ICML 2021) of node features, padding-aware."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from flax import nnx
from jax.typing import ArrayLike

from jgnn.nn._features import check_features
from jgnn.nn._graph_index import graph_ids
from jgnn.nn._norm_common import (
    affine,
    affine_params,
    check_epsilon,
    check_vec,
    check_x,
    finish,
    gather,
    prepare,
)
from jgnn.segment import segment_mean

__all__ = ["GraphNorm", "graph_norm"]


def graph_norm(
    x: ArrayLike,
    scale: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    mean_scale: ArrayLike | None = None,
    *,
    graph: jraph.GraphsTuple | None = None,
    batch: ArrayLike | None = None,
    num_graphs: int | None = None,
    mask: ArrayLike | None = None,
    epsilon: float = 1e-5,
) -> jax.Array:
    """GraphNorm (Cai et al., "GraphNorm: A Principled Approach to Accelerating Graph Neural
    Network Training", ICML 2021).

    Per graph ``g`` and feature: ``c_i = x_i - alpha * mean_g(x)``,
    ``out_i = scale * c_i / sqrt(mean_g(c^2) + epsilon) + bias``, with means over the real nodes
    of ``g``. ``alpha`` (``mean_scale``) learns how much of the mean to remove. Without
    ``graph``/``batch`` all nodes form one graph. Matches PyG's ``GraphNorm``.

    Shapes:
      - ``x``: ``[N, F]``; ``mask``/``batch``: ``[N]``; ``scale``, ``bias``, ``mean_scale``:
        ``[F]``.
      - output: ``[N, F]``, 0 on masked rows.

    Args:
      x: node features ``[N, F]``, floating.
      scale: optional ``[F]`` multiplier ``gamma`` (default 1).
      bias: optional ``[F]`` offset ``beta`` (default 0).
      mean_scale: optional ``[F]`` mean scale ``alpha`` (default 1).
      graph: the (padded) batch of graphs, ``n_node`` summing to ``N``.
      batch: instead of ``graph``: graph index of every node ``[N]``.
      num_graphs: static number of graphs with ``batch``.
      mask: optional ``[N]`` bool, True for real nodes (default: all).
      epsilon: added to the variance.

    Returns:
      ``[N, F]`` in the dtype of ``x``.

    Raises:
      ValueError: bad shapes or ``epsilon <= 0``.
      TypeError: ``x`` is not floating.

    Examples:
      >>> import jax.numpy as jnp
      >>> graph_norm(jnp.array([[1.0], [3.0], [5.0]]), batch=jnp.array([0, 0, 1]),
      ...            num_graphs=2).round(3).tolist()
      [[-1.0], [1.0], [0.0]]
    """
    fn = "graph_norm"
    x = check_x(x, fn)
    n, f = x.shape
    epsilon = check_epsilon(epsilon, fn)
    ids, g = graph_ids(n, graph, batch, num_graphs, mask, fn)
    xa, keep = prepare(x, ids, g, mask is not None)
    acc = xa.dtype
    scale = check_vec(scale, "scale", f, acc, fn)
    bias = check_vec(bias, "bias", f, acc, fn)
    mean_scale = check_vec(mean_scale, "mean_scale", f, acc, fn)
    mean = segment_mean(xa, ids, g)
    if mean_scale is not None:
        mean = mean * mean_scale
    centred = xa - gather(mean, ids)
    if keep is not None:
        centred = jnp.where(keep[:, None], centred, jnp.zeros((), acc))
    var = segment_mean(centred * centred, ids, g)
    out = centred * gather(jax.lax.rsqrt(var + jnp.asarray(epsilon, acc)), ids)
    return finish(affine(out, scale, bias), keep, x.dtype)


class GraphNorm(nnx.Module):
    """GraphNorm (Cai et al., ICML 2021): per-graph normalisation with a learnable mean scale.

    See :func:`graph_norm`. Parameters: ``scale`` (``gamma``, PyG's ``weight``, ones),
    ``bias`` (``beta``, zeros) and ``mean_scale`` (``alpha``, ones).

    Shapes:
      - input: ``[N, num_features]`` with a graph (``n_node [G]``) or a ``batch [N]`` vector
        (neither: one graph); optional ``mask [N]``.
      - output: ``[N, num_features]``, 0 on masked rows.

    Args:
      num_features: feature size ``F``.
      epsilon: added to the variance.
      dtype: computation dtype (None: the input's).
      param_dtype: parameter storage dtype.
      rngs: random number generators (keyword-only; the initialisation is deterministic).

    Examples:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> gn = GraphNorm(4, rngs=nnx.Rngs(0))
      >>> gn(jnp.ones((3, 4)), batch=jnp.array([0, 0, 1]), num_graphs=2).shape
      (3, 4)
    """

    def __init__(
        self,
        num_features: int,
        *,
        epsilon: float = 1e-5,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.num_features = num_features
        self.epsilon = check_epsilon(epsilon, "GraphNorm")
        self.dtype = dtype
        self.scale, self.bias = affine_params(num_features, True, param_dtype)
        self.mean_scale = nnx.Param(jnp.ones((num_features,), param_dtype))

    def __call__(
        self,
        x: jax.Array,
        graph: jraph.GraphsTuple | None = None,
        *,
        batch: jax.Array | None = None,
        num_graphs: int | None = None,
        mask: jax.Array | None = None,
    ) -> jax.Array:
        """Normalises ``x`` per graph (see :func:`graph_norm`)."""
        check_features(x, self.num_features, "GraphNorm")
        return graph_norm(
            x.astype(self.dtype or x.dtype),
            self.scale[...],
            self.bias[...],
            self.mean_scale[...],
            graph=graph,
            batch=batch,
            num_graphs=num_graphs,
            mask=mask,
            epsilon=self.epsilon,
        )
