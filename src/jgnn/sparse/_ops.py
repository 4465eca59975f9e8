"""Operations on a ``SparseTensor``: indexing, diagonal edits, reductions, elementwise arithmetic.

Indexing and diagonal edits change the sparsity pattern, so they are host-side: the index buffers
must be concrete (not traced). Values may be traced, and gradients flow through them: concrete
values are moved with NumPy (nothing to compile), traced ones with ``jnp`` gathers. Reductions
and elementwise arithmetic keep shapes fixed and are jittable.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jgnn._checks import host_ints, is_traced
from jgnn.segment import segment_sum
from jgnn.sparse._buffers import gather_values, take_rows
from jgnn.sparse._tensor import SparseTensor, _from_sorted

__all__ = [
    "elementwise",
    "getitem",
    "index_select",
    "reduce_mean",
    "reduce_sum",
    "remove_diag",
    "set_diag",
]


def _pattern(adj: SparseTensor, fn: str) -> tuple[np.ndarray, np.ndarray]:
    """Concrete host copies of ``(row, col)``, or a clear error under ``jit``."""
    return host_ints(adj.row, f"{fn}: row buffer"), host_ints(adj.col, f"{fn}: col buffer")


# --------------------------------------------------------------------------------------------
# Indexing
# --------------------------------------------------------------------------------------------


def _normalize_index(key: Any, size: int, axis: str) -> np.ndarray | None:
    """Turn one axis of an index key into sorted-or-not int64 positions; ``None`` = everything."""
    if isinstance(key, slice):
        if key == slice(None):
            return None
        return np.arange(*key.indices(size), dtype=np.int64)
    if is_traced(key):
        raise TypeError(
            f"SparseTensor indexing is host-side (the output nnz depends on the index) and "
            f"needs a concrete {axis} index, got a traced value. Index outside jax.jit."
        )
    if isinstance(key, (bool, np.bool_)):
        raise TypeError(f"a boolean scalar is not a valid {axis} index; pass a [{size}] mask.")
    arr = np.asarray(key)
    if arr.dtype == np.bool_:
        if arr.shape != (size,):
            raise IndexError(
                f"boolean {axis} mask must have shape ({size},), got shape {arr.shape}."
            )
        return np.flatnonzero(arr).astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{axis} index must be a slice, an int, an integer array or a boolean mask, got "
            f"{type(key).__name__} with dtype {arr.dtype}."
        )
    if arr.ndim > 1:
        raise IndexError(f"{axis} index arrays must be 0-D or 1-D, got shape {arr.shape}.")
    arr = arr.reshape(-1).astype(np.int64)
    if arr.size and (arr.min() < -size or arr.max() >= size):
        bad = arr[(arr < -size) | (arr >= size)][0]
        raise IndexError(f"{axis} index {bad} is out of range for size {size}.")
    return np.where(arr < 0, arr + size, arr)


def index_select(adj: SparseTensor, index: ArrayLike, dim: int = 0) -> SparseTensor:
    """Keeps the rows (``dim=0``) or columns (``dim=1``) listed in ``index``, in that order.

    Host-side: not jittable. Repeated indices repeat rows/columns; negative indices count
    from the end. Values are gathered with ``jnp`` (gradients flow).

    Args:
      adj: ``[M, N]`` sparse matrix.
      index: integer ``[K]`` positions or a boolean ``[M]``/``[N]`` mask.
      dim: 0 (rows) or 1 (columns); -2/-1 are accepted.

    Returns:
      ``[K, N]`` (``dim=0``) or ``[M, K]`` (``dim=1``) sparse matrix.

    Raises:
      IndexError: an index is out of range or a mask has the wrong length.
      TypeError: the index is traced or not integer/boolean.
      ValueError: ``dim`` is not 0 or 1.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[1.0, 0.0], [0.0, 2.0]]))
      >>> index_select(adj, jnp.array([1, 1]), dim=0).to_dense()
      Array([[0., 2.],
             [0., 2.]], dtype=float32)
    """
    if dim not in (0, 1, -1, -2):
        raise ValueError(f"dim must be 0 or 1 (or -2/-1), got {dim!r}.")
    dim = dim % 2
    idx = _normalize_index(index, adj.sparse_sizes()[dim], "row" if dim == 0 else "col")
    if idx is None:
        return adj
    if dim == 0:
        return _select_rows(adj, idx)
    return _select_rows(adj.t(), idx).t()


def _select_rows(adj: SparseTensor, idx: np.ndarray) -> SparseTensor:
    fn = "SparseTensor indexing"
    rowptr = host_ints(adj.rowptr, f"{fn}: rowptr buffer")
    col = host_ints(adj.col, f"{fn}: col buffer")
    start = rowptr[idx]
    count = rowptr[idx + 1] - start
    total = int(count.sum())
    first = np.cumsum(count) - count
    pos = np.repeat(start - first, count) + np.arange(total, dtype=np.int64)
    new_row = np.repeat(np.arange(idx.size, dtype=np.int64), count)
    value = adj.value
    if value is not None:
        value = gather_values(value, pos)
    return _from_sorted(new_row, col[pos], value, (int(idx.size), adj.sparse_sizes()[1]))


def getitem(adj: SparseTensor, key: Any) -> SparseTensor:
    """``adj[key]``: slices, ints, integer arrays and boolean masks on rows and columns.

    Host-side: not jittable. The result is always a 2-D ``SparseTensor`` (an int index keeps
    its axis with size 1, like torch_sparse). Slices may have steps; index arrays may repeat
    and reorder rows/columns (NumPy's outer indexing per axis, as in :func:`index_select`).

    Args:
      adj: ``[M, N]`` sparse matrix.
      key: one index or a pair ``(rows, cols)``; each a slice, an int, an integer array, a
        boolean mask or ``...``.

    Returns:
      The selected ``[K_rows, K_cols]`` sparse matrix.

    Raises:
      IndexError: out-of-range ids, wrong mask length, or more than two indices.
      TypeError: a traced or non-integer index.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.arange(6.0).reshape(2, 3))
      >>> adj[:, 1:].to_dense()
      Array([[1., 2.],
             [4., 5.]], dtype=float32)
    """
    if not isinstance(key, tuple):
        key = (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...').")
    if any(k is Ellipsis for k in key):
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        key = key[:i] + (slice(None),) * (3 - len(key)) + key[i + 1 :]
    if len(key) > 2:
        raise IndexError(f"a SparseTensor has 2 sparse dimensions, got {len(key)} indices.")
    key = key + (slice(None),) * (2 - len(key))
    out = adj
    for dim in (0, 1):
        if not (isinstance(key[dim], slice) and key[dim] == slice(None)):
            out = index_select(out, key[dim], dim)
    return out


# --------------------------------------------------------------------------------------------
# Diagonal
# --------------------------------------------------------------------------------------------


def remove_diag(adj: SparseTensor) -> SparseTensor:
    """Drops every stored diagonal entry ``(i, i)``.

    Host-side: not jittable (values may be traced).

    Args:
      adj: ``[M, N]`` sparse matrix.

    Returns:
      The same matrix without its diagonal entries (fewer ``nnz``).

    Raises:
      TypeError: the index buffers are traced.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[1.0, 2.0], [3.0, 4.0]]))
      >>> remove_diag(adj).to_dense()
      Array([[0., 2.],
             [3., 0.]], dtype=float32)
    """
    row, col = _pattern(adj, "remove_diag")
    keep = np.flatnonzero(row != col)
    value = adj.value
    if value is not None:
        value = gather_values(value, keep)
    return _from_sorted(row[keep], col[keep], value, adj.sparse_sizes())


def set_diag(adj: SparseTensor, values: ArrayLike | None = None) -> SparseTensor:
    """Replaces the main diagonal: stores ``(i, i)`` for ``i < min(M, N)`` with ``values``.

    Host-side: not jittable (values may be traced). Existing diagonal entries are replaced,
    like torch_sparse's ``set_diag``/``fill_diag``.

    Args:
      adj: ``[M, N]`` sparse matrix.
      values: ``None`` (ones; pattern only when ``adj`` has no values), a scalar, ``[K]`` or
        ``[K, *D]`` with ``K = min(M, N)``. When ``adj`` has no values and ``values`` is
        given, the other entries get value 1.

    Returns:
      The new ``SparseTensor``.

    Raises:
      ValueError: ``values`` has the wrong shape.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[5.0, 2.0], [3.0, 0.0]]))
      >>> set_diag(adj, jnp.array([7.0, 8.0])).to_dense()
      Array([[7., 2.],
             [3., 8.]], dtype=float32)
    """
    row, col = _pattern(adj, "set_diag")
    m, n = adj.sparse_sizes()
    k = min(m, n)
    keep = np.flatnonzero(row != col)
    diag = np.arange(k, dtype=np.int64)
    new_row = np.concatenate([row[keep], diag])
    new_col = np.concatenate([col[keep], diag])
    order = np.lexsort((new_col, new_row))
    value = None
    if adj.value is not None or values is not None:
        # NumPy for concrete values (no compilation), jnp when traced (gradients flow).
        xp = jnp if is_traced(adj.value) or is_traced(values) else np
        old = adj.value
        trailing = () if old is None else tuple(old.shape[1:])
        if values is None:
            diag_v = xp.ones((k,) + trailing, old.dtype)
        else:
            diag_v = xp.asarray(values)
            if old is not None:
                diag_v = diag_v.astype(old.dtype)
            elif isinstance(values, (int, float)) or diag_v.dtype == np.float64:
                diag_v = diag_v.astype(np.float32)
            if diag_v.ndim == 0:
                diag_v = xp.broadcast_to(diag_v, (k,) + trailing)
            elif diag_v.shape[0] != k:
                raise ValueError(
                    f"set_diag: values must be a scalar, [K] or [K, *D] with K = min(M, N) = "
                    f"{k}, got shape {diag_v.shape}."
                )
            elif diag_v.ndim == 1 and trailing:
                diag_v = xp.broadcast_to(
                    diag_v.reshape((k,) + (1,) * len(trailing)), (k,) + trailing
                )
            elif old is not None and diag_v.shape[1:] != trailing:
                raise ValueError(
                    f"set_diag: values trailing shape {diag_v.shape[1:]} must match the stored "
                    f"values' {trailing}."
                )
        if old is None:
            old = xp.ones((adj.nnz(),) + tuple(diag_v.shape[1:]), diag_v.dtype)
        kept = xp.asarray(old)[keep]
        value = jnp.asarray(xp.concatenate([kept, diag_v])[order])
    return _from_sorted(new_row[order], new_col[order], value, (m, n))


# --------------------------------------------------------------------------------------------
# Reductions (jittable)
# --------------------------------------------------------------------------------------------


def _values_or_ones(adj: SparseTensor) -> Array:
    if adj.value is None:
        return jnp.ones((adj.nnz(),), jnp.float32)
    return adj.value


def _check_dim(dim: Any, fn: str) -> int:
    if dim not in (0, 1, -1, -2) or isinstance(dim, bool):
        raise ValueError(f"{fn}: dim must be 0 (over rows) or 1 (over columns), got {dim!r}.")
    return dim % 2


def reduce_sum(adj: SparseTensor, dim: int) -> Array:
    """Sum of the stored values along ``dim`` (jittable), as a dense array.

    ``dim=1`` gives row sums ``[M, *D]`` (the weighted out-degree), ``dim=0`` column sums
    ``[N, *D]``. Without values, entries count as 1 and the result is float32.

    Args:
      adj: ``[M, N]`` sparse matrix.
      dim: 1 (reduce each row) or 0 (reduce each column); -1/-2 are accepted.

    Returns:
      Dense ``[M, *D]`` (``dim=1``) or ``[N, *D]`` (``dim=0``); empty rows/columns give 0.

    Raises:
      ValueError: ``dim`` is not 0 or 1.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[1.0, 2.0], [0.0, 3.0]]))
      >>> reduce_sum(adj, 1), reduce_sum(adj, 0)
      (Array([3., 3.], dtype=float32), Array([1., 5.], dtype=float32))
    """
    dim = _check_dim(dim, "sum")
    value = _values_or_ones(adj)
    m, n = adj.sparse_sizes()
    if dim == 1:
        return segment_sum(value, adj.row, m, indices_are_sorted=True)
    return segment_sum(take_rows(value, adj.csr2csc), adj.csc_col, n, indices_are_sorted=True)


def reduce_mean(adj: SparseTensor, dim: int) -> Array:
    """Mean of the stored values along ``dim`` (jittable); empty rows/columns give 0.

    Divides by the number of stored entries, like torch_sparse.

    Args:
      adj: ``[M, N]`` sparse matrix.
      dim: 1 (each row) or 0 (each column).

    Returns:
      Dense ``[M, *D]`` or ``[N, *D]``.

    Raises:
      ValueError: ``dim`` is not 0 or 1.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[1.0, 2.0], [0.0, 3.0]]))
      >>> reduce_mean(adj, 1)
      Array([1.5, 3. ], dtype=float32)
    """
    dim = _check_dim(dim, "mean")
    total = reduce_sum(adj, dim)
    ptr = adj.rowptr if dim == 1 else adj.colptr
    count = jnp.maximum(ptr[1:] - ptr[:-1], 1).astype(total.dtype)
    return total / count.reshape(count.shape + (1,) * (total.ndim - 1))


# --------------------------------------------------------------------------------------------
# Elementwise arithmetic on the stored values (jittable)
# --------------------------------------------------------------------------------------------

_OPS = {
    "mul": lambda v, o: v * o,
    "div": lambda v, o: v / o,
    "rdiv": lambda v, o: o / v,
    "add": lambda v, o: v + o,
    "sub": lambda v, o: v - o,
    "rsub": lambda v, o: o - v,
}


def elementwise(adj: SparseTensor, other: Any, op: str) -> SparseTensor:
    """Applies ``op`` between the stored values and ``other``; the pattern is unchanged.

    Jittable. ``other`` broadcasts against the dense shape ``[M, N, *D]`` with NumPy rules: a
    scalar, a row vector ``[M, 1]``, a column vector ``[1, N]`` (or ``[N]``), or a dense
    ``[M, N]`` matrix (sampled at the stored entries). Only stored entries change: ``adj + 1``
    adds 1 to each stored value and leaves the implicit zeros alone. Without values, entries
    count as 1.

    Args:
      adj: ``[M, N]`` sparse matrix.
      other: scalar or array broadcastable to ``[M, N, *D]``.
      op: ``"mul"``, ``"div"``, ``"rdiv"``, ``"add"``, ``"sub"`` or ``"rsub"``.

    Returns:
      A ``SparseTensor`` with the same pattern and the new values.

    Raises:
      ValueError: ``other`` does not broadcast, or ``op`` is unknown.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[1.0, 2.0], [0.0, 3.0]]))
      >>> (adj * jnp.array([[10.0], [100.0]])).to_dense()
      Array([[ 10.,  20.],
             [  0., 300.]], dtype=float32)
    """
    if op not in _OPS:
        raise ValueError(f"op must be one of {list(_OPS)}, got {op!r}.")
    if isinstance(other, SparseTensor):
        raise NotImplementedError(
            "elementwise arithmetic between two SparseTensors is not supported; use "
            "to_dense() on one side, or matmul/spspmm for products."
        )
    if isinstance(other, (int, float)) and not isinstance(other, bool):
        value = adj.value
        if value is None:
            value = jnp.ones((adj.nnz(),), jnp.float32)
        return adj._replace(value=_OPS[op](value, other))
    other = jnp.asarray(other)
    value = adj.value
    if value is None:
        dtype = other.dtype if jnp.issubdtype(other.dtype, jnp.floating) else jnp.float32
        value = jnp.ones((adj.nnz(),), dtype)
    dense_shape = adj.sparse_sizes() + tuple(value.shape[1:])
    try:
        np.broadcast_shapes(dense_shape, other.shape)
    except ValueError:
        raise ValueError(
            f"other of shape {other.shape} does not broadcast against the sparse tensor's dense "
            f"shape {dense_shape}; use a scalar, [M, 1], [1, N] or [M, N]."
        ) from None
    nd = max(other.ndim, len(dense_shape))
    other = other.reshape((1,) * (nd - other.ndim) + other.shape)
    # Sample other at the stored entries: index its (possibly size-1) leading two axes.
    rows = adj.row if other.shape[0] != 1 else jnp.zeros_like(adj.row)
    cols = adj.col if other.shape[1] != 1 else jnp.zeros_like(adj.col)
    sampled = other[rows, cols]  # [nnz, *trailing]
    if sampled.ndim < value.ndim:
        sampled = sampled.reshape(
            sampled.shape[:1] + (1,) * (value.ndim - sampled.ndim) + sampled.shape[1:]
        )
    elif value.ndim < sampled.ndim:
        value = value.reshape(
            value.shape[:1] + (1,) * (sampled.ndim - value.ndim) + value.shape[1:]
        )
    if sampled.dtype != value.dtype:
        # Values set the dtype; integer values (e.g. counts) take a floating operand's dtype.
        if jnp.issubdtype(value.dtype, jnp.inexact) or not jnp.issubdtype(
            sampled.dtype, jnp.inexact
        ):
            sampled = sampled.astype(value.dtype)
        else:
            value = value.astype(sampled.dtype)
    return adj._replace(value=_OPS[op](value, sampled))
