"""Argument checks and small pieces shared by the segment reducers (private)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike, DTypeLike

from jgnn._checks import int_array, static_int
from jgnn._numerics import broadcast_rows

__all__ = [
    "bcast",
    "check",
    "check_ids",
    "check_num_segments",
    "count_in",
    "require_float",
    "static",
]

# Each public reducer validates its arguments eagerly (at trace time), then calls a jitted
# implementation with the sizes and flags static. Under an outer ``jit`` the inner one is
# inlined; called eagerly it compiles once per shape instead of dispatching op by op.
static = partial(jax.jit, static_argnums=(2, 3))

bcast = broadcast_rows


def check_num_segments(num_segments: object, fn: str) -> int:
    """``num_segments`` as a Python int, or ``TypeError``/``ValueError``."""
    return static_int(num_segments, f"{fn}: num_segments")


def check_ids(segment_ids: ArrayLike, fn: str) -> Array:
    """``segment_ids`` as a 1-D integer array, or ``TypeError``/``ValueError``."""
    return int_array(segment_ids, f"{fn}: segment_ids")


def check(
    data: ArrayLike, segment_ids: ArrayLike, num_segments: object, fn: str
) -> tuple[Array, Array, int]:
    """Validates the common ``(data, segment_ids, num_segments)`` triple (trace time only)."""
    n = check_num_segments(num_segments, fn)
    ids = check_ids(segment_ids, fn)
    data = jnp.asarray(data)
    if data.ndim == 0 or data.shape[0] != ids.shape[0]:
        raise ValueError(
            f"{fn}: data must have shape [E] + feature_shape with E = len(segment_ids); got "
            f"data.shape={data.shape} and segment_ids.shape={ids.shape}."
        )
    return data, ids, n


def require_float(data: Array, fn: str) -> None:
    """Raises ``TypeError`` unless ``data`` is floating-point."""
    if not jnp.issubdtype(data.dtype, jnp.floating):
        raise TypeError(
            f"{fn}: data must be a floating-point array, got dtype {data.dtype}. Cast it first, "
            f"e.g. {fn}(data.astype(jnp.float32), ...); integer data is supported by "
            "segment_sum/max/min/prod."
        )


def count_in(ids: Array, n: int, dtype: DTypeLike, sorted_: bool) -> Array:
    """Elements per segment, ``[n]`` in ``dtype`` (out-of-range ids are not counted)."""
    ones = jnp.ones(ids.shape, dtype)
    return jax.ops.segment_sum(ones, ids, n, indices_are_sorted=sorted_)
