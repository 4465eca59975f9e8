"""Numerics every floor of jgnn shares (private): accumulation dtype, safe inverse powers.

* Low precision accumulates in float32: :func:`accum_dtype` is the one rule (bf16/fp16 inputs
  are summed in float32 and the result is cast back by the caller).
* Degree normalisations never divide by zero: :func:`safe_rsqrt` and :func:`safe_reciprocal`
  give 0 where the input is 0 (an isolated node gets no weight instead of ``inf``/``nan``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

__all__ = ["accum_dtype", "broadcast_rows", "safe_reciprocal", "safe_rsqrt"]


def accum_dtype(dtype: Any) -> jnp.dtype:
    """float32 for floating dtypes narrower than 32 bits, else the dtype itself."""
    if jnp.issubdtype(dtype, jnp.floating) and jnp.dtype(dtype).itemsize < 4:
        return jnp.dtype(jnp.float32)
    return jnp.dtype(dtype)


def safe_rsqrt(x: Array) -> Array:
    """``1 / sqrt(x)`` where ``x > 0``, else 0 (no ``inf`` and no ``nan`` gradient)."""
    positive = x > 0
    return jnp.where(positive, jax.lax.rsqrt(jnp.where(positive, x, 1.0)), 0.0).astype(x.dtype)


def safe_reciprocal(x: Array) -> Array:
    """``1 / x`` where ``x != 0``, else 0."""
    nonzero = x != 0
    return jnp.where(nonzero, 1.0 / jnp.where(nonzero, x, 1.0), 0.0).astype(x.dtype)


def broadcast_rows(per_row: Array, like: Array) -> Array:
    """Reshapes a ``[N]`` vector so it broadcasts against ``[N, *F]`` (``like``'s rank)."""
    return per_row.reshape(per_row.shape + (1,) * (like.ndim - per_row.ndim))
