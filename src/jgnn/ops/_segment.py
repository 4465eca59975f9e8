"""Segment reductions: reduce the rows of ``data`` that share a segment id.

These are the aggregation primitives of every message-passing layer: ``segment_sum(msg,
receivers, num_nodes)`` sums the messages arriving at each node. All reducers share one contract:

* ``data`` has shape ``[E] + feature_shape`` and ``segment_ids`` shape ``[E]`` (any integer
  dtype); results have shape ``[num_segments] + feature_shape`` (``segment_softmax`` keeps the
  shape of its input).
* ``num_segments`` fixes the output shape, so it must be a static Python ``int``, never a traced
  value.
* Empty segments reduce to ``0`` for every reducer (``max``/``min`` give ``0``, not ``-inf``/
  ``+inf``, and ``prod`` gives ``0``, not the empty product ``1``, as DGL does for zero-degree
  nodes).
* ``bfloat16``/``float16`` inputs accumulate in ``float32`` and the result is cast back to the
  input dtype. ``max``/``min`` are exact in any dtype and run in the input dtype.
* Ids outside ``[0, num_segments)`` (negative ones included) are silently dropped, as in
  ``jax.ops.segment_sum``. Nothing here checks ids: validate graphs with ``jgnn.check_graph``
  (outside ``jit``) or its checkified twin.
* ``indices_are_sorted=True`` promises ids in non-decreasing order and is passed to XLA, which
  may pick a faster scatter; a wrong promise gives undefined results.
"""

from __future__ import annotations

import operator
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike, DTypeLike

__all__ = [
    "segment_count",
    "segment_logsumexp",
    "segment_max",
    "segment_mean",
    "segment_min",
    "segment_prod",
    "segment_softmax",
    "segment_std",
    "segment_sum",
    "segment_var",
]


# --------------------------------------------------------------------------------------------
# Validation and dtype helpers
# --------------------------------------------------------------------------------------------


def _check_num_segments(num_segments: object, fn: str) -> int:
    """Return ``num_segments`` as a Python int or raise ``TypeError``/``ValueError``."""
    if isinstance(num_segments, jax.core.Tracer):
        raise TypeError(
            f"{fn}: num_segments must be a static Python int, got a traced value "
            f"{num_segments!r}. It fixes the output shape; pass it as a static argument "
            "(e.g. jax.jit(..., static_argnames=...)) or read it from the graph outside jit."
        )
    if isinstance(num_segments, bool) or not isinstance(num_segments, (int, np.integer)):
        raise TypeError(
            f"{fn}: num_segments must be a Python int, got {type(num_segments).__name__} "
            f"({num_segments!r})."
        )
    n = operator.index(num_segments)
    if n < 0:
        raise ValueError(f"{fn}: num_segments must be >= 0, got {n}.")
    return n


def _check_ids(segment_ids: ArrayLike, fn: str) -> Array:
    ids = jnp.asarray(segment_ids)
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise TypeError(
            f"{fn}: segment_ids must be an integer array, got dtype {ids.dtype} "
            f"(shape {ids.shape})."
        )
    if ids.ndim != 1:
        raise ValueError(f"{fn}: segment_ids must be 1-D with shape [E], got shape {ids.shape}.")
    return ids


def _check(
    data: ArrayLike, segment_ids: ArrayLike, num_segments: object, fn: str
) -> tuple[Array, Array, int]:
    """Validate the common ``(data, segment_ids, num_segments)`` triple (trace time only)."""
    n = _check_num_segments(num_segments, fn)
    ids = _check_ids(segment_ids, fn)
    data = jnp.asarray(data)
    if data.ndim == 0 or data.shape[0] != ids.shape[0]:
        raise ValueError(
            f"{fn}: data must have shape [E] + feature_shape with E = len(segment_ids); got "
            f"data.shape={data.shape} and segment_ids.shape={ids.shape}."
        )
    return data, ids, n


def _require_float(data: Array, fn: str) -> None:
    if not jnp.issubdtype(data.dtype, jnp.floating):
        raise TypeError(
            f"{fn}: data must be a floating-point array, got dtype {data.dtype}. Cast it first, "
            f"e.g. {fn}(data.astype(jnp.float32), ...); integer data is supported by "
            "segment_sum/max/min/prod."
        )


def _acc_dtype(dtype: np.dtype) -> np.dtype:
    """Accumulation dtype: float32 for floats narrower than 32 bits, else the dtype itself."""
    if jnp.issubdtype(dtype, jnp.floating) and jnp.dtype(dtype).itemsize < 4:
        return jnp.dtype(jnp.float32)
    return jnp.dtype(dtype)


def _bcast(per_segment: Array, like: Array) -> Array:
    """Reshape a ``[N]`` vector so it broadcasts against ``[N] + feature_shape``."""
    return per_segment.reshape(per_segment.shape + (1,) * (like.ndim - 1))


# Each public function validates its arguments eagerly (at trace time), then calls a jitted
# implementation with the sizes and flags static. Under an outer ``jit`` the inner one is inlined;
# called eagerly it compiles once per shape instead of dispatching op by op.
_static = partial(jax.jit, static_argnums=(2, 3))


def _count(ids: Array, n: int, dtype: DTypeLike, sorted_: bool) -> Array:
    ones = jnp.ones(ids.shape, dtype)
    return jax.ops.segment_sum(ones, ids, n, indices_are_sorted=sorted_)


# --------------------------------------------------------------------------------------------
# Counting, sum and mean
# --------------------------------------------------------------------------------------------


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
    n = _check_num_segments(num_segments, "segment_count")
    ids = _check_ids(segment_ids, "segment_count")
    return _count_impl(ids, n, jnp.dtype(dtype), indices_are_sorted)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _count_impl(ids: Array, n: int, dtype: np.dtype, sorted_: bool) -> Array:
    return _count(ids, n, dtype, sorted_)


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
    data, ids, n = _check(data, segment_ids, num_segments, "segment_sum")
    return _sum_impl(data, ids, n, indices_are_sorted)


@_static
def _sum_impl(data: Array, ids: Array, n: int, sorted_: bool) -> Array:
    acc = _acc_dtype(data.dtype)
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
    data, ids, n = _check(data, segment_ids, num_segments, "segment_mean")
    _require_float(data, "segment_mean")
    return _mean_impl(data, ids, n, indices_are_sorted)


@_static
def _mean_impl(data: Array, ids: Array, n: int, sorted_: bool) -> Array:
    return _mean(data, ids, n, sorted_).astype(data.dtype)


def _mean(data: Array, ids: Array, n: int, sorted_: bool) -> Array:
    """Mean in the accumulation dtype (not cast back)."""
    acc = _acc_dtype(data.dtype)
    total = jax.ops.segment_sum(data.astype(acc), ids, n, indices_are_sorted=sorted_)
    count = _count(ids, n, acc, sorted_)
    return total / _bcast(jnp.maximum(count, jnp.ones((), acc)), total)


# --------------------------------------------------------------------------------------------
# Max and min
# --------------------------------------------------------------------------------------------


@partial(jax.jit, static_argnums=(2, 3, 4))
def _extremum(data: Array, ids: Array, n: int, sorted_: bool, op) -> Array:
    out = op(data, ids, n, indices_are_sorted=sorted_)
    nonempty = _count(ids, n, jnp.int32, sorted_) > 0
    return jnp.where(_bcast(nonempty, out), out, jnp.zeros((), out.dtype))


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
    data, ids, n = _check(data, segment_ids, num_segments, "segment_max")
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
    data, ids, n = _check(data, segment_ids, num_segments, "segment_min")
    return _extremum(data, ids, n, indices_are_sorted, jax.ops.segment_min)


# --------------------------------------------------------------------------------------------
# Product (custom JVP: exact derivative with zeros, no division)
# --------------------------------------------------------------------------------------------


def _segmented_inclusive_cumprod(x: Array, starts: Array) -> Array:
    """Inclusive cumulative product along axis 0 restarting where ``starts`` is True."""
    flags = _bcast(starts, x)

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
    prefix = jnp.where(_bcast(starts, xs), one, jnp.concatenate([one, inc[: e - 1]]))
    # Exclusive suffix: the same on the reversed rows.
    inc_r = _segmented_inclusive_cumprod(xs[::-1], ends[::-1])[::-1]
    suffix = jnp.where(_bcast(ends, xs), one, jnp.concatenate([inc_r[1:], one]))
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
    data, ids, n = _check(data, segment_ids, num_segments, "segment_prod")
    return _prod_impl(data, ids, n, indices_are_sorted)


@_static
def _prod_impl(data: Array, ids: Array, n: int, indices_are_sorted: bool) -> Array:
    if jnp.issubdtype(data.dtype, jnp.inexact):
        acc = _acc_dtype(data.dtype)
        out = _prod_float(data.astype(acc), ids, n, indices_are_sorted)
    else:
        out = jax.ops.segment_prod(data, ids, n, indices_are_sorted=indices_are_sorted)
    nonempty = _count(ids, n, jnp.int32, indices_are_sorted) > 0
    out = jnp.where(_bcast(nonempty, out), out, jnp.zeros((), out.dtype))
    return out.astype(data.dtype)


# --------------------------------------------------------------------------------------------
# Variance and standard deviation
# --------------------------------------------------------------------------------------------


def _var(data: Array, ids: Array, n: int, ddof: int, sorted_: bool) -> Array:
    """Two-pass variance in the accumulation dtype; segments with count <= ddof give 0."""
    acc = _acc_dtype(data.dtype)
    x = data.astype(acc)
    count = _count(ids, n, acc, sorted_)
    mean = jax.ops.segment_sum(x, ids, n, indices_are_sorted=sorted_) / _bcast(
        jnp.maximum(count, jnp.ones((), acc)), x
    )
    centred = x - mean[ids]
    sq = jax.ops.segment_sum(centred * centred, ids, n, indices_are_sorted=sorted_)
    denom = count - jnp.asarray(ddof, acc)
    ok = denom > 0
    safe = jnp.where(ok, denom, jnp.ones((), acc))
    return jnp.where(_bcast(ok, sq), sq / _bcast(safe, sq), jnp.zeros((), acc))


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
    data, ids, n = _check(data, segment_ids, num_segments, "segment_var")
    _require_float(data, "segment_var")
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
    data, ids, n = _check(data, segment_ids, num_segments, "segment_std")
    _require_float(data, "segment_std")
    ddof = _check_ddof(ddof, "segment_std")
    if not eps > 0:
        raise ValueError(f"segment_std: eps must be > 0, got {eps!r}.")
    return _std_impl(data, ids, n, ddof, float(eps), indices_are_sorted)


@partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _std_impl(data: Array, ids: Array, n: int, ddof: int, eps: float, sorted_: bool) -> Array:
    var = _var(data, ids, n, ddof, sorted_)
    return _safe_sqrt(var, jnp.asarray(eps, var.dtype)).astype(data.dtype)


# --------------------------------------------------------------------------------------------
# logsumexp and softmax
# --------------------------------------------------------------------------------------------


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
    data, ids, n = _check(data, segment_ids, num_segments, "segment_logsumexp")
    _require_float(data, "segment_logsumexp")
    return _logsumexp_impl(data, ids, n, indices_are_sorted)


@_static
def _logsumexp_impl(data: Array, ids: Array, n: int, indices_are_sorted: bool) -> Array:
    acc = _acc_dtype(data.dtype)
    x = data.astype(acc)
    m = _stable_shift(x, ids, n, indices_are_sorted)
    s = jax.ops.segment_sum(jnp.exp(x - m[ids]), ids, n, indices_are_sorted=indices_are_sorted)
    nonempty = _bcast(_count(ids, n, jnp.int32, indices_are_sorted) > 0, s)
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
    logits, ids, n = _check(logits, segment_ids, num_segments, "segment_softmax")
    _require_float(logits, "segment_softmax")
    return _softmax_impl(logits, ids, n, indices_are_sorted)


@_static
def _softmax_impl(logits: Array, ids: Array, n: int, indices_are_sorted: bool) -> Array:
    acc = _acc_dtype(logits.dtype)
    x = logits.astype(acc)
    m = _stable_shift(x, ids, n, indices_are_sorted)
    e = jnp.exp(x - m[ids])
    s = jax.ops.segment_sum(e, ids, n, indices_are_sorted=indices_are_sorted)[ids]
    out = e / jnp.where(s > 0, s, jnp.ones((), acc))
    return out.astype(logits.dtype)
