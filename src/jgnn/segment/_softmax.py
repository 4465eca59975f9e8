"""Segment logsumexp and softmax, computed stably (per-segment maximum subtracted)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jgnn._numerics import accum_dtype
from jgnn.segment._common import (
    bcast,
    check,
    count_in,
    require_float,
    static,
)

__all__ = ["segment_logsumexp", "segment_softmax"]


def _stable_shift(x: Array, ids: Array, n: int, sorted_: bool) -> Array:
    """Per-segment max with gradient stopped; non-finite maxima (empty, all -inf) become 0."""
    m = jax.lax.stop_gradient(jax.ops.segment_max(x, ids, n, indices_are_sorted=sorted_))
    return jnp.where(jnp.isfinite(m), m, jnp.zeros((), m.dtype))


def segment_logsumexp(
    data: ArrayLike,
    segment_ids: ArrayLike,
    num_segments: int,
    *,
    indices_are_sorted: bool = False,
) -> Array:
    """``log(sum(exp(data)))`` over each segment, computed stably.

    The per-segment maximum is subtracted before exponentiating (with its gradient stopped,
    which leaves the gradient unchanged). The gradient with respect to ``data`` is the
    per-segment softmax.

    Args:
      data: floating values, shape ``[E] + feature_shape``.
      segment_ids: integer ids, shape ``[E]``.
      num_segments: number of segments ``N`` (static Python int).
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.

    Returns:
      Shape ``[N] + feature_shape``, dtype of ``data``. Empty segments give 0; a segment whose
      elements are all ``-inf`` gives ``-inf``.

    Raises:
      TypeError: ``data`` is not floating, ``num_segments`` is not a Python int, or ids are
        not integers.
      ValueError: shapes of ``data`` and ``segment_ids`` disagree.

    Examples:
      >>> segment_logsumexp(jnp.array([0.0, 0.0, 1.0]), jnp.array([0, 0, 2]), 3)
      Array([0.6931472, 0.       , 1.       ], dtype=float32)
    """
    data, ids, n = check(data, segment_ids, num_segments, "segment_logsumexp")
    require_float(data, "segment_logsumexp")
    return _logsumexp_impl(data, ids, n, indices_are_sorted)


@static
def _logsumexp_impl(data: Array, ids: Array, n: int, indices_are_sorted: bool) -> Array:
    acc = accum_dtype(data.dtype)
    x = data.astype(acc)
    m = _stable_shift(x, ids, n, indices_are_sorted)
    s = jax.ops.segment_sum(jnp.exp(x - m[ids]), ids, n, indices_are_sorted=indices_are_sorted)
    nonempty = bcast(count_in(ids, n, jnp.int32, indices_are_sorted) > 0, s)
    safe = jnp.where(nonempty, s, jnp.ones((), acc))
    out = jnp.where(nonempty, jnp.log(safe) + m, jnp.zeros((), acc))
    return out.astype(data.dtype)


def segment_softmax(
    logits: ArrayLike,
    segment_ids: ArrayLike,
    num_segments: int,
    *,
    indices_are_sorted: bool = False,
) -> Array:
    """Softmax of ``logits`` within each segment (e.g. attention over a node's in-edges).

    ``out[e] = exp(logits[e]) / sum(exp(logits[f]) for f with segment_ids[f] ==
    segment_ids[e])``, computed after subtracting the per-segment maximum (gradient stopped).
    A segment whose logits are all ``-inf`` gives zeros rather than NaN. Elements whose id is
    out of range have unspecified (finite or NaN) values.

    Args:
      logits: floating values, shape ``[E] + feature_shape`` (e.g. ``[E, heads]``).
      segment_ids: integer ids, shape ``[E]``.
      num_segments: number of segments ``N`` (static Python int).
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.

    Returns:
      Shape ``[E] + feature_shape``, dtype of ``logits``; sums to 1 over each non-empty
      segment.

    Raises:
      TypeError: ``logits`` is not floating, ``num_segments`` is not a Python int, or ids are
        not integers.
      ValueError: shapes of ``logits`` and ``segment_ids`` disagree.

    Examples:
      >>> segment_softmax(jnp.array([0.0, 0.0, 1.0]), jnp.array([0, 0, 2]), 3)
      Array([0.5, 0.5, 1. ], dtype=float32)
    """
    logits, ids, n = check(logits, segment_ids, num_segments, "segment_softmax")
    require_float(logits, "segment_softmax")
    return _softmax_impl(logits, ids, n, indices_are_sorted)


@static
def _softmax_impl(logits: Array, ids: Array, n: int, indices_are_sorted: bool) -> Array:
    acc = accum_dtype(logits.dtype)
    x = logits.astype(acc)
    m = _stable_shift(x, ids, n, indices_are_sorted)
    e = jnp.exp(x - m[ids])
    s = jax.ops.segment_sum(e, ids, n, indices_are_sorted=indices_are_sorted)[ids]
    out = e / jnp.where(s > 0, s, jnp.ones((), acc))
    return out.astype(logits.dtype)
