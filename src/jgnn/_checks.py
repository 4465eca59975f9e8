"""Argument checks shared by every floor of jgnn (private).

One home for the checks that fix output shapes or index memory: whether a value is traced,
static integer sizes, and integer id arrays (on the device for jittable code, on the host for
host-side code). Messages name the argument, what was expected and what was received.
"""

from __future__ import annotations

import operator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

__all__ = ["check_id_range", "host_ints", "int_array", "is_traced", "static_int"]


def is_traced(*trees: Any) -> bool:
    """Whether any leaf of ``trees`` is a JAX tracer (we are inside a transformation)."""
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(trees))


def static_int(
    value: Any, what: str, *, minimum: int | None = 0, maximum: int | None = None
) -> int:
    """``value`` as a Python int, or a clear error.

    Args:
      value: a size that fixes an output shape (or a count read on the host).
      what: how the message names it, e.g. ``"segment_sum: num_segments"``.
      minimum: smallest accepted value (None: no bound).
      maximum: largest accepted value (None: no bound).

    Returns:
      The int.

    Raises:
      TypeError: ``value`` is traced, a bool, or not an integer.
      ValueError: ``value`` is out of bounds.
    """
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{what} must be a static Python int, got a traced value. It fixes an output "
            "shape; pass it as a static argument (jax.jit(..., static_argnames=...)) or read "
            "it outside jit."
        )
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{what} must be an int, got {type(value).__name__} ({value!r}); pass a Python int."
        )
    n = operator.index(value)
    if minimum is not None and n < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {n}.")
    if maximum is not None and n > maximum:
        raise ValueError(f"{what} must be <= {maximum}, got {n}.")
    return n


def int_array(x: Any, what: str, *, ndim: int | None = 1) -> Array:
    """``x`` as a JAX integer array of rank ``ndim`` (jittable; the dtype is kept).

    Raises:
      TypeError: ``x`` does not have an integer dtype.
      ValueError: ``x`` has another rank.
    """
    ids = jnp.asarray(x)
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise TypeError(
            f"{what} must be an integer array, got dtype {ids.dtype} (shape {ids.shape})."
        )
    if ndim is not None and ids.ndim != ndim:
        raise ValueError(f"{what} must be {ndim}-D, got shape {ids.shape}.")
    return ids


def host_ints(x: Any, what: str) -> np.ndarray:
    """A concrete int64 NumPy array from a NumPy/JAX/list input (host-side code only).

    Raises:
      TypeError: ``x`` is traced (host-side code needs concrete ids), bool, or not integer.
    """
    if is_traced(x):
        raise TypeError(
            f"{what}: this is host-side (its output size depends on the data) and needs "
            "concrete ids, got a traced value. Build it outside jax.jit and pass the result "
            "in as an argument."
        )
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{what} must have an integer dtype, got {arr.dtype}.")
    return arr.astype(np.int64, copy=False)


def check_id_range(ids: np.ndarray, bound: int, what: str, hint: str = "") -> None:
    """Raises ``ValueError`` unless every host id lies in ``[0, bound)``."""
    if ids.size == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= bound:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"{what} ids must lie in [0, {bound}), found {bad} (min {lo}, max {hi}).{hint}"
        )
