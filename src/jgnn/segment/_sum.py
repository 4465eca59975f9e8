"""Segment count, sum and mean."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike, DTypeLike

from jgnn._numerics import accum_dtype
from jgnn.segment._common import (
    bcast,
    check,
    check_ids,
    check_num_segments,
    count_in,
    require_float,
    static,
)

__all__ = ["segment_count", "segment_mean", "segment_sum"]


def segment_count(
    segment_ids: ArrayLike,
    num_segments: int,
    dtype: DTypeLike = jnp.int32,
    *,
    indices_are_sorted: bool = False,
) -> Array:
    """Number of elements in each segment (the in-degree when ids are receivers).

    Args:
      segment_ids: integer ids, shape ``[E]``.
      num_segments: number of segments ``N`` (static Python int).
      dtype: dtype of the result.
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.

    Returns:
      Counts of shape ``[N]`` and dtype ``dtype``; out-of-range ids are not counted.

    Raises:
      TypeError: ``num_segments`` is not a Python int, or ids are not integers.
      ValueError: ``segment_ids`` is not 1-D.

    Examples:
      >>> segment_count(jnp.array([0, 2, 2]), 3)
      Array([1, 0, 2], dtype=int32)
    """
    n = check_num_segments(num_segments, "segment_count")
    ids = check_ids(segment_ids, "segment_count")
    return _count_impl(ids, n, jnp.dtype(dtype), indices_are_sorted)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _count_impl(ids: Array, n: int, dtype: np.dtype, sorted_: bool) -> Array:
    return count_in(ids, n, dtype, sorted_)


def segment_sum(
    data: ArrayLike,
    segment_ids: ArrayLike,
    num_segments: int,
    *,
    indices_are_sorted: bool = False,
) -> Array:
    """Sum of the rows of ``data`` in each segment.

    Args:
      data: values, shape ``[E] + feature_shape``; float or integer.
      segment_ids: integer ids, shape ``[E]``.
      num_segments: number of segments ``N`` (static Python int).
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.

    Returns:
      Shape ``[N] + feature_shape``, dtype of ``data``; empty segments are 0.

    Raises:
      TypeError: ``num_segments`` is not a Python int, or ids are not integers.
      ValueError: shapes of ``data`` and ``segment_ids`` disagree.

    Examples:
      >>> segment_sum(jnp.array([1.0, 2.0, 3.0]), jnp.array([0, 0, 2]), 3)
      Array([3., 0., 3.], dtype=float32)
    """
    data, ids, n = check(data, segment_ids, num_segments, "segment_sum")
    return _sum_impl(data, ids, n, indices_are_sorted)


@static
def _sum_impl(data: Array, ids: Array, n: int, sorted_: bool) -> Array:
    acc = accum_dtype(data.dtype)
    if acc == data.dtype:
        return jax.ops.segment_sum(data, ids, n, indices_are_sorted=sorted_)
    out = jax.ops.segment_sum(data.astype(acc), ids, n, indices_are_sorted=sorted_)
    return out.astype(data.dtype)


def segment_mean(
    data: ArrayLike,
    segment_ids: ArrayLike,
    num_segments: int,
    *,
    indices_are_sorted: bool = False,
) -> Array:
    """Mean of the rows of ``data`` in each segment.

    Args:
      data: floating values, shape ``[E] + feature_shape``.
      segment_ids: integer ids, shape ``[E]``.
      num_segments: number of segments ``N`` (static Python int).
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.

    Returns:
      Shape ``[N] + feature_shape``, dtype of ``data``; empty segments are 0.

    Raises:
      TypeError: ``data`` is not floating, ``num_segments`` is not a Python int, or ids are
        not integers.
      ValueError: shapes of ``data`` and ``segment_ids`` disagree.

    Examples:
      >>> segment_mean(jnp.array([1.0, 3.0, 5.0]), jnp.array([0, 0, 2]), 3)
      Array([2., 0., 5.], dtype=float32)
    """
    data, ids, n = check(data, segment_ids, num_segments, "segment_mean")
    require_float(data, "segment_mean")
    return _mean_impl(data, ids, n, indices_are_sorted)


@static
def _mean_impl(data: Array, ids: Array, n: int, sorted_: bool) -> Array:
    return _mean(data, ids, n, sorted_).astype(data.dtype)


def _mean(data: Array, ids: Array, n: int, sorted_: bool) -> Array:
    """Mean in the accumulation dtype (not cast back)."""
    acc = accum_dtype(data.dtype)
    total = jax.ops.segment_sum(data.astype(acc), ids, n, indices_are_sorted=sorted_)
    count = count_in(ids, n, acc, sorted_)
    return total / bcast(jnp.maximum(count, jnp.ones((), acc)), total)
