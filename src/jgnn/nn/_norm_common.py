"""Padding-aware normalisation layers: batch, layer and graph normalisation of node features.

Each layer is a pure function (:func:`batch_norm`, :func:`layer_norm`, :func:`graph_norm`) and a
thin ``nnx.Module`` that owns the parameters (and, for :class:`BatchNorm`, the running
statistics as ``nnx.BatchStat``).

Masking contract, shared by all of them: ``mask [N]`` (default: every node real) marks the real
nodes. Masked rows are left out of every statistic, so real outputs are the same with or
without padding rows, whatever those rows hold (zeros, large values, even NaN), and the outputs
on masked rows are exactly 0. Pass ``jgnn.graph.node_mask(graph)`` for a padded graph.
Statistics are computed in float32 for bf16/fp16 inputs and the result is cast back.

This module holds what the three layers share (private).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from jgnn._numerics import accum_dtype

__all__ = [
    "affine",
    "affine_params",
    "check_epsilon",
    "check_vec",
    "check_x",
    "finish",
    "gather",
    "prepare",
]


def check_x(x: ArrayLike, fn: str) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{fn}: `x` must have shape [N, F], got shape {x.shape}.")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{fn}: `x` must be floating point, got dtype {x.dtype}.")
    return x


def affine_params(
    num_features: int, affine: bool, param_dtype: jnp.dtype
) -> tuple[nnx.Param | None, nnx.Param | None]:
    """``(scale, bias)``: ones and zeros ``[F]`` when ``affine``, else ``(None, None)``."""
    if not affine:
        return None, None
    scale = nnx.Param(jnp.ones((num_features,), param_dtype))
    return scale, nnx.Param(jnp.zeros((num_features,), param_dtype))


def check_vec(v: ArrayLike | None, name: str, f: int, dtype: jnp.dtype, fn: str):
    if v is None:
        return None
    v = jnp.asarray(v)
    if v.shape != (f,):
        raise ValueError(f"{fn}: `{name}` must have shape ({f},) to match `x`, got {v.shape}.")
    return v.astype(dtype)


def check_epsilon(epsilon: float, fn: str) -> float:
    if not epsilon > 0:
        raise ValueError(f"{fn}: `epsilon` must be > 0, got {epsilon!r}.")
    return float(epsilon)


def affine(out: jax.Array, scale: jax.Array | None, bias: jax.Array | None) -> jax.Array:
    if scale is not None:
        out = out * scale
    if bias is not None:
        out = out + bias
    return out


def finish(out: jax.Array, keep: jax.Array | None, dtype: jnp.dtype) -> jax.Array:
    """Zero the masked rows and cast back to the input dtype."""
    if keep is not None:
        out = jnp.where(keep[:, None], out, jnp.zeros((), out.dtype))
    return out.astype(dtype)


def prepare(x: jax.Array, ids: jax.Array, g: int, masked: bool):
    """Accumulation-dtype copy of ``x`` with masked rows (id ``g``) zeroed, plus the keep mask."""
    xa = x.astype(accum_dtype(x.dtype))
    if not masked:
        return xa, None
    keep = ids < g
    return jnp.where(keep[:, None], xa, jnp.zeros((), xa.dtype)), keep


def gather(per_graph: jax.Array, ids: jax.Array) -> jax.Array:
    """Rows ``per_graph[ids]``; out-of-range (masked) ids read 0."""
    return per_graph.at[ids].get(mode="fill", fill_value=0)
