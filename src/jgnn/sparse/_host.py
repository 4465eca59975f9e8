"""Host-side helpers for building sparse tensors: index checks, CSR/CSC buffers, value moves.

Index work is NumPy on concrete arrays. Values are moved with NumPy when concrete (nothing to
compile) and with ``jnp`` when traced, so gradients flow through pattern-changing host-side ops.
"""

from __future__ import annotations

import operator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

_INT32_MAX = int(np.iinfo(np.int32).max)


def _take(value: Array, idx: Array) -> Array:
    """``value[idx]`` along axis 0 for indices known to be in range (no clamping code)."""
    return value.at[idx].get(mode="promise_in_bounds")


def _is_traced(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _gather_values(value: Array, pos: np.ndarray) -> Array:
    """``value[pos]`` along axis 0 for host positions.

    Concrete values are gathered with NumPy (no compilation for host-side ops); traced values
    with ``jnp`` so gradients flow.
    """
    if _is_traced(value):
        return _take(value, jnp.asarray(pos, jnp.int32))
    return jnp.asarray(np.asarray(value)[pos])


def _sum_runs(value: Array, new_run: np.ndarray) -> Array:
    """Sums consecutive rows of ``value`` into runs that start where ``new_run`` is True."""
    if _is_traced(value):
        seg = jnp.asarray(np.cumsum(new_run) - 1, jnp.int32)
        n = int(new_run.sum())
        return jax.ops.segment_sum(value, seg, n, indices_are_sorted=True)
    host = np.asarray(value)
    if host.shape[0] == 0:
        return jnp.asarray(host)
    return jnp.asarray(np.add.reduceat(host, np.flatnonzero(new_run), axis=0))


def _host_ints(x: Any, what: str, fn: str) -> np.ndarray:
    """Concrete integer NumPy array from a NumPy/JAX/list input, or a clear error."""
    if _is_traced(x):
        raise TypeError(
            f"{fn} is host-side (its output size depends on the data) and needs a concrete "
            f"{what}, got a traced value. Build the SparseTensor outside jax.jit and pass it "
            "in as an argument; values may still be traced."
        )
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{fn}: {what} must have an integer dtype, got {arr.dtype}.")
    return arr.astype(np.int64, copy=False)


def _static_size(x: Any, what: str) -> int:
    if _is_traced(x) or isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{what} must be a Python int, got {type(x).__name__} ({x!r}).")
    n = operator.index(x)
    if n < 0:
        raise ValueError(f"{what} must be >= 0, got {n}.")
    if n > _INT32_MAX:
        raise ValueError(f"{what} must fit in int32 (<= {_INT32_MAX}), got {n}.")
    return n


def _pointers(sorted_ids: np.ndarray, n: int) -> np.ndarray:
    """Compressed pointers ``[n + 1]`` of non-decreasing ids in ``[0, n)``."""
    counts = np.bincount(sorted_ids, minlength=n) if sorted_ids.size else np.zeros(n, np.int64)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def _as_value(value: Any, nnz: int, fn: str) -> Array | None:
    """``value`` as a JAX array with leading dimension ``nnz`` (traced values allowed)."""
    if value is None:
        return None
    value = jnp.asarray(value)
    if value.ndim == 0 or value.shape[0] != nnz:
        raise ValueError(
            f"{fn}: value must have shape [nnz] or [nnz, *D] with nnz = {nnz}, got shape "
            f"{value.shape}."
        )
    return value


def _check_ids(ids: np.ndarray, bound: int, what: str, fn: str) -> None:
    if ids.size == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= bound:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"{fn}: {what} ids must lie in [0, {bound}), found {bad} "
            f"(min {lo}, max {hi}). Check sparse_sizes or the edge index."
        )


def _coalesce(
    row: np.ndarray, col: np.ndarray, value: Array | None, n: int
) -> tuple[np.ndarray, np.ndarray, Array | None]:
    """Sort host ids row-major and merge duplicates (summing their values)."""
    key = row * n + col
    if key.size and np.any(key[1:] < key[:-1]):
        perm = np.argsort(key, kind="stable")
        key = key[perm]
        if value is not None:
            value = _gather_values(value, perm)
    new_entry = np.ones(key.shape, bool)
    new_entry[1:] = key[1:] != key[:-1]
    if not new_entry.all():
        if value is not None:
            value = _sum_runs(value, new_entry)
        key = key[new_entry]
    row = key // n if n else key
    return row, key - row * n if n else key, value


def _index_buffers(row: np.ndarray, col: np.ndarray, m: int, n: int) -> dict[str, Array]:
    """Every int32 index buffer of a SparseTensor from coalesced row-major host ids."""
    csr2csc = np.argsort(col, kind="stable")
    csc2csr = np.empty_like(csr2csc)
    csc2csr[csr2csc] = np.arange(csr2csc.size)

    def i32(a: np.ndarray) -> Array:
        return jnp.asarray(a.astype(np.int32, copy=False))

    return dict(
        row=i32(row),
        col=i32(col),
        rowptr=i32(_pointers(row, m)),
        colptr=i32(_pointers(col[csr2csc], n)),
        csr2csc=i32(csr2csc),
        csc2csr=i32(csc2csr),
        csc_row=i32(row[csr2csc]),
        csc_col=i32(col[csr2csc]),
    )
