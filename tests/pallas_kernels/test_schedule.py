"""Row schedules (built in-graph under jit): the pieces cover every nonzero exactly once, no piece
is longer than the limit, pieces come heaviest first, split rows get consecutive partial-sum
slots, and `combine_pieces` adds the partials into the right rows. Checked against NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pallas_kernels._schedule import build_schedule, combine_pieces, max_pieces, num_programs

build = jax.jit(
    build_schedule, static_argnums=1, static_argnames=("rows_per_program", "max_row_length")
)


def rowptr_of(counts):
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)


COUNTS = [
    np.array([0, 3, 1, 40, 2, 0, 0, 4, 4, 2, 2, 0]),  # the awkward graph: one hub, empty rows
    np.array([17, 0, 0, 16, 33, 1]),  # lengths at and around the limit 16
    np.zeros(5, np.int64),  # no edges at all
    np.array([100]),  # a single row
]


@pytest.mark.parametrize("counts", COUNTS)
@pytest.mark.parametrize("limit, rows_per_program", [(16, 4), (0, 2), (8, 1)])
def test_pieces_cover_rows_heaviest_first(counts, limit, rows_per_program):
    rowptr = rowptr_of(counts)
    m, nnz = len(counts), int(counts.sum())
    s = build(jnp.asarray(rowptr), nnz, rows_per_program=rows_per_program, max_row_length=limit)
    start, end, row = (np.asarray(a) for a in (s.start, s.end, s.row))
    total = num_programs(m, nnz, rows_per_program, limit) * rows_per_program
    assert start.shape == end.shape == row.shape == (total,)
    assert total >= max_pieces(m, nnz, limit) >= m

    real = row >= 0
    assert np.all(start[~real] == 0) and np.all(end[~real] == 0)  # padding is empty
    lengths = end - start
    assert np.all(np.diff(lengths[real]) <= 0)  # heaviest first
    assert np.all(real[: real.sum()])  # padding last
    if limit:
        assert np.all(lengths <= limit)
    covered = np.zeros(nnz, np.int64)
    for s0, e0, r in zip(start[real], end[real], row[real], strict=True):
        assert rowptr[r] <= s0 <= e0 <= rowptr[r + 1]
        covered[s0:e0] += 1
    np.testing.assert_array_equal(covered, 1)  # every nonzero in exactly one piece
    assert sorted(set(row[real].tolist())) == list(range(m))  # every row, empty ones too

    split = counts > limit if limit else np.zeros(m, bool)
    if s.slot is None:
        assert not split.any()
        return
    slot = np.asarray(s.slot)
    for r in range(m):  # pieces of split rows own distinct consecutive slots
        mine = slot[real & (row == r)]
        if split[r]:
            assert sorted(mine.tolist()) == list(range(mine.min(), mine.min() + len(mine)))
        else:
            assert np.all(mine == -1)
    used = slot[slot >= 0]
    assert len(set(used.tolist())) == len(used)
    assert np.all(used < s.slot_rank.shape[0])
    split_rows = np.asarray(s.split_rows)
    assert split_rows[: split.sum()].tolist() == np.flatnonzero(split).tolist()
    assert np.all(split_rows[split.sum() :] == m)


def test_combine_pieces_adds_partials_into_split_rows():
    counts = np.array([0, 3, 1, 40, 2, 0, 0, 4, 4, 2, 2, 35])
    rowptr, nnz = rowptr_of(counts), int(counts.sum())
    s = build(jnp.asarray(rowptr), nnz, rows_per_program=2, max_row_length=16)
    slot, row = np.asarray(s.slot), np.asarray(s.row)
    num_slots = s.slot_rank.shape[0]
    partial = np.full((num_slots, 2), np.nan, np.float32)  # unused slots must be dropped
    for p in np.flatnonzero(slot >= 0):
        partial[slot[p]] = [row[p], 1.0]  # each piece contributes (row id, 1)
    out = jnp.full((12, 2), -7.0, jnp.float32)
    scale = jnp.asarray(1.0 / np.maximum(counts, 1), jnp.float32)
    got = np.asarray(jax.jit(combine_pieces)(out, jnp.asarray(partial), s, scale))
    pieces = {3: 3, 11: 3}  # ceil(40 / 16), ceil(35 / 16)
    for r in range(12):
        if r in pieces:
            expected = np.array([r * pieces[r], pieces[r]]) / counts[r]
            np.testing.assert_allclose(got[r], expected, rtol=1e-6)
        else:
            np.testing.assert_array_equal(got[r], -7.0)  # untouched
