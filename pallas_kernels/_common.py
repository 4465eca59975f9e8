"""Shared helpers for the Pallas kernels: argument checks, dtypes and in-graph CSR plumbing.

Nothing here launches a kernel. The helpers check argument shapes and dtypes at trace time, pick
Triton compiler parameters, and build the index arrays the backward passes need (row ids of a
CSR matrix, its CSC view, a COO list grouped into CSR) with fixed-shape `jnp` operations, so
every one of them runs under `jit`. This is the bottom layer: it imports no other module of the
package.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental.pallas import triton as plt


def is_power_of_two(n: Any) -> bool:
    """True for a positive Python int that is a power of two."""
    return isinstance(n, int) and not isinstance(n, bool) and n >= 1 and (n & (n - 1)) == 0


def next_power_of_two(n: int) -> int:
    """Smallest power of two `>= max(n, 1)`."""
    return 1 << max(int(n) - 1, 0).bit_length()


def triton_params(tile_elements: int) -> plt.CompilerParams:
    """Triton compiler parameters for a kernel whose largest gathered tile has this many elements.

    Passing Triton `CompilerParams` is what selects the Triton backend: Mosaic GPU (the default
    on Hopper) has no vector gather, which every kernel here is built on.
    """
    num_warps = 4 if tile_elements >= 2048 else 2
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


def check_rowptr(rowptr: Any) -> jax.Array:
    """Checks CSR row pointers `[M+1]` (at least one entry) and returns them as int32.

    Raises:
        TypeError: if `rowptr` is not an integer array.
        ValueError: if it is not 1-D or is empty.
    """
    rowptr = check_index("rowptr", rowptr)
    if rowptr.shape[0] < 1:
        raise ValueError("`rowptr` must have at least one entry (M+1 >= 1), got length 0.")
    return rowptr


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


def check_shape(name: str, a: jax.Array, shape: tuple[int, ...], meaning: str) -> None:
    """Raises a ValueError naming `meaning` (e.g. "(N, H)") when `a.shape != shape`."""
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"`{name}` must have shape {meaning} = {tuple(shape)}, got {a.shape}.")


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


def check_row(row: Any, nnz: int) -> jax.Array | None:
    """Validates the optional stored CSR row ids `[nnz]` (None passes through)."""
    return None if row is None else check_index("row", row, nnz)


def row_ids(rowptr: jax.Array, nnz: int) -> jax.Array:
    """Row index of every CSR entry, `[nnz]` int32, from `rowptr [M+1]` (jittable).

    One scatter-add of a 1 at every row start, then a cumulative sum: no search over the edges.
    """
    m = rowptr.shape[0] - 1
    if nnz == 0 or m == 0:
        return jnp.zeros((nnz,), jnp.int32)
    marks = jnp.zeros((nnz,), jnp.int32).at[rowptr[1:m]].add(1, mode="drop")
    return jnp.cumsum(marks, dtype=jnp.int32)


def sort_to_csr(index: jax.Array, num_segments: int) -> tuple[jax.Array, jax.Array]:
    """Groups a COO index by value: returns `(ptr [num_segments+1], perm [nnz])`.

    `index[perm]` is sorted (stable, so ties keep their order) and segment `s` owns positions
    `ptr[s]:ptr[s+1]` of it. Jittable; costs one argsort.
    """
    perm = jnp.argsort(index, stable=True).astype(jnp.int32)
    counts = jnp.zeros((num_segments,), jnp.int32).at[index].add(1, mode="drop")
    ptr = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(counts, dtype=jnp.int32)])
    return ptr, perm


def csc_view(
    rowptr: jax.Array, col: jax.Array, num_cols: int, row: jax.Array | None = None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Builds the CSC view `(colptr, row_t, csr2csc)` of a CSR matrix in-graph (one argsort).

    `row` (the stored CSR row ids) skips recomputing them from `rowptr`.
    """
    colptr, perm = sort_to_csr(col, num_cols)
    if row is None:
        row = row_ids(rowptr, col.shape[0])
    return colptr, row[perm], perm


def store_index(index: jax.Array, ok: jax.Array, size: int) -> jax.Array:
    """Kernel side: `index` where `ok`, else `size` (out of range) for a masked store.

    On the GPU masked lanes store nothing. The Pallas interpreter writes every lane (masked
    ones write back the value they read), so a masked lane aimed at an element that another
    lane of the same store writes can undo that write; an out-of-range index is dropped.
    """
    return jnp.where(ok, index, size)


def leaky_relu(z: jax.Array, negative_slope: float) -> jax.Array:
    """`z` where `z >= 0`, else `negative_slope * z` (the gradient at 0 is 1, as `jax.nn`)."""
    return jnp.where(z >= 0, z, negative_slope * z)


def leaky_relu_grad(z: jax.Array, negative_slope: float) -> jax.Array:
    """Derivative of `leaky_relu` at `z`: 1 where `z >= 0`, else `negative_slope`."""
    return jnp.where(z >= 0, 1.0, negative_slope).astype(z.dtype)
