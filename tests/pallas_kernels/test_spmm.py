"""Pallas CSR SpMM: values and gradients vs `spmm_reference`, a NumPy row loop and dense matrix
math, under every row schedule (heaviest first with several rows per program and split hub
rows, or CSR order). Each case compiles one forward+backward program: the interpreter is slow
to compile, so every case covers several awkward features at once."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pallas_kernels import SPMM_REDUCES, BlockSizes, spmm, spmm_reference


def numpy_spmm(g, value, x, reduce):
    """Row-by-row float64 oracle (independent of JAX); empty rows give 0."""
    x = np.asarray(jnp.asarray(x).astype(jnp.float32), np.float64)
    v = np.ones(g.nnz) if value is None else np.asarray(value, np.float64)
    out = np.zeros((g.m, x.shape[1]))
    for i in range(g.m):
        s, e = g.rowptr[i], g.rowptr[i + 1]
        if s < e:
            msg = v[s:e, None] * x[g.col[s:e]]
            out[i] = getattr(np, reduce)(msg, axis=0)
    return out


def numpy_extremal_grads(g, value, x, cot, reduce):
    """Routes `cot[i, f]` to the first edge of row i that attains the max/min (NumPy loop)."""
    dv, dx = np.zeros(g.nnz), np.zeros_like(x)
    pick = np.argmax if reduce == "max" else np.argmin
    for i in range(g.m):
        s, e = g.rowptr[i], g.rowptr[i + 1]
        for f in range(x.shape[1]):
            if s < e:
                k = s + pick(value[s:e] * x[g.col[s:e], f])
                dv[k] += cot[i, f] * x[g.col[k], f]
                dx[g.col[k], f] += cot[i, f] * value[k]
    return dv, dx


# (reduce, F, blocks, transpose stored?). The awkward graph's row 3 holds 40 of 58 edges: with
# max_row_length 16 or 8 it is split into 3 or 5 pieces; block_e=8 cuts rows into several
# steps; F=7 masks a feature block, F=33 with block_f=16 spans three.
CASES = [
    ("sum", 7, BlockSizes(block_e=8, rows_per_program=4, max_row_length=16), True),
    ("mean", 33, BlockSizes(8, 16, 2, 8, True), False),
    ("sum", 7, BlockSizes(block_e=8, rows_per_program=2, sort_rows=False), False),
    ("max", 7, BlockSizes(block_e=8, rows_per_program=4, max_row_length=16), False),
    ("min", 7, BlockSizes(block_e=8, rows_per_program=1, sort_rows=False), True),
]


@pytest.mark.parametrize("reduce, f, blocks, use_transpose", CASES)
def test_values_and_grads(
    awkward_graph, close, dense, tjit, fwd_vjp, csc, interpret, reduce, f, blocks, use_transpose
):
    g = awkward_graph
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(g.n, f)), jnp.float32)
    cot = jnp.asarray(rng.normal(size=(g.m, f)), jnp.float32)
    value = jnp.asarray(g.value)
    kernel = functools.partial(
        spmm,
        g.rowptr,
        g.col,
        reduce=reduce,
        transpose=csc(g) if use_transpose else None,
        row=None if use_transpose else g.row,
        blocks=blocks,
        interpret=interpret,
    )
    out, (dv, dx) = tjit(functools.partial(fwd_vjp, kernel))(cot, value, x)
    ref = functools.partial(spmm_reference, g.rowptr, g.col, reduce=reduce)
    ref_out, (ref_dv, ref_dx) = fwd_vjp(ref, cot, value, x)

    assert out.shape == (g.m, f) and out.dtype == jnp.float32
    close(out, ref_out)
    close(out, numpy_spmm(g, g.value, x, reduce))
    np.testing.assert_array_equal(np.asarray(out)[g.counts == 0], 0.0)  # empty rows give 0
    close(dv, ref_dv)
    close(dx, ref_dx)
    a = dense(g, g.value)
    x64, cot64 = np.asarray(x, np.float64), np.asarray(cot, np.float64)
    if reduce in ("sum", "mean"):  # dense math: out = D^-1 A x, dx = A^T D^-1 g
        scale = 1.0 / np.maximum(g.counts, 1)[:, None] if reduce == "mean" else 1.0
        close(out, scale * (a @ x64))
        close(dx, a.T @ (scale * cot64))
        close(dv, np.sum((scale * cot64)[g.row] * x64[g.col], axis=1))
    else:  # each cotangent entry goes to the row's arg-max/arg-min edge
        exp_dv, exp_dx = numpy_extremal_grads(g, g.value, x64, cot64, reduce)
        close(dv, exp_dv)
        close(dx, exp_dx)


def test_rule_blocks_match_legacy_blocks(awkward_graph, close, tjit, interpret):
    # The rule's choice (rows sorted, 8 rows per program) and the old fixed one (one row per
    # program in CSR order, block_e 32) compute the same sums.
    g = awkward_graph
    x = jnp.asarray(np.random.default_rng(5).normal(size=(g.n, 5)), jnp.float32)
    run = lambda blocks: tjit(  # noqa: E731
        functools.partial(spmm, g.rowptr, g.col, None, blocks=blocks, interpret=interpret)
    )(x)
    legacy = BlockSizes(block_e=32, block_f=8, rows_per_program=1, sort_rows=False)
    close(run(None), run(legacy))
    close(run(None), numpy_spmm(g, None, x, "sum"))


def test_value_none_bf16_accumulates_in_fp32(close, tjit, fwd_vjp, interpret):
    # Row 0 sums 300 ones: a bf16 accumulator stalls at 256, float32 reaches 300 exactly. With
    # the rule's max_row_length (512 for block_e 8) the row is one piece; with 64 it is five,
    # added in float32 afterwards.
    rng = np.random.default_rng(4)
    col = np.concatenate([np.zeros(300), rng.integers(0, 5, size=9)]).astype(np.int32)
    rowptr = np.array([0, 300, 309, 309], np.int32)  # the last row is empty
    xf = rng.normal(size=(5, 7)).astype(np.float32)
    xf[0] = 1.0
    x = jnp.asarray(xf, jnp.bfloat16)
    cot = jnp.asarray(rng.normal(size=(3, 7)), jnp.bfloat16)
    ref = functools.partial(spmm_reference, rowptr, col, None)
    ref_out, (ref_dx,) = fwd_vjp(ref, cot.astype(jnp.float32), x.astype(jnp.float32))
    for blocks in (None, BlockSizes(block_e=8, max_row_length=64)):
        kernel = functools.partial(spmm, rowptr, col, None, blocks=blocks, interpret=interpret)
        out, (dx,) = tjit(functools.partial(fwd_vjp, kernel))(cot, x)
        assert out.dtype == dx.dtype == jnp.bfloat16
        np.testing.assert_array_equal(np.asarray(out[0], np.float32), 300.0)
        close(out, ref_out, dtype=jnp.bfloat16)
        close(dx, ref_dx, dtype=jnp.bfloat16, scale=10.0)  # dx[0] sums 300 cotangents


@pytest.mark.parametrize("reduce", SPMM_REDUCES)
def test_no_edges_give_zeros(reduce, interpret):
    x = jnp.ones((4, 3), jnp.float32)
    empty = np.zeros((0,), np.int32)
    rowptr = np.zeros(6, np.int32)
    out, dx = jax.value_and_grad(
        lambda x: jnp.sum(spmm(rowptr, empty, None, x, reduce=reduce, interpret=interpret))
    )(x)
    assert float(out) == 0.0
    np.testing.assert_array_equal(dx, np.zeros((4, 3)))
    np.testing.assert_array_equal(
        spmm(rowptr, empty, None, x, reduce=reduce, interpret=interpret), np.zeros((5, 3))
    )
    assert spmm(np.zeros(1, np.int32), empty, None, x, interpret=interpret).shape == (0, 3)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(reduce="prod"), ValueError, "reduce must be one of"),
        (dict(block_f=24), ValueError, "block_f must be a positive power of two, got 24"),
        (dict(block_e=0), ValueError, "block_e must be a positive power of two, got 0"),
        (dict(blocks=BlockSizes(rows_per_program=3)), ValueError, "rows_per_program must be"),
        (dict(blocks=BlockSizes(block_e=8, max_row_length=12)), ValueError, "multiple of"),
        (dict(blocks=BlockSizes(block_e=8), block_e=16), ValueError, "conflicts with"),
        (dict(blocks=(8, 8)), TypeError, "`blocks` must be a BlockSizes"),
        (dict(col=np.zeros(3, np.float32)), TypeError, "`col` must be an integer array"),
        (dict(value=np.ones(2, np.float32)), ValueError, "`value` has 2 entries but `col` has 3"),
        (dict(x=np.ones((4,), np.float32)), ValueError, r"`x` must be 2-D, got shape \(4,\)"),
        (dict(x=np.ones((4, 2), np.int32)), TypeError, "`x` must be a floating-point array"),
        (
            dict(transpose=(np.zeros(3, np.int32), np.zeros(3, np.int32), np.zeros(3, np.int32))),
            ValueError,
            "must have length 5, got 3",
        ),
        (dict(transpose=np.zeros(3, np.int32)), TypeError, "`transpose` must be a tuple"),
        (dict(row=np.zeros(2, np.int32)), ValueError, "`row` must have length 3, got 2"),
    ],
)
def test_argument_errors(kwargs, error, match):
    args = dict(
        rowptr=np.array([0, 1, 3], np.int32),
        col=np.array([0, 1, 3], np.int32),
        value=None,
        x=np.ones((4, 2), np.float32),
    )
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    with pytest.raises(error, match=match):
        spmm(args["rowptr"], args["col"], args["value"], args["x"], interpret=True, **kwargs)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("reduce", SPMM_REDUCES)
def test_lowers_for_cuda_with_triton(tiny_graph, cuda_text, count_triton, reduce, dtype):
    g = tiny_graph
    value = jnp.ones(g.nnz, dtype)
    x = jnp.ones((g.n, 33), dtype)

    def fwd_bwd(v, x):
        out, vjp = jax.vjp(lambda v, x: spmm(g.rowptr, g.col, v, x, reduce=reduce), v, x)
        return out, vjp(out)

    text = cuda_text(fwd_bwd, value, x)
    # sum/mean: the forward and ONE backward pass over the CSC view (dx and d value fused);
    # max/min: the forward only (their backward is an XLA scatter).
    assert count_triton(text) == (2 if reduce in ("sum", "mean") else 1)
    assert ("jgnn_spmm_sum_dot" in text) == (reduce in ("sum", "mean"))


def test_backward_skips_the_value_dot_when_value_is_constant(tiny_graph, cuda_text, count_triton):
    # custom_vjp symbolic zeros: with `value` closed over (not differentiated) the backward
    # runs the plain transposed SpMM, without the per-edge dot.
    g = tiny_graph
    value = jnp.ones(g.nnz, jnp.float32)
    x = jnp.ones((g.n, 33), jnp.float32)

    def grad_x(x):
        return jax.grad(lambda x: jnp.sum(spmm(g.rowptr, g.col, value, x) ** 2))(x)

    text = cuda_text(grad_x, x)
    assert count_triton(text) == 2
    assert "jgnn_spmm_sum_dot" not in text


def test_constant_value_gives_same_dx(awkward_graph, close, tjit, interpret):
    g = awkward_graph
    x = jnp.asarray(np.random.default_rng(9).normal(size=(g.n, 6)), jnp.float32)
    value = jnp.asarray(g.value)
    loss = lambda v, x: jnp.sum(  # noqa: E731
        jnp.sin(spmm(g.rowptr, g.col, v, x, blocks=BlockSizes(block_e=8), interpret=interpret))
    )
    dx_only = tjit(jax.grad(lambda x: loss(value, x)))(x)
    dv, dx = tjit(jax.grad(loss, argnums=(0, 1)))(value, x)
    close(dx_only, dx)
    ref = jax.grad(
        lambda v, x: jnp.sum(jnp.sin(spmm_reference(g.rowptr, g.col, v, x))), argnums=(0, 1)
    )(value, x)
    close(dv, ref[0])
    close(dx, ref[1])
