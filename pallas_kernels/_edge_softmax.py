"""Fused edge softmax + aggregation (the GAT core) as a Pallas kernel with an online softmax.

`out[i, h] = sum_{e in row i} softmax_e(logits[e, h]) * x[col[e], h]`, the softmax taken over
the edges of destination row `i`. Four parts: the kernel body (`_edge_softmax_kernel`), the raw
launcher (`edge_softmax_call`), the differentiable jitted wrapper (`edge_softmax_aggregate`, a
`jax.custom_vjp`) and the pure-`jnp` oracle (`edge_softmax_aggregate_reference`).

One program owns one (row, head, feature block) and streams the row's edges in chunks of
`block_e`, keeping a running max `m`, running denominator `s` and a rescaled float32 accumulator,
exactly like flash attention. Nothing of size `[E, H, F]` is ever materialised, in the forward
or the backward.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from . import _common
from ._sddmm import sddmm_dot_call
from ._spmm import spmm_call


def _edge_softmax_kernel(
    rowptr_ref,
    col_ref,
    logit_ref,
    x_ref,
    out_ref,
    lse_ref,
    *,
    num_heads,
    num_features,
    block_e,
    block_f,
):
    """One program per (row i, head h, feature block j).

    Refs: `rowptr [M+1]`, `col [nnz]`, `logits [nnz*H]`, `x [N, H*F]`; outputs `out [M, H*F]`
    and `lse [M*H]` float32 (log-sum-exp of the row's logits; +inf when the row is empty or all
    its logits are -inf). Only the `j == 0` programs write `lse`.
    """
    i, h, j = pl.program_id(0), pl.program_id(1), pl.program_id(2)
    start = rowptr_ref[i]
    end = rowptr_ref[i + 1]
    f_idx = j * block_f + jnp.arange(block_f, dtype=jnp.int32)
    f_mask = f_idx < num_features
    x_cols = h * num_features + f_idx
    acc_dtype = _common.accum_dtype(x_ref.dtype)

    def body(k, carry):
        m, s, acc = carry
        e = start + k * block_e + jnp.arange(block_e, dtype=jnp.int32)
        e_mask = e < end
        c = plt.load(col_ref.at[e], mask=e_mask, other=0)
        logit = plt.load(logit_ref.at[e * num_heads + h], mask=e_mask, other=0)
        logit = jnp.where(e_mask, logit.astype(acc_dtype), -jnp.inf)
        m_new = jnp.maximum(m, jnp.max(logit))
        alpha = jnp.exp(m - m_new)
        p = jnp.exp(logit - m_new)  # [block_e]; 0 on masked lanes
        mask = e_mask[:, None] & f_mask[None, :]
        xs = plt.load(x_ref.at[c[:, None], x_cols[None, :]], mask=mask, other=0)
        acc = acc * alpha + jnp.sum(p[:, None] * xs.astype(acc_dtype), axis=0)
        return m_new, s * alpha + jnp.sum(p), acc

    # A finite floor for the running max keeps `m - m_new` away from (-inf) - (-inf).
    floor = jnp.asarray(jnp.finfo(acc_dtype).min, acc_dtype)
    init = (floor, jnp.zeros((), acc_dtype), jnp.zeros((block_f,), acc_dtype))
    m, s, acc = lax.fori_loop(0, pl.cdiv(end - start, block_e), body, init)
    nonzero = s > 0
    out = jnp.where(nonzero, acc / jnp.where(nonzero, s, 1.0), 0.0)
    plt.store(out_ref.at[i, x_cols], out.astype(out_ref.dtype), mask=f_mask)

    @pl.when(j == 0)
    def _():
        lse = jnp.where(nonzero, m + jnp.log(jnp.where(nonzero, s, 1.0)), jnp.inf)
        lse_ref[i * num_heads + h] = lse.astype(lse_ref.dtype)


def edge_softmax_call(
    rowptr: jax.Array,
    col: jax.Array,
    logits: jax.Array,
    x: jax.Array,
    *,
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> tuple[jax.Array, jax.Array]:
    """Launches the fused kernel (no autodiff, no checks).

    Args:
        rowptr: `[M+1]` int32.
        col: `[nnz]` int32.
        logits: `[nnz, H]` float.
        x: `[N, H, F]` float.
        block_f: feature block (power of two) or None.
        block_e: edge block (power of two) or None.
        interpret: run the Pallas interpreter.

    Returns:
        `(out [M, H, F] in x.dtype, lse [M, H] float32)`.
    """
    m = rowptr.shape[0] - 1
    n, num_heads, num_features = x.shape
    nnz = col.shape[0]
    acc_dtype = _common.accum_dtype(x.dtype)
    if m == 0 or nnz == 0 or num_heads == 0 or num_features == 0:
        return (
            jnp.zeros((m, num_heads, num_features), x.dtype),
            jnp.full((m, num_heads), jnp.inf, acc_dtype),
        )
    bf = _common.pick_block_f(num_features, block_f)
    be = _common.pick_block_e(bf, block_e)
    kernel = functools.partial(
        _edge_softmax_kernel,
        num_heads=num_heads,
        num_features=num_features,
        block_e=be,
        block_f=bf,
    )
    out, lse = pl.pallas_call(
        kernel,
        out_shape=[
            jax.ShapeDtypeStruct((m, num_heads * num_features), x.dtype),
            jax.ShapeDtypeStruct((m * num_heads,), acc_dtype),
        ],
        grid=(m, num_heads, pl.cdiv(num_features, bf)),
        compiler_params=_common.triton_params(be, bf),
        interpret=interpret,
        name="jgnn_edge_softmax_aggregate",
    )(rowptr, col, logits.reshape(nnz * num_heads), x.reshape(n, num_heads * num_features))
    return out.reshape(m, num_heads, num_features), lse.reshape(m, num_heads)


class _Cfg(NamedTuple):
    block_f: int | None
    block_e: int | None
    interpret: bool


def _call(cfg, rowptr, col, logits, x):
    return edge_softmax_call(
        rowptr, col, logits, x, block_f=cfg.block_f, block_e=cfg.block_e, interpret=cfg.interpret
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _edge_softmax_vjp(cfg, rowptr, col, logits, x, transpose):
    del transpose
    return _call(cfg, rowptr, col, logits, x)[0]


def _edge_softmax_vjp_fwd(cfg, rowptr, col, logits, x, transpose):
    out, lse = _call(cfg, rowptr, col, logits, x)
    return out, (rowptr, col, logits, x, transpose, out, lse)


def _edge_softmax_vjp_bwd(cfg, res, g):
    """Recomputes the attention per edge from the saved log-sum-exp (flash-attention style).

    With `a[e,h] = exp(logits[e,h] - lse[row_e,h])`:
    `dx = A^T g` with per-head values `a` (Pallas SpMM over the CSC view),
    `dlogits[e,h] = a[e,h] * (<g[row_e,h], x[col_e,h]> - <g[row_e,h], out[row_e,h]>)`
    (Pallas SDDMM for the first dot). Only `[nnz, H]` edge arrays are materialised.
    """
    rowptr, col, logits, x, transpose, out, lse = res
    n = x.shape[0]
    nnz = col.shape[0]
    acc = _common.accum_dtype(x.dtype)
    kw = dict(block_f=cfg.block_f, block_e=cfg.block_e, interpret=cfg.interpret)
    row = _common.row_ids(rowptr, nnz)
    att = jnp.exp(logits.astype(acc) - lse[row])  # [nnz, H]; 0 for rows with lse = +inf
    g32 = g.astype(acc)
    delta = jnp.sum(g32 * out.astype(acc), axis=-1)  # [M, H]
    gx = sddmm_dot_call(row, col, g32, x, **kw)  # [nnz, H]
    dlogits = (att * (gx - delta[row])).astype(logits.dtype)
    if transpose is None:
        transpose = _common.csc_view(rowptr, col, n)
    colptr, row_t, perm = transpose
    dx, _ = spmm_call(colptr, row_t, att[perm], g32, **kw)
    return None, None, dlogits, dx.astype(x.dtype), None


_edge_softmax_vjp.defvjp(_edge_softmax_vjp_fwd, _edge_softmax_vjp_bwd)


@functools.partial(jax.jit, static_argnames=("block_f", "block_e", "interpret"))
def edge_softmax_aggregate(
    rowptr: jax.Array,
    col: jax.Array,
    logits: jax.Array,
    x: jax.Array,
    *,
    transpose: tuple[jax.Array, jax.Array, jax.Array] | None = None,
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> jax.Array:
    """Fused `out[i, h] = sum_{e in row i} softmax_e(logits[e, h]) * x[col[e], h]`.

    The softmax runs over the nonzeros of each CSR row (destination node), per head, online
    (running max and sum, as in flash attention), so `[E, H, F]` is never built. float32
    accumulation, returns `x.dtype`. Empty rows, and rows whose logits are all -inf, give 0.

    Gradients (a `jax.custom_vjp`): the forward saves `out` and the per-row log-sum-exp; the
    backward recomputes the attention per edge from them, gets `dlogits` with the Pallas SDDMM
    kernel and `dx` with the Pallas SpMM kernel over the CSC view (built in-graph with one
    argsort of `col` when `transpose` is None).

    Args:
        rowptr: `[M+1]` int row pointers of the destination-major (adj_t) CSR.
        col: `[nnz]` int source node of each edge, in `[0, N)`.
        logits: `[nnz, H]` float attention logits, in CSR order.
        x: `[N, H, F]` float source features.
        transpose: optional stored CSC view `(colptr [N+1], row_t [nnz], csr2csc [nnz])`.
        block_f: feature block, a power of two (default next power of two of F, at most 128).
        block_e: edges per loop step, a power of two (default 32, fewer when block_f > 128).
        interpret: run the Pallas interpreter on the CPU.

    Returns:
        `[M, H, F]` in `x.dtype`.

    Raises:
        TypeError: on non-integer indices or non-float `logits`/`x`.
        ValueError: on shape mismatches or a bad block size.

    Examples:
        >>> import jax.numpy as jnp
        >>> rowptr = jnp.array([0, 2], jnp.int32)
        >>> col = jnp.array([0, 1], jnp.int32)
        >>> logits = jnp.zeros((2, 1))
        >>> x = jnp.array([[[1.0]], [[3.0]]])
        >>> edge_softmax_aggregate(rowptr, col, logits, x, interpret=True).tolist()
        [[[2.0]]]
    """
    rowptr = _common.check_index("rowptr", rowptr)
    if rowptr.shape[0] < 1:
        raise ValueError("`rowptr` must have at least one entry (M+1 >= 1), got length 0.")
    col = _common.check_index("col", col)
    nnz = col.shape[0]
    x = _common.check_float("x", x, (3,))
    logits = _common.check_float("logits", logits, (2,))
    if logits.shape != (nnz, x.shape[1]):
        raise ValueError(
            f"`logits` must have shape (nnz, H) = ({nnz}, {x.shape[1]}), got {logits.shape}."
        )
    transpose = _common.check_transpose(transpose, x.shape[0], nnz)
    cfg = _Cfg(block_f, block_e, interpret)
    return _edge_softmax_vjp(cfg, rowptr, col, logits, x, transpose)


def edge_softmax_aggregate_reference(
    rowptr: jax.Array, col: jax.Array, logits: jax.Array, x: jax.Array
) -> jax.Array:
    """Pure-`jnp` oracle: segment_max -> exp -> segment_sum -> weighted segment_sum.

    Materialises `[nnz, H, F]`; float32 accumulation; empty rows and all -inf rows give 0.

    Args:
        rowptr: `[M+1]` int row pointers.
        col: `[nnz]` int source ids.
        logits: `[nnz, H]` float.
        x: `[N, H, F]` float.

    Returns:
        `[M, H, F]` in `x.dtype`.
    """
    rowptr = jnp.asarray(rowptr).astype(jnp.int32)
    m = rowptr.shape[0] - 1
    nnz = col.shape[0]
    acc = _common.accum_dtype(x.dtype)
    row = _common.row_ids(rowptr, nnz)
    lg = logits.astype(acc)
    mx = jax.ops.segment_max(lg, row, m)
    mx = lax.stop_gradient(jnp.where(jnp.isfinite(mx), mx, 0.0))  # shift-invariant
    p = jnp.exp(lg - mx[row])
    s = jax.ops.segment_sum(p, row, m)
    att = p / jnp.where(s > 0, s, 1.0)[row]
    out = jax.ops.segment_sum(att[:, :, None] * x.astype(acc)[col], row, m)
    return out.astype(x.dtype)
