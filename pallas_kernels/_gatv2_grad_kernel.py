"""GATv2 backward, row pass: recomputes the attention of every edge of a row and differentiates
the logit, as a Pallas kernel with its launcher.

Kernel layer: the body `_gatv2_grad_kernel` and the raw launcher `gatv2_grad_call` (no autodiff,
no argument checks). The op `gatv2_aggregate` in `_gat.py` combines it with two SpMM kernel
passes over the CSC view.

With `z = x_src[col_e] + x_dst[i] (+ edge_e)`, `logit = sum_f att * leaky_relu(z)`,
`a = exp(logit - lse[i])` and `g` the cotangent of row `i`'s output, one program per row `i`
(every head, all of F) streams the row's edges and computes, per edge and head,
`dlogit = a * (<g[i], x_src[col_e]> - <g[i], out[i]>)` and `dz = dlogit * att * leaky_relu'(z)`.
It writes `a` (`[nnz, H]`) and `dz` (`[nnz, H, F]`, also the edge-feature gradient), and sums
per row `d x_dst[i] = sum_e dz` and `sum_e dlogit * leaky_relu(z)` (this row's share of
`d att`). The source side, `d x_src[j] = sum_{e: col_e = j} a * g[row_e] + dz_e`, is two SpMM
passes over the CSC view.
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
from ._blocks import BlockSizes
from ._softmax_kernel import (
    flat_operand,
    gather_rows,
    gatv2_logits,
    head_tile,
    load_heads,
    load_row,
    row_bounds,
    single_row_operands,
)


class _Spec(NamedTuple):
    num_heads: int
    num_features: int
    block_e: int
    block_f: int
    negative_slope: float
    acc_dtype: Any


def _gatv2_grad_kernel(*refs: Any, names: tuple[str, ...], spec: _Spec) -> None:
    """Kernel body: one program per row q, every head, all of F (`block_f >= F`).

    Refs, named by `names`: the row description, `col`, `x_dst [M, H*F]`, `att [1, H*F]`,
    optional `edge [nnz, H*F]`, `x [N, H*F]`, `g [M, H*F]`, `lse [M*H]`, `delta [M*H]`;
    outputs `a [nnz*H]`, `dz [nnz, H*F]`, `dx_dst [M, H*F]`, `datt [M, H*F]`.
    """
    r = dict(zip(names, refs, strict=True))
    s = spec
    acc_t = s.acc_dtype
    start, end, row = row_bounds(r, pl.program_id(0))
    tile = head_tile(0, s.num_heads, s.num_features, s.block_f)
    lane_e = jnp.arange(s.block_e, dtype=jnp.int32)
    dst = load_row(r["x_dst"], row, tile, acc_t)  # [Hp, Fp]
    att = load_row(r["att"], 0, tile, acc_t)
    g = load_row(r["g"], row, tile, acc_t)
    lse = load_heads(r["lse"], row, tile, True, acc_t)  # [Hp]
    delta = load_heads(r["delta"], row, tile, True, acc_t)
    nnz = r["col"].shape[0]

    def body(k, carry):
        d_dst, d_att = carry
        e = start + k * s.block_e + lane_e
        e_ok = e < end
        c = plt.load(r["col"].at[e], mask=e_ok, other=0)
        xs = gather_rows(r["x"], c, e_ok, tile, acc_t)  # [be, Hp, Fp]
        edge = gather_rows(r["edge"], e, e_ok, tile, acc_t) if "edge" in r else None
        z, lz, logit = gatv2_logits(xs, dst, att, edge, s.negative_slope)
        ok = e_ok[:, None] & tile.head_ok[None, :]
        a = jnp.where(ok, jnp.exp(logit - lse[None, :]), 0.0)  # [be, Hp]
        dlogit = a * (jnp.sum(xs * g[None], axis=2) - delta[None, :])
        dz = dlogit[:, :, None] * att[None] * _common.leaky_relu_grad(z, s.negative_slope)
        heads_at = e[:, None] * s.num_heads + tile.heads[None, :]
        heads_at = _common.store_index(heads_at, ok, nnz * s.num_heads)
        plt.store(r["a"].at[heads_at], a.astype(r["a"].dtype), mask=ok)
        mask = e_ok[:, None, None] & tile.ok[None]
        rows_at = _common.store_index(e, e_ok, nnz)[:, None, None]
        plt.store(r["dz"].at[rows_at, tile.store_cols[None]], dz.astype(r["dz"].dtype), mask=mask)
        return d_dst + jnp.sum(dz, axis=0), d_att + jnp.sum(dlogit[:, :, None] * lz, axis=0)

    zeros = jnp.zeros(tile.cols.shape, acc_t)
    steps = pl.cdiv(end - start, s.block_e)
    d_dst, d_att = lax.fori_loop(0, steps, body, (zeros, zeros))
    plt.store(r["dx_dst"].at[row, tile.store_cols], d_dst.astype(r["dx_dst"].dtype), mask=tile.ok)
    plt.store(r["datt"].at[row, tile.store_cols], d_att.astype(r["datt"].dtype), mask=tile.ok)


class Gatv2Grads(NamedTuple):
    """What `gatv2_grad_call` returns (accumulation dtype).

    Attributes:
        a: `[nnz, H]` attention of every edge (CSR order).
        dz: `[nnz, H, F]` gradient of the pre-activation `z` (= the edge-feature gradient).
        dx_dst: `[M, H, F]` gradient of `x_dst`.
        datt: `[M, H, F]` per-row shares of the gradient of `att` (sum over rows for it).
    """

    a: jax.Array
    dz: jax.Array
    dx_dst: jax.Array
    datt: jax.Array


def gatv2_grad_call(
    rowptr: jax.Array,
    col: jax.Array,
    x: jax.Array,
    x_dst: jax.Array,
    att: jax.Array,
    edge: jax.Array | None,
    g: jax.Array,
    lse: jax.Array,
    delta: jax.Array,
    *,
    blocks: BlockSizes,
    negative_slope: float,
    interpret: bool = False,
) -> Gatv2Grads:
    """Launches the GATv2 row-pass backward kernel (no autodiff, no checks).

    Args:
        rowptr: `[M+1]` int32.
        col: `[nnz]` int32.
        x: `[N, H, F]` source features.
        x_dst: `[M, H, F]` destination features.
        att: `[H, F]` attention vector.
        edge: optional `[nnz, H, F]` edge features.
        g: `[M, H, F]` output cotangent.
        lse: `[M, H]` the forward's log-sum-exp.
        delta: `[M, H]` `<g, out>` per row and head.
        blocks: resolved block sizes (`block_f >= F`, one row per program).
        negative_slope: leaky ReLU slope.
        interpret: run the Pallas interpreter.

    Returns:
        A `Gatv2Grads`.
    """
    m = rowptr.shape[0] - 1
    n, num_heads, num_features = x.shape
    nnz = col.shape[0]
    acc_t = _common.accum_dtype(x.dtype)
    hf = num_heads * num_features
    if m == 0 or nnz == 0 or num_heads == 0 or num_features == 0:
        zeros = jnp.zeros((m, num_heads, num_features), acc_t)
        return Gatv2Grads(
            jnp.zeros((nnz, num_heads), acc_t),
            jnp.zeros((nnz, num_heads, num_features), acc_t),
            zeros,
            zeros,
        )
    operands = single_row_operands(rowptr, nnz, blocks)
    operands["col"] = col
    sources = dict(x_dst=x_dst, att=att, edge=edge, x=x, g=g, lse=lse, delta=delta)
    operands.update({k: flat_operand(k, v) for k, v in sources.items() if v is not None})
    outputs = {
        "a": jax.ShapeDtypeStruct((nnz * num_heads,), acc_t),
        "dz": jax.ShapeDtypeStruct((nnz, hf), acc_t),
        "dx_dst": jax.ShapeDtypeStruct((m, hf), acc_t),
        "datt": jax.ShapeDtypeStruct((m, hf), acc_t),
    }
    spec = _Spec(
        num_heads, num_features, blocks.block_e, blocks.block_f, float(negative_slope), acc_t
    )
    hp = _common.next_power_of_two(num_heads)
    a, dz, dx_dst, datt = pl.pallas_call(
        functools.partial(_gatv2_grad_kernel, names=tuple(operands) + tuple(outputs), spec=spec),
        out_shape=list(outputs.values()),
        grid=(m,),
        compiler_params=_common.triton_params(blocks.block_e * hp * blocks.block_f),
        interpret=interpret,
        name="jgnn_gatv2_grad_rows",
    )(*operands.values())
    shape = (m, num_heads, num_features)
    return Gatv2Grads(
        a.reshape(nnz, num_heads),
        dz.reshape(nnz, num_heads, num_features),
        dx_dst.reshape(shape),
        datt.reshape(shape),
    )
