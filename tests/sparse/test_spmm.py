"""spmm against a dense oracle: every impl and reduce, values and gradients, jit and eager."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgnn.sparse import SparseTensor, spmm

M, N, F = 7, 6, 3


def dense_spmm(row, col, value, x, m, reduce):
    """Differentiable dense oracle over an explicit [M, N, *F] message tensor and mask."""
    n = x.shape[0]
    value = jnp.ones(row.shape, x.dtype) if value is None else value
    d, f = value.shape[1:], x.shape[1:]
    feat = np.broadcast_shapes(d, f)
    a = jnp.zeros((m, n) + d, value.dtype).at[row, col].set(value)
    mask = jnp.zeros((m, n), bool).at[row, col].set(True)
    a = a.reshape((m, n) + (1,) * (len(feat) - len(d)) + d)
    xb = x.reshape((1, n) + (1,) * (len(feat) - len(f)) + f)
    msg = a * xb
    mb = mask.reshape((m, n) + (1,) * len(feat))
    count = mask.sum(1).reshape((m,) + (1,) * len(feat))
    if reduce == "sum":
        return msg.sum(1)
    if reduce == "mean":
        return msg.sum(1) / jnp.maximum(count, 1).astype(x.dtype)
    if reduce == "max":
        out = jnp.where(mb, msg, -jnp.inf).max(1)
    else:
        out = jnp.where(mb, msg, jnp.inf).min(1)
    return jnp.where(count > 0, out, 0.0)


@pytest.fixture(scope="module")
def graph():
    rng = np.random.default_rng(0)
    # rows 0..M-2 only, so the last row is empty; the last column too (no gradient there)
    key = rng.choice((M - 1) * (N - 1), size=16, replace=False)
    row, col = key // (N - 1), key % (N - 1)
    value = rng.uniform(0.5, 2.0, row.size).astype(np.float32)
    adj = SparseTensor.from_edge_index(np.stack([row, col]), value, sparse_sizes=(M, N))
    x = jnp.asarray(rng.standard_normal((N, F)).astype(np.float32))
    ct = jnp.asarray(rng.standard_normal((M, F)).astype(np.float32))
    return adj, x, ct


def _loss(adj, reduce, impl, ct):
    def f(value, x):
        return jnp.sum(spmm(adj.set_value(value), x, reduce=reduce, impl=impl) * ct)

    return f


def _oracle_loss(adj, reduce, ct):
    def f(value, x):
        return jnp.sum(dense_spmm(adj.row, adj.col, value, x, M, reduce) * ct)

    return f


REDUCES = {"segment": ("sum", "mean", "max", "min"), "bcsr": ("sum", "mean")}


def _values_and_grads(fn, reduces, ct):
    """{reduce: (out, (d value, d x))} for ``fn(value, x, reduce)``, in one program."""

    def run(value, x):
        res = {}
        for r in reduces:
            out = fn(value, x, r)
            grads = jax.grad(lambda v, x, r=r: jnp.sum(fn(v, x, r) * ct), argnums=(0, 1))(value, x)
            res[r] = (out, grads)
        return res

    return run


@pytest.mark.parametrize("impl", ["segment", "bcsr"])
def test_values_and_gradients_match_dense(graph, impl):
    adj, x, ct = graph
    reduces = REDUCES[impl]
    got = jax.jit(
        _values_and_grads(lambda v, x, r: spmm(adj.set_value(v), x, r, impl), reduces, ct)
    )(adj.value, x)
    want = jax.jit(
        _values_and_grads(lambda v, x, r: dense_spmm(adj.row, adj.col, v, x, M, r), reduces, ct)
    )(adj.value, x)
    for r in reduces:
        (out, (dv, dx)), (eout, (edv, edx)) = got[r], want[r]
        assert out.shape == (M, F) and out.dtype == x.dtype
        np.testing.assert_allclose(out, eout, rtol=1e-5, atol=1e-6, err_msg=r)
        np.testing.assert_array_equal(out[M - 1], 0.0)  # empty row
        np.testing.assert_allclose(dv, edv, rtol=1e-5, atol=1e-6, err_msg=r)
        np.testing.assert_allclose(dx, edx, rtol=1e-5, atol=1e-6, err_msg=r)
        np.testing.assert_array_equal(dx[N - 1], 0.0)  # column without entries


@pytest.mark.parametrize("impl, reduce", [("segment", "max"), ("bcsr", "mean")])
def test_eager_matches_dense(graph, impl, reduce):
    adj, x, ct = graph
    out = spmm(adj, x, reduce, impl)
    np.testing.assert_allclose(
        out, dense_spmm(adj.row, adj.col, adj.value, x, M, reduce), rtol=1e-5
    )
    dv, dx = jax.grad(_loss(adj, reduce, impl, ct), argnums=(0, 1))(adj.value, x)
    ev, ex = jax.jit(jax.grad(_oracle_loss(adj, reduce, ct), argnums=(0, 1)))(adj.value, x)
    np.testing.assert_allclose(dv, ev, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, ex, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("impl", ["segment", "bcsr"])
def test_values_without_edge_values(graph, impl):
    adj, x, _ = graph
    pattern = adj.set_value(None)
    fn = jax.jit(lambda a, x: [spmm(a, x, r, impl) for r in REDUCES[impl]])
    for r, out in zip(REDUCES[impl], fn(pattern, x), strict=True):
        np.testing.assert_allclose(
            out, dense_spmm(adj.row, adj.col, None, x, M, r), rtol=1e-5, atol=1e-6, err_msg=r
        )


@pytest.mark.parametrize("impl", ["segment", "bcsr"])
def test_gradient_without_values(graph, impl):
    adj, x, ct = graph
    pattern = adj.set_value(None)
    dx = jax.jit(jax.grad(lambda x: jnp.sum(spmm(pattern, x, impl=impl) * ct)))(x)
    expected = pattern.to_dense().T @ ct
    np.testing.assert_allclose(dx, expected, rtol=1e-5, atol=1e-6)
    # no values: nothing to differentiate but x, and the pytree has no value leaf
    assert pattern.value is None


@pytest.mark.parametrize(
    "vshape, xshape",
    [((2, 1), (2, 4)), ((4,), ())],
)
def test_multidim_values_segment(graph, vshape, xshape):
    adj, _, _ = graph
    rng = np.random.default_rng(1)
    value = jnp.asarray(rng.uniform(0.5, 2.0, (adj.nnz(),) + vshape).astype(np.float32))
    x = jnp.asarray(rng.standard_normal((N,) + xshape).astype(np.float32))
    out_shape = (M,) + np.broadcast_shapes(vshape, xshape)
    ct = jnp.asarray(rng.standard_normal(out_shape).astype(np.float32))
    reduces = REDUCES["segment"]
    got = jax.jit(_values_and_grads(lambda v, x, r: spmm(adj.set_value(v), x, r), reduces, ct))(
        value, x
    )
    want = jax.jit(
        _values_and_grads(lambda v, x, r: dense_spmm(adj.row, adj.col, v, x, M, r), reduces, ct)
    )(value, x)
    for r in reduces:
        assert got[r][0].shape == out_shape
        for a, b in zip(jax.tree.leaves(got[r]), jax.tree.leaves(want[r]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=r)


def test_scalar_values_with_higher_rank_x(graph):
    adj, _, _ = graph
    x = jnp.arange(N * 6, dtype=jnp.float32).reshape(N, 2, 3)

    def run(x):
        return [
            (spmm(adj, x, impl=i), jax.grad(lambda x, i=i: jnp.sum(spmm(adj, x, impl=i) ** 2))(x))
            for i in ("segment", "bcsr")
        ]

    def oracle(x):
        return dense_spmm(adj.row, adj.col, adj.value, x, M, "sum")

    ex = jax.grad(lambda x: jnp.sum(oracle(x) ** 2))(x)
    for out, dx in jax.jit(run)(x):
        np.testing.assert_allclose(out, oracle(x), rtol=1e-6)
        np.testing.assert_allclose(dx, ex, rtol=1e-5)


@pytest.mark.parametrize("impl", ["segment", "bcsr"])
def test_no_entries(impl):
    adj = SparseTensor.from_edge_index(
        np.zeros((2, 0), np.int64), jnp.zeros(0), sparse_sizes=(3, 4)
    )
    x = jnp.ones((4, 2))
    got = jax.jit(
        _values_and_grads(lambda v, x, r: spmm(adj.set_value(v), x, r, impl), REDUCES[impl], 1.0)
    )(adj.value, x)
    for r in REDUCES[impl]:
        out, (dv, dx) = got[r]
        np.testing.assert_array_equal(out, np.zeros((3, 2)))
        np.testing.assert_array_equal(dx, np.zeros((4, 2)))
        assert dv.shape == (0,)


@pytest.mark.parametrize("gather", ["bcsr", "gather"])
def test_blocked_sddmm_backward(monkeypatch, gather):
    """The value gradient's SDDMM runs in edge blocks (shrunk here) with either row gather."""
    from jgnn.sparse import _spmm as spmm_module

    monkeypatch.setattr(spmm_module, "_SDDMM_BLOCK_ELEMS", 64 * 5)
    monkeypatch.setattr(spmm_module, "row_gather_impl", lambda dtype: gather)
    rng = np.random.default_rng(5)
    n = 23 if gather == "bcsr" else 29  # fresh shapes: no compilation cache reuse
    adj = SparseTensor.from_edge_index(
        rng.integers(0, n, (2, 200)), rng.standard_normal(200).astype(np.float32), (n, n)
    )
    x = jnp.asarray(rng.standard_normal((n, 5)).astype(np.float32))
    ct = jnp.asarray(rng.standard_normal((n, 5)).astype(np.float32))
    want = jax.grad(lambda v: jnp.sum((adj.set_value(v).to_dense() @ x) * ct))(adj.value)
    for impl in ("segment", "bcsr"):
        loss = lambda v, i=impl: jnp.sum(spmm(adj.set_value(v), x, impl=i) * ct)
        got = jax.jit(jax.grad(loss))(adj.value)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=impl)


def test_impls_agree_on_a_larger_graph():
    rng = np.random.default_rng(2)
    adj = SparseTensor.from_edge_index(
        rng.integers(0, 60, (2, 500)), rng.standard_normal(500).astype(np.float32), (60, 60)
    )
    x = jnp.asarray(rng.standard_normal((60, 8)).astype(np.float32))
    ct = jnp.asarray(rng.standard_normal((60, 8)).astype(np.float32))
    for reduce in ("sum", "mean"):
        results = []
        for impl in ("segment", "bcsr"):
            f = lambda v, x, impl=impl: jnp.sum(
                spmm(adj.set_value(v), x, reduce=reduce, impl=impl) * ct
            )
            results.append(jax.jit(jax.value_and_grad(f, (0, 1)))(adj.value, x))
        for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_auto_is_deterministic():
    """auto picks bcsr (sum, mean) and segment (max): bitwise equal across runs.

    On the CPU for every reduce; on a GPU for sum/mean only (bcsr, a cuSPARSE CSR product and
    a transposed-CSR backward): segment's backward scatters with atomics there, so max is not
    claimed to be bitwise reproducible on a GPU.
    """
    reduces = ("sum", "mean", "max") if jax.default_backend() == "cpu" else ("sum", "mean")
    rng = np.random.default_rng(3)
    adj = SparseTensor.from_edge_index(
        rng.integers(0, 300, (2, 5000)), rng.standard_normal(5000).astype(np.float32), (300, 300)
    )
    x = jnp.asarray(rng.standard_normal((300, 16)).astype(np.float32))

    def run(v, x):
        return [
            jax.value_and_grad(
                lambda v, x, r=r: jnp.sum(spmm(adj.set_value(v), x, r) ** 2), (0, 1)
            )(v, x)
            for r in reduces
        ]

    f = jax.jit(run)
    first = jax.tree.map(np.asarray, f(adj.value, x))
    second = jax.tree.map(np.asarray, f(adj.value, x))
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("impl", ["segment", "bcsr"])
def test_bfloat16_accumulates_in_float32(graph, impl):
    adj, x, _ = graph
    xb = x.astype(jnp.bfloat16)
    out = spmm(adj, xb, impl=impl)
    assert out.dtype == jnp.bfloat16
    expected = dense_spmm(adj.row, adj.col, adj.value, xb.astype(jnp.float32), M, "sum")
    np.testing.assert_allclose(out.astype(jnp.float32), expected, rtol=2e-2, atol=2e-2)


def test_transposed_product_and_matmul_operator(graph):
    adj, _, _ = graph
    y = jnp.arange(M * 2, dtype=jnp.float32).reshape(M, 2)
    out = jax.jit(lambda a, y: a.t() @ y)(adj, y)
    np.testing.assert_allclose(out, adj.to_dense().T @ y, rtol=1e-6)
    out = adj.matmul(jnp.ones((N, 2)), reduce="max", impl="segment")
    np.testing.assert_allclose(
        out, dense_spmm(adj.row, adj.col, adj.value, jnp.ones((N, 2)), M, "max")
    )


def test_errors(graph):
    adj, x, _ = graph
    with pytest.raises(ValueError, match=r"N = 6"):
        spmm(adj, jnp.ones((5, 3)))
    with pytest.raises(TypeError, match="SparseTensor"):
        spmm(adj.to_dense(), x)
    with pytest.raises(TypeError, match="Cast x first"):
        spmm(adj, jnp.ones((N, 3), jnp.int32))
    with pytest.raises(ValueError, match="impl must be one of"):
        spmm(adj, x, impl="cusparse")
    with pytest.raises(ValueError, match="reduce must be one of"):
        spmm(adj, x, reduce="prod")
    with pytest.raises(NotImplementedError, match="impl='segment'"):
        spmm(adj, x, reduce="max", impl="bcsr")
    multi = adj.set_value(jnp.ones((adj.nnz(), 3)))
    with pytest.raises(NotImplementedError, match="impl='segment'"):
        spmm(multi, x, impl="bcsr")
    with pytest.raises(ValueError, match="does not broadcast"):
        spmm(multi, jnp.ones((N, 4)))


def test_pallas_missing_raises(graph, monkeypatch):
    adj, x, _ = graph
    monkeypatch.setitem(sys.modules, "pallas_kernels", None)
    with pytest.raises(NotImplementedError, match="impl='segment' or impl='bcsr'"):
        spmm(adj, x, impl="pallas")


def test_pallas_interpret_matches_dense():
    reduce = "sum"
    pk = pytest.importorskip("pallas_kernels")
    if getattr(pk, "spmm", None) is None:
        pytest.skip("pallas_kernels.spmm not available")
    adj = SparseTensor.from_edge_index(
        np.array([[0, 0, 1, 3], [1, 2, 0, 2]]), jnp.array([1.0, 2.0, 3.0, 4.0]), (4, 3)
    )
    x = jnp.arange(6.0).reshape(3, 2)
    ct = jnp.arange(8.0).reshape(4, 2) - 3.0
    out = spmm(adj, x, reduce=reduce, impl="pallas")
    np.testing.assert_allclose(
        out, dense_spmm(adj.row, adj.col, adj.value, x, 4, reduce), rtol=1e-5
    )
    dv, dx = jax.grad(
        lambda v, x: jnp.sum(spmm(adj.set_value(v), x, reduce, "pallas") * ct), (0, 1)
    )(adj.value, x)
    ev, ex = jax.grad(
        lambda v, x: jnp.sum(dense_spmm(adj.row, adj.col, v, x, 4, reduce) * ct), (0, 1)
    )(adj.value, x)
    np.testing.assert_allclose(dv, ev, rtol=1e-5)
    np.testing.assert_allclose(dx, ex, rtol=1e-5)


def _temp_bytes(fn, *args):
    return jax.jit(fn).lower(*args).compile().memory_analysis().temp_size_in_bytes


def test_fused_path_has_no_edge_by_feature_temporary():
    """GIN-style sum aggregation: bcsr never allocates [E, F]; gather-scatter does."""
    n, e, f = 2000, 100_000, 128
    rng = np.random.default_rng(4)
    adj = SparseTensor.from_edge_index(rng.integers(0, n, (2, e)), sparse_sizes=(n, n))
    x = jnp.zeros((n, f))
    edge_feat_bytes = adj.nnz() * f * 4
    for impl, fused in (("bcsr", True), ("segment", False)):
        fwd = lambda a, x, impl=impl: spmm(a, x, impl=impl)
        bwd = lambda a, x, ct, impl=impl: jax.grad(lambda x: jnp.sum(spmm(a, x, impl=impl) * ct))(x)
        temps = (_temp_bytes(fwd, adj, x), _temp_bytes(bwd, adj, x, x[:, :]))
        for temp in temps:
            if fused:
                assert temp < edge_feat_bytes, (impl, temps, edge_feat_bytes)
            else:
                assert temp >= edge_feat_bytes, (impl, temps, edge_feat_bytes)


@pytest.mark.peers
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_matches_torch_sparse(graph, reduce):
    torch = pytest.importorskip("torch")
    torch_sparse = pytest.importorskip("torch_sparse")
    adj, x, ct = graph
    row, col, value = (np.asarray(a) for a in adj.coo())
    t_adj = torch_sparse.SparseTensor(
        row=torch.from_numpy(row.astype(np.int64)),
        col=torch.from_numpy(col.astype(np.int64)),
        value=torch.from_numpy(np.array(value)),
        sparse_sizes=(M, N),
    )
    tx = torch.from_numpy(np.array(x)).requires_grad_()
    t_out = torch_sparse.matmul(t_adj, tx, reduce=reduce)
    (t_out * torch.from_numpy(np.array(ct))).sum().backward()
    out = spmm(adj, x, reduce=reduce)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    dx = jax.grad(lambda x: jnp.sum(spmm(adj, x, reduce=reduce) * ct))(x)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("impl", ["segment", "bcsr"])
def test_zero_sized_dimensions(impl):
    empty_cols = SparseTensor.from_edge_index(np.zeros((2, 0), np.int64), sparse_sizes=(3, 0))
    np.testing.assert_array_equal(spmm(empty_cols, jnp.ones((0, 2)), impl=impl), np.zeros((3, 2)))
    adj = SparseTensor.eye(2)
    assert spmm(adj, jnp.ones((2, 0)), impl=impl).shape == (2, 0)
    counts = spmm(adj.set_value(None), jnp.array([[1, 2], [3, 4]], jnp.int32), impl=impl)
    np.testing.assert_array_equal(counts, [[1, 2], [3, 4]])


@pytest.mark.parametrize("impl", ["segment", "bcsr"])
def test_vmap_over_values_and_features(graph, impl):
    # The custom VJPs must batch: vmap over a batch of edge values and features == a loop.
    adj, x, ct = graph
    rng = np.random.default_rng(3)
    values = jnp.asarray(rng.uniform(0.5, 2.0, (3, adj.nnz())), jnp.float32)
    xs = jnp.stack([x, 2 * x, -x])
    for reduce in REDUCES[impl]:
        loss = _loss(adj, reduce, impl, ct)
        fwd = lambda v, x, r=reduce: spmm(adj.set_value(v), x, reduce=r, impl=impl)
        grad = jax.grad(loss, argnums=(0, 1))
        np.testing.assert_allclose(
            jax.vmap(fwd)(values, xs), jnp.stack([fwd(v, f) for v, f in zip(values, xs)]), 1e-6
        )
        batched = jax.vmap(grad)(values, xs)
        looped = [grad(v, f) for v, f in zip(values, xs)]
        for i in range(2):
            np.testing.assert_allclose(batched[i], jnp.stack([g[i] for g in looped]), rtol=1e-5)
