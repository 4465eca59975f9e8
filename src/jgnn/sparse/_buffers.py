"""Host-side construction of a SparseTensor's buffers: coalescing, CSR/CSC index buffers, value
moves.

Index work is NumPy on concrete arrays. Values are moved with NumPy when concrete (nothing to
compile) and with ``jnp`` when traced, so gradients flow through pattern-changing host-side ops.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jgnn._checks import is_traced
from jgnn._host import csr_pointers

__all__ = [
    "INT32_MAX",
    "as_value",
    "coalesce_ids",
    "gather_values",
    "index_buffers",
    "sum_runs",
    "take_rows",
]

INT32_MAX = int(np.iinfo(np.int32).max)


def take_rows(value: Array, idx: Array) -> Array:
    """``value[idx]`` along axis 0 for indices known to be in range (no clamping code)."""
    return value.at[idx].get(mode="promise_in_bounds")


def gather_values(value: Array, pos: np.ndarray) -> Array:
    """``value[pos]`` along axis 0 for host positions.

    Concrete values are gathered with NumPy (no compilation for host-side ops); traced values
    with ``jnp`` so gradients flow.
    """
    if is_traced(value):
        return take_rows(value, jnp.asarray(pos, jnp.int32))
    return jnp.asarray(np.asarray(value)[pos])


def sum_runs(value: Array, new_run: np.ndarray) -> Array:
    """Sums consecutive rows of ``value`` into runs that start where ``new_run`` is True."""
    if is_traced(value):
        seg = jnp.asarray(np.cumsum(new_run) - 1, jnp.int32)
        n = int(new_run.sum())
        return jax.ops.segment_sum(value, seg, n, indices_are_sorted=True)
    host = np.asarray(value)
    if host.shape[0] == 0:
        return jnp.asarray(host)
    return jnp.asarray(np.add.reduceat(host, np.flatnonzero(new_run), axis=0))


def as_value(value: Any, nnz: int, fn: str) -> Array | None:
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


def coalesce_ids(
    row: np.ndarray, col: np.ndarray, value: Array | None, n: int
) -> tuple[np.ndarray, np.ndarray, Array | None]:
    """Sort host ids row-major and merge duplicates (summing their values)."""
    key = row * n + col
    if key.size and np.any(key[1:] < key[:-1]):
        perm = np.argsort(key, kind="stable")
        key = key[perm]
        if value is not None:
            value = gather_values(value, perm)
    new_entry = np.ones(key.shape, bool)
    new_entry[1:] = key[1:] != key[:-1]
    if not new_entry.all():
        if value is not None:
            value = sum_runs(value, new_entry)
        key = key[new_entry]
    row = key // n if n else key
    return row, key - row * n if n else key, value


def index_buffers(row: np.ndarray, col: np.ndarray, m: int, n: int) -> dict[str, Array]:
    """Every int32 index buffer of a SparseTensor from coalesced row-major host ids."""
    csr2csc = np.argsort(col, kind="stable")
    csc2csr = np.empty_like(csr2csc)
    csc2csr[csr2csc] = np.arange(csr2csc.size)

    def i32(a: np.ndarray) -> Array:
        return jnp.asarray(a.astype(np.int32, copy=False))

    return dict(
        row=i32(row),
        col=i32(col),
        rowptr=i32(csr_pointers(row, m)),
        colptr=i32(csr_pointers(col[csr2csc], n)),
        csr2csc=i32(csr2csc),
        csc2csr=i32(csc2csr),
        csc_row=i32(row[csr2csc]),
        csc_col=i32(col[csr2csc]),
    )
