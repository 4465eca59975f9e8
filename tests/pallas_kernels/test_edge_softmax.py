"""Pallas fused edge softmax + aggregation (interpret mode): values and gradients vs
`edge_softmax_aggregate_reference` and a float64 NumPy row loop."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pallas_kernels import BlockSizes, edge_softmax_aggregate, edge_softmax_aggregate_reference


def numpy_edge_softmax(g, logits, x):
    """Per row and head: softmax over the row's edges (float64), weighted sum of x[col]."""
    logits = np.asarray(jnp.asarray(logits).astype(jnp.float32), np.float64)
    x = np.asarray(jnp.asarray(x).astype(jnp.float32), np.float64)
    out = np.zeros((g.m,) + x.shape[1:])
    for i in range(g.m):
        s, e = g.rowptr[i], g.rowptr[i + 1]
        for h in range(x.shape[1]):
            lg = logits[s:e, h]
            if s == e or np.all(np.isneginf(lg)):
                continue
            w = np.exp(lg - lg.max())
            out[i, h] = (w / w.sum()) @ x[g.col[s:e], h]
    return out


@pytest.mark.parametrize("heads, sort_rows", [(2, True), (3, False)])
def test_values_and_grads(awkward_graph, close, tjit, fwd_vjp, interpret, heads, sort_rows):
    g = awkward_graph
    rng = np.random.default_rng(0)
    f = 7
    logits = rng.normal(size=(g.nnz, heads)).astype(np.float32)
    # Row 3 (40 edges, 5 chunks of 8): huge logits, which overflow a non-shifted softmax.
    logits[g.rowptr[3] : g.rowptr[4]] += 500.0
    # Row 4, head 0: all -inf (gives 0, like an empty row); row 9, head 1: one -inf edge.
    logits[g.rowptr[4] : g.rowptr[5], 0] = -np.inf
    logits[g.rowptr[9], 1] = -np.inf
    assert g.counts[4] > 0 and g.counts[9] > 1
    logits = jnp.asarray(logits)
    x = jnp.asarray(rng.normal(size=(g.n, heads, f)), jnp.float32)
    cot = jnp.asarray(rng.normal(size=(g.m, heads, f)), jnp.float32)

    blocks = BlockSizes(block_e=8, sort_rows=sort_rows)
    kernel = functools.partial(
        edge_softmax_aggregate, g.rowptr, g.col, blocks=blocks, interpret=interpret
    )
    out, (dlogits, dx) = tjit(functools.partial(fwd_vjp, kernel))(cot, logits, x)
    ref = functools.partial(edge_softmax_aggregate_reference, g.rowptr, g.col)
    ref_out, (ref_dlogits, ref_dx) = fwd_vjp(ref, cot, logits, x)

    assert out.shape == (g.m, heads, f) and out.dtype == jnp.float32
    close(out, numpy_edge_softmax(g, logits, x))
    close(out, ref_out)
    np.testing.assert_array_equal(np.asarray(out)[g.counts == 0], 0.0)
    np.testing.assert_array_equal(np.asarray(out)[4, 0], 0.0)
    assert np.all(np.isfinite(dlogits)) and np.all(np.isfinite(dx))
    close(dlogits, ref_dlogits)
    close(dx, ref_dx)
    np.testing.assert_array_equal(np.asarray(dlogits)[g.rowptr[4] : g.rowptr[5], 0], 0.0)


def test_bf16_wide_features_stored_transpose(tiny_graph, close, tjit, fwd_vjp, csc, interpret):
    g = tiny_graph
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(size=(g.nnz, 2)), jnp.bfloat16)
    x = jnp.asarray(rng.normal(size=(g.n, 2, 33)), jnp.bfloat16)
    cot = jnp.asarray(rng.normal(size=(g.m, 2, 33)), jnp.bfloat16)
    kernel = functools.partial(
        edge_softmax_aggregate,
        g.rowptr,
        g.col,
        transpose=csc(g),
        block_f=16,
        interpret=interpret,
    )
    out, (dlogits, dx) = tjit(functools.partial(fwd_vjp, kernel))(cot, logits, x)
    assert out.dtype == dlogits.dtype == dx.dtype == jnp.bfloat16
    ref = functools.partial(edge_softmax_aggregate_reference, g.rowptr, g.col)
    f32 = [a.astype(jnp.float32) for a in (cot, logits, x)]
    ref_out, (ref_dlogits, ref_dx) = fwd_vjp(ref, *f32)
    close(out, numpy_edge_softmax(g, logits, x), dtype=jnp.bfloat16)
    close(out, ref_out, dtype=jnp.bfloat16)
    close(dlogits, ref_dlogits, dtype=jnp.bfloat16, scale=5.0)  # sums 33 products per edge
    close(dx, ref_dx, dtype=jnp.bfloat16)


def test_no_edges(fwd_vjp, interpret):
    empty = np.zeros((0,), np.int32)
    x = jnp.ones((4, 2, 3), jnp.float32)
    logits = jnp.zeros((0, 2), jnp.float32)
    fn = functools.partial(
        edge_softmax_aggregate, np.zeros(6, np.int32), empty, interpret=interpret
    )
    out, (dlogits, dx) = fwd_vjp(fn, jnp.ones((5, 2, 3)), logits, x)
    np.testing.assert_array_equal(out, np.zeros((5, 2, 3)))
    assert dlogits.shape == (0, 2)
    np.testing.assert_array_equal(dx, np.zeros((4, 2, 3)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(logits=np.zeros((3, 1), np.float32)), ValueError, r"\(nnz, H\) = \(3, 2\)"),
        (dict(x=np.ones((4, 2), np.float32)), ValueError, "`x` must be 3-D"),
        (dict(logits=np.zeros((3, 2), np.int32)), TypeError, "`logits` must be a floating"),
        (dict(rowptr=np.zeros((0,), np.int32)), ValueError, "at least one entry"),
        (dict(block_e=6), ValueError, "block_e must be a positive power of two, got 6"),
        (dict(blocks=BlockSizes(rows_per_program=2)), ValueError, "rows_per_program=1"),
        (dict(row=np.zeros(4, np.int32)), ValueError, "`row` must have length 3, got 4"),
    ],
)
def test_argument_errors(kwargs, error, match):
    args = dict(
        rowptr=np.array([0, 1, 3], np.int32),
        col=np.array([0, 1, 3], np.int32),
        logits=np.zeros((3, 2), np.float32),
        x=np.ones((4, 2, 5), np.float32),
    )
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    with pytest.raises(error, match=match):
        edge_softmax_aggregate(
            args["rowptr"], args["col"], args["logits"], args["x"], interpret=True, **kwargs
        )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_lowers_for_cuda_with_triton(tiny_graph, cuda_lowering, dtype):
    g = tiny_graph
    logits = jnp.ones((g.nnz, 4), dtype)
    x = jnp.ones((g.n, 4, 33), dtype)

    def fwd_bwd(logits, x):
        out, vjp = jax.vjp(lambda lg, x: edge_softmax_aggregate(g.rowptr, g.col, lg, x), logits, x)
        return out, vjp(out)

    # The forward kernel, then ONE SpMM pass over the CSC view for dx and dlogits.
    assert cuda_lowering(fwd_bwd, logits, x) == 2
