"""Layer normalisation of node features, per node or per graph, padding-aware."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from flax import nnx
from jax.typing import ArrayLike

from jgnn.nn._features import check_features
from jgnn.nn._graph_index import graph_ids
from jgnn.nn._linear import param_of
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
from jgnn.segment import segment_count, segment_sum

__all__ = ["LayerNorm", "layer_norm"]


_LAYER_NORM_MODES = ("node", "graph")


def layer_norm(
    x: ArrayLike,
    scale: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    *,
    mode: str = "node",
    graph: jraph.GraphsTuple | None = None,
    batch: ArrayLike | None = None,
    num_graphs: int | None = None,
    mask: ArrayLike | None = None,
    epsilon: float = 1e-5,
) -> jax.Array:
    """Layer normalisation of node features (Ba, Kiros & Hinton, "Layer Normalization", 2016).

    ``mode="node"`` normalises every node over its ``F`` features (``torch.nn.LayerNorm``).
    ``mode="graph"`` normalises every graph over all its real nodes and features at once, with
    one mean and one (biased) variance per graph, as PyG's ``LayerNorm(mode="graph")`` does with
    a batch vector. Without ``graph``/``batch`` all nodes form one graph; there jgnn keeps
    ``sqrt(var + epsilon)`` where PyG's no-batch branch divides by ``std + epsilon``.

    Shapes:
      - ``x``: ``[N, F]``; ``mask``/``batch``: ``[N]``; ``scale``, ``bias``: ``[F]``.
      - output: ``[N, F]``, 0 on masked rows.

    Args:
      x: node features ``[N, F]``, floating.
      scale: optional ``[F]`` multiplier.
      bias: optional ``[F]`` offset.
      mode: ``"node"`` or ``"graph"``.
      graph: for ``mode="graph"``: the (padded) batch of graphs, ``n_node`` summing to ``N``.
      batch: for ``mode="graph"``, instead of ``graph``: graph index of every node ``[N]``.
      num_graphs: static number of graphs with ``batch``.
      mask: optional ``[N]`` bool, True for real nodes (default: all).
      epsilon: added to the variance.

    Returns:
      ``[N, F]`` in the dtype of ``x``.

    Raises:
      ValueError: unknown ``mode``, bad shapes, or ``epsilon <= 0``.
      TypeError: ``x`` is not floating.

    Examples:
      >>> import jax.numpy as jnp
      >>> layer_norm(jnp.array([[1.0, 3.0]])).round(3).tolist()
      [[-1.0, 1.0]]
    """
    fn = "layer_norm"
    if mode not in _LAYER_NORM_MODES:
        raise ValueError(f"{fn}: `mode` must be one of {_LAYER_NORM_MODES}, got {mode!r}.")
    x = check_x(x, fn)
    n, f = x.shape
    epsilon = check_epsilon(epsilon, fn)
    if mode == "node":
        if graph is not None or batch is not None:
            raise ValueError(f"{fn}: mode='node' uses no `graph`/`batch`; use mode='graph'.")
        ids, g = graph_ids(n, None, None, None, mask, fn)
    else:
        ids, g = graph_ids(n, graph, batch, num_graphs, mask, fn)
    xa, keep = prepare(x, ids, g, mask is not None)
    acc = xa.dtype
    scale = check_vec(scale, "scale", f, acc, fn)
    bias = check_vec(bias, "bias", f, acc, fn)
    eps = jnp.asarray(epsilon, acc)
    if mode == "node":
        mean = jnp.mean(xa, axis=-1, keepdims=True)
        centred = xa - mean
        var = jnp.mean(centred * centred, axis=-1, keepdims=True)
        out = centred * jax.lax.rsqrt(var + eps)
    else:
        one = jnp.ones((), acc)
        count = segment_count(ids, g, acc) * jnp.asarray(f, acc)
        denom = jnp.maximum(count, one)
        mean = segment_sum(jnp.sum(xa, axis=-1), ids, g) / denom
        centred = xa - gather(mean, ids)[:, None]
        if keep is not None:
            centred = jnp.where(keep[:, None], centred, jnp.zeros((), acc))
        var = segment_sum(jnp.sum(centred * centred, axis=-1), ids, g) / denom
        out = centred * gather(jax.lax.rsqrt(var + eps), ids)[:, None]
    return finish(affine(out, scale, bias), keep, x.dtype)


class LayerNorm(nnx.Module):
    """Layer normalisation per node or per graph (Ba, Kiros & Hinton, 2016), padding-aware.

    Semantics of PyG's ``LayerNorm``; see :func:`layer_norm`. jgnn's default ``mode`` is
    ``"node"`` (the usual per-sample layer norm, as in ``flax.nnx.LayerNorm``); PyG's is
    ``"graph"``.

    Shapes:
      - input: ``[N, num_features]``; for ``mode="graph"`` a graph with ``n_node [G]`` or a
        ``batch [N]`` vector; optional ``mask [N]``.
      - output: ``[N, num_features]``, 0 on masked rows.

    Args:
      num_features: feature size ``F``.
      mode: ``"node"`` or ``"graph"``.
      epsilon: added to the variance.
      affine: learn ``scale`` (ones) and ``bias`` (zeros).
      dtype: computation dtype (None: the input's).
      param_dtype: parameter storage dtype.
      rngs: random number generators (keyword-only; the initialisation is deterministic).

    Raises:
      ValueError: unknown ``mode``.

    Examples:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> ln = LayerNorm(4, mode="graph", rngs=nnx.Rngs(0))
      >>> ln(jnp.ones((3, 4)), batch=jnp.array([0, 0, 1]), num_graphs=2).shape
      (3, 4)
    """

    def __init__(
        self,
        num_features: int,
        *,
        mode: str = "node",
        epsilon: float = 1e-5,
        affine: bool = True,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if mode not in _LAYER_NORM_MODES:
            raise ValueError(f"LayerNorm: `mode` must be one of {_LAYER_NORM_MODES}, got {mode!r}.")
        self.num_features = num_features
        self.mode = mode
        self.epsilon = check_epsilon(epsilon, "LayerNorm")
        self.dtype = dtype
        self.scale, self.bias = affine_params(num_features, affine, param_dtype)

    def __call__(
        self,
        x: jax.Array,
        graph: jraph.GraphsTuple | None = None,
        *,
        batch: jax.Array | None = None,
        num_graphs: int | None = None,
        mask: jax.Array | None = None,
    ) -> jax.Array:
        """Normalises ``x`` (see :func:`layer_norm`); ``graph``/``batch`` unused in node mode."""
        check_features(x, self.num_features, "LayerNorm")
        if self.mode == "node":
            graph, batch, num_graphs = None, None, None
        return layer_norm(
            x.astype(self.dtype or x.dtype),
            param_of(self.scale),
            param_of(self.bias),
            mode=self.mode,
            graph=graph,
            batch=batch,
            num_graphs=num_graphs,
            mask=mask,
            epsilon=self.epsilon,
        )
