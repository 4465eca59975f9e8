"""Sparse times dense: ``out[i] = reduce_j value[i, j] * x[j]`` over the stored entries of row i.

Three implementations, chosen by :func:`jgnn.sparse.resolve_impl` (see ``_dispatch.py`` for the
measurements behind ``impl="auto"``):

* ``"segment"``: gather the messages ``x[col] * value`` (``[nnz, *F]``), then reduce them over
  the sorted row ids. Every reduce, broadcastable multi-dimensional values. Its backward is a
  sorted segment sum over the stored transpose (CSC order), not an unsorted scatter.
* ``"bcsr"``: ``jax.experimental.sparse.BCSR @ dense`` (a native kernel on CPU) for sum and mean,
  in a ``custom_vjp``: ``dX`` is the stored transpose (CSC view as a BCSR) times the cotangent
  and ``d value`` the SDDMM ``sum(g[row] * x[col], -1)``. No ``[nnz, F]`` temporary in the
  forward pass nor, without values, in the backward pass.
* ``"pallas"``: the GPU kernel ``pallas_kernels.spmm`` (it carries its own ``custom_vjp``).

Conventions shared by all three: empty rows give 0 for every reduce; ``mean`` divides by the
number of stored entries in the row (not by the value sum), like torch_sparse; ``value=None``
means every entry is 1 and gets no gradient; values are cast to ``x.dtype``; bfloat16/float16
inputs accumulate in float32 and return the input dtype.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.experimental import sparse as jsparse
from jax.typing import ArrayLike

from jgnn._numerics import accum_dtype, broadcast_rows
from jgnn.segment import segment_max, segment_mean, segment_min, segment_sum
from jgnn.sparse._buffers import take_rows
from jgnn.sparse._dispatch import resolve_impl, row_gather_impl
from jgnn.sparse._tensor import SparseTensor

__all__ = ["spmm"]


def _aligned_value(value: Array, feat_ndim: int, fn: str, x_shape: tuple[int, ...]) -> Array:
    """Reshape ``value [nnz, *D]`` to broadcast against ``[nnz, *F]`` (trailing alignment)."""
    d = value.shape[1:]
    f = x_shape[1:]
    try:
        np.broadcast_shapes(f, d)
    except ValueError:
        raise ValueError(
            f"{fn}: value feature shape {d} does not broadcast against x feature shape {f} "
            f"(value.shape={value.shape}, x.shape={x_shape})."
        ) from None
    if len(d) < feat_ndim:
        value = value.reshape(value.shape[:1] + (1,) * (feat_ndim - len(d)) + d)
    return value


def _gather_rows(x: Array, ids: Array) -> Array:
    return x.at[ids].get(mode="promise_in_bounds")


# Gathered elements per operand and SDDMM step (2 MiB in float32). Module-level so that tests
# can shrink it to exercise the blocked path on small graphs.
_SDDMM_BLOCK_ELEMS = 1 << 19


def _rows_by_csr(x: Array, ids: Array) -> Array:
    """``x[ids]`` as a one-nonzero-per-row CSR times dense: the native CPU kernel copies whole
    rows, several times faster than XLA's elementwise gather loop."""
    k = ids.shape[0]
    sel = jsparse.BCSR(
        (jnp.ones((k,), x.dtype), ids, jnp.arange(k + 1, dtype=ids.dtype)), shape=(k, x.shape[0])
    )
    return sel @ x


def _sddmm(a: Array, b: Array, row: Array, col: Array) -> Array:
    """``out[e] = <a[row[e]], b[col[e]]>`` for ``a [M, F]``, ``b [N, F]``, in edge blocks.

    A single ``sum(a[row] * b[col], -1)`` makes XLA materialise both ``[nnz, F]`` gathers. A
    loop over blocks of edges keeps the temporaries at ``[block, F]`` (no ``[nnz, F]`` buffer in
    the backward pass); on CPU the rows are fetched with the native CSR kernel
    (``_rows_by_csr``), which measured faster than XLA's gather (``benchmarks/RESULTS.md``,
    "SpMM on CPU").
    """
    nnz, f = row.shape[0], a.shape[1]
    gather = _gather_rows
    if row_gather_impl(a.dtype) == "bcsr":
        gather = _rows_by_csr
    block = max(64, min(1 << 16, _SDDMM_BLOCK_ELEMS // max(f, 1)))
    block = 1 << (block.bit_length() - 1)
    if nnz <= block:
        return jnp.sum(gather(a, row) * gather(b, col), axis=-1)
    steps = -(-nnz // block)
    pad = steps * block - nnz
    rows = jnp.pad(row, (0, pad)).reshape(steps, block)
    cols = jnp.pad(col, (0, pad)).reshape(steps, block)

    def one_block(rc):
        return jnp.sum(gather(a, rc[0]) * gather(b, rc[1]), axis=-1)

    return jax.lax.map(one_block, (rows, cols)).reshape(-1)[:nnz]


def _messages(x: Array, col: Array, value: Array | None, fn: str) -> Array:
    """``x[col] * value`` broadcast to ``[nnz, *broadcast(F, D)]``."""
    xj = _gather_rows(x, col)
    if value is None:
        return xj
    value = _aligned_value(value.astype(x.dtype), x.ndim - 1, fn, x.shape)
    if value.ndim > xj.ndim:
        xj = xj.reshape(xj.shape[:1] + (1,) * (value.ndim - xj.ndim) + xj.shape[1:])
    return xj * value


# --------------------------------------------------------------------------------------------
# impl="segment"
# --------------------------------------------------------------------------------------------


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _segment_sum_spmm(sizes, value, x, row, col, csc_row, csc_col, csr2csc):
    """Sum SpMM for scalar/no values: gather + sorted segment sum, sorted (CSC) backward."""
    msg = _messages(x, col, value, "spmm")
    return segment_sum(msg, row, sizes[0], indices_are_sorted=True)


def _segment_sum_fwd(sizes, value, x, row, col, csc_row, csc_col, csr2csc):
    out = _segment_sum_spmm(sizes, value, x, row, col, csc_row, csc_col, csr2csc)
    return out, (value, x, row, col, csc_row, csc_col, csr2csc)


def _segment_sum_bwd(sizes, res, g):
    value, x, row, col, csc_row, csc_col, csr2csc = res
    # dX[j] = sum_i value[i, j] * g[i]: a gather in CSC order and a sorted segment sum.
    gi = _gather_rows(g, csc_row)
    if value is not None:
        gi = gi * broadcast_rows(take_rows(value, csr2csc).astype(g.dtype), gi)
    dx = segment_sum(gi, csc_col, sizes[1], indices_are_sorted=True).astype(x.dtype)
    dvalue = None
    if value is not None:
        # SDDMM: d value[e] = <g[row[e]], x[col[e]]>.
        g2 = g.reshape(g.shape[0], -1)
        x2 = x.reshape(x.shape[0], -1).astype(g.dtype)
        dvalue = _sddmm(g2, x2, row, col).astype(value.dtype)
    return dvalue, dx, None, None, None, None, None


_segment_sum_spmm.defvjp(_segment_sum_fwd, _segment_sum_bwd)


def _spmm_segment(adj: SparseTensor, x: Array, reduce: str) -> Array:
    m = adj.sparse_sizes()[0]
    if reduce == "sum" and (adj.value is None or adj.value.ndim == 1):
        return _segment_sum_spmm(
            adj.sparse_sizes(),
            adj.value,
            x,
            adj.row,
            adj.col,
            adj.csc_row,
            adj.csc_col,
            adj.csr2csc,
        )
    msg = _messages(x, adj.col, adj.value, "spmm")
    if reduce == "sum":
        return segment_sum(msg, adj.row, m, indices_are_sorted=True)
    if reduce == "mean":
        return segment_mean(msg, adj.row, m, indices_are_sorted=True)
    if reduce == "max":
        return segment_max(msg, adj.row, m, indices_are_sorted=True)
    return segment_min(msg, adj.row, m, indices_are_sorted=True)


# --------------------------------------------------------------------------------------------
# impl="bcsr"
# --------------------------------------------------------------------------------------------


def _csr_matmul(data: Array, indices: Array, indptr: Array, x2: Array, shape) -> Array:
    """CSR ``[shape]`` times dense ``[shape[1], F]`` with jax.experimental.sparse."""
    mat = jsparse.BCSR((data, indices, indptr), shape=tuple(shape))
    return mat @ x2


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def _bcsr_sum(sizes, value, x2, rowptr, col, row, colptr, csc_row, csr2csc):
    data = jnp.ones(col.shape, x2.dtype) if value is None else value
    return _csr_matmul(data, col, rowptr, x2, sizes)


def _bcsr_sum_fwd(sizes, value, x2, rowptr, col, row, colptr, csc_row, csr2csc):
    out = _bcsr_sum(sizes, value, x2, rowptr, col, row, colptr, csc_row, csr2csc)
    return out, (value, x2, col, row, colptr, csc_row, csr2csc)


def _bcsr_sum_bwd(sizes, res, g):
    value, x2, col, row, colptr, csc_row, csr2csc = res
    m, n = sizes
    data_t = jnp.ones(col.shape, g.dtype) if value is None else take_rows(value, csr2csc)
    dx = _csr_matmul(data_t, csc_row, colptr, g, (n, m))
    dvalue = None
    if value is not None:
        # SDDMM: d value[e] = <g[row[e]], x[col[e]]>.
        dvalue = _sddmm(g, x2, row, col)
    return dvalue, dx, None, None, None, None, None, None


_bcsr_sum.defvjp(_bcsr_sum_fwd, _bcsr_sum_bwd)


def _spmm_bcsr(adj: SparseTensor, x: Array, reduce: str) -> Array:
    m, n = adj.sparse_sizes()
    acc = accum_dtype(x.dtype)
    feat = x.shape[1:]
    x2 = x.reshape(n, int(np.prod(feat))).astype(acc)
    value = None if adj.value is None else adj.value.astype(acc)
    if adj.nnz() == 0 or x2.shape[1] == 0 or m == 0:
        out = jnp.zeros((m, x2.shape[1]), acc)
    else:
        out = _bcsr_sum(
            (m, n), value, x2, adj.rowptr, adj.col, adj.row, adj.colptr, adj.csc_row, adj.csr2csc
        )
    if reduce == "mean":
        deg = (adj.rowptr[1:] - adj.rowptr[:-1]).astype(acc)
        out = out / jnp.maximum(deg, jnp.ones((), acc))[:, None]
    return out.reshape((m,) + feat).astype(x.dtype)


# --------------------------------------------------------------------------------------------
# impl="pallas"
# --------------------------------------------------------------------------------------------


def _spmm_pallas(adj: SparseTensor, x: Array, reduce: str) -> Array:
    try:
        from pallas_kernels import spmm as kernel
    except ImportError:
        raise NotImplementedError(
            "impl='pallas' needs pallas_kernels.spmm, which is not available in this install; "
            "use impl='segment' or impl='bcsr' (or 'auto')."
        ) from None
    m, n = adj.sparse_sizes()
    feat = x.shape[1:]
    x2 = x.reshape(n, int(np.prod(feat)))
    value = adj.value
    if value is not None:
        value = value.astype(x.dtype)
    out = kernel(
        adj.rowptr,
        adj.col,
        value,
        x2,
        reduce=reduce,
        transpose=(adj.colptr, adj.csc_row, adj.csr2csc),
        interpret=jax.default_backend() == "cpu",
    )
    return out.reshape((m,) + feat)


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def spmm(adj: SparseTensor, x: ArrayLike, reduce: str = "sum", impl: str = "auto") -> Array:
    """Sparse-dense product ``out[i] = reduce_{j : (i, j) stored} value[i, j] * x[j]``.

    Jittable (``reduce`` and ``impl`` are static strings). With ``adj_t`` the transposed
    adjacency (rows = receivers), ``spmm(adj_t, x)`` is the sum aggregation of message passing.
    ``reduce="sum"`` (scalar or no values) and ``impl="bcsr"`` are ``jax.custom_vjp``
    functions: reverse mode (``jax.grad``, ``jax.vjp``) only; forward mode (``jax.jvp``,
    ``jacfwd``) raises a ``TypeError``.

    Args:
      adj: ``[M, N]`` ``SparseTensor``; values ``None`` (all 1), ``[nnz]`` or ``[nnz, *D]``
        (``D`` broadcasts against ``F`` with trailing alignment; segment path only).
      x: dense ``[N, *F]``.
      reduce: ``"sum"``, ``"mean"`` (divides by the number of stored entries), ``"max"`` or
        ``"min"``. Empty rows give 0.
      impl: ``"auto"``, ``"segment"``, ``"bcsr"`` or ``"pallas"``; see
        :func:`jgnn.sparse.resolve_impl`.

    Returns:
      ``[M, *broadcast(F, D)]`` in ``x.dtype`` (promoted by nothing: values are cast to it).

    Raises:
      TypeError: ``adj`` is not a ``SparseTensor``, or ``x`` is integer with float values.
      ValueError: ``x.shape[0] != N``, shapes do not broadcast, or unknown ``reduce``/``impl``.
      NotImplementedError: the chosen ``impl`` cannot express the reduce or the values.

    Examples:
      >>> adj = SparseTensor.from_edge_index(jnp.array([[0, 0, 1], [0, 1, 1]]),
      ...                                    jnp.array([1.0, 2.0, 3.0]))
      >>> spmm(adj, jnp.array([[1.0], [10.0]]))
      Array([[21.],
             [30.]], dtype=float32)
      >>> spmm(adj, jnp.array([[1.0], [10.0]]), reduce="max")
      Array([[20.],
             [30.]], dtype=float32)
    """
    if not isinstance(adj, SparseTensor):
        raise TypeError(f"spmm: adj must be a SparseTensor, got {type(adj).__name__}.")
    x = jnp.asarray(x)
    m, n = adj.sparse_sizes()
    if x.ndim == 0 or x.shape[0] != n:
        raise ValueError(
            f"spmm: x must have shape [N, *F] with N = {n} (adj is {m} x {n}), got x.shape="
            f"{x.shape}."
        )
    if (
        adj.value is not None
        and jnp.issubdtype(adj.value.dtype, jnp.inexact)
        and not jnp.issubdtype(x.dtype, jnp.inexact)
    ):
        raise TypeError(
            f"spmm: x has dtype {x.dtype} but the values are {adj.value.dtype}; values are cast "
            "to x.dtype, which would truncate them. Cast x first, e.g. x.astype(jnp.float32)."
        )
    value_ndim = 0 if adj.value is None else adj.value.ndim
    chosen = resolve_impl(impl, reduce=reduce, value_ndim=value_ndim)
    if adj.value is not None:
        _aligned_value(adj.value, x.ndim - 1, "spmm", x.shape)
    if chosen == "segment":
        return _spmm_segment(adj, x, reduce)
    if chosen == "bcsr":
        return _spmm_bcsr(adj, x, reduce)
    return _spmm_pallas(adj, x, reduce)
