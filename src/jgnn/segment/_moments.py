"""Segment variance and standard deviation (two-pass, accumulating in float32)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jgnn._numerics import accum_dtype
from jgnn.segment._common import (
    bcast,
    check,
    count_in,
    require_float,
)

__all__ = ["segment_std", "segment_var"]


def _var(data: Array, ids: Array, n: int, ddof: int, sorted_: bool) -> Array:
    """Two-pass variance in the accumulation dtype; segments with count <= ddof give 0."""
    acc = accum_dtype(data.dtype)
    x = data.astype(acc)
    count = count_in(ids, n, acc, sorted_)
    mean = jax.ops.segment_sum(x, ids, n, indices_are_sorted=sorted_) / bcast(
        jnp.maximum(count, jnp.ones((), acc)), x
    )
    centred = x - mean[ids]
    sq = jax.ops.segment_sum(centred * centred, ids, n, indices_are_sorted=sorted_)
    denom = count - jnp.asarray(ddof, acc)
    ok = denom > 0
    safe = jnp.where(ok, denom, jnp.ones((), acc))
    return jnp.where(bcast(ok, sq), sq / bcast(safe, sq), jnp.zeros((), acc))


def _check_ddof(ddof: object, fn: str) -> int:
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise ValueError(f"{fn}: ddof must be a non-negative Python int, got {ddof!r}.")
    return int(ddof)


def segment_var(
    data: ArrayLike,
    segment_ids: ArrayLike,
    num_segments: int,
    *,
    ddof: int = 0,
    indices_are_sorted: bool = False,
) -> Array:
    """Variance of the rows of ``data`` in each segment.

    Computed in two passes (mean first, then the mean squared deviation), which is accurate
    where ``E[x^2] - E[x]^2`` cancels catastrophically. The divisor is ``count - ddof``.

    Args:
      data: floating values, shape ``[E] + feature_shape``.
      segment_ids: integer ids, shape ``[E]``.
      num_segments: number of segments ``N`` (static Python int).
      ddof: delta degrees of freedom (0: population variance, 1: unbiased sample variance).
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.

    Returns:
      Shape ``[N] + feature_shape``, dtype of ``data``. Empty segments, and segments with at
      most ``ddof`` elements (where NumPy would return NaN or inf), give 0.

    Raises:
      TypeError: ``data`` is not floating, ``num_segments`` is not a Python int, or ids are
        not integers.
      ValueError: shapes disagree, or ``ddof`` is negative.

    Examples:
      >>> segment_var(jnp.array([1.0, 3.0, 5.0]), jnp.array([0, 0, 2]), 3)
      Array([1., 0., 0.], dtype=float32)
    """
    data, ids, n = check(data, segment_ids, num_segments, "segment_var")
    require_float(data, "segment_var")
    ddof = _check_ddof(ddof, "segment_var")
    return _var_impl(data, ids, n, ddof, indices_are_sorted)


@partial(jax.jit, static_argnums=(2, 3, 4))
def _var_impl(data: Array, ids: Array, n: int, ddof: int, sorted_: bool) -> Array:
    return _var(data, ids, n, ddof, sorted_).astype(data.dtype)


@jax.custom_jvp
def _safe_sqrt(v: Array, eps: Array) -> Array:
    return jnp.sqrt(v)


@_safe_sqrt.defjvp
def _safe_sqrt_jvp(primals, tangents):
    v, eps = primals
    dv, _ = tangents
    out = jnp.sqrt(v)
    return out, dv / (2 * jnp.sqrt(jnp.maximum(v, eps)))


def segment_std(
    data: ArrayLike,
    segment_ids: ArrayLike,
    num_segments: int,
    *,
    ddof: int = 0,
    eps: float = 1e-12,
    indices_are_sorted: bool = False,
) -> Array:
    """Standard deviation of the rows of ``data`` in each segment.

    The value is exactly ``sqrt(segment_var(...))`` (no ``eps`` is added, unlike PyG's
    ``StdAggregation`` which returns ``sqrt(var + 1e-5)``). ``eps`` only guards the gradient:
    the derivative of the square root uses ``1 / (2 sqrt(max(var, eps)))``, so segments with
    zero variance (constant, single-element or empty) get a finite gradient (zero, since
    the variance is flat there) instead of NaN.

    Args:
      data: floating values, shape ``[E] + feature_shape``.
      segment_ids: integer ids, shape ``[E]``.
      num_segments: number of segments ``N`` (static Python int).
      ddof: delta degrees of freedom, as in :func:`segment_var`.
      eps: floor on the variance inside the square root's derivative; must be > 0.
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.

    Returns:
      Shape ``[N] + feature_shape``, dtype of ``data``; empty segments give 0.

    Raises:
      TypeError: ``data`` is not floating, ``num_segments`` is not a Python int, or ids are
        not integers.
      ValueError: shapes disagree, ``ddof`` is negative or ``eps`` is not positive.

    Examples:
      >>> segment_std(jnp.array([1.0, 3.0, 5.0]), jnp.array([0, 0, 2]), 3)
      Array([1., 0., 0.], dtype=float32)
    """
    data, ids, n = check(data, segment_ids, num_segments, "segment_std")
    require_float(data, "segment_std")
    ddof = _check_ddof(ddof, "segment_std")
    if not eps > 0:
        raise ValueError(f"segment_std: eps must be > 0, got {eps!r}.")
    return _std_impl(data, ids, n, ddof, float(eps), indices_are_sorted)


@partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _std_impl(data: Array, ids: Array, n: int, ddof: int, eps: float, sorted_: bool) -> Array:
    var = _var(data, ids, n, ddof, sorted_)
    return _safe_sqrt(var, jnp.asarray(eps, var.dtype)).astype(data.dtype)
