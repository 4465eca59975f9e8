"""Row schedules: which CSR rows (or pieces of rows) each kernel program walks, and in what order.

A CSR kernel program walks `rows_per_program` pieces side by side. A *piece* is a run of at
most `max_row_length` consecutive nonzeros of one row: a short row is one piece, a longer row
(a hub) is cut into several, whose partial sums land in a small side buffer and are added
afterwards (`combine_pieces`). Pieces are sorted by length, heaviest first, so the programs
holding most work start first and the programs grouped together have similar lengths (little
masked work). All of it is built in-graph from `rowptr` with fixed-size `jnp` operations (one
argsort), so it runs under `jit`; `sort_rows=False` skips it and visits the rows in CSR order.

Kernel side, `piece_bounds` loads a program's pieces from either form.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plt


class RowSchedule(NamedTuple):
    """Pieces of CSR rows in visiting order, padded to a whole number of programs.

    Attributes:
        start: `[P]` int32 first nonzero of each piece.
        end: `[P]` int32 one past its last nonzero.
        row: `[P]` int32 row owning the piece, -1 for padding.
        slot: `[P]` int32 partial-sum slot of a piece of a split row, -1 for a whole row; None
            when no row can be split.
        slot_rank: `[S]` int32 index (into `split_rows`) of the row owning each slot; `K` for an
            unused slot. None when no row can be split.
        split_rows: `[K]` int32 ids of the split rows, padded with M. None when no row can be
            split.
    """

    start: jax.Array
    end: jax.Array
    row: jax.Array
    slot: jax.Array | None = None
    slot_rank: jax.Array | None = None
    split_rows: jax.Array | None = None


def num_programs(num_rows: int, nnz: int, rows_per_program: int, max_row_length: int) -> int:
    """Number of programs along the row axis of the grid (static)."""
    return pl.cdiv(max_pieces(num_rows, nnz, max_row_length), rows_per_program)


def can_split(nnz: int, max_row_length: int) -> bool:
    """Whether any row can be longer than `max_row_length` (0 means never split)."""
    return max_row_length > 0 and nnz > max_row_length


def max_pieces(num_rows: int, nnz: int, max_row_length: int) -> int:
    """Static bound on the number of pieces: every row is one piece, plus `nnz // L` more."""
    return num_rows + (nnz // max_row_length if can_split(nnz, max_row_length) else 0)


def build_schedule(
    rowptr: jax.Array, nnz: int, *, rows_per_program: int, max_row_length: int
) -> RowSchedule:
    """Degree-sorted pieces of the rows of `rowptr [M+1]` (jittable; one argsort).

    Args:
        rowptr: `[M+1]` int32 row pointers.
        nnz: number of nonzeros (static).
        rows_per_program: pieces per program; the piece count is padded to a multiple.
        max_row_length: longest piece (0: rows are never split).

    Returns:
        A `RowSchedule`, heaviest piece first.
    """
    m = rowptr.shape[0] - 1
    length = rowptr[1:] - rowptr[:-1]
    total = num_programs(m, nnz, rows_per_program, max_row_length) * rows_per_program
    if not can_split(nnz, max_row_length):
        start, end, row = rowptr[:-1], rowptr[1:], jnp.arange(m, dtype=jnp.int32)
        slot = slot_rank = split_rows = None
        valid = jnp.ones((m,), bool)
    else:
        big_l = max_row_length
        npieces = jnp.maximum((length + big_l - 1) // big_l, 1)  # [M], >= 1
        first = jnp.cumsum(npieces, dtype=jnp.int32) - npieces  # first piece of each row
        p = max_pieces(m, nnz, big_l)
        marks = jnp.zeros((p,), jnp.int32).at[first[1:]].add(1, mode="drop")
        row = jnp.cumsum(marks, dtype=jnp.int32)  # owner of each piece slot
        valid = jnp.arange(p, dtype=jnp.int32) < first[-1] + npieces[-1]
        start = rowptr[row] + (jnp.arange(p, dtype=jnp.int32) - first[row]) * big_l
        end = jnp.minimum(start + big_l, rowptr[row + 1])
        is_split = valid & (npieces[row] > 1)
        num_slots, num_split = max(2 * nnz // big_l, 1), max(nnz // (big_l + 1), 1)
        slot = jnp.where(is_split, jnp.cumsum(is_split, dtype=jnp.int32) - 1, -1)
        row_split = npieces > 1
        rank = jnp.cumsum(row_split, dtype=jnp.int32) - 1
        slot_rank = jnp.full((num_slots,), num_split, jnp.int32)
        slot_rank = slot_rank.at[jnp.where(is_split, slot, num_slots)].set(rank[row], mode="drop")
        split_rows = jnp.full((num_split,), m, jnp.int32)
        split_rows = split_rows.at[jnp.where(row_split, rank, num_split)].set(
            jnp.arange(m, dtype=jnp.int32), mode="drop"
        )
    key = jnp.where(valid, end - start, -1)
    order = jnp.argsort(-key, stable=True)
    pad = total - key.shape[0]

    def arrange(a: jax.Array, fill: int) -> jax.Array:
        return jnp.concatenate([jnp.where(valid, a, fill)[order], jnp.full((pad,), fill, a.dtype)])

    return RowSchedule(
        start=arrange(start, 0),
        end=arrange(end, 0),
        row=arrange(row, -1),
        slot=None if slot is None else arrange(slot, -1),
        slot_rank=slot_rank,
        split_rows=split_rows,
    )


def schedule_operands(schedule: RowSchedule | None, rowptr: jax.Array) -> dict[str, jax.Array]:
    """The kernel operands that describe the rows: the schedule's arrays, or `rowptr`."""
    if schedule is None:
        return {"rowptr": rowptr}
    ops = {"start": schedule.start, "end": schedule.end, "row": schedule.row}
    if schedule.slot is not None:
        ops["slot"] = schedule.slot
    return ops


def piece_bounds(
    refs: dict[str, Any], q: Any, rows_per_program: int, num_rows: int, block_e: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array | None, jax.Array]:
    """Kernel side: loads program `q`'s pieces from `refs` (a schedule's or `rowptr`).

    Returns:
        `(start [R], end [R], row [R] (-1 for padding), slot [R] or None, num_steps)`, where
        `num_steps` is the number of `block_e` steps the longest piece needs.
    """
    pid = q * rows_per_program + jnp.arange(rows_per_program, dtype=jnp.int32)
    if "rowptr" in refs:
        ok = pid < num_rows
        start = plt.load(refs["rowptr"].at[pid], mask=ok, other=0)
        end = plt.load(refs["rowptr"].at[pid + 1], mask=ok, other=0)
        row = jnp.where(ok, pid, -1)
        return start, end, row, None, pl.cdiv(jnp.max(end - start), block_e)
    start = plt.load(refs["start"].at[pid])
    end = plt.load(refs["end"].at[pid])
    row = plt.load(refs["row"].at[pid])
    slot = plt.load(refs["slot"].at[pid]) if "slot" in refs else None
    first = q * rows_per_program  # sorted: the first piece is the longest
    return start, end, row, slot, pl.cdiv(refs["end"][first] - refs["start"][first], block_e)


def combine_pieces(
    out: jax.Array, partial: jax.Array, schedule: RowSchedule, scale: jax.Array | None
) -> jax.Array:
    """Adds the partial sums of split rows and writes them into `out [M, C]` (XLA, small).

    Args:
        out: `[M, C]` kernel output; the rows that were split are overwritten.
        partial: `[S, C]` partial sums, one per slot (unused slots hold garbage and are dropped).
        schedule: the schedule that produced them.
        scale: optional `[M]` factor per row (1/degree for a mean).

    Returns:
        `[M, C]` with every split row's total.
    """
    num_split = schedule.split_rows.shape[0]
    sums = jax.ops.segment_sum(partial, schedule.slot_rank, num_split)
    if scale is not None:
        padded = jnp.concatenate([scale, jnp.ones((1,), scale.dtype)])
        sums = sums * padded[schedule.split_rows][:, None]
    return out.at[schedule.split_rows].set(sums.astype(out.dtype), mode="drop")
