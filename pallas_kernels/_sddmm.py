"""SDDMM: per-edge `dot(x[row], y[col])`, `x[row] + y[col]` or `x[row] * y[col]` in Pallas.

Four parts: the kernel bodies (`_sddmm_dot_kernel`, `_sddmm_elementwise_kernel`), the raw
launchers (`sddmm_dot_call`, `sddmm_elementwise_call`), the differentiable jitted wrapper
(`sddmm`, a `jax.custom_vjp`) and the pure-`jnp` oracle (`sddmm_reference`).

One program owns `block_e` consecutive edges (and one head for `dot`, one feature block for
`add`/`mul`). It gathers the `[block_e, block_f]` tiles of both endpoints with masked loads; the
`dot` kernel loops over feature blocks and accumulates in float32 registers. Each output element
is written by exactly one program: no atomics.
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
from ._spmm import spmm_call

OPS = ("dot", "add", "mul")


def _edge_tile(row_ref, col_ref, p, block_e, nnz):
    e = p * block_e + jnp.arange(block_e, dtype=jnp.int32)
    e_mask = e < nnz
    r = plt.load(row_ref.at[e], mask=e_mask, other=0)
    c = plt.load(col_ref.at[e], mask=e_mask, other=0)
    return e, e_mask, r, c


def _sddmm_dot_kernel(
    row_ref, col_ref, x_ref, y_ref, out_ref, *, nnz, num_heads, num_features, block_e, block_f
):
    """One program per (edge block p, head h): `out[e*H + h] = <x[row_e, h], y[col_e, h]>`.

    Refs: `row [nnz]`, `col [nnz]`, `x [M, H*F]`, `y [N, H*F]`, out `[nnz*H]`.
    """
    p, h = pl.program_id(0), pl.program_id(1)
    e, e_mask, r, c = _edge_tile(row_ref, col_ref, p, block_e, nnz)
    acc_dtype = _common.accum_dtype(out_ref.dtype)

    def body(j, acc):
        f = j * block_f + jnp.arange(block_f, dtype=jnp.int32)
        mask = e_mask[:, None] & (f < num_features)[None, :]
        cols = (h * num_features + f)[None, :]
        a = plt.load(x_ref.at[r[:, None], cols], mask=mask, other=0).astype(acc_dtype)
        b = plt.load(y_ref.at[c[:, None], cols], mask=mask, other=0).astype(acc_dtype)
        return acc + jnp.sum(a * b, axis=1)

    num_blocks = pl.cdiv(num_features, block_f)
    acc = lax.fori_loop(0, num_blocks, body, jnp.zeros((block_e,), acc_dtype))
    plt.store(out_ref.at[e * num_heads + h], acc.astype(out_ref.dtype), mask=e_mask)


def _sddmm_elementwise_kernel(
    row_ref, col_ref, x_ref, y_ref, out_ref, *, op, nnz, num_features, block_e, block_f
):
    """One program per (edge block p, feature block j): `out[e, f] = x[row_e, f] (+|*) y[col_e, f]`.

    Refs: `row [nnz]`, `col [nnz]`, `x [M, F]`, `y [N, F]`, out `[nnz, F]`.
    """
    p, j = pl.program_id(0), pl.program_id(1)
    e, e_mask, r, c = _edge_tile(row_ref, col_ref, p, block_e, nnz)
    f = j * block_f + jnp.arange(block_f, dtype=jnp.int32)
    mask = e_mask[:, None] & (f < num_features)[None, :]
    acc_dtype = _common.accum_dtype(out_ref.dtype)
    a = plt.load(x_ref.at[r[:, None], f[None, :]], mask=mask, other=0).astype(acc_dtype)
    b = plt.load(y_ref.at[c[:, None], f[None, :]], mask=mask, other=0).astype(acc_dtype)
    res = a + b if op == "add" else a * b
    plt.store(out_ref.at[e[:, None], f[None, :]], res.astype(out_ref.dtype), mask=mask)


def sddmm_dot_call(
    row: jax.Array,
    col: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
    out_dtype: Any = None,
) -> jax.Array:
    """Launches the per-head dot kernel (no autodiff, no checks).

    Args:
        row: `[nnz]` int32 ids into `x`.
        col: `[nnz]` int32 ids into `y`.
        x: `[M, H, F]` float.
        y: `[N, H, F]` float.
        block_f: feature block (power of two) or None.
        block_e: edge block (power of two) or None.
        interpret: run the Pallas interpreter.
        out_dtype: output dtype (default: the accumulation dtype, float32 or float64).

    Returns:
        `[nnz, H]` per-edge, per-head dot products.
    """
    nnz = row.shape[0]
    m, num_heads, num_features = x.shape
    n = y.shape[0]
    out_dtype = _common.accum_dtype(x.dtype) if out_dtype is None else jnp.dtype(out_dtype)
    if nnz == 0 or num_heads == 0 or num_features == 0:
        return jnp.zeros((nnz, num_heads), out_dtype)
    bf = _common.pick_block_f(num_features, block_f)
    be = _common.pick_block_e(bf, block_e)
    kernel = functools.partial(
        _sddmm_dot_kernel,
        nnz=nnz,
        num_heads=num_heads,
        num_features=num_features,
        block_e=be,
        block_f=bf,
    )
    out = pl.pallas_call(
        kernel,
        out_shape=jax.ShapeDtypeStruct((nnz * num_heads,), out_dtype),
        grid=(pl.cdiv(nnz, be), num_heads),
        compiler_params=_common.triton_params(be, bf),
        interpret=interpret,
        name="jgnn_sddmm_dot",
    )(row, col, x.reshape(m, num_heads * num_features), y.reshape(n, num_heads * num_features))
    return out.reshape(nnz, num_heads)


def sddmm_elementwise_call(
    row: jax.Array,
    col: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    op: str,
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> jax.Array:
    """Launches the `add`/`mul` kernel on `x [M, F]`, `y [N, F]`; returns `[nnz, F]` x.dtype."""
    nnz = row.shape[0]
    num_features = x.shape[1]
    if nnz == 0 or num_features == 0:
        return jnp.zeros((nnz, num_features), x.dtype)
    bf = _common.pick_block_f(num_features, block_f)
    be = _common.pick_block_e(bf, block_e)
    kernel = functools.partial(
        _sddmm_elementwise_kernel,
        op=op,
        nnz=nnz,
        num_features=num_features,
        block_e=be,
        block_f=bf,
    )
    return pl.pallas_call(
        kernel,
        out_shape=jax.ShapeDtypeStruct((nnz, num_features), x.dtype),
        grid=(pl.cdiv(nnz, be), pl.cdiv(num_features, bf)),
        compiler_params=_common.triton_params(be, bf),
        interpret=interpret,
        name=f"jgnn_sddmm_{op}",
    )(row, col, x, y)


class _Cfg(NamedTuple):
    op: str
    block_f: int | None
    block_e: int | None
    interpret: bool


def _sddmm_impl(cfg, row, col, x, y):
    kw = dict(block_f=cfg.block_f, block_e=cfg.block_e, interpret=cfg.interpret)
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
    m, n = x.shape[0], y.shape[0]
    kw = dict(block_f=cfg.block_f, block_e=cfg.block_e, interpret=cfg.interpret)
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
    if cfg.op == "dot":
        dx, _ = spmm_call(ptr_r, col[perm_r], g[perm_r], y, **kw)
        dy, _ = spmm_call(ptr_c, row[perm_c], g[perm_c], x, **kw)
    else:
        g3 = g[:, None, :]
        dx = spmm_call(ptr_r, perm_r, None, g3, **kw)[0][:, 0, :]
        dy = spmm_call(ptr_c, perm_c, None, g3, **kw)[0][:, 0, :]
    return None, None, dx.astype(x.dtype), dy.astype(y.dtype)


_sddmm_vjp.defvjp(_sddmm_vjp_fwd, _sddmm_vjp_bwd)


def _check_sddmm_args(row, col, x, y, op):
    if op not in OPS:
        raise ValueError(f"op must be one of {OPS}, got {op!r}.")
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
        block_f: feature block, a power of two (default next power of two of F, at most 128).
        block_e: edges per program, a power of two (default 32, fewer when block_f > 128).
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
    if op not in OPS:
        raise ValueError(f"op must be one of {OPS}, got {op!r}.")
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
