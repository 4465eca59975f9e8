"""The block-size rule: picks the sizes measured best (issue 13) for graphs shaped like
ogbn-arxiv and ogbn-products, and sane sizes (powers of two, tiles within budget, split length
a multiple of block_e) for every shape; `resolve_block_sizes` merges and validates overrides."""

import itertools

import pytest

from pallas_kernels import BlockSizes, choose_block_sizes
from pallas_kernels._blocks import (
    MAX_BLOCK_E,
    MAX_BLOCK_F,
    MAX_ROWS_PER_PROGRAM,
    MIN_BLOCK_E,
    TILE_ELEMENTS,
    resolve_block_sizes,
)


def is_pow2(n):
    return isinstance(n, int) and n >= 1 and n & (n - 1) == 0


def test_arxiv_like_graph_gets_the_measured_best_sizes():
    # ogbn-arxiv: mean in-degree 13.7, median 8. The H200 sweep put block_e 8-16 with block_f 64
    # within a few % of the best at F = 64, 128, 256.
    for f in (64, 128, 256):
        b = choose_block_sizes(f, 169_343, 2_315_598)
        assert (b.block_e, b.block_f) == (16, 64)
        assert b.rows_per_program * b.block_e * b.block_f == TILE_ELEMENTS
        assert b.sort_rows and b.max_row_length == 64 * b.block_e
    assert choose_block_sizes(64, 169_343, 2_315_598, row_length=8).block_e == 8  # median


def test_products_like_graph_keeps_wide_edge_blocks():
    # ogbn-products: mean degree ~50, where block_e 32 beat cuSPARSE.
    b = choose_block_sizes(64, 2_449_029, 123_718_280)
    assert (b.block_e, b.block_f, b.rows_per_program) == (32, 64, 2)


def test_short_rows_and_narrow_features_pack_rows_into_a_program():
    b = choose_block_sizes(7, 2708, 10_556)  # Cora-like: degree ~4, 7 classes
    assert (b.block_e, b.block_f, b.rows_per_program) == (MIN_BLOCK_E, 8, MAX_ROWS_PER_PROGRAM)


@pytest.mark.parametrize("kernel", ["spmm", "softmax", "gatv2", "sddmm"])
def test_rule_is_sane_everywhere(kernel):
    features = (1, 3, 7, 16, 33, 64, 100, 128, 256, 1000)
    shapes = ((1, 0), (10, 10), (1000, 4000), (169_343, 2_315_598), (50, 1_000_000))
    for f, (m, nnz), heads in itertools.product(features, shapes, (1, 3, 8)):
        b = choose_block_sizes(f, m, nnz, num_heads=heads, kernel=kernel)
        assert all(is_pow2(v) for v in (b.block_e, b.block_f, b.rows_per_program)), b
        assert b.block_e <= MAX_BLOCK_E
        hp = 1 << (heads - 1).bit_length() if kernel in ("softmax", "gatv2") else 1
        if kernel == "gatv2":  # all of F in one program; block_e shrinks (to 1 at worst)
            assert f <= b.block_f < 2 * f
            assert b.block_e * hp * b.block_f <= TILE_ELEMENTS or b.block_e == 1
        else:
            assert b.block_f == min(1 << (f - 1).bit_length(), MAX_BLOCK_F)
            assert b.rows_per_program * b.block_e * hp * b.block_f <= TILE_ELEMENTS
        if kernel == "spmm":
            assert MIN_BLOCK_E <= b.block_e and 1 <= b.rows_per_program <= 8
            assert b.max_row_length % b.block_e == 0 and b.max_row_length > 0
        else:
            assert (b.rows_per_program, b.max_row_length) == (1, 0)


def test_resolve_fills_only_missing_fields():
    b = resolve_block_sizes(
        BlockSizes(block_f=16), block_e=8, num_features=64, num_rows=100, nnz=5000
    )
    assert (b.block_e, b.block_f) == (8, 16)
    assert b.max_row_length == 64 * 8  # follows the caller's block_e
    assert b.rows_per_program == choose_block_sizes(64, 100, 5000).rows_per_program
    legacy = resolve_block_sizes(
        BlockSizes(block_e=32, rows_per_program=1, max_row_length=0, sort_rows=False),
        num_features=64,
        num_rows=100,
        nnz=5000,
    )
    assert legacy == BlockSizes(32, 64, 1, 0, False)


@pytest.mark.parametrize(
    "blocks, kw, error, match",
    [
        (BlockSizes(block_e=12), {}, ValueError, "block_e must be a positive power of two"),
        (BlockSizes(block_f=0), {}, ValueError, "block_f must be a positive power of two, got 0"),
        (BlockSizes(rows_per_program=3), {}, ValueError, "rows_per_program must be a positive"),
        (BlockSizes(block_e=8, max_row_length=20), {}, ValueError, "multiple of block_e=8"),
        (BlockSizes(max_row_length=-8), {}, ValueError, "max_row_length must be 0 or"),
        (BlockSizes(block_e=8), dict(block_e=16), ValueError, "block_e=16 conflicts"),
        ({"block_e": 8}, {}, TypeError, "must be a BlockSizes or None, got dict"),
        (BlockSizes(rows_per_program=2), dict(kernel="softmax"), ValueError, "softmax kernel"),
        (BlockSizes(), dict(kernel="conv"), ValueError, "kernel must be one of"),
    ],
)
def test_resolve_rejects_bad_sizes(blocks, kw, error, match):
    with pytest.raises(error, match=match):
        resolve_block_sizes(blocks, num_features=64, num_rows=100, nnz=5000, **kw)


def test_rule_rejects_negative_sizes():
    with pytest.raises(ValueError, match="`nnz` must be >= 0, got -1"):
        choose_block_sizes(8, 10, -1)
