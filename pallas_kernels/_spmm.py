"""Row-parallel CSR SpMM: `out = A @ x` with sum/mean/max/min reduction, as a Pallas kernel.

Four parts, like the JAX Pallas GPU ops: the kernel body (`_spmm_kernel`), the raw launcher
(`spmm_call`, block sizes and `interpret`), the differentiable jitted wrapper (`spmm`, a
`jax.custom_vjp`), and the pure-`jnp` oracle (`spmm_reference`).

One program owns one (row, head, feature block). It walks the row's nonzeros
`rowptr[i]:rowptr[i+1]` in chunks of `block_e`, gathers the `[block_e, block_f]` tile
`x[col[e], f]` with a masked load and reduces it into a float32 register accumulator. No atomics,
so the result is deterministic and independent of the edge order inside a row.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from . import _common

REDUCTIONS = ("sum", "mean", "max", "min")
_NO_EDGE = -1


def _spmm_kernel(
    *refs: Any,
    reduce: str,
    has_value: bool,
    num_heads: int,
    num_features: int,
    block_e: int,
    block_f: int,
) -> None:
    """Kernel body: one program per (row i, head h, feature block j).

    Refs, in order: `rowptr [M+1]`, `col [nnz]`, `value [nnz*H]` (only if `has_value`),
    `x [N, H*F]`, then the outputs `out [M, H*F]` and, for max/min, `arg [M, H*F]` int32 (the
    CSR position of the winning edge, -1 for an empty row).
    """
    if has_value:
        rowptr_ref, col_ref, val_ref, x_ref, *out_refs = refs
    else:
        rowptr_ref, col_ref, x_ref, *out_refs = refs
        val_ref = None
    out_ref = out_refs[0]
    i, h, j = pl.program_id(0), pl.program_id(1), pl.program_id(2)
    start = rowptr_ref[i]
    end = rowptr_ref[i + 1]
    f_idx = j * block_f + jnp.arange(block_f, dtype=jnp.int32)
    f_mask = f_idx < num_features
    x_cols = h * num_features + f_idx
    acc_dtype = _common.accum_dtype(x_ref.dtype)
    num_chunks = pl.cdiv(end - start, block_e)

    def gather(k: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
        e = start + k * block_e + jnp.arange(block_e, dtype=jnp.int32)
        e_mask = e < end
        c = plt.load(col_ref.at[e], mask=e_mask, other=0)
        mask = e_mask[:, None] & f_mask[None, :]
        xs = plt.load(x_ref.at[c[:, None], x_cols[None, :]], mask=mask, other=0)
        msg = xs.astype(acc_dtype)
        if val_ref is not None:
            v = plt.load(val_ref.at[e * num_heads + h], mask=e_mask, other=0)
            msg = msg * v.astype(acc_dtype)[:, None]
        return e, mask, msg

    if reduce in ("sum", "mean"):

        def sum_body(k, acc):
            _, _, msg = gather(k)
            return acc + jnp.sum(msg, axis=0)

        acc = lax.fori_loop(0, num_chunks, sum_body, jnp.zeros((block_f,), acc_dtype))
        if reduce == "mean":
            count = jnp.maximum(end - start, 1).astype(acc_dtype)
            acc = acc / count
        plt.store(out_ref.at[i, x_cols], acc.astype(out_ref.dtype), mask=f_mask)
        return

    # max / min: min is max of the negated messages. Ties go to the earliest CSR position.
    sign = 1.0 if reduce == "max" else -1.0
    arg_ref = out_refs[1]
    big = jnp.iinfo(jnp.int32).max

    def ext_body(k, carry):
        best, best_arg = carry
        e, mask, msg = gather(k)
        vals = jnp.where(mask, sign * msg, -jnp.inf)
        chunk_best = jnp.max(vals, axis=0)
        hit = mask & (vals == chunk_best[None, :])
        chunk_arg = jnp.min(jnp.where(hit, e[:, None], big), axis=0)
        take = chunk_best > best
        return jnp.where(take, chunk_best, best), jnp.where(take, chunk_arg, best_arg)

    init = (
        jnp.full((block_f,), -jnp.inf, acc_dtype),
        jnp.full((block_f,), _NO_EDGE, jnp.int32),
    )
    best, best_arg = lax.fori_loop(0, num_chunks, ext_body, init)
    result = jnp.where(end > start, sign * best, 0.0).astype(out_ref.dtype)
    plt.store(out_ref.at[i, x_cols], result, mask=f_mask)
    plt.store(arg_ref.at[i, x_cols], best_arg, mask=f_mask)


def spmm_call(
    rowptr: jax.Array,
    col: jax.Array,
    value: jax.Array | None,
    x: jax.Array,
    *,
    reduce: str = "sum",
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> tuple[jax.Array, jax.Array | None]:
    """Launches the SpMM kernel (no autodiff, no argument checks). Multi-head internal form.

    Args:
        rowptr: `[M+1]` int32 row pointers.
        col: `[nnz]` int32 column ids.
        value: `[nnz, H]` edge values (one per head) or None for ones.
        x: `[N, H, F]` dense features.
        reduce: "sum", "mean", "max" or "min".
        block_f: feature block (power of two) or None for the default.
        block_e: edge block (power of two) or None for the default.
        interpret: run the Pallas interpreter (CPU) instead of compiling for the GPU.

    Returns:
        `(out [M, H, F] in x.dtype, arg)`, `arg [M, H, F]` int32 CSR position of the selected
        edge for max/min (-1 for empty rows), None for sum/mean.
    """
    m = rowptr.shape[0] - 1
    n, num_heads, num_features = x.shape
    nnz = col.shape[0]
    extremal = reduce in ("max", "min")
    if m == 0 or nnz == 0 or num_features == 0 or num_heads == 0:
        out = jnp.zeros((m, num_heads, num_features), x.dtype)
        arg = jnp.full(out.shape, _NO_EDGE, jnp.int32) if extremal else None
        return out, arg
    bf = _common.pick_block_f(num_features, block_f)
    be = _common.pick_block_e(bf, block_e)
    kernel = functools.partial(
        _spmm_kernel,
        reduce=reduce,
        has_value=value is not None,
        num_heads=num_heads,
        num_features=num_features,
        block_e=be,
        block_f=bf,
    )
    out_shape = [jax.ShapeDtypeStruct((m, num_heads * num_features), x.dtype)]
    if extremal:
        out_shape.append(jax.ShapeDtypeStruct((m, num_heads * num_features), jnp.int32))
    args = [rowptr, col]
    if value is not None:
        args.append(value.reshape(nnz * num_heads))
    args.append(x.reshape(n, num_heads * num_features))
    outs = pl.pallas_call(
        kernel,
        out_shape=out_shape,
        grid=(m, num_heads, pl.cdiv(num_features, bf)),
        compiler_params=_common.triton_params(be, bf),
        interpret=interpret,
        name=f"jgnn_spmm_{reduce}",
    )(*args)
    out = outs[0].reshape(m, num_heads, num_features)
    arg = outs[1].reshape(m, num_heads, num_features) if extremal else None
    return out, arg


class _Cfg(NamedTuple):
    reduce: str
    block_f: int | None
    block_e: int | None
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


def _spmm_fwd_impl(cfg, rowptr, col, value, x, transpose):
    del transpose
    return spmm_call(
        rowptr,
        col,
        value,
        x,
        reduce=cfg.reduce,
        block_f=cfg.block_f,
        block_e=cfg.block_e,
        interpret=cfg.interpret,
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _spmm_vjp(cfg, rowptr, col, value, x, transpose):
    return _spmm_fwd_impl(cfg, rowptr, col, value, x, transpose)[0]


def _spmm_vjp_fwd(cfg, rowptr, col, value, x, transpose):
    out, arg = _spmm_fwd_impl(cfg, rowptr, col, value, x, transpose)
    return out, (rowptr, col, value, x, transpose, arg)


def _spmm_vjp_bwd(cfg, res, g):
    from ._sddmm import sddmm_dot_call  # local import: _sddmm's backward imports this module

    rowptr, col, value, x, transpose, arg = res
    n = x.shape[0]
    nnz = col.shape[0]
    if cfg.reduce in ("max", "min"):
        dx, dvalue = _extremal_backward(g, arg, col, value, x)
        return None, None, dvalue, dx, None
    if cfg.reduce == "mean":
        count = jnp.maximum(rowptr[1:] - rowptr[:-1], 1).astype(_common.accum_dtype(g.dtype))
        g = g.astype(count.dtype) / count[:, None, None]  # stays float32 for the transpose
    if transpose is None:
        transpose = _common.csc_view(rowptr, col, n)
    colptr, row_t, perm = transpose
    value_t = None if value is None else value[perm]
    kw = dict(block_f=cfg.block_f, block_e=cfg.block_e, interpret=cfg.interpret)
    dx, _ = spmm_call(colptr, row_t, value_t, g, reduce="sum", **kw)
    dx = dx.astype(x.dtype)
    dvalue = None
    if value is not None:
        row = _common.row_ids(rowptr, nnz)
        dvalue = sddmm_dot_call(row, col, g, x, **kw).astype(value.dtype)
    return None, None, dvalue, dx, None


_spmm_vjp.defvjp(_spmm_vjp_fwd, _spmm_vjp_bwd)


def spmm_multihead(
    rowptr: jax.Array,
    col: jax.Array,
    value: jax.Array | None,
    x: jax.Array,
    *,
    reduce: str = "sum",
    transpose: tuple[jax.Array, jax.Array, jax.Array] | None = None,
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> jax.Array:
    """Differentiable multi-head SpMM, `value [nnz, H]`, `x [N, H, F]` -> `[M, H, F]`."""
    cfg = _Cfg(reduce, block_f, block_e, interpret)
    return _spmm_vjp(cfg, rowptr, col, value, x, transpose)


@functools.partial(jax.jit, static_argnames=("reduce", "block_f", "block_e", "interpret"))
def spmm(
    rowptr: jax.Array,
    col: jax.Array,
    value: jax.Array | None,
    x: jax.Array,
    *,
    reduce: str = "sum",
    transpose: tuple[jax.Array, jax.Array, jax.Array] | None = None,
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> jax.Array:
    """CSR sparse-dense matmul `out[i] = reduce_{e in row i} value[e] * x[col[e]]` (Pallas).

    Row-parallel and atomic-free, hence deterministic. Accumulates in float32 (float64 for
    float64 inputs) and returns `x.dtype`. Empty rows give 0 for every reduction.

    Gradients (a `jax.custom_vjp`): for sum/mean, `dx` is this kernel run over the transpose
    and `d value` is the SDDMM `sum(g[row] * x[col], -1)` (Pallas `sddmm` kernel). If
    `transpose` is None the backward builds the CSC view in-graph with one stable argsort of
    `col` (O(nnz log nnz)); pass the stored view to skip it. For max/min the cotangent goes to
    the selected edge (ties: the earliest CSR position) with an XLA scatter-add, which is not
    deterministic on GPU.

    Args:
        rowptr: `[M+1]` int row pointers (non-decreasing, `rowptr[0] == 0`,
            `rowptr[M] == nnz`). Not checked under `jit`.
        col: `[nnz]` int column ids in `[0, N)`.
        value: `[nnz]` float edge values, or None for all ones (no value read at all).
        x: `[N, F]` float features.
        reduce: "sum", "mean", "max" or "min". `mean` divides the weighted sum by the row's
            number of nonzeros (torch_sparse semantics).
        transpose: optional stored CSC view `(colptr [N+1], row_t [nnz], csr2csc [nnz])`,
            where CSC entry k is CSR entry `csr2csc[k]`. Used by the backward only.
        block_f: feature block, a power of two (default: next power of two of F, at most 128).
            F need not be a power of two: the last block is masked.
        block_e: nonzeros gathered per loop step, a power of two (default 32, fewer when
            block_f > 128 so the tile stays at 4096 elements).
        interpret: run the Pallas interpreter on the CPU instead of compiling with Triton.

    Returns:
        `[M, F]` array in `x.dtype`.

    Raises:
        TypeError: if index arrays are not integer or `x`/`value` are not floating.
        ValueError: on shape mismatches, an unknown `reduce` or a bad block size.

    Examples:
        >>> import jax.numpy as jnp
        >>> rowptr = jnp.array([0, 2, 2, 3], jnp.int32)
        >>> col = jnp.array([0, 1, 1], jnp.int32)
        >>> x = jnp.array([[1.0], [2.0]])
        >>> spmm(rowptr, col, None, x, interpret=True)[:, 0].tolist()
        [3.0, 0.0, 2.0]
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}.")
    x = _common.check_float("x", x, (2,))
    rowptr = _common.check_index("rowptr", rowptr)
    if rowptr.shape[0] < 1:
        raise ValueError("`rowptr` must have at least one entry (M+1 >= 1), got length 0.")
    col = _common.check_index("col", col)
    nnz = col.shape[0]
    if value is not None:
        value = _common.check_float("value", value, (1,))
        if value.shape[0] != nnz:
            raise ValueError(f"`value` has {value.shape[0]} entries but `col` has {nnz}.")
        value = value[:, None]
    transpose = _common.check_transpose(transpose, x.shape[0], nnz)
    out = spmm_multihead(
        rowptr,
        col,
        value,
        x[:, None, :],
        reduce=reduce,
        transpose=transpose,
        block_f=block_f,
        block_e=block_e,
        interpret=interpret,
    )
    return out[:, 0, :]


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
    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}.")
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
