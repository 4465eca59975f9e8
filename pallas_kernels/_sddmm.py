"""Differentiable SDDMM: per-edge `dot(x[row], y[col])`, `x[row] + y[col]` or `x[row] * y[col]`.

Op layer: `sddmm` (a jitted wrapper around a `jax.custom_vjp`) and the pure-`jnp` oracle
`sddmm_reference`. The kernels are in `_sddmm_kernel.py`; the backward of `dot` and `add` runs
the SpMM kernel of `_spmm_kernel.py` over the edges grouped by row and by column.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import _blocks, _common
from ._sddmm_kernel import SDDMM_OPS, sddmm_dot_call, sddmm_elementwise_call
from ._spmm_kernel import spmm_call


class _Cfg(NamedTuple):
    op: str
    block_f: int | None
    block_e: int | None
    interpret: bool


def _blocks_for(cfg: _Cfg, x: jax.Array) -> _blocks.BlockSizes:
    """Edge-parallel kernel block sizes: the caller's, else the rule's (`kernel="sddmm"`)."""
    return _blocks.resolve_block_sizes(
        None,
        block_e=cfg.block_e,
        block_f=cfg.block_f,
        num_features=x.shape[-1],
        num_rows=x.shape[0],
        nnz=0,
        kernel="sddmm",
    )


def _grouped_blocks(cfg: _Cfg, num_rows: int, nnz: int, num_features: int):
    """Block sizes of a backward SpMM over `num_rows` groups (the caller's block_e/block_f)."""
    return _blocks.resolve_block_sizes(
        None,
        block_e=cfg.block_e,
        block_f=cfg.block_f,
        num_features=num_features,
        num_rows=num_rows,
        nnz=nnz,
    )


def _sddmm_impl(cfg, row, col, x, y):
    kw = dict(blocks=_blocks_for(cfg, x), interpret=cfg.interpret)
    if cfg.op == "dot":
        return sddmm_dot_call(row, col, x, y, out_dtype=x.dtype, **kw)
    return sddmm_elementwise_call(row, col, x, y, op=cfg.op, **kw)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _sddmm_vjp(cfg, row, col, x, y):
    return _sddmm_impl(cfg, row, col, x, y)


def _sddmm_vjp_fwd(cfg, row, col, x, y):
    return _sddmm_impl(cfg, row, col, x, y), (row, col, x, y)


def _sddmm_vjp_bwd(cfg, res, g):
    row, col, x, y = res
    m, n, nnz, f = x.shape[0], y.shape[0], row.shape[0], x.shape[-1]
    acc = _common.accum_dtype(g.dtype)
    if cfg.op == "mul":
        # Two gathers feed each product, which SpMM cannot express: fall back to XLA segments.
        g32 = g.astype(acc)
        dx = jax.ops.segment_sum(g32 * y.astype(acc)[col], row, m)
        dy = jax.ops.segment_sum(g32 * x.astype(acc)[row], col, n)
        return None, None, dx.astype(x.dtype), dy.astype(y.dtype)
    # dot and add: dx = (row-grouped SpMM), dy = (col-grouped SpMM), both deterministic.
    ptr_r, perm_r = _common.sort_to_csr(row, m)
    ptr_c, perm_c = _common.sort_to_csr(col, n)
    by_row = dict(reduce="sum", blocks=_grouped_blocks(cfg, m, nnz, f), interpret=cfg.interpret)
    by_col = dict(reduce="sum", blocks=_grouped_blocks(cfg, n, nnz, f), interpret=cfg.interpret)
    if cfg.op == "dot":  # values g read in place through the grouping permutation
        dx = spmm_call(ptr_r, col[perm_r], g, y, perm=perm_r, **by_row).out
        dy = spmm_call(ptr_c, row[perm_c], g, x, perm=perm_c, **by_col).out
    else:  # the gathered "rows" are the edges' cotangents themselves
        g3 = g[:, None, :]
        dx = spmm_call(ptr_r, perm_r, None, g3, **by_row).out[:, 0, :]
        dy = spmm_call(ptr_c, perm_c, None, g3, **by_col).out[:, 0, :]
    return None, None, dx.astype(x.dtype), dy.astype(y.dtype)


_sddmm_vjp.defvjp(_sddmm_vjp_fwd, _sddmm_vjp_bwd)


def _check_sddmm_args(row, col, x, y, op):
    if op not in SDDMM_OPS:
        raise ValueError(f"op must be one of {SDDMM_OPS}, got {op!r}.")
    row = _common.check_index("row", row)
    col = _common.check_index("col", col, row.shape[0])
    x = _common.check_float("x", x, (2, 3))
    y = _common.check_float("y", y, (2, 3))
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(
            f"`x` and `y` must share their trailing shape, got {x.shape} and {y.shape}."
        )
    if x.dtype != y.dtype:
        raise TypeError(f"`x` and `y` must have the same dtype, got {x.dtype} and {y.dtype}.")
    return row, col, x, y


@functools.partial(jax.jit, static_argnames=("op", "block_f", "block_e", "interpret"))
def sddmm(
    row: jax.Array,
    col: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    op: str = "dot",
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> jax.Array:
    """Sampled dense-dense op per edge: `dot(x[row], y[col])`, `x[row]+y[col]`, `x[row]*y[col]`.

    Accumulates in float32 and returns `x.dtype`. Edge-parallel, no atomics.

    Gradients (a `jax.custom_vjp`): for `dot` and `add` both input cotangents are Pallas SpMMs
    over the edge list grouped by `row` and by `col` (each grouping costs one stable argsort
    in-graph); for `mul` they are XLA `segment_sum`s of `g * y[col]` and `g * x[row]`.

    Args:
        row: `[nnz]` int ids into `x` (any order). Not range-checked under `jit`.
        col: `[nnz]` int ids into `y`.
        x: `[M, F]`, or `[M, H, F]` for a per-head dot.
        y: `[N, F]` (or `[N, H, F]`), same trailing shape and dtype as `x`.
        op: "dot", "add" or "mul".
        block_f: feature block, a power of two (default: the rule's, next power of two of F
            at most 64).
        block_e: edges per program, a power of two (default: the rule's, 4096 / block_f
            clamped to [8, 32]).
        interpret: run the Pallas interpreter on the CPU.

    Returns:
        `dot`: `[nnz]` (or `[nnz, H]`); `add`/`mul`: `[nnz, F]` (or `[nnz, H, F]`); `x.dtype`.

    Raises:
        TypeError: on non-integer indices, non-float or mismatched feature dtypes.
        ValueError: on an unknown `op`, shape mismatches or a bad block size.

    Examples:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([[1.0, 2.0], [3.0, 4.0]])
        >>> sddmm(jnp.array([0, 1]), jnp.array([1, 1]), x, x, interpret=True).tolist()
        [11.0, 25.0]
    """
    row, col, x, y = _check_sddmm_args(row, col, x, y, op)
    cfg = _Cfg(op, block_f, block_e, interpret)
    nnz = row.shape[0]
    if op == "dot":
        x3 = x if x.ndim == 3 else x[:, None, :]
        y3 = y if y.ndim == 3 else y[:, None, :]
        out = _sddmm_vjp(cfg, row, col, x3, y3)
        return out if x.ndim == 3 else out[:, 0]
    feat_shape = x.shape[1:]
    x2 = x.reshape(x.shape[0], -1)
    y2 = y.reshape(y.shape[0], -1)
    out = _sddmm_vjp(cfg, row, col, x2, y2)
    return out.reshape((nnz,) + feat_shape)


def sddmm_reference(
    row: jax.Array, col: jax.Array, x: jax.Array, y: jax.Array, *, op: str = "dot"
) -> jax.Array:
    """Pure-`jnp` oracle for `sddmm` (float32 accumulation, returns `x.dtype`).

    Args:
        row: `[nnz]` int ids into `x`.
        col: `[nnz]` int ids into `y`.
        x: `[M, F]` or `[M, H, F]`.
        y: `[N, F]` or `[N, H, F]`.
        op: "dot", "add" or "mul".

    Returns:
        Same shapes as `sddmm`.

    Raises:
        ValueError: on an unknown `op`.
    """
    if op not in SDDMM_OPS:
        raise ValueError(f"op must be one of {SDDMM_OPS}, got {op!r}.")
    acc = _common.accum_dtype(x.dtype)
    a = x.astype(acc)[jnp.asarray(row)]
    b = y.astype(acc)[jnp.asarray(col)]
    if op == "dot":
        out = jnp.sum(a * b, axis=-1)
    elif op == "add":
        out = a + b
    else:
        out = a * b
    return out.astype(x.dtype)
