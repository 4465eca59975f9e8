"""Online-softmax aggregation kernel: edge softmax, GAT and GATv2 attention, and its launcher.

Kernel layer: the body `_softmax_kernel` and the raw launcher `softmax_aggregate_call` (no
autodiff, no argument checks). `out[i, h] = sum_{e in row i} softmax_e(logit[e, h]) x[col_e, h]`
with the softmax over the nonzeros of CSR row `i`; the logit comes from one of three sources
(`mode`):

* `"logits"`: read from a `[nnz, H]` array (`edge_softmax_aggregate`).
* `"gat"`: `leaky_relu(a_src[col_e, h] + a_dst[i, h] (+ edge[e, h]))` from per-node scalars
  (GAT, Velickovic et al. 2018): computed in the kernel, so logits never touch memory.
* `"gatv2"`: `sum_f att[h, f] * leaky_relu(x[col_e, h, f] + x_dst[i, h, f] (+ edge[e, h, f]))`
  (GATv2, Brody et al. 2022), computed from the gathered tile itself; needs all of F in one
  program (`block_f >= F`).

One program owns one row (rows visited heaviest first, see `_schedule`), ALL heads, and one
feature block. It streams the row's edges in steps of `block_e`, gathers the
`[block_e, heads, block_f]` tile of `x` and keeps, per head, a running max, a running
denominator and a rescaled float32 accumulator, as flash attention does. It also writes the
per-row log-sum-exp `lse [M, H]` (+inf for a row with no finite logit), from which the backward
recomputes the attention.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt

from . import _common, _schedule
from ._blocks import BlockSizes

#: Where the logits come from.
MODES = ("logits", "gat", "gatv2")


class HeadTile(NamedTuple):
    """Lane layout of one program's `[heads, block_f]` slice of a `[., H*F]` row."""

    num_heads: int  # H (the lanes are padded to a power of two)
    heads: jax.Array  # [Hp] head ids
    head_ok: jax.Array  # [Hp]
    cols: jax.Array  # [Hp, bf] column in the [., H*F] layout
    ok: jax.Array  # [Hp, bf] head and feature in range
    store_cols: jax.Array  # [Hp, bf] `cols`, out of range where not `ok` (see store_index)


def head_tile(j: Any, num_heads: int, num_features: int, block_f: int) -> HeadTile:
    """Kernel side: lanes of feature block `j` over every head (heads padded to a power of 2)."""
    hh = jnp.arange(_common.next_power_of_two(num_heads), dtype=jnp.int32)
    f = j * block_f + jnp.arange(block_f, dtype=jnp.int32)
    head_ok = hh < num_heads
    cols = hh[:, None] * num_features + f[None, :]
    ok = head_ok[:, None] & (f < num_features)[None, :]
    store_cols = _common.store_index(cols, ok, num_heads * num_features)
    return HeadTile(num_heads, hh, head_ok, cols, ok, store_cols)


def load_row(ref: Any, row: Any, tile: HeadTile, dtype: Any) -> jax.Array:
    """Kernel side: the `[Hp, bf]` slice of row `row` of a `[., H*F]` ref (0 off range)."""
    return plt.load(ref.at[row, tile.cols], mask=tile.ok, other=0).astype(dtype)


def load_heads(ref: Any, index: Any, tile: HeadTile, ok: Any, dtype: Any) -> jax.Array:
    """Kernel side: `ref[index * H + h]` for every head of a flat `[. * H]` ref.

    `index` and `ok` are scalars (-> `[Hp]`) or `[be]` vectors (-> `[be, Hp]`).
    """
    index, ok = jnp.asarray(index), jnp.asarray(ok)
    if index.ndim == 0:
        at, mask = index * tile.num_heads + tile.heads, ok & tile.head_ok
    else:
        at = index[:, None] * tile.num_heads + tile.heads[None, :]
        mask = ok[:, None] & tile.head_ok[None, :]
    return plt.load(ref.at[at], mask=mask, other=0).astype(dtype)


def gather_rows(ref: Any, index: Any, ok: Any, tile: HeadTile, dtype: Any) -> jax.Array:
    """Kernel side: the `[be, Hp, bf]` tile `ref[index[e], h*F + f]` (0 where masked)."""
    mask = ok[:, None, None] & tile.ok[None]
    tile_at = (index[:, None, None], tile.cols[None])
    return plt.load(ref.at[tile_at], mask=mask, other=0).astype(dtype)


def gatv2_logits(
    xs: jax.Array, x_dst: jax.Array, att: jax.Array, edge: jax.Array | None, slope: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """GATv2 per edge and head: `z = x_src + x_dst (+ edge)`, `lz = leaky_relu(z)` and the
    logit `sum_f att * lz`. Tiles `[be, Hp, Fp]`, `x_dst`/`att` `[Hp, Fp]`; returns
    `(z, lz, logit [be, Hp])`."""
    z = xs + x_dst[None]
    if edge is not None:
        z = z + edge
    lz = _common.leaky_relu(z, slope)
    return z, lz, jnp.sum(lz * att[None], axis=2)


def row_bounds(refs: dict[str, Any], q: Any) -> tuple[Any, Any, Any]:
    """Kernel side: `(start, end, row)` scalars of program `q`'s single row."""
    if "rowptr" in refs:
        return refs["rowptr"][q], refs["rowptr"][q + 1], q
    return refs["start"][q], refs["end"][q], refs["row"][q]


class _Spec(NamedTuple):
    mode: str
    num_heads: int
    num_features: int
    block_e: int
    block_f: int
    negative_slope: float
    acc_dtype: Any


def _softmax_kernel(*refs: Any, names: tuple[str, ...], spec: _Spec) -> None:
    """Kernel body: one program per (row q, feature block j), every head.

    Refs, named by `names`: the row description (`rowptr`, or `start`/`end`/`row`), `col`,
    the mode's logit sources (`logits [nnz*H]`; `a_src [N*H]`, `a_dst [M*H]`; or
    `x_dst [M, H*F]`, `att [1, H*F]`), optional `edge` (`[nnz*H]` or `[nnz, H*F]`),
    `x [N, H*F]`; outputs `out [M, H*F]` and `lse [M*H]`.
    """
    r = dict(zip(names, refs, strict=True))
    s = spec
    acc_t = s.acc_dtype
    q, j = pl.program_id(0), pl.program_id(1)
    start, end, row = row_bounds(r, q)
    tile = head_tile(j, s.num_heads, s.num_features, s.block_f)
    lane_e = jnp.arange(s.block_e, dtype=jnp.int32)
    if s.mode == "gat":
        dst = load_heads(r["a_dst"], row, tile, True, acc_t)  # [Hp]
    elif s.mode == "gatv2":
        dst = load_row(r["x_dst"], row, tile, acc_t)  # [Hp, Fp]
        att = load_row(r["att"], 0, tile, acc_t)

    def body(k, carry):
        m, total, acc = carry
        e = start + k * s.block_e + lane_e
        e_ok = e < end
        c = plt.load(r["col"].at[e], mask=e_ok, other=0)
        xs = gather_rows(r["x"], c, e_ok, tile, acc_t)  # [be, Hp, bf]
        if s.mode == "logits":
            logit = load_heads(r["logits"], e, tile, e_ok, acc_t)
        elif s.mode == "gat":
            z = load_heads(r["a_src"], c, tile, e_ok, acc_t) + dst[None, :]
            if "edge" in r:
                z = z + load_heads(r["edge"], e, tile, e_ok, acc_t)
            logit = _common.leaky_relu(z, s.negative_slope)
        else:
            edge = gather_rows(r["edge"], e, e_ok, tile, acc_t) if "edge" in r else None
            logit = gatv2_logits(xs, dst, att, edge, s.negative_slope)[2]
        logit = jnp.where(e_ok[:, None] & tile.head_ok[None, :], logit, -jnp.inf)
        m_new = jnp.maximum(m, jnp.max(logit, axis=0))  # [Hp]
        alpha = jnp.exp(m - m_new)
        p = jnp.exp(logit - m_new[None, :])  # [be, Hp]; 0 on masked lanes
        acc = acc * alpha[:, None] + jnp.sum(p[:, :, None] * xs, axis=0)
        return m_new, total * alpha + jnp.sum(p, axis=0), acc

    hp = tile.heads.shape[0]
    # A finite floor for the running max keeps `m - m_new` away from (-inf) - (-inf).
    floor = jnp.full((hp,), jnp.finfo(acc_t).min, acc_t)
    init = (floor, jnp.zeros((hp,), acc_t), jnp.zeros((hp, s.block_f), acc_t))
    m, total, acc = lax.fori_loop(0, pl.cdiv(end - start, s.block_e), body, init)
    nonzero = total > 0
    out = jnp.where(nonzero[:, None], acc / jnp.where(nonzero, total, 1.0)[:, None], 0.0)
    plt.store(r["out"].at[row, tile.store_cols], out.astype(r["out"].dtype), mask=tile.ok)

    @pl.when(j == 0)
    def _():
        lse = jnp.where(nonzero, m + jnp.log(jnp.where(nonzero, total, 1.0)), jnp.inf)
        at = _common.store_index(row * s.num_heads + tile.heads, tile.head_ok, r["lse"].shape[0])
        plt.store(r["lse"].at[at], lse.astype(r["lse"].dtype), mask=tile.head_ok)


def single_row_operands(rowptr: jax.Array, nnz: int, blocks: BlockSizes) -> dict[str, jax.Array]:
    """Row operands of a one-row-per-program kernel: heaviest first, or CSR order."""
    schedule = None
    if blocks.sort_rows:
        schedule = _schedule.build_schedule(rowptr, nnz, rows_per_program=1, max_row_length=0)
    return _schedule.schedule_operands(schedule, rowptr)


def flat_operand(name: str, a: jax.Array) -> jax.Array:
    """Kernel operand layout: `[rows, H, F]` -> `[rows, H*F]`, `att [H, F]` -> `[1, H*F]`,
    per-head scalars `[rows, H]` -> `[rows*H]`."""
    if name == "att":
        return a.reshape(1, -1)
    return a.reshape(a.shape[0], -1) if a.ndim == 3 else a.reshape(-1)


def softmax_aggregate_call(
    rowptr: jax.Array,
    col: jax.Array,
    x: jax.Array,
    sources: dict[str, jax.Array],
    *,
    mode: str,
    blocks: BlockSizes,
    negative_slope: float = 0.2,
    interpret: bool = False,
) -> tuple[jax.Array, jax.Array]:
    """Launches the online-softmax kernel (no autodiff, no checks).

    Args:
        rowptr: `[M+1]` int32.
        col: `[nnz]` int32.
        x: `[N, H, F]` float, the aggregated source features.
        sources: the mode's logit inputs: `{"logits": [nnz, H]}`; `{"a_src": [N, H],
            "a_dst": [M, H]}`; or `{"x_dst": [M, H, F], "att": [H, F]}`; plus an optional
            `"edge"` (`[nnz, H]` for gat, `[nnz, H, F]` for gatv2).
        mode: one of `MODES`.
        blocks: resolved block sizes (`rows_per_program` 1; `block_f >= F` for gatv2).
        negative_slope: leaky ReLU slope (gat, gatv2).
        interpret: run the Pallas interpreter.

    Returns:
        `(out [M, H, F] in x.dtype, lse [M, H] in the accumulation dtype)`.
    """
    m = rowptr.shape[0] - 1
    n, num_heads, num_features = x.shape
    nnz = col.shape[0]
    acc_t = _common.accum_dtype(x.dtype)
    if m == 0 or nnz == 0 or num_heads == 0 or num_features == 0:
        return (
            jnp.zeros((m, num_heads, num_features), x.dtype),
            jnp.full((m, num_heads), jnp.inf, acc_t),
        )
    operands = single_row_operands(rowptr, nnz, blocks)
    operands["col"] = col
    operands.update({name: flat_operand(name, a) for name, a in sources.items()})
    operands["x"] = x.reshape(n, num_heads * num_features)
    spec = _Spec(
        mode,
        num_heads,
        num_features,
        blocks.block_e,
        blocks.block_f,
        float(negative_slope),
        acc_t,
    )
    names = tuple(operands) + ("out", "lse")
    hp = _common.next_power_of_two(num_heads)
    out, lse = pl.pallas_call(
        functools.partial(_softmax_kernel, names=names, spec=spec),
        out_shape=[
            jax.ShapeDtypeStruct((m, num_heads * num_features), x.dtype),
            jax.ShapeDtypeStruct((m * num_heads,), acc_t),
        ],
        grid=(m, pl.cdiv(num_features, blocks.block_f)),
        compiler_params=_common.triton_params(blocks.block_e * hp * blocks.block_f),
        interpret=interpret,
        name=f"jgnn_softmax_aggregate_{mode}",
    )(*operands.values())
    return out.reshape(m, num_heads, num_features), lse.reshape(m, num_heads)
