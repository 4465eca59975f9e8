"""SDDMM kernels: per-edge `dot(x[row], y[col])`, `x[row] + y[col]`, `x[row] * y[col]`.

Kernel layer: the bodies (`_sddmm_dot_kernel`, `_sddmm_elementwise_kernel`) and the raw
launchers (`sddmm_dot_call`, `sddmm_elementwise_call`; no autodiff, no argument checks). The
differentiable `sddmm` is in `_sddmm.py`.

One program owns `block_e` consecutive edges (and one head for `dot`, one feature block for
`add`/`mul`). It gathers the `[block_e, block_f]` tiles of both endpoints with masked loads; the
`dot` kernel loops over feature blocks and accumulates in float32 registers. Each output element
is written by exactly one program: no atomics.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from . import _common
from ._blocks import BlockSizes

#: Per-edge operations of the SDDMM kernels.
SDDMM_OPS = ("dot", "add", "mul")


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
    at = _common.store_index(e * num_heads + h, e_mask, nnz * num_heads)
    plt.store(out_ref.at[at], acc.astype(out_ref.dtype), mask=e_mask)


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
    at = _common.store_index(e, e_mask, nnz)[:, None]
    plt.store(out_ref.at[at, f[None, :]], res.astype(out_ref.dtype), mask=mask)


def sddmm_dot_call(
    row: jax.Array,
    col: jax.Array,
    x: jax.Array,
    y: jax.Array,
    *,
    blocks: BlockSizes,
    interpret: bool = False,
    out_dtype: Any = None,
) -> jax.Array:
    """Launches the per-head dot kernel (no autodiff, no checks).

    Args:
        row: `[nnz]` int32 ids into `x`.
        col: `[nnz]` int32 ids into `y`.
        x: `[M, H, F]` float.
        y: `[N, H, F]` float.
        blocks: resolved block sizes (`block_e` edges per program, `block_f`).
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
    be, bf = blocks.block_e, blocks.block_f
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
        compiler_params=_common.triton_params(be * bf),
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
    blocks: BlockSizes,
    interpret: bool = False,
) -> jax.Array:
    """Launches the `add`/`mul` kernel on `x [M, F]`, `y [N, F]`; returns `[nnz, F]` x.dtype."""
    nnz = row.shape[0]
    num_features = x.shape[1]
    if nnz == 0 or num_features == 0:
        return jnp.zeros((nnz, num_features), x.dtype)
    be, bf = blocks.block_e, blocks.block_f
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
        compiler_params=_common.triton_params(be * bf),
        interpret=interpret,
        name=f"jgnn_sddmm_{op}",
    )(row, col, x, y)
