"""Sparse times sparse (sum semiring): ``C = A @ B`` with a host-side pattern.

The output pattern and, for every product ``A[i, k] * B[k, j]``, the pair of entry positions
``(a_pos, b_pos)`` are computed on the host with NumPy. The values are then computed with
``jnp`` as a sorted segment sum of ``a.value[a_pos] * b.value[b_pos]``, so gradients flow to both
operands' values and the values may be traced.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jgnn._checks import host_ints, is_traced
from jgnn.sparse._buffers import gather_values, sum_runs
from jgnn.sparse._tensor import SparseTensor, _from_sorted

__all__ = ["spspmm"]


def _product_pairs(a: SparseTensor, b: SparseTensor) -> tuple[np.ndarray, ...]:
    """Host: ``(out_row, out_col, new_run, a_pos, b_pos)`` per product, sorted by output.

    ``new_run[p]`` is True where product ``p`` starts a new output entry.
    """
    fn = "spspmm"
    a_row = host_ints(a.row, f"{fn}: row buffer of a")
    a_col = host_ints(a.col, f"{fn}: col buffer of a")
    b_ptr = host_ints(b.rowptr, f"{fn}: rowptr buffer of b")
    b_col = host_ints(b.col, f"{fn}: col buffer of b")
    n = b.sparse_sizes()[1]
    start = b_ptr[a_col]
    count = b_ptr[a_col + 1] - start
    total = int(count.sum())
    first = np.cumsum(count) - count
    a_pos = np.repeat(np.arange(a_row.size, dtype=np.int64), count)
    b_pos = np.repeat(start - first, count) + np.arange(total, dtype=np.int64)
    key = a_row[a_pos] * n + b_col[b_pos]
    # a_row is sorted, so products are already grouped by row; sort by (row, col).
    order = np.argsort(key, kind="stable")
    key = key[order]
    new_entry = np.ones(key.shape, bool)
    new_entry[1:] = key[1:] != key[:-1]
    out_key = key[new_entry]
    out_row = out_key // n if n else out_key
    out_col = out_key - out_row * n if n else out_key
    return out_row, out_col, new_entry, a_pos[order], b_pos[order]


def spspmm(a: SparseTensor, b: SparseTensor) -> SparseTensor:
    """Sparse-sparse product ``a @ b`` in the (+, *) semiring.

    Host-side: not jittable (the output pattern depends on the data); the values may be traced
    and are differentiable with respect to both ``a.value`` and ``b.value``. Output entries
    are the structural products: an entry whose products cancel to 0 is still stored.
    Missing values count as 1; when neither operand has values the result holds the number of
    paths ``i -> k -> j`` as float32. Multi-dimensional values broadcast like NumPy on their
    trailing dimensions.

    Args:
      a: ``[M, K]`` sparse matrix.
      b: ``[K, N]`` sparse matrix.

    Returns:
      ``[M, N]`` ``SparseTensor``.

    Raises:
      TypeError: an operand is not a ``SparseTensor``, its indices are traced, or the value
        dtypes differ.
      ValueError: inner sizes differ.

    Examples:
      >>> a = SparseTensor.from_dense(jnp.array([[1.0, 2.0], [0.0, 3.0]]))
      >>> spspmm(a, a).to_dense()
      Array([[1., 8.],
             [0., 9.]], dtype=float32)
    """
    if not isinstance(a, SparseTensor) or not isinstance(b, SparseTensor):
        raise TypeError(
            f"spspmm expects two SparseTensors, got {type(a).__name__} and {type(b).__name__}."
        )
    (m, k), (k2, n) = a.sparse_sizes(), b.sparse_sizes()
    if k != k2:
        raise ValueError(f"spspmm: inner sizes differ: a is {m} x {k} and b is {k2} x {n}.")
    va, vb = a.value, b.value
    if va is not None and vb is not None and va.dtype != vb.dtype:
        raise TypeError(
            f"spspmm: value dtypes differ ({va.dtype} vs {vb.dtype}); cast one with "
            "set_value(value.astype(...))."
        )
    dtype = va.dtype if va is not None else (vb.dtype if vb is not None else jnp.float32)
    if va is None:
        va = jnp.ones((a.nnz(),), dtype)
    if vb is None:
        vb = jnp.ones((b.nnz(),), dtype)
    out_row, out_col, new_run, a_pos, b_pos = _product_pairs(a, b)
    pa = gather_values(va, a_pos)
    pb = gather_values(vb, b_pos)
    if pa.ndim < pb.ndim:
        pa = pa.reshape(pa.shape[:1] + (1,) * (pb.ndim - pa.ndim) + pa.shape[1:])
    elif pb.ndim < pa.ndim:
        pb = pb.reshape(pb.shape[:1] + (1,) * (pa.ndim - pb.ndim) + pb.shape[1:])
    try:
        np.broadcast_shapes(pa.shape[1:], pb.shape[1:])
    except ValueError:
        raise ValueError(
            f"spspmm: value shapes {va.shape} and {vb.shape} do not broadcast on their "
            "trailing dimensions."
        ) from None
    if is_traced(pa) or is_traced(pb):
        prod = pa * pb
    else:
        prod = jnp.asarray(np.asarray(pa) * np.asarray(pb))
    value = sum_runs(prod, new_run)
    return _from_sorted(out_row, out_col, value, (m, n))
