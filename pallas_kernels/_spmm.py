"""Differentiable CSR SpMM `out = A @ x` (sum/mean/max/min) on the Pallas kernel, and its oracle.

Op layer: `spmm` (a jitted wrapper around a `jax.custom_vjp`) and the pure-`jnp` reference
`spmm_reference`. The kernel and its launcher live in `_spmm_kernel.py`.

Backward of sum/mean: ONE pass of the same kernel over the CSC view. Column `j`'s program
gathers `g[row]` for each of its nonzeros (one gathered row per edge), accumulates
`dx[j] = sum value * g[row]`, and dots the same tile with its own `x[j]` for
`d value[e] = <g[row_e], x[col_e]>`, written at the CSR position through `csr2csc`. The dot is
skipped when `value` is not being differentiated (`custom_vjp` symbolic zeros).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _blocks, _common
from ._spmm_kernel import SPMM_REDUCES, spmm_call


class _Cfg(NamedTuple):
    reduce: str
    fwd: _blocks.BlockSizes
    bwd: _blocks.BlockSizes
    interpret: bool


def _extremal_backward(
    g: jax.Array, arg: jax.Array, col: jax.Array, value: jax.Array | None, x: jax.Array
) -> tuple[jax.Array, jax.Array | None]:
    """Routes `g [M, H, F]` to the selected edge of each output (XLA scatter-add)."""
    n, num_heads, num_features = x.shape
    nnz = col.shape[0]
    if nnz == 0:
        dvalue = None if value is None else jnp.zeros_like(value)
        return jnp.zeros_like(x), dvalue
    acc = _common.accum_dtype(g.dtype)
    valid = arg >= 0
    e = jnp.where(valid, arg, 0)
    src = col[e]  # [M, H, F]
    h_idx = jnp.broadcast_to(jnp.arange(num_heads)[None, :, None], arg.shape)
    f_idx = jnp.broadcast_to(jnp.arange(num_features)[None, None, :], arg.shape)
    g = jnp.where(valid, g.astype(acc), 0.0)
    v = None if value is None else value.astype(acc)[e, h_idx]  # [M, H, F]
    gx = g if v is None else g * v
    dx = jnp.zeros((n, num_heads, num_features), acc)
    dx = dx.at[jnp.where(valid, src, n), h_idx, f_idx].add(gx, mode="drop")
    dvalue = None
    if value is not None:
        xs = x.astype(acc)[src, h_idx, f_idx]
        dvalue = jnp.zeros((nnz, num_heads), acc)
        dvalue = dvalue.at[jnp.where(valid, arg, nnz), h_idx].add(g * xs, mode="drop")
        dvalue = dvalue.astype(value.dtype)
    return dx.astype(x.dtype), dvalue


def _forward(cfg: _Cfg, rowptr, col, value, x):
    return spmm_call(
        rowptr, col, value, x, reduce=cfg.reduce, blocks=cfg.fwd, interpret=cfg.interpret
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _spmm_vjp(cfg, rowptr, col, value, x, row, transpose):
    del row, transpose
    return _forward(cfg, rowptr, col, value, x).out


def _unwrap(tree):
    """Strips the `CustomVJPPrimal` wrappers that `symbolic_zeros=True` puts on every leaf."""
    return jax.tree.map(lambda p: p.value, tree, is_leaf=lambda p: hasattr(p, "perturbed"))


def _spmm_vjp_fwd(cfg, rowptr, col, value, x, row, transpose):
    want_dvalue = value is not None and value.perturbed
    rowptr, col, value, x, row, transpose = _unwrap((rowptr, col, value, x, row, transpose))
    res = _forward(cfg, rowptr, col, value, x)
    # A zero-size array marks "d value wanted": residuals must be arrays, not Python bools.
    flag = jnp.zeros((0,), jnp.int32) if want_dvalue else None
    return res.out, (rowptr, col, value, x, row, transpose, res.arg, flag)


def _spmm_vjp_bwd(cfg, res, g):
    rowptr, col, value, x, row, transpose, arg, flag = res
    if isinstance(g, jax.custom_derivatives.SymbolicZero):
        g = jnp.zeros(g.shape, g.dtype)
    if cfg.reduce in ("max", "min"):
        dx, dvalue = _extremal_backward(g, arg, col, value, x)
        return None, None, dvalue, dx, None, None
    n = x.shape[0]
    acc = _common.accum_dtype(g.dtype)
    if cfg.reduce == "mean":
        count = jnp.maximum(rowptr[1:] - rowptr[:-1], 1).astype(acc)
        g = g.astype(acc) / count[:, None, None]  # stays in the accumulation dtype
    if transpose is None:
        transpose = _common.csc_view(rowptr, col, n, row)
    colptr, row_t, perm = transpose
    out = spmm_call(
        colptr,
        row_t,
        value,
        g,
        reduce="sum",
        blocks=cfg.bwd,
        perm=perm,
        y=None if flag is None else x,
        interpret=cfg.interpret,
    )
    dx = out.out.astype(x.dtype)
    if value is None:
        return None, None, None, dx, None, None
    dvalue = jnp.zeros_like(value) if flag is None else out.dot.astype(value.dtype)
    return None, None, dvalue, dx, None, None


_spmm_vjp.defvjp(_spmm_vjp_fwd, _spmm_vjp_bwd, symbolic_zeros=True)


def spmm_blocks(
    blocks: _blocks.BlockSizes | None,
    block_e: int | None,
    block_f: int | None,
    *,
    num_rows: int,
    num_cols: int,
    nnz: int,
    num_features: int,
) -> tuple[_blocks.BlockSizes, _blocks.BlockSizes]:
    """Block sizes of a forward SpMM over `num_rows` rows and of its backward over the columns.

    The caller's fields apply to both passes; the rule fills the rest for each pass's shape.
    """
    kw = dict(block_e=block_e, block_f=block_f, num_features=num_features, nnz=nnz)
    fwd = _blocks.resolve_block_sizes(blocks, num_rows=num_rows, **kw)
    bwd = _blocks.resolve_block_sizes(blocks, num_rows=num_cols, **kw)
    return fwd, bwd


@functools.partial(jax.jit, static_argnames=("reduce", "blocks", "block_f", "block_e", "interpret"))
def spmm(
    rowptr: jax.Array,
    col: jax.Array,
    value: jax.Array | None,
    x: jax.Array,
    *,
    reduce: str = "sum",
    transpose: tuple[jax.Array, jax.Array, jax.Array] | None = None,
    row: jax.Array | None = None,
    blocks: _blocks.BlockSizes | None = None,
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> jax.Array:
    """CSR sparse-dense matmul `out[i] = reduce_{e in row i} value[e] * x[col[e]]` (Pallas).

    Atomic-free, hence deterministic. Accumulates in float32 (float64 for float64 inputs) and
    returns `x.dtype`. Empty rows give 0 for every reduction. Rows are visited heaviest first,
    several short rows per program, and (sum/mean) rows longer than `blocks.max_row_length`
    are split; the block-size rule (`choose_block_sizes`) picks every size from the shapes.

    Gradients (a `jax.custom_vjp`, reverse mode only): for sum/mean, one pass of the kernel
    over the CSC view gives `dx` and, when `value` is differentiated, `d value` (see the module
    docstring). `transpose` passes the stored CSC view; when None the backward builds it
    in-graph with one stable argsort of `col` (plus the row ids, from `row` when given). For
    max/min the cotangent goes to the selected edge (ties: the earliest CSR position) with an
    XLA scatter-add, which is not deterministic on GPU.

    Args:
        rowptr: `[M+1]` int row pointers (non-decreasing, `rowptr[0] == 0`,
            `rowptr[M] == nnz`). Not checked under `jit`.
        col: `[nnz]` int column ids in `[0, N)`.
        value: `[nnz]` float edge values, or None for all ones (no value read at all).
        x: `[N, F]` float features.
        reduce: one of `SPMM_REDUCES` ("sum", "mean", "max", "min"). `mean` divides the
            weighted sum by the row's number of nonzeros (torch_sparse semantics).
        transpose: optional stored CSC view `(colptr [N+1], row_t [nnz], csr2csc [nnz])`,
            where CSC entry k is CSR entry `csr2csc[k]` (jgnn's `SparseTensor` buffers
            `colptr`, `csc_row`, `csr2csc`). Used by the backward only.
        row: optional stored CSR row ids `[nnz]`; used only to build a missing CSC view.
        blocks: a `BlockSizes`; None fields (or None) are picked by the rule.
        block_f: shortcut for `blocks.block_f` (a power of two; F need not be a multiple).
        block_e: shortcut for `blocks.block_e` (a power of two).
        interpret: run the Pallas interpreter on the CPU instead of compiling with Triton.

    Returns:
        `[M, F]` array in `x.dtype`.

    Raises:
        TypeError: if index arrays are not integer, `x`/`value` are not floating, or `blocks`
            is not a `BlockSizes`.
        ValueError: on shape mismatches, an unknown `reduce` or a bad block size.

    Examples:
        >>> import jax.numpy as jnp
        >>> rowptr = jnp.array([0, 2, 2, 3], jnp.int32)
        >>> col = jnp.array([0, 1, 1], jnp.int32)
        >>> x = jnp.array([[1.0], [2.0]])
        >>> spmm(rowptr, col, None, x, interpret=True)[:, 0].tolist()
        [3.0, 0.0, 2.0]
    """
    if reduce not in SPMM_REDUCES:
        raise ValueError(f"reduce must be one of {SPMM_REDUCES}, got {reduce!r}.")
    x = _common.check_float("x", x, (2,))
    rowptr = _common.check_rowptr(rowptr)
    col = _common.check_index("col", col)
    nnz = col.shape[0]
    if value is not None:
        value = _common.check_float("value", value, (1,))
        if value.shape[0] != nnz:
            raise ValueError(f"`value` has {value.shape[0]} entries but `col` has {nnz}.")
        value = value[:, None]
    transpose = _common.check_transpose(transpose, x.shape[0], nnz)
    row = _common.check_row(row, nnz)
    fwd, bwd = spmm_blocks(
        blocks,
        block_e,
        block_f,
        num_rows=rowptr.shape[0] - 1,
        num_cols=x.shape[0],
        nnz=nnz,
        num_features=x.shape[1],
    )
    cfg = _Cfg(reduce, fwd, bwd, interpret)
    return _spmm_vjp(cfg, rowptr, col, value, x[:, None, :], row, transpose)[:, 0, :]


def spmm_reference(
    rowptr: jax.Array,
    col: jax.Array,
    value: jax.Array | None,
    x: jax.Array,
    *,
    reduce: str = "sum",
) -> jax.Array:
    """Pure-`jnp` oracle for `spmm`: gather, multiply, `jax.ops.segment_*`.

    Args:
        rowptr: `[M+1]` int row pointers.
        col: `[nnz]` int column ids.
        value: `[nnz]` float values or None for ones.
        x: `[N, F]` or `[N, H, F]` float features (with `value [nnz, H]` for the latter).
        reduce: "sum", "mean", "max" or "min".

    Returns:
        `[M, F]` (or `[M, H, F]`) in `x.dtype`; float32 accumulation; empty rows give 0.

    Raises:
        ValueError: on an unknown `reduce`.
    """
    if reduce not in SPMM_REDUCES:
        raise ValueError(f"reduce must be one of {SPMM_REDUCES}, got {reduce!r}.")
    rowptr = jnp.asarray(rowptr).astype(jnp.int32)
    col = jnp.asarray(col).astype(jnp.int32)
    m = rowptr.shape[0] - 1
    nnz = col.shape[0]
    acc = _common.accum_dtype(x.dtype)
    msg = x.astype(acc)[col]
    if value is not None:
        v = value.astype(acc)
        msg = msg * v.reshape(v.shape + (1,) * (msg.ndim - v.ndim))
    row = _common.row_ids(rowptr, nnz)
    count = (rowptr[1:] - rowptr[:-1]).reshape((m,) + (1,) * (x.ndim - 1))
    if reduce in ("sum", "mean"):
        out = jax.ops.segment_sum(msg, row, m)
        if reduce == "mean":
            out = out / jnp.maximum(count, 1).astype(acc)
    else:
        seg = jax.ops.segment_max if reduce == "max" else jax.ops.segment_min
        out = jnp.where(count > 0, seg(msg, row, m), 0.0)
    return out.astype(x.dtype)
