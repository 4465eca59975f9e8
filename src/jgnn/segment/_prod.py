"""Segment product with an exact derivative in the presence of zeros (custom JVP)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jgnn._numerics import accum_dtype
from jgnn.segment._common import (
    bcast,
    check,
    count_in,
    static,
)

__all__ = ["segment_prod"]


def _segmented_inclusive_cumprod(x: Array, starts: Array) -> Array:
    """Inclusive cumulative product along axis 0 restarting where ``starts`` is True."""
    flags = bcast(starts, x)

    def combine(a, b):
        fa, va = a
        fb, vb = b
        return fa | fb, jnp.where(fb, vb, va * vb)

    _, out = jax.lax.associative_scan(combine, (jnp.broadcast_to(flags, x.shape), x), axis=0)
    return out


def _exclusive_segment_prod(x: Array, ids: Array, sorted_: bool) -> Array:
    """For each element, the product of the *other* elements of its segment.

    Prefix and suffix segmented scans over the id-sorted rows; exact with zeros.
    """
    if sorted_:
        xs, ids_s = x, ids
    else:
        perm = jnp.argsort(ids, stable=True)
        xs, ids_s = x[perm], ids[perm]
    e = ids_s.shape[0]
    boundary = ids_s[1:] != ids_s[:-1]
    true1 = jnp.ones((1,), bool)
    starts = jnp.concatenate([true1, boundary])
    ends = jnp.concatenate([boundary, true1])
    one = jnp.ones((1,) + xs.shape[1:], xs.dtype)
    # Exclusive prefix: inclusive prefix shifted down by one, reset to 1 at segment starts.
    inc = _segmented_inclusive_cumprod(xs, starts)
    prefix = jnp.where(bcast(starts, xs), one, jnp.concatenate([one, inc[: e - 1]]))
    # Exclusive suffix: the same on the reversed rows.
    inc_r = _segmented_inclusive_cumprod(xs[::-1], ends[::-1])[::-1]
    suffix = jnp.where(bcast(ends, xs), one, jnp.concatenate([inc_r[1:], one]))
    others = prefix * suffix
    if sorted_:
        return others
    return jnp.zeros_like(others).at[perm].set(others, unique_indices=True)


@partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _prod_float(x: Array, ids: Array, n: int, sorted_: bool) -> Array:
    return jax.ops.segment_prod(x, ids, n, indices_are_sorted=sorted_)


@_prod_float.defjvp
def _prod_float_jvp(n, sorted_, primals, tangents):
    x, ids = primals
    dx, _ = tangents
    out = _prod_float(x, ids, n, sorted_)
    if x.shape[0] == 0:
        return out, jnp.zeros_like(out)
    others = _exclusive_segment_prod(x, ids, sorted_)
    dout = jax.ops.segment_sum(dx * others, ids, n, indices_are_sorted=sorted_)
    return out, dout


def segment_prod(
    data: ArrayLike,
    segment_ids: ArrayLike,
    num_segments: int,
    *,
    indices_are_sorted: bool = False,
) -> Array:
    """Product of the rows of ``data`` in each segment.

    Empty segments give ``0``, not the empty product ``1`` (DGL's convention for zero-degree
    nodes). The derivative is exact even with zeros in a segment: the derivative with respect
    to one element is the product of the others, computed with segmented prefix/suffix scans
    (never by dividing the product by the element). Forward- and reverse-mode both work.

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
      >>> segment_prod(jnp.array([2.0, 3.0, 5.0]), jnp.array([0, 0, 2]), 3)
      Array([6., 0., 5.], dtype=float32)
    """
    data, ids, n = check(data, segment_ids, num_segments, "segment_prod")
    return _prod_impl(data, ids, n, indices_are_sorted)


@static
def _prod_impl(data: Array, ids: Array, n: int, indices_are_sorted: bool) -> Array:
    if jnp.issubdtype(data.dtype, jnp.inexact):
        acc = accum_dtype(data.dtype)
        out = _prod_float(data.astype(acc), ids, n, indices_are_sorted)
    else:
        out = jax.ops.segment_prod(data, ids, n, indices_are_sorted=indices_are_sorted)
    nonempty = count_in(ids, n, jnp.int32, indices_are_sorted) > 0
    out = jnp.where(bcast(nonempty, out), out, jnp.zeros((), out.dtype))
    return out.astype(data.dtype)
