"""Fused GAT / GATv2 attention: values and gradients vs the pure-jnp references and a float64
NumPy row loop, on awkward shapes (F = 7, heads 1 and 3, empty rows, one row holding most
edges, M != N, nnz = 0, bf16 inputs), plus CUDA-lowering checks."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pallas_kernels import (
    BlockSizes,
    gat_aggregate,
    gat_aggregate_reference,
    gatv2_aggregate,
    gatv2_aggregate_reference,
)

SLOPE = 0.2


def leaky(z):
    return np.where(z >= 0, z, SLOPE * z)


def numpy_attention(g, logit_of_edge, x):
    """Per row and head: softmax of `logit_of_edge(e, i) [H]` over the row (float64)."""
    x = np.asarray(jnp.asarray(x).astype(jnp.float32), np.float64)
    out = np.zeros((g.m,) + x.shape[1:])
    for i in range(g.m):
        s, e = g.rowptr[i], g.rowptr[i + 1]
        if s == e:
            continue
        lg = np.stack([logit_of_edge(k, i) for k in range(s, e)])  # [deg, H]
        w = np.exp(lg - lg.max(axis=0))
        w = w / w.sum(axis=0)
        out[i] = np.einsum("dh,dhf->hf", w, x[g.col[s:e]])
    return out


def f64(a):
    return np.asarray(jnp.asarray(a).astype(jnp.float32), np.float64)


def gat_inputs(g, heads, f, rng, dtype=jnp.float32, edge=True):
    x = jnp.asarray(rng.normal(size=(g.n, heads, f)), dtype)
    a_src = rng.normal(size=(g.n, heads))
    a_src[g.col[g.rowptr[3]]] += 60.0  # one very large logit in the heavy row: needs the shift
    a_src = jnp.asarray(a_src, dtype)
    a_dst = jnp.asarray(rng.normal(size=(g.m, heads)), dtype)
    e = jnp.asarray(rng.normal(size=(g.nnz, heads)), dtype) if edge else None
    cot = jnp.asarray(rng.normal(size=(g.m, heads, f)), dtype)
    return x, a_src, a_dst, e, cot


def gatv2_inputs(g, heads, f, rng, dtype=jnp.float32, edge=True):
    x_src = jnp.asarray(rng.normal(size=(g.n, heads, f)), dtype)
    x_dst = jnp.asarray(rng.normal(size=(g.m, heads, f)), dtype)
    att = jnp.asarray(rng.normal(size=(heads, f)), dtype)
    e = jnp.asarray(rng.normal(size=(g.nnz, heads, f)), dtype) if edge else None
    cot = jnp.asarray(rng.normal(size=(g.m, heads, f)), dtype)
    return x_src, x_dst, att, e, cot


@pytest.mark.parametrize("heads, edge, sort_rows", [(1, False, True), (3, True, False)])
def test_gat_values_and_grads(
    awkward_graph, close, tjit, fwd_vjp, interpret, heads, edge, sort_rows
):
    g = awkward_graph  # 12 x 10 (M != N), rows 0, 5, 11 empty, row 3 holds 40 of 58 edges
    x, a_src, a_dst, e, cot = gat_inputs(g, heads, 7, np.random.default_rng(0), edge=edge)
    blocks = BlockSizes(block_e=8, sort_rows=sort_rows)
    args = (x, a_src, a_dst) + ((e,) if edge else ())
    kernel = functools.partial(gat_aggregate, g.rowptr, g.col, blocks=blocks, interpret=interpret)
    out, grads = tjit(functools.partial(fwd_vjp, kernel))(cot, *args)
    ref = functools.partial(gat_aggregate_reference, g.rowptr, g.col)
    ref_out, ref_grads = fwd_vjp(ref, cot, *args)

    assert out.shape == (g.m, heads, 7) and out.dtype == jnp.float32
    src, dst = f64(a_src), f64(a_dst)
    edge64 = f64(e) if edge else np.zeros((g.nnz, heads))
    oracle = numpy_attention(g, lambda k, i: leaky(src[g.col[k]] + dst[i] + edge64[k]), x)
    close(out, oracle)
    close(out, ref_out)
    np.testing.assert_array_equal(np.asarray(out)[g.counts == 0], 0.0)
    assert len(grads) == len(ref_grads)
    for got, want in zip(grads, ref_grads, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        close(got, want)


@pytest.mark.parametrize("heads, edge, sort_rows", [(1, False, False), (3, True, True)])
def test_gatv2_values_and_grads(
    awkward_graph, close, tjit, fwd_vjp, interpret, heads, edge, sort_rows
):
    g = awkward_graph
    x_src, x_dst, att, e, cot = gatv2_inputs(g, heads, 7, np.random.default_rng(1), edge=edge)
    blocks = BlockSizes(block_e=8, sort_rows=sort_rows)
    args = (x_src, x_dst, att) + ((e,) if edge else ())
    kernel = functools.partial(gatv2_aggregate, g.rowptr, g.col, blocks=blocks, interpret=interpret)
    out, grads = tjit(functools.partial(fwd_vjp, kernel))(cot, *args)
    ref = functools.partial(gatv2_aggregate_reference, g.rowptr, g.col)
    ref_out, ref_grads = fwd_vjp(ref, cot, *args)

    xs, xd, a = f64(x_src), f64(x_dst), f64(att)
    edge64 = f64(e) if edge else np.zeros((g.nnz, heads, 7))
    oracle = numpy_attention(
        g, lambda k, i: np.sum(a * leaky(xs[g.col[k]] + xd[i] + edge64[k]), axis=-1), x_src
    )
    close(out, oracle)
    close(out, ref_out)
    np.testing.assert_array_equal(np.asarray(out)[g.counts == 0], 0.0)
    for got, want in zip(grads, ref_grads, strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype
        close(got, want, scale=2.0)  # d att sums 58 edges' products


def test_gat_bf16_accumulates_in_fp32(tiny_graph, close, tjit, fwd_vjp, csc, interpret):
    g = tiny_graph
    x, a_src, a_dst, e, cot = gat_inputs(g, 2, 33, np.random.default_rng(2), dtype=jnp.bfloat16)
    kernel = functools.partial(
        gat_aggregate, g.rowptr, g.col, transpose=csc(g), block_f=16, interpret=interpret
    )
    out, grads = tjit(functools.partial(fwd_vjp, kernel))(cot, x, a_src, a_dst, e)
    assert out.dtype == jnp.bfloat16 and all(d.dtype == jnp.bfloat16 for d in grads)
    f32 = [a.astype(jnp.float32) for a in (cot, x, a_src, a_dst, e)]
    ref_out, ref_grads = fwd_vjp(functools.partial(gat_aggregate_reference, g.rowptr, g.col), *f32)
    close(out, ref_out, dtype=jnp.bfloat16)
    for got, want in zip(grads, ref_grads, strict=True):
        close(got, want, dtype=jnp.bfloat16, scale=5.0)  # dlogit sums 33 products per edge


def test_gatv2_bf16_accumulates_in_fp32(tiny_graph, close, tjit, fwd_vjp, interpret):
    g = tiny_graph
    x_src, x_dst, att, e, cot = gatv2_inputs(g, 2, 5, np.random.default_rng(3), dtype=jnp.bfloat16)
    kernel = functools.partial(gatv2_aggregate, g.rowptr, g.col, row=g.row, interpret=interpret)
    out, grads = tjit(functools.partial(fwd_vjp, kernel))(cot, x_src, x_dst, att, e)
    assert out.dtype == jnp.bfloat16 and all(d.dtype == jnp.bfloat16 for d in grads)
    f32 = [a.astype(jnp.float32) for a in (cot, x_src, x_dst, att, e)]
    ref = functools.partial(gatv2_aggregate_reference, g.rowptr, g.col)
    ref_out, ref_grads = fwd_vjp(ref, *f32)
    close(out, ref_out, dtype=jnp.bfloat16)
    for got, want in zip(grads, ref_grads, strict=True):
        close(got, want, dtype=jnp.bfloat16, scale=5.0)


def test_no_edges(fwd_vjp, interpret):
    rowptr, empty = np.zeros(6, np.int32), np.zeros((0,), np.int32)
    cot = jnp.ones((5, 2, 3))
    x, a_src, a_dst = jnp.ones((4, 2, 3)), jnp.ones((4, 2)), jnp.ones((5, 2))
    fn = functools.partial(gat_aggregate, rowptr, empty, interpret=interpret)
    out, (dx, ds, dd) = fwd_vjp(fn, cot, x, a_src, a_dst)
    np.testing.assert_array_equal(out, np.zeros((5, 2, 3)))
    for got, like in ((dx, x), (ds, a_src), (dd, a_dst)):
        np.testing.assert_array_equal(got, np.zeros(like.shape))
    fn = functools.partial(gatv2_aggregate, rowptr, empty, interpret=interpret)
    x_dst, att = jnp.ones((5, 2, 3)), jnp.ones((2, 3))
    out, (dx, dxd, datt) = fwd_vjp(fn, cot, x, x_dst, att)
    np.testing.assert_array_equal(out, np.zeros((5, 2, 3)))
    for got, like in ((dx, x), (dxd, x_dst), (datt, att)):
        np.testing.assert_array_equal(got, np.zeros(like.shape))


def _gat_args(**over):
    args = dict(
        rowptr=np.array([0, 1, 3], np.int32),
        col=np.array([0, 1, 3], np.int32),
        x=np.ones((4, 2, 5), np.float32),
        alpha_src=np.ones((4, 2), np.float32),
        alpha_dst=np.ones((2, 2), np.float32),
        edge_logits=None,
    )
    kwargs = {k: over.pop(k) for k in list(over) if k not in args}
    args.update(over)
    return args, kwargs


@pytest.mark.parametrize(
    "over, error, match",
    [
        (dict(alpha_src=np.ones((4, 3), np.float32)), ValueError, r"\(N, H\) = \(4, 2\)"),
        (dict(alpha_dst=np.ones((3, 2), np.float32)), ValueError, r"\(M, H\) = \(2, 2\)"),
        (dict(edge_logits=np.ones((2, 2), np.float32)), ValueError, r"\(nnz, H\) = \(3, 2\)"),
        (dict(alpha_src=np.ones((4, 2), np.int32)), TypeError, "`alpha_src` must be a floating"),
        (dict(x=np.ones((4, 10), np.float32)), ValueError, "`x` must be 3-D"),
        (dict(block_e=12), ValueError, "block_e must be a positive power of two, got 12"),
    ],
)
def test_gat_argument_errors(over, error, match):
    args, kwargs = _gat_args(**over)
    with pytest.raises(error, match=match):
        gat_aggregate(*args.values(), interpret=True, **kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(att=np.ones((2, 4), np.float32)), ValueError, r"\(H, F\) = \(2, 5\)"),
        (dict(x_dst=np.ones((2, 2, 5), np.float16)), TypeError, "must have the same dtype"),
        (dict(edge_x=np.ones((3, 2), np.float32)), ValueError, "`edge_x` must be 3-D"),
        (dict(blocks=BlockSizes(block_f=4)), ValueError, "block_f must be >= F"),
    ],
)
def test_gatv2_argument_errors(kwargs, error, match):
    args = dict(
        x_src=np.ones((4, 2, 5), np.float32),
        x_dst=np.ones((2, 2, 5), np.float32),
        att=np.ones((2, 5), np.float32),
        edge_x=None,
    )
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    rowptr, col = np.array([0, 1, 3], np.int32), np.array([0, 1, 3], np.int32)
    with pytest.raises(error, match=match):
        gatv2_aggregate(rowptr, col, *args.values(), interpret=True, **kwargs)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_lowers_for_cuda_with_triton(tiny_graph, cuda_text, count_triton, dtype):
    g = tiny_graph
    h, f = 4, 33
    gat = functools.partial(gat_aggregate, g.rowptr, g.col)
    gatv2 = functools.partial(gatv2_aggregate, g.rowptr, g.col)

    def fwd_bwd(fn):
        def run(*args):
            out, vjp = jax.vjp(fn, *args)
            return out, vjp(out)

        return run

    ones = lambda *shape: jnp.ones(shape, dtype)  # noqa: E731
    text = cuda_text(fwd_bwd(gat), ones(g.n, h, f), ones(g.n, h), ones(g.m, h), ones(g.nnz, h))
    # forward (logits in-kernel); one SpMM pass over the CSC view; two per-node logit sums.
    assert count_triton(text) == 4
    assert "jgnn_softmax_aggregate_gat" in text
    args = (ones(g.n, h, f), ones(g.m, h, f), ones(h, f), ones(g.nnz, h, f))
    text = cuda_text(fwd_bwd(gatv2), *args)
    # forward; the row-pass backward; two SpMM passes over the CSC view for d x_src.
    assert count_triton(text) == 4
    assert "jgnn_gatv2_grad_rows" in text
