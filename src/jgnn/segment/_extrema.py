"""Segment maximum and minimum (empty segments give 0, ties split the gradient)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jgnn.segment._common import (
    bcast,
    check,
    count_in,
)

__all__ = ["segment_max", "segment_min"]


@partial(jax.jit, static_argnums=(2, 3, 4))
def _extremum(data: Array, ids: Array, n: int, sorted_: bool, op) -> Array:
    out = op(data, ids, n, indices_are_sorted=sorted_)
    nonempty = count_in(ids, n, jnp.int32, sorted_) > 0
    return jnp.where(bcast(nonempty, out), out, jnp.zeros((), out.dtype))


def segment_max(
    data: ArrayLike,
    segment_ids: ArrayLike,
    num_segments: int,
    *,
    indices_are_sorted: bool = False,
) -> Array:
    """Maximum of the rows of ``data`` in each segment.

    Gradient convention: like ``jnp.max``, the cotangent of a segment is split evenly among the
    elements that tie for its maximum (``jax.ops.segment_max`` already does this; it is
    checked against ``jnp.max`` in the tests). Exception: in a segment whose elements are all
    ``-inf`` the split also counts the scatter's ``-inf`` initial value, so each element
    receives ``1 / (k + 1)`` rather than ``1 / k``.

    Args:
      data: values, shape ``[E] + feature_shape``; float or integer.
      segment_ids: integer ids, shape ``[E]``.
      num_segments: number of segments ``N`` (static Python int).
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.

    Returns:
      Shape ``[N] + feature_shape``, dtype of ``data``; empty segments are 0 (not ``-inf``).

    Raises:
      TypeError: ``num_segments`` is not a Python int, or ids are not integers.
      ValueError: shapes of ``data`` and ``segment_ids`` disagree.

    Examples:
      >>> segment_max(jnp.array([1.0, 4.0, -3.0]), jnp.array([0, 0, 2]), 3)
      Array([ 4.,  0., -3.], dtype=float32)
    """
    data, ids, n = check(data, segment_ids, num_segments, "segment_max")
    return _extremum(data, ids, n, indices_are_sorted, jax.ops.segment_max)


def segment_min(
    data: ArrayLike,
    segment_ids: ArrayLike,
    num_segments: int,
    *,
    indices_are_sorted: bool = False,
) -> Array:
    """Minimum of the rows of ``data`` in each segment.

    Gradient convention: split evenly among tied minima, as ``jnp.min`` does (see
    :func:`segment_max`).

    Args:
      data: values, shape ``[E] + feature_shape``; float or integer.
      segment_ids: integer ids, shape ``[E]``.
      num_segments: number of segments ``N`` (static Python int).
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.

    Returns:
      Shape ``[N] + feature_shape``, dtype of ``data``; empty segments are 0 (not ``+inf``).

    Raises:
      TypeError: ``num_segments`` is not a Python int, or ids are not integers.
      ValueError: shapes of ``data`` and ``segment_ids`` disagree.

    Examples:
      >>> segment_min(jnp.array([1.0, 4.0, 3.0]), jnp.array([0, 0, 2]), 3)
      Array([1., 0., 3.], dtype=float32)
    """
    data, ids, n = check(data, segment_ids, num_segments, "segment_min")
    return _extremum(data, ids, n, indices_are_sorted, jax.ops.segment_min)
