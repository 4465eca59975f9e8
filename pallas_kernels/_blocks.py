"""Block sizes of the Pallas kernels and the rule that picks them from the graph and F.

Every CSR kernel here walks rows in steps of `block_e` nonzeros and gathers a tile of
`block_e` source rows by `block_f` features. The rule, measured on an H200 (issue 13): graphs
whose median row holds ~8 nonzeros ran fastest with `block_e` 8-16 and `block_f` 64, and the old
fixed choice (`block_e=32`, `block_f` up to 128) was 20-90% slower; on a graph with ~50 nonzeros
per row `block_e=32` beat cuSPARSE. So:

* `block_e`: the power of two nearest (in log scale) to the typical row length, clamped to
  [8, 32]. The typical length is `row_length` when the caller knows it (e.g. the median degree,
  computed on the host), else the mean `nnz / num_rows`, which is static under `jit`.
* `block_f`: the next power of two of F, at most 64 (wider F runs several programs per row).
  The GATv2 kernel needs all of F in one program (its logit is a dot over F): there `block_f`
  is the next power of two of F.
* `rows_per_program` (SpMM only): rows are sorted by length, heaviest first, and a program
  takes that many consecutive (so similar-length) rows; it is chosen so one step gathers about
  `TILE_ELEMENTS` values (`rows * block_e * block_f`), between 1 and 8.
* `max_row_length` (SpMM sum/mean only): rows longer than this are split into pieces of at most
  that many nonzeros whose partial sums are added afterwards, so a hub row does not serialise on
  one program: 64 steps of `block_e`.
* Multi-head softmax kernels gather `[block_e, heads, block_f]` tiles: `block_e` is halved
  until the tile holds at most `TILE_ELEMENTS` values.

All sizes are powers of two (Triton needs them) and plain Python ints (static under `jit`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from . import _common

#: Target number of gathered values per loop step of one program.
TILE_ELEMENTS = 4096
#: `block_e` bounds of the rule (the range measured best, issue 13).
MIN_BLOCK_E = 8
MAX_BLOCK_E = 32
#: `block_f` cap of the rule.
MAX_BLOCK_F = 64
#: Most rows one SpMM program takes.
MAX_ROWS_PER_PROGRAM = 8
#: Rows longer than this many `block_e` steps are split (SpMM sum/mean).
SPLIT_STEPS = 64
#: Kernel families the rule knows.
KERNELS = ("spmm", "softmax", "gatv2", "sddmm")


class BlockSizes(NamedTuple):
    """Block sizes of one kernel launch; a None field is filled in by `choose_block_sizes`.

    Attributes:
        block_e: nonzeros gathered per row per loop step (SDDMM: edges per program); a power
            of two.
        block_f: features per program; a power of two. F need not be a multiple (masked).
        rows_per_program: CSR rows one program walks side by side (SpMM only; 1 elsewhere);
            a power of two.
        max_row_length: rows with more nonzeros are split into pieces of at most this many
            (SpMM sum/mean only); a multiple of `block_e`, or 0 for never.
        sort_rows: visit rows heaviest first (a degree sort in-graph); False keeps CSR order.
    """

    block_e: int | None = None
    block_f: int | None = None
    rows_per_program: int | None = None
    max_row_length: int | None = None
    sort_rows: bool | None = None


#: The fixed sizes used before the rule (issue 13's "default blocks"), for comparisons.
LEGACY_BLOCKS = BlockSizes(rows_per_program=1, max_row_length=0, sort_rows=False)


def _round_pow2(x: float) -> int:
    """Power of two nearest to `x` in log scale (1 for x <= 1)."""
    return 1 if x <= 1 else 1 << round(math.log2(x))


def choose_block_sizes(
    num_features: int,
    num_rows: int,
    nnz: int,
    *,
    num_heads: int = 1,
    row_length: float | None = None,
    kernel: str = "spmm",
) -> BlockSizes:
    """The block-size rule: every field of `BlockSizes` from the graph's shape and F.

    See the module docstring for the rule and the measurements behind it.

    Args:
        num_features: F, features per head.
        num_rows: M, CSR rows (destination nodes; columns for a transposed pass).
        nnz: number of nonzeros.
        num_heads: heads gathered together in one tile (softmax/GATv2 kernels).
        row_length: typical nonzeros per row (e.g. the median degree, from the host); default
            the mean `nnz / num_rows`.
        kernel: "spmm", "softmax" (edge softmax and GAT), "gatv2" or "sddmm".

    Returns:
        A `BlockSizes` with every field set.

    Raises:
        ValueError: on an unknown `kernel` or negative sizes.

    Examples:
        >>> choose_block_sizes(64, 169_343, 2_315_598)  # ogbn-arxiv-like, mean degree 13.7
        BlockSizes(block_e=16, block_f=64, rows_per_program=4, max_row_length=1024, sort_rows=True)
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
    for name, v in (("num_features", num_features), ("num_rows", num_rows), ("nnz", nnz)):
        if int(v) < 0:
            raise ValueError(f"`{name}` must be >= 0, got {v}.")
    if row_length is None:
        row_length = nnz / max(num_rows, 1)
    block_e = min(max(_round_pow2(row_length), MIN_BLOCK_E), MAX_BLOCK_E)
    if kernel == "gatv2":
        block_f = _common.next_power_of_two(num_features)
    else:
        block_f = min(_common.next_power_of_two(num_features), MAX_BLOCK_F)
    if kernel == "sddmm":  # edges per program: one [block_e, block_f] tile per endpoint
        block_e = min(max(TILE_ELEMENTS // block_f, MIN_BLOCK_E), MAX_BLOCK_E)
        return BlockSizes(block_e, block_f, 1, 0, False)
    heads = _common.next_power_of_two(num_heads) if kernel in ("softmax", "gatv2") else 1
    while block_e > 1 and block_e * heads * block_f > TILE_ELEMENTS:
        block_e //= 2
    if kernel != "spmm":
        return BlockSizes(block_e, block_f, 1, 0, True)
    fit = TILE_ELEMENTS // (block_e * block_f)  # rows whose tiles fit the budget
    rows = min(1 << max(fit.bit_length() - 1, 0), MAX_ROWS_PER_PROGRAM)  # largest power of 2
    return BlockSizes(block_e, block_f, rows, SPLIT_STEPS * block_e, True)


def resolve_block_sizes(
    blocks: BlockSizes | None,
    *,
    block_e: int | None = None,
    block_f: int | None = None,
    num_features: int,
    num_rows: int,
    nnz: int,
    num_heads: int = 1,
    kernel: str = "spmm",
) -> BlockSizes:
    """Merges the caller's `blocks` (and the `block_e`/`block_f` shortcuts) over the rule.

    Args:
        blocks: a `BlockSizes` (None fields are filled by the rule) or None.
        block_e: shortcut for `blocks.block_e`; must not conflict with it.
        block_f: shortcut for `blocks.block_f`; must not conflict with it.
        num_features: F.
        num_rows: M.
        nnz: number of nonzeros.
        num_heads: heads per tile.
        kernel: as in `choose_block_sizes`.

    Returns:
        A fully set, validated `BlockSizes`.

    Raises:
        TypeError: if `blocks` is not a `BlockSizes` or None.
        ValueError: on a size that is not a positive power of two, a conflict between
            `blocks` and a shortcut, a `max_row_length` that is not a multiple of `block_e`, or
            several rows per program or row splitting asked of a kernel other than SpMM.
    """
    if blocks is None:
        blocks = BlockSizes()
    if not isinstance(blocks, BlockSizes):
        raise TypeError(f"`blocks` must be a BlockSizes or None, got {type(blocks).__name__}.")
    for name, short in (("block_e", block_e), ("block_f", block_f)):
        mine = getattr(blocks, name)
        if short is not None and mine is not None and short != mine:
            raise ValueError(f"{name}={short} conflicts with blocks.{name}={mine}.")
        if short is not None:
            blocks = blocks._replace(**{name: short})
    for name in ("block_e", "block_f", "rows_per_program"):
        v = getattr(blocks, name)
        if v is not None and not _common.is_power_of_two(v):
            raise ValueError(f"{name} must be a positive power of two, got {v!r}.")
    rule = choose_block_sizes(
        num_features, num_rows, nnz, num_heads=num_heads, kernel=kernel
    )._asdict()
    if blocks.block_e is not None and blocks.max_row_length is None:
        rule["max_row_length"] = SPLIT_STEPS * blocks.block_e if kernel == "spmm" else 0
    merged = BlockSizes(**{k: (rule[k] if v is None else v) for k, v in blocks._asdict().items()})
    if kernel != "spmm" and (merged.rows_per_program != 1 or merged.max_row_length != 0):
        raise ValueError(
            f"the {kernel} kernel takes rows_per_program=1 and max_row_length=0, got "
            f"{merged.rows_per_program} and {merged.max_row_length}."
        )
    limit = merged.max_row_length
    if not isinstance(limit, int) or limit < 0 or (limit and limit % merged.block_e):
        raise ValueError(
            f"max_row_length must be 0 or a positive multiple of block_e={merged.block_e}, "
            f"got {limit!r}."
        )
    return merged
