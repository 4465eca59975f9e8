"""Batch normalisation of node features, padding-aware (see ``_norm_common.py``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
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
    prepare,
)
from jgnn.segment import segment_count, segment_mean

__all__ = ["BatchNorm", "batch_norm"]


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
    x = check_x(x, fn)
    n, f = x.shape
    epsilon = check_epsilon(epsilon, fn)
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"{fn}: `momentum` must be in [0, 1], got {momentum!r}.")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: pass both `running_mean` and `running_var`, or neither.")
    ids, _ = graph_ids(n, None, None, None, mask, fn)
    xa, keep = prepare(x, ids, 1, mask is not None)
    acc = xa.dtype
    scale = check_vec(scale, "scale", f, acc, fn)
    bias = check_vec(bias, "bias", f, acc, fn)
    tracked = running_mean is not None
    if tracked:
        rm_in = jnp.asarray(running_mean)
        rv_in = jnp.asarray(running_var)
        check_vec(rm_in, "running_mean", f, acc, fn)
        check_vec(rv_in, "running_var", f, acc, fn)

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
    return finish(affine(out, scale, bias), keep, x.dtype), new_mean, new_var


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
        self.epsilon = check_epsilon(epsilon, "BatchNorm")
        self.use_running_average = use_running_average
        self.dtype = dtype
        self.mean = nnx.BatchStat(jnp.zeros((num_features,), jnp.float32))
        self.var = nnx.BatchStat(jnp.ones((num_features,), jnp.float32))
        self.scale, self.bias = affine_params(num_features, affine, param_dtype)

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
