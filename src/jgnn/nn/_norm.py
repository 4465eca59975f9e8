"""Padding-aware normalisation layers: batch, layer and graph normalisation of node features.

Each layer is a pure function (:func:`batch_norm`, :func:`layer_norm`, :func:`graph_norm`) and a
thin ``nnx.Module`` that owns the parameters (and, for :class:`BatchNorm`, the running
statistics as ``nnx.BatchStat``).

Masking contract, shared by all of them: ``mask [N]`` (default: every node real) marks the real
nodes. Masked rows are left out of every statistic, so real outputs are the same with or
without padding rows, whatever those rows hold (zeros, large values, even NaN), and the outputs
on masked rows are exactly 0. Pass ``jgnn.graph.node_mask(graph)`` for a padded graph.
Statistics are computed in float32 for bf16/fp16 inputs and the result is cast back.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
from flax import nnx
from jax.typing import ArrayLike

from jgnn.nn._common import check_features, param_of
from jgnn.nn._pool import _graph_ids
from jgnn.ops import segment_count, segment_mean, segment_sum

__all__ = [
    "BatchNorm",
    "GraphNorm",
    "LayerNorm",
    "batch_norm",
    "graph_norm",
    "layer_norm",
]

_LAYER_NORM_MODES = ("node", "graph")


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _acc_dtype(dtype: jnp.dtype) -> jnp.dtype:
    """float32 for floats narrower than 32 bits, else ``dtype`` itself."""
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype).itemsize < 4 else jnp.dtype(dtype)


def _check_x(x: ArrayLike, fn: str) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{fn}: `x` must have shape [N, F], got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{fn}: `x` must be floating point, got dtype {x.dtype}.")
    return x


def _affine_params(
    num_features: int, affine: bool, param_dtype: jnp.dtype
) -> tuple[nnx.Param | None, nnx.Param | None]:
    """``(scale, bias)``: ones and zeros ``[F]`` when ``affine``, else ``(None, None)``."""
    if not affine:
        return None, None
    scale = nnx.Param(jnp.ones((num_features,), param_dtype))
    return scale, nnx.Param(jnp.zeros((num_features,), param_dtype))


def _check_vec(v: ArrayLike | None, name: str, f: int, dtype: jnp.dtype, fn: str):
    if v is None:
        return None
    v = jnp.asarray(v)
    if v.shape != (f,):
        raise ValueError(f"{fn}: `{name}` must have shape ({f},) to match `x`, got {v.shape}.")
    return v.astype(dtype)


def _check_epsilon(epsilon: float, fn: str) -> float:
    if not epsilon > 0:
        raise ValueError(f"{fn}: `epsilon` must be > 0, got {epsilon!r}.")
    return float(epsilon)


def _affine(out: jax.Array, scale: jax.Array | None, bias: jax.Array | None) -> jax.Array:
    if scale is not None:
        out = out * scale
    if bias is not None:
        out = out + bias
    return out


def _finish(out: jax.Array, keep: jax.Array | None, dtype: jnp.dtype) -> jax.Array:
    """Zero the masked rows and cast back to the input dtype."""
    if keep is not None:
        out = jnp.where(keep[:, None], out, jnp.zeros((), out.dtype))
    return out.astype(dtype)


def _prepare(x: jax.Array, ids: jax.Array, g: int, masked: bool):
    """Accumulation-dtype copy of ``x`` with masked rows (id ``g``) zeroed, plus the keep mask."""
    xa = x.astype(_acc_dtype(x.dtype))
    if not masked:
        return xa, None
    keep = ids < g
    return jnp.where(keep[:, None], xa, jnp.zeros((), xa.dtype)), keep


def _gather(per_graph: jax.Array, ids: jax.Array) -> jax.Array:
    """Rows ``per_graph[ids]``; out-of-range (masked) ids read 0."""
    return per_graph.at[ids].get(mode="fill", fill_value=0)


# --------------------------------------------------------------------------------------------
# Batch normalisation
# --------------------------------------------------------------------------------------------


def batch_norm(
    x: ArrayLike,
    scale: ArrayLike | None = None,
    bias: ArrayLike | None = None,
    *,
    mask: ArrayLike | None = None,
    running_mean: ArrayLike | None = None,
    running_var: ArrayLike | None = None,
    use_running_average: bool = False,
    momentum: float = 0.1,
    epsilon: float = 1e-5,
) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
    """Node-wise batch normalisation over the real nodes (Ioffe & Szegedy, ICML 2015).

    ``out = (x - mean) / sqrt(var + epsilon) * scale + bias`` per feature. In training mode
    (``use_running_average=False``) ``mean`` and the biased ``var`` are taken over the real
    nodes, and the running statistics are updated with torch's convention:
    ``running = (1 - momentum) * running + momentum * batch_stat`` where the variance fed to the
    running average is the unbiased one (``n / (n - 1)`` times the batch variance, ``n`` real
    nodes). A batch with no real node leaves the running statistics unchanged. In evaluation mode
    the running statistics normalise and are returned unchanged. Running statistics are not
    differentiated through (``stop_gradient``).

    Shapes:
      - ``x``: ``[N, F]``; ``mask``: ``[N]``; ``scale``, ``bias``, running stats: ``[F]``.
      - output: ``[N, F]`` (0 on masked rows), running stats ``[F]``.

    Args:
      x: node features ``[N, F]``, floating.
      scale: optional ``[F]`` multiplier (``gamma``).
      bias: optional ``[F]`` offset (``beta``).
      mask: optional ``[N]`` bool, True for real nodes (default: all).
      running_mean: ``[F]`` running mean, or None to track no statistics.
      running_var: ``[F]`` running variance, or None to track no statistics.
      use_running_average: normalise with the running statistics (evaluation mode).
      momentum: weight of the new batch statistic in the running average (torch convention).
      epsilon: added to the variance.

    Returns:
      ``(out, new_running_mean, new_running_var)``; the running statistics are None when not
      given, in their own dtype otherwise.

    Raises:
      ValueError: bad shapes, ``momentum`` outside ``[0, 1]``, ``epsilon <= 0``, or evaluation
        mode without running statistics.
      TypeError: ``x`` is not floating.

    Examples:
      >>> import jax.numpy as jnp
      >>> out, m, v = batch_norm(jnp.array([[0.0], [4.0]]), running_mean=jnp.zeros(1),
      ...                        running_var=jnp.ones(1), momentum=0.5)
      >>> out.round(3).tolist(), m.tolist(), v.tolist()
      ([[-1.0], [1.0]], [1.0], [4.5])
    """
    fn = "batch_norm"
    x = _check_x(x, fn)
    n, f = x.shape
    epsilon = _check_epsilon(epsilon, fn)
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{fn}: `momentum` must be in [0, 1], got {momentum!r}.")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: pass both `running_mean` and `running_var`, or neither.")
    ids, _ = _graph_ids(n, None, None, None, mask, fn)
    xa, keep = _prepare(x, ids, 1, mask is not None)
    acc = xa.dtype
    scale = _check_vec(scale, "scale", f, acc, fn)
    bias = _check_vec(bias, "bias", f, acc, fn)
    tracked = running_mean is not None
    if tracked:
        rm_in = jnp.asarray(running_mean)
        rv_in = jnp.asarray(running_var)
        _check_vec(rm_in, "running_mean", f, acc, fn)
        _check_vec(rv_in, "running_var", f, acc, fn)

    if use_running_average:
        if not tracked:
            raise ValueError(
                f"{fn}: use_running_average=True needs `running_mean` and `running_var`, got None."
            )
        mean, var = rm_in.astype(acc), rv_in.astype(acc)
        new_mean, new_var = rm_in, rv_in
    else:
        mean = segment_mean(xa, ids, 1)[0]
        centred = xa - mean
        if keep is not None:
            centred = jnp.where(keep[:, None], centred, jnp.zeros((), acc))
        var = segment_mean(centred * centred, ids, 1)[0]
        new_mean, new_var = None, None
        if tracked:
            count = segment_count(ids, 1, acc)[0]
            one = jnp.ones((), acc)
            unbiased = var * (count / jnp.maximum(count - one, one))
            m = jnp.asarray(momentum, acc)
            upd_mean = (one - m) * rm_in.astype(acc) + m * jax.lax.stop_gradient(mean)
            upd_var = (one - m) * rv_in.astype(acc) + m * jax.lax.stop_gradient(unbiased)
            seen = count > 0
            new_mean = jnp.where(seen, upd_mean, rm_in.astype(acc)).astype(rm_in.dtype)
            new_var = jnp.where(seen, upd_var, rv_in.astype(acc)).astype(rv_in.dtype)
    out = (xa - mean) * jax.lax.rsqrt(var + jnp.asarray(epsilon, acc))
    return _finish(_affine(out, scale, bias), keep, x.dtype), new_mean, new_var


class BatchNorm(nnx.Module):
    """Batch normalisation of node features over the real nodes of a (padded) batch.

    Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
    Internal Covariate Shift" (ICML 2015), applied node-wise as PyG's ``BatchNorm``. Follows
    ``torch.nn.BatchNorm1d`` for the running statistics (``momentum=0.1`` weighs the new batch,
    unbiased running variance) rather than ``flax.nnx.BatchNorm`` (decay ``0.99``, biased
    variance). Padding rows named by ``mask`` are left out of the statistics; see
    :func:`batch_norm`.

    Training mode (``use_running_average=False``) normalises with the batch statistics and
    updates ``mean``/``var`` (``nnx.BatchStat``) in place; ``model.eval()`` switches to the
    running statistics, ``model.train()`` back.

    Shapes:
      - input: ``[N, num_features]``, optional ``mask [N]``.
      - output: ``[N, num_features]``, 0 on masked rows.

    Args:
      num_features: feature size ``F``.
      momentum: weight of the new batch statistic in the running average (torch convention).
      epsilon: added to the variance.
      use_running_average: default mode; True normalises with the running statistics.
      affine: learn ``scale`` (ones) and ``bias`` (zeros).
      dtype: computation dtype (None: the input's).
      param_dtype: parameter storage dtype (running statistics are float32).
      rngs: random number generators (keyword-only; the initialisation is deterministic).

    Examples:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> bn = BatchNorm(4, rngs=nnx.Rngs(0))
      >>> bn(jnp.ones((3, 4))).shape
      (3, 4)
    """

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.1,
        epsilon: float = 1e-5,
        use_running_average: bool = False,
        affine: bool = True,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm: `momentum` must be in [0, 1], got {momentum!r}.")
        self.num_features = num_features
        self.momentum = momentum
        self.epsilon = _check_epsilon(epsilon, "BatchNorm")
        self.use_running_average = use_running_average
        self.dtype = dtype
        self.mean = nnx.BatchStat(jnp.zeros((num_features,), jnp.float32))
        self.var = nnx.BatchStat(jnp.ones((num_features,), jnp.float32))
        self.scale, self.bias = _affine_params(num_features, affine, param_dtype)

    def __call__(
        self,
        x: jax.Array,
        *,
        mask: jax.Array | None = None,
        use_running_average: bool | None = None,
    ) -> jax.Array:
        """Normalises ``x``; in training mode also updates the running statistics.

        Args:
          x: ``[N, num_features]``.
          mask: optional ``[N]`` bool, True for real nodes.
          use_running_average: overrides the module's mode for this call.

        Returns:
          ``[N, num_features]``.
        """
        check_features(x, self.num_features, "BatchNorm")
        use_ra = self.use_running_average if use_running_average is None else use_running_average
        dtype = self.dtype or x.dtype
        out, mean, var = batch_norm(
            x.astype(dtype),
            param_of(self.scale),
            param_of(self.bias),
            mask=mask,
            running_mean=self.mean[...],
            running_var=self.var[...],
            use_running_average=bool(use_ra),
            momentum=self.momentum,
            epsilon=self.epsilon,
        )
        if not use_ra:
            self.mean[...] = mean
            self.var[...] = var
        return out


# --------------------------------------------------------------------------------------------
# Layer normalisation
# --------------------------------------------------------------------------------------------


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
    x = _check_x(x, fn)
    n, f = x.shape
    epsilon = _check_epsilon(epsilon, fn)
    if mode == "node":
        if graph is not None or batch is not None:
            raise ValueError(f"{fn}: mode='node' uses no `graph`/`batch`; use mode='graph'.")
        ids, g = _graph_ids(n, None, None, None, mask, fn)
    else:
        ids, g = _graph_ids(n, graph, batch, num_graphs, mask, fn)
    xa, keep = _prepare(x, ids, g, mask is not None)
    acc = xa.dtype
    scale = _check_vec(scale, "scale", f, acc, fn)
    bias = _check_vec(bias, "bias", f, acc, fn)
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
        centred = xa - _gather(mean, ids)[:, None]
        if keep is not None:
            centred = jnp.where(keep[:, None], centred, jnp.zeros((), acc))
        var = segment_sum(jnp.sum(centred * centred, axis=-1), ids, g) / denom
        out = centred * _gather(jax.lax.rsqrt(var + eps), ids)[:, None]
    return _finish(_affine(out, scale, bias), keep, x.dtype)


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
        self.epsilon = _check_epsilon(epsilon, "LayerNorm")
        self.dtype = dtype
        self.scale, self.bias = _affine_params(num_features, affine, param_dtype)

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


# --------------------------------------------------------------------------------------------
# Graph normalisation
# --------------------------------------------------------------------------------------------


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
    x = _check_x(x, fn)
    n, f = x.shape
    epsilon = _check_epsilon(epsilon, fn)
    ids, g = _graph_ids(n, graph, batch, num_graphs, mask, fn)
    xa, keep = _prepare(x, ids, g, mask is not None)
    acc = xa.dtype
    scale = _check_vec(scale, "scale", f, acc, fn)
    bias = _check_vec(bias, "bias", f, acc, fn)
    mean_scale = _check_vec(mean_scale, "mean_scale", f, acc, fn)
    mean = segment_mean(xa, ids, g)
    if mean_scale is not None:
        mean = mean * mean_scale
    centred = xa - _gather(mean, ids)
    if keep is not None:
        centred = jnp.where(keep[:, None], centred, jnp.zeros((), acc))
    var = segment_mean(centred * centred, ids, g)
    out = centred * _gather(jax.lax.rsqrt(var + jnp.asarray(epsilon, acc)), ids)
    return _finish(_affine(out, scale, bias), keep, x.dtype)


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
        self.epsilon = _check_epsilon(epsilon, "GraphNorm")
        self.dtype = dtype
        self.scale, self.bias = _affine_params(num_features, True, param_dtype)
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
