"""Pallas SDDMM (interpret mode): values and gradients vs `sddmm_reference` and dense math.

Edges are shuffled (COO in no particular order) and `block_e=8` leaves a partial last block."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from pallas_kernels import sddmm, sddmm_reference


def shuffled_edges(g, seed=0):
    perm = np.random.default_rng(seed).permutation(g.nnz)
    return g.row[perm], g.col[perm]


def edge_sum_matrix(g, row, col, weights):
    """Dense `[M, N]` matrix with `weights[e]` summed at (row_e, col_e)."""
    s = np.zeros((g.m, g.n))
    np.add.at(s, (row, col), weights)
    return s


@pytest.mark.parametrize("op", ["dot", "add", "mul"])
def test_values_and_grads(awkward_graph, close, tjit, fwd_vjp, interpret, op):
    g = awkward_graph
    row, col = shuffled_edges(g)
    rng = np.random.default_rng(1)
    heads = 2 if op == "dot" else 1  # dot runs per head on [M, H, F]
    x = jnp.asarray(rng.normal(size=(g.m, heads, 7)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(g.n, heads, 7)), jnp.float32)
    if op != "dot":
        x, y = x[:, 0], y[:, 0]
    out_shape = (g.nnz, heads) if op == "dot" else (g.nnz, 7)
    cot = jnp.asarray(rng.normal(size=out_shape), jnp.float32)

    kernel = functools.partial(sddmm, row, col, op=op, block_e=8, interpret=interpret)
    out, (dx, dy) = tjit(functools.partial(fwd_vjp, kernel))(cot, x, y)
    ref = functools.partial(sddmm_reference, row, col, op=op)
    ref_out, (ref_dx, ref_dy) = fwd_vjp(ref, cot, x, y)

    assert out.shape == out_shape and out.dtype == jnp.float32
    close(out, ref_out)
    close(dx, ref_dx)
    close(dy, ref_dy)
    x64, y64, c64 = (np.asarray(a, np.float64) for a in (x, y, cot))
    if op == "dot":  # dense math per head: out = (X Y^T)[row, col], dX = S Y, dY = S^T X
        for h in range(heads):
            close(out[:, h], (x64[:, h] @ y64[:, h].T)[row, col])
            s = edge_sum_matrix(g, row, col, c64[:, h])
            close(dx[:, h], s @ y64[:, h])
            close(dy[:, h], s.T @ x64[:, h])
    elif op == "add":  # dX = (per-row sum of g), dY = (per-column sum of g)
        close(out, x64[row] + y64[col])
        close(dx, _segsum(c64, row, g.m))
        close(dy, _segsum(c64, col, g.n))
    else:
        close(out, x64[row] * y64[col])
        close(dx, _segsum(c64 * y64[col], row, g.m))
        close(dy, _segsum(c64 * x64[row], col, g.n))


def _segsum(v, idx, n):
    out = np.zeros((n,) + v.shape[1:])
    np.add.at(out, idx, v)
    return out


def test_bf16_dot_wide_features(tiny_graph, close, tjit, fwd_vjp, interpret):
    # F = 33 over three blocks of 16, [nnz] output, float32 accumulation of bf16 products.
    g = tiny_graph
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.normal(size=(g.m, 33)), jnp.bfloat16)
    y = jnp.asarray(rng.normal(size=(g.n, 33)), jnp.bfloat16)
    cot = jnp.asarray(rng.normal(size=(g.nnz,)), jnp.bfloat16)
    kernel = functools.partial(sddmm, g.row, g.col, block_f=16, interpret=interpret)
    out, (dx, dy) = tjit(functools.partial(fwd_vjp, kernel))(cot, x, y)
    assert out.shape == (g.nnz,) and out.dtype == dx.dtype == jnp.bfloat16
    ref = functools.partial(sddmm_reference, g.row, g.col)
    f32 = [a.astype(jnp.float32) for a in (cot, x, y)]
    ref_out, (ref_dx, ref_dy) = fwd_vjp(ref, *f32)
    close(out, ref_out, dtype=jnp.bfloat16, scale=5.0)  # |out| ~ sqrt(33)
    close(dx, ref_dx, dtype=jnp.bfloat16, scale=2.0)
    close(dy, ref_dy, dtype=jnp.bfloat16, scale=2.0)


@pytest.mark.parametrize("op, shape", [("dot", (0,)), ("add", (0, 3)), ("mul", (0, 3))])
def test_no_edges(op, shape, interpret):
    empty = np.zeros((0,), np.int32)
    x = jnp.ones((4, 3), jnp.float32)
    out = sddmm(empty, empty, x, x, op=op, interpret=interpret)
    assert out.shape == shape
    dx = jax.grad(lambda x: jnp.sum(sddmm(empty, empty, x, x, op=op, interpret=interpret)))(x)
    np.testing.assert_array_equal(dx, np.zeros((4, 3)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(op="sub"), ValueError, "op must be one of"),
        (dict(col=np.zeros(2, np.int32)), ValueError, "`col` must have length 3, got 2"),
        (dict(row=np.zeros(3, np.float32)), TypeError, "`row` must be an integer array"),
        (dict(y=np.ones((4, 5), np.float32)), ValueError, "must share their trailing shape"),
        (dict(y=np.ones((4, 2), np.float16)), TypeError, "must have the same dtype"),
        (dict(block_f=3), ValueError, "block_f must be a positive power of two, got 3"),
    ],
)
def test_argument_errors(kwargs, error, match):
    args = dict(
        row=np.array([0, 1, 3], np.int32),
        col=np.array([0, 1, 3], np.int32),
        x=np.ones((4, 2), np.float32),
        y=np.ones((4, 2), np.float32),
    )
    args.update({k: kwargs.pop(k) for k in list(kwargs) if k in args})
    with pytest.raises(error, match=match):
        sddmm(args["row"], args["col"], args["x"], args["y"], interpret=True, **kwargs)


@pytest.mark.parametrize(
    "op, dtype, kernels",
    # dot: forward + two SpMMs for dx, dy; add: forward + two SpMMs; mul: forward (XLA bwd).
    [
        ("dot", jnp.float32, 3),
        ("dot", jnp.bfloat16, 3),
        ("add", jnp.float32, 3),
        ("mul", jnp.bfloat16, 1),
    ],
)
def test_lowers_for_cuda_with_triton(tiny_graph, cuda_lowering, op, dtype, kernels):
    g = tiny_graph
    x = jnp.ones((g.m, 2, 33), dtype)
    y = jnp.ones((g.n, 2, 33), dtype)

    def fwd_bwd(x, y):
        out, vjp = jax.vjp(lambda x, y: sddmm(g.row, g.col, x, y, op=op), x, y)
        return out, vjp(out)

    assert cuda_lowering(fwd_bwd, x, y) == kernels
