"""CSR SpMM kernel (sum/mean/max/min), with an optional fused per-edge dot, and its launcher.

Kernel layer: the body `_spmm_kernel` and the raw launcher `spmm_call` (no autodiff, no argument
checks). The differentiable `spmm` in `_spmm.py` runs this kernel for the forward over the CSR
and for the backward over the stored CSC view.

One program owns `rows_per_program` pieces of rows (see `_schedule`), one head and one or more
feature blocks. It walks its pieces side by side in steps of `block_e` nonzeros, gathers the
`[rows, block_e, block_f]` tile `x[col[e], f]` with a masked load and reduces it into float32
registers. No atomics: the result is deterministic and does not depend on the order of edges
inside a row.

Two options serve the backward (one pass over the CSC view instead of a transposed SpMM plus
an SDDMM):

* `perm`: nonzero `e` of this matrix is edge `perm[e]` of the values (`value[perm[e]]` is read
  and the dot below is written there), so a CSC walk reads CSR-ordered values in place.
* `y`: also computes, per nonzero, `dot[perm[e]] = <x[col[e]], y[row]>`, where `row` owns the
  nonzero: the same gathered tile dotted with the owner's own features, loaded once. The
  program then covers every feature block, since the dot runs over all of F.
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

#: Reductions the SpMM kernel implements.
SPMM_REDUCES = ("sum", "mean", "max", "min")
_NO_EDGE = -1


class _Spec(NamedTuple):
    reduce: str
    num_rows: int
    num_heads: int
    num_features: int
    block_e: int
    block_f: int
    rows: int
    feature_blocks: int  # feature blocks per program
    acc_dtype: Any


def _spmm_kernel(*refs: Any, names: tuple[str, ...], spec: _Spec) -> None:
    """Kernel body: one program per (group of pieces q, head h, feature program j).

    Refs, named by `names`: the row description (`rowptr`, or `start`/`end`/`row`/`slot`),
    `col [nnz]`, optional `value [nnz*H]`, `perm [nnz]`, `x [N, H*F]`, `y [M, H*F]`; outputs
    `out [M, H*F]`, optional `partial [S, H*F]` (split rows), `arg [M, H*F]` int32 (max/min:
    CSR position of the selected edge, -1 for an empty row) and `dot [nnz*H]`.
    """
    r = dict(zip(names, refs, strict=True))
    s = spec
    q, h, j = pl.program_id(0), pl.program_id(1), pl.program_id(2)
    start, end, row, slot, num_steps = _schedule.piece_bounds(r, q, s.rows, s.num_rows, s.block_e)
    acc_t = s.acc_dtype
    lane_e = jnp.arange(s.block_e, dtype=jnp.int32)
    safe_row = jnp.where(row >= 0, row, 0)
    blocks = []  # (in range [bf], column in the [., H*F] layout [bf], the same for stores)
    hf = s.num_heads * s.num_features
    for t in range(s.feature_blocks):
        f = (j * s.feature_blocks + t) * s.block_f + jnp.arange(s.block_f, dtype=jnp.int32)
        f_ok, cols = f < s.num_features, h * s.num_features + f
        blocks.append((f_ok, cols, _common.store_index(cols, f_ok, hf)))
    own = []  # the owner rows' features, for the fused dot
    if "y" in r:
        for f_ok, cols, _ in blocks:
            mask = (row >= 0)[:, None] & f_ok[None, :]
            ys = plt.load(r["y"].at[safe_row[:, None], cols[None, :]], mask=mask, other=0)
            own.append(ys.astype(acc_t))

    def gather(k: Any):
        e = start[:, None] + k * s.block_e + lane_e[None, :]  # [R, be]
        e_ok = e < end[:, None]
        c = plt.load(r["col"].at[e], mask=e_ok, other=0)
        eid = plt.load(r["perm"].at[e], mask=e_ok, other=0) if "perm" in r else e
        v = None
        if "value" in r:
            v = plt.load(r["value"].at[eid * s.num_heads + h], mask=e_ok, other=0).astype(acc_t)
        tiles = []
        for f_ok, cols, _ in blocks:
            mask = e_ok[:, :, None] & f_ok[None, None, :]
            xs = plt.load(r["x"].at[c[:, :, None], cols[None, None, :]], mask=mask, other=0)
            tiles.append((mask, xs.astype(acc_t)))
        return e, e_ok, eid, v, tiles

    def edge_dot(e_ok, eid, tiles) -> None:
        pairs = zip(tiles, own, strict=True)
        d = sum(jnp.sum(xs * ys[:, None, :], axis=2) for (_, xs), ys in pairs)
        size = r["dot"].shape[0]
        at = _common.store_index(eid * s.num_heads + h, e_ok, size)
        plt.store(r["dot"].at[at], d.astype(r["dot"].dtype), mask=e_ok)

    zeros = tuple(jnp.zeros((s.rows, s.block_f), acc_t) for _ in blocks)
    if s.reduce in ("sum", "mean"):

        def sum_body(k, acc):
            _, e_ok, eid, v, tiles = gather(k)
            if own:
                edge_dot(e_ok, eid, tiles)
            msgs = [xs if v is None else xs * v[:, :, None] for _, xs in tiles]
            return tuple(a + jnp.sum(m, axis=1) for a, m in zip(acc, msgs, strict=True))

        acc = lax.fori_loop(0, num_steps, sum_body, zeros)
        if s.reduce == "mean":  # a split row's pieces are scaled after `combine_pieces`
            count = jnp.maximum(end - start, 1)
            if slot is not None:
                count = jnp.where(slot < 0, count, 1)
            count = count.astype(acc_t)[:, None]
            acc = tuple(a / count for a in acc)
        args = None
    else:  # max / min (min is max of the negated messages); ties: earliest CSR position
        sign = 1.0 if s.reduce == "max" else -1.0
        big = jnp.iinfo(jnp.int32).max

        def ext_body(k, carry):
            best, best_arg = carry
            e, _, _, v, tiles = gather(k)
            new_best, new_arg = [], []
            for (mask, xs), b, ba in zip(tiles, best, best_arg, strict=True):
                msg = xs if v is None else xs * v[:, :, None]
                vals = jnp.where(mask, sign * msg, -jnp.inf)
                top = jnp.max(vals, axis=1)  # [R, bf]
                hit = mask & (vals == top[:, None, :])
                top_arg = jnp.min(jnp.where(hit, e[:, :, None], big), axis=1)
                take = top > b
                new_best.append(jnp.where(take, top, b))
                new_arg.append(jnp.where(take, top_arg, ba))
            return tuple(new_best), tuple(new_arg)

        neg = tuple(jnp.full((s.rows, s.block_f), -jnp.inf, acc_t) for _ in blocks)
        arg0 = tuple(jnp.full((s.rows, s.block_f), _NO_EDGE, jnp.int32) for _ in blocks)
        best, args = lax.fori_loop(0, num_steps, ext_body, (neg, arg0))
        nonempty = (end > start)[:, None]
        acc = tuple(jnp.where(nonempty, sign * b, 0.0) for b in best)

    whole = (row >= 0) if slot is None else (row >= 0) & (slot < 0)
    out_rows = _common.store_index(row, whole, s.num_rows)[:, None]
    for t, (f_ok, _, cols) in enumerate(blocks):
        mask = whole[:, None] & f_ok[None, :]
        plt.store(r["out"].at[out_rows, cols[None, :]], acc[t].astype(r["out"].dtype), mask=mask)
        if args is not None:
            plt.store(r["arg"].at[out_rows, cols[None, :]], args[t], mask=mask)
        if slot is not None:
            part = (slot >= 0)[:, None] & f_ok[None, :]
            at = _common.store_index(slot, slot >= 0, r["partial"].shape[0])[:, None]
            plt.store(r["partial"].at[at, cols[None, :]], acc[t].astype(acc_t), mask=part)


class SpmmResult(NamedTuple):
    """What `spmm_call` returns.

    Attributes:
        out: `[M, H, F]` in `x.dtype`.
        arg: `[M, H, F]` int32 CSR position of the selected edge (max/min; -1 for an empty
            row), else None.
        dot: `[nnz, H]` accumulation dtype, the fused per-edge dot (indexed by `perm`), when
            `y` was given; else None.
    """

    out: jax.Array
    arg: jax.Array | None
    dot: jax.Array | None


def spmm_call(
    rowptr: jax.Array,
    col: jax.Array,
    value: jax.Array | None,
    x: jax.Array,
    *,
    reduce: str,
    blocks: BlockSizes,
    perm: jax.Array | None = None,
    y: jax.Array | None = None,
    interpret: bool = False,
) -> SpmmResult:
    """Launches the SpMM kernel (no autodiff, no argument checks). Multi-head internal form.

    Args:
        rowptr: `[M+1]` int32 row pointers.
        col: `[nnz]` int32 ids of the gathered rows of `x`.
        value: `[nnz, H]` edge values (indexed by `perm` when given) or None for ones.
        x: `[N, H, F]` gathered features.
        reduce: one of `SPMM_REDUCES`.
        blocks: resolved block sizes (every field set).
        perm: optional `[nnz]` int32: nonzero `e` is edge `perm[e]` of `value` and `dot`.
        y: optional `[M, H, F]` owner features for the fused dot `<x[col[e]], y[row]>`
            (sum/mean only).
        interpret: run the Pallas interpreter (CPU) instead of compiling for the GPU.

    Returns:
        A `SpmmResult`.
    """
    m = rowptr.shape[0] - 1
    n, num_heads, num_features = x.shape
    nnz = col.shape[0]
    acc_t = _common.accum_dtype(x.dtype)
    extremal = reduce in ("max", "min")
    if extremal and y is not None:
        raise NotImplementedError("the fused per-edge dot is implemented for sum/mean only.")
    if m == 0 or nnz == 0 or num_features == 0 or num_heads == 0:
        out = jnp.zeros((m, num_heads, num_features), x.dtype)
        arg = jnp.full(out.shape, _NO_EDGE, jnp.int32) if extremal else None
        dot = None if y is None else jnp.zeros((nnz, num_heads), acc_t)
        return SpmmResult(out, arg, dot)
    split_len = 0 if extremal else blocks.max_row_length
    schedule = None
    if blocks.sort_rows:
        schedule = _schedule.build_schedule(
            rowptr, nnz, rows_per_program=blocks.rows_per_program, max_row_length=split_len
        )
    operands = _schedule.schedule_operands(schedule, rowptr)
    operands["col"] = col
    if value is not None:
        operands["value"] = value.reshape(nnz * num_heads)
    if perm is not None:
        operands["perm"] = perm
    hf = num_heads * num_features
    operands["x"] = x.reshape(n, hf)
    if y is not None:
        operands["y"] = y.reshape(m, hf)
    outputs = {"out": jax.ShapeDtypeStruct((m, hf), x.dtype)}
    if schedule is not None and schedule.slot is not None:
        outputs["partial"] = jax.ShapeDtypeStruct((schedule.slot_rank.shape[0], hf), acc_t)
    if extremal:
        outputs["arg"] = jax.ShapeDtypeStruct((m, hf), jnp.int32)
    if y is not None:
        outputs["dot"] = jax.ShapeDtypeStruct((nnz * num_heads,), acc_t)
    num_fb = pl.cdiv(num_features, blocks.block_f)
    per_program = num_fb if y is not None else 1
    spec = _Spec(
        reduce=reduce,
        num_rows=m,
        num_heads=num_heads,
        num_features=num_features,
        block_e=blocks.block_e,
        block_f=blocks.block_f,
        rows=blocks.rows_per_program,
        feature_blocks=per_program,
        acc_dtype=acc_t,
    )
    rows_grid = _schedule.num_programs(m, nnz, blocks.rows_per_program, split_len)
    if schedule is None:
        rows_grid = pl.cdiv(m, blocks.rows_per_program)
    tile = blocks.rows_per_program * blocks.block_e * blocks.block_f
    results = pl.pallas_call(
        functools.partial(_spmm_kernel, names=tuple(operands) + tuple(outputs), spec=spec),
        out_shape=list(outputs.values()),
        grid=(rows_grid, num_heads, num_fb // per_program),
        compiler_params=_common.triton_params(tile),
        interpret=interpret,
        name=f"jgnn_spmm_{reduce}" + ("_dot" if y is not None else ""),
    )(*operands.values())
    res = dict(zip(outputs, results, strict=True))
    out = res["out"]
    if "partial" in res:
        scale = None
        if reduce == "mean":
            scale = 1.0 / jnp.maximum(rowptr[1:] - rowptr[:-1], 1).astype(acc_t)
        out = _schedule.combine_pieces(out, res["partial"], schedule, scale)
    arg = res["arg"].reshape(m, num_heads, num_features) if extremal else None
    dot = res["dot"].reshape(nnz, num_heads) if y is not None else None
    return SpmmResult(out.reshape(m, num_heads, num_features), arg, dot)
