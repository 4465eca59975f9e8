"""Shared helpers for the Pallas kernels: block sizes, validation and in-graph CSR plumbing.

Nothing here launches a kernel. The helpers pick power-of-two block sizes (Triton needs them),
check argument shapes and dtypes at trace time, and build the index arrays the backward passes
need (row ids of a CSR matrix, its CSC view, a COO list sorted into CSR) with fixed-shape `jnp`
operations, so every one of them runs under `jit`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

#: Largest number of elements in one `[block_e, block_f]` gather tile chosen by default.
DEFAULT_TILE_ELEMENTS = 4096
#: Default cap on the feature block: wider feature dims are split over several programs.
DEFAULT_MAX_BLOCK_F = 128
#: Default bounds on the edge block (edges gathered per loop step).
MIN_BLOCK_E = 8
MAX_BLOCK_E = 32


def _is_power_of_two(n: int) -> bool:
    return n >= 1 and (n & (n - 1)) == 0


def pick_block_f(num_features: int, block_f: int | None) -> int:
    """Returns the feature block: `block_f`, or the next power of two of F capped at 128.

    Raises:
        ValueError: if `block_f` is given and is not a positive power of two.
    """
    if block_f is None:
        return min(pl.next_power_of_2(max(num_features, 1)), DEFAULT_MAX_BLOCK_F)
    if not isinstance(block_f, int) or not _is_power_of_two(block_f):
        raise ValueError(f"block_f must be a positive power of two, got {block_f!r}.")
    return block_f


def pick_block_e(block_f: int, block_e: int | None) -> int:
    """Returns the edge block: `block_e`, or 4096 / block_f clamped to [8, 32].

    Raises:
        ValueError: if `block_e` is given and is not a positive power of two.
    """
    if block_e is None:
        return int(min(max(DEFAULT_TILE_ELEMENTS // block_f, MIN_BLOCK_E), MAX_BLOCK_E))
    if not isinstance(block_e, int) or not _is_power_of_two(block_e):
        raise ValueError(f"block_e must be a positive power of two, got {block_e!r}.")
    return block_e


def triton_params(block_e: int, block_f: int) -> plt.CompilerParams:
    """Triton compiler parameters for a `[block_e, block_f]` gather tile.

    Passing Triton `CompilerParams` is what selects the Triton backend: Mosaic GPU (the default
    on Hopper) has no vector gather, which every kernel here is built on.
    """
    num_warps = 4 if block_e * block_f >= 2048 else 2
    return plt.CompilerParams(num_warps=num_warps, num_stages=2)


def accum_dtype(dtype: Any) -> jnp.dtype:
    """float64 stays float64; every other float type accumulates in float32."""
    return jnp.dtype(jnp.float64) if jnp.dtype(dtype) == jnp.float64 else jnp.dtype(jnp.float32)


def check_index(name: str, a: Any, length: int | None = None) -> jax.Array:
    """Checks a 1-D integer index array and returns it as int32.

    Raises:
        TypeError: if `a` is not an integer array.
        ValueError: if `a` is not 1-D or its length differs from `length`.
    """
    a = jnp.asarray(a)
    if not jnp.issubdtype(a.dtype, jnp.integer):
        raise TypeError(f"`{name}` must be an integer array, got dtype {a.dtype}.")
    if a.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D, got shape {a.shape}.")
    if length is not None and a.shape[0] != length:
        raise ValueError(f"`{name}` must have length {length}, got {a.shape[0]}.")
    return a.astype(jnp.int32)


def check_float(name: str, a: Any, ndims: tuple[int, ...]) -> jax.Array:
    """Checks that `a` is a floating array with one of the ranks in `ndims`.

    Raises:
        TypeError: if `a` is not a floating-point array.
        ValueError: if its rank is not in `ndims`.
    """
    a = jnp.asarray(a)
    if not jnp.issubdtype(a.dtype, jnp.floating):
        raise TypeError(f"`{name}` must be a floating-point array, got dtype {a.dtype}.")
    if a.ndim not in ndims:
        want = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"`{name}` must be {want}, got shape {a.shape}.")
    return a


def check_transpose(
    transpose: Any, num_cols: int, nnz: int
) -> tuple[jax.Array, jax.Array, jax.Array] | None:
    """Validates a stored CSC view `(colptr [N+1], row_t [nnz], csr2csc [nnz])`.

    Raises:
        TypeError: if `transpose` is not a 3-tuple or holds non-integer arrays.
        ValueError: if a member has the wrong length.
    """
    if transpose is None:
        return None
    if not isinstance(transpose, tuple | list) or len(transpose) != 3:
        raise TypeError(
            "`transpose` must be a tuple (colptr, row_t, csr2csc) or None, "
            f"got {type(transpose).__name__}."
        )
    colptr, row_t, perm = transpose
    return (
        check_index("transpose[0] (colptr)", colptr, num_cols + 1),
        check_index("transpose[1] (row_t)", row_t, nnz),
        check_index("transpose[2] (csr2csc)", perm, nnz),
    )


def row_ids(rowptr: jax.Array, nnz: int) -> jax.Array:
    """Row index of every CSR entry, `[nnz]` int32, from `rowptr [M+1]` (jittable)."""
    if nnz == 0:
        return jnp.zeros((0,), jnp.int32)
    e = jnp.arange(nnz, dtype=jnp.int32)
    return (jnp.searchsorted(rowptr, e, side="right") - 1).astype(jnp.int32)


def sort_to_csr(index: jax.Array, num_segments: int) -> tuple[jax.Array, jax.Array]:
    """Groups a COO index by value: returns `(ptr [num_segments+1], perm [nnz])`.

    `index[perm]` is sorted (stable, so ties keep their order) and segment `s` owns positions
    `ptr[s]:ptr[s+1]` of it. Jittable; costs one argsort.
    """
    perm = jnp.argsort(index, stable=True).astype(jnp.int32)
    sorted_index = index[perm]
    bounds = jnp.arange(num_segments + 1, dtype=jnp.int32)
    ptr = jnp.searchsorted(sorted_index, bounds, side="left").astype(jnp.int32)
    return ptr, perm


def csc_view(
    rowptr: jax.Array, col: jax.Array, num_cols: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Builds the CSC view `(colptr, row_t, csr2csc)` of a CSR matrix in-graph (one argsort)."""
    colptr, perm = sort_to_csr(col, num_cols)
    row = row_ids(rowptr, col.shape[0])
    return colptr, row[perm], perm
