"""Tests for jgnn.ops segment reducers against a dense per-segment oracle."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jgnn import ops

REDUCERS = ["sum", "mean", "max", "min", "prod", "var", "std", "logsumexp", "softmax"]
INT_REDUCERS = ["sum", "max", "min", "prod"]
EAGER_GRADS = ("sum", "max", "prod", "std", "softmax")


def fn(name):
    return getattr(ops, f"segment_{name}")


def _safe_sqrt(v):
    pos = v > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, v, jnp.ones((), v.dtype))), 0)


def oracle(name, x, ids, n, ddof=0):
    """Dense reference: masked reductions over an ``[N, E] + feature`` broadcast of ``x``.

    Differentiable with plain ``jnp`` reductions, so ``jax.grad`` of it is the oracle gradient
    (``jnp.max``/``jnp.min`` split ties evenly; ``jnp.prod`` is exact with zeros).
    """
    mask = np.asarray(ids)[None, :] == np.arange(n)[:, None]  # [N, E]
    return _oracle(name, ddof, x, jnp.asarray(mask))


@partial(jax.jit, static_argnums=(0, 1))
def _oracle(name, ddof, x, mask):
    n = mask.shape[0]
    feat1 = (1,) * (x.ndim - 1)
    cnt = jnp.sum(mask, axis=1, dtype=jnp.int32).reshape((n,) + feat1)
    m = mask.reshape(mask.shape + feat1)
    xb = jnp.broadcast_to(x[None], (n,) + x.shape)
    zero = jnp.zeros((), x.dtype)
    if name in ("sum", "mean", "var", "std"):
        total = jnp.sum(jnp.where(m, xb, zero), axis=1)
        if name == "sum":
            return total
        mean = total / jnp.maximum(cnt, 1).astype(x.dtype)
        if name == "mean":
            return mean
        sq = jnp.sum(jnp.where(m, (xb - mean[:, None]) ** 2, zero), axis=1)
        var = jnp.where(cnt > ddof, sq / jnp.maximum(cnt - ddof, 1).astype(x.dtype), zero)
        return var if name == "var" else _safe_sqrt(var)
    if name == "prod":
        return jnp.where(cnt > 0, jnp.prod(jnp.where(m, xb, jnp.ones((), x.dtype)), axis=1), zero)
    if name in ("max", "min") and x.shape[0] == 0:
        return jnp.zeros((n,) + x.shape[1:], x.dtype)
    if name in ("max", "min"):
        red = jnp.max if name == "max" else jnp.min
        if jnp.issubdtype(x.dtype, jnp.integer):
            info = jnp.iinfo(x.dtype)
            fill = info.min if name == "max" else info.max
        else:
            fill = -jnp.inf if name == "max" else jnp.inf
        return jnp.where(cnt > 0, red(jnp.where(m, xb, jnp.asarray(fill, x.dtype)), axis=1), zero)
    # logsumexp / softmax along the edge axis; empty rows are fed zeros to stay finite.
    has = (cnt > 0)[:, None]
    masked = jnp.where(has, jnp.where(m, xb, jnp.asarray(-jnp.inf, x.dtype)), zero)
    if name == "logsumexp":
        return jnp.where(cnt > 0, jax.nn.logsumexp(masked, axis=1), zero)
    assert name == "softmax"
    return jnp.sum(jnp.where(m, jax.nn.softmax(masked, axis=1), zero), axis=0)


def call(name, x, ids, n, **kw):
    return fn(name)(x, ids, n, **kw)


def make(rng, e, n, feat=()):
    """Random ids in ``[0, n)`` and values with magnitudes in [0.5, 1.5] (products stay tame)."""
    ids = rng.integers(0, max(n, 1), size=e).astype(np.int32)
    x = rng.uniform(0.5, 1.5, (e, *feat)) * rng.choice([-1.0, 1.0], (e, *feat))
    return jnp.asarray(x, jnp.float32), jnp.asarray(ids)


def _ours_and_oracle(name, x, ids, mask, w, n, ddof, sorted_):
    """Output and ``w``-weighted VJP of the reducer and of the dense oracle."""
    kw = {"ddof": ddof} if name in ("var", "std") else {}
    out, vjp = jax.vjp(lambda x: call(name, x, ids, n, indices_are_sorted=sorted_, **kw), x)
    want, vjp_o = jax.vjp(lambda x: _oracle(name, ddof, x, mask), x)
    return out, vjp(w)[0], want, vjp_o(w)[0]


@partial(jax.jit, static_argnames=("names", "n", "ddof", "sorted_"))
def _all_jit(x, ids, mask, ws, *, names, n, ddof, sorted_):
    # One compilation checks every reducer in ``names``: keeps the file fast.
    return {k: _ours_and_oracle(k, x, ids, mask, ws[k], n, ddof, sorted_) for k in names}


def check_value_and_grad(x, ids, n, names=tuple(REDUCERS), *, eager=False, ddof=0, sorted_=False):
    """Assert values and gradients of each reducer in ``names`` against the dense oracle."""
    mask = jnp.asarray(np.asarray(ids)[None, :] == np.arange(n)[:, None])
    rng = np.random.default_rng(1)
    ws = {}
    for k in names:
        shape = x.shape if k == "softmax" else (n,) + x.shape[1:]
        ws[k] = jnp.asarray(rng.normal(size=shape), x.dtype)
    res = _all_jit(x, ids, mask, ws, names=tuple(names), n=n, ddof=ddof, sorted_=sorted_)
    if eager:
        # Replace our jitted results by eager ones (values of all, gradients of the reducers with
        # custom or non-trivial rules: each eager VJP compiles separately); keep the oracle's.
        for k in names:
            kw = {"ddof": ddof} if k in ("var", "std") else {}
            f = partial(fn(k), segment_ids=ids, num_segments=n, indices_are_sorted=sorted_, **kw)
            if k in EAGER_GRADS:
                out, vjp = jax.vjp(f, x)
                res[k] = (out, vjp(ws[k])[0]) + tuple(res[k][2:])
            else:
                res[k] = (f(x),) + tuple(res[k][1:])
    for k, (out, grad, want, want_grad) in res.items():
        assert out.shape == want.shape and out.dtype == x.dtype, k
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5, err_msg=k)
        assert np.all(np.isfinite(grad)), k
        np.testing.assert_allclose(grad, want_grad, rtol=1e-4, atol=1e-5, err_msg=k)
    return res


# ---------------------------------------------------------------------------- values and grads

# (E, num_segments, feature_shape, sorted) of the fixed cases; the property test reuses them so
# that its examples hit the same compilations.
CONFIGS = [(9, 6, (2, 3), False), (9, 6, (2, 3), True)]


@pytest.mark.parametrize("eager", [True, False], ids=["eager", "jit"])
def test_matches_dense_oracle(eager):
    # Unsorted ids, multi-dim features, empty segments (3, 5) and a singleton segment (1).
    ids = jnp.array([2, 0, 4, 0, 2, 1, 0, 2, 4], jnp.int32)
    x = make(np.random.default_rng(0), 9, 6, (2, 3))[0]
    res = check_value_and_grad(x, ids, 6, eager=eager)
    for k in REDUCERS[:-1]:
        np.testing.assert_array_equal(res[k][0][np.array([3, 5])], 0, err_msg=k)


def test_all_into_one_segment():
    x = make(np.random.default_rng(2), 9, 6, (2, 3))[0]
    check_value_and_grad(x, jnp.full(9, 4, jnp.int32), 6)


def test_sorted_ids_flag():
    x = make(np.random.default_rng(3), 9, 6, (2, 3))[0]
    ids = jnp.array([0, 0, 0, 2, 2, 3, 3, 3, 5], jnp.int32)
    check_value_and_grad(x, ids, 6, sorted_=True)


@pytest.mark.parametrize("name", REDUCERS)
def test_no_elements(name):
    x = jnp.zeros((0, 3), jnp.float32)
    ids = jnp.zeros((0,), jnp.int32)
    out = call(name, x, ids, 4)
    assert out.shape == ((0, 3) if name == "softmax" else (4, 3))
    np.testing.assert_array_equal(out, 0)
    if name != "softmax":
        np.testing.assert_array_equal(jax.grad(lambda x: call(name, x, ids, 4).sum())(x), x)


@pytest.mark.parametrize("name", [r for r in REDUCERS if r != "softmax"])
def test_zero_segments(name):
    x, ids = make(np.random.default_rng(4), 0, 0, (2,))
    assert call(name, x, ids, 0).shape == (0, 2)


def test_var_std_ddof():
    rng = np.random.default_rng(5)
    ids = jnp.array([0, 1, 1, 1, 3, 3], jnp.int32)
    x = make(rng, 6, 4, (2,))[0]
    res = check_value_and_grad(x, ids, 4, ("var", "std"), ddof=1)
    for name in ("var", "std"):
        # Segment 0 has one element (<= ddof): 0 rather than NumPy's NaN.
        np.testing.assert_array_equal(res[name][0][0], 0)
    want = np.var(np.asarray(x)[1:4], axis=0, ddof=1)
    np.testing.assert_allclose(ops.segment_var(x, ids, 4, ddof=1)[1], want, rtol=1e-5)


def test_std_gradient_finite_at_zero_variance():
    x = jnp.array([[2.0, 1.0], [2.0, 3.0], [5.0, 0.0]])
    ids = jnp.array([0, 0, 1], jnp.int32)  # segment 0, column 0 is constant; segment 1 is single
    out = ops.segment_std(x, ids, 3)
    np.testing.assert_allclose(out, [[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]], atol=0)
    grad = jax.grad(lambda x: ops.segment_std(x, ids, 3).sum())(x)
    np.testing.assert_allclose(grad, [[0.0, -0.5], [0.0, 0.5], [0.0, 0.0]], atol=1e-6)


def test_var_is_two_pass_accurate():
    # E[x^2] - E[x]^2 in f32 loses everything here; the two-pass form does not.
    x = jnp.array([1e4 + 1.0, 1e4 - 1.0, 1e4 + 1.0, 1e4 - 1.0], jnp.float32)
    np.testing.assert_allclose(ops.segment_var(x, jnp.zeros(4, jnp.int32), 1), [1.0], rtol=1e-6)


# ---------------------------------------------------------------------------- prod with zeros


@pytest.mark.parametrize("sorted_", [False, True])
def test_prod_gradient_with_zeros(sorted_):
    # Segment 0: one zero; segment 1: two zeros; segment 2: no zero; segment 3: single zero.
    x = jnp.array([2.0, 0.0, 3.0, 0.0, 5.0, 0.0, 4.0, -2.0, 0.0])
    ids = jnp.array([0, 0, 0, 1, 1, 1, 2, 2, 3], jnp.int32)
    if not sorted_:
        perm = np.array([4, 0, 8, 2, 6, 1, 7, 3, 5])
        x, ids = x[perm], ids[perm]
    f = lambda x: ops.segment_prod(x, ids, 5, indices_are_sorted=sorted_)  # noqa: E731
    np.testing.assert_array_equal(f(x), [0.0, 0.0, -8.0, 0.0, 0.0])
    grad = jax.grad(lambda x: jnp.sum(jnp.arange(1.0, 6.0) * f(x)))(x)
    want = jnp.array([0.0, 6.0, 0.0, 0.0, 0.0, 0.0, -6.0, 12.0, 4.0])
    if not sorted_:
        want = want[perm]
    np.testing.assert_array_equal(grad, want)
    # Forward mode (the custom rule is a JVP) agrees with reverse mode.
    t = jnp.asarray(np.random.default_rng(6).normal(size=x.shape), jnp.float32)
    _, jvp = jax.jvp(f, (x,), (t,))
    np.testing.assert_allclose(jnp.sum(jnp.arange(1.0, 6.0) * jvp), jnp.dot(grad, t), rtol=1e-5)


def test_prod_gradient_multidim_zeros_matches_oracle():
    x = jnp.array([[0.0, 2.0], [3.0, 0.0], [0.0, 0.0], [1.5, -1.0], [2.0, 2.0]])
    ids = jnp.array([1, 0, 1, 1, 0], jnp.int32)
    check_value_and_grad(x, ids, 3, ("prod",))


# ---------------------------------------------------------------------------- max/min ties


@pytest.mark.parametrize("name", ["max", "min"])
def test_extremum_ties_split_like_jnp(name):
    sign = 1.0 if name == "max" else -1.0
    x = sign * jnp.array([[3.0, 1.0], [3.0, 1.0], [1.0, 1.0], [2.0, 7.0], [2.0, 7.0], [2.0, 7.0]])
    ids = jnp.array([0, 0, 0, 2, 2, 2], jnp.int32)
    check_value_and_grad(x, ids, 3, (name,))
    grad = jax.grad(lambda x: fn(name)(x, ids, 3).sum())(x)
    third = 1.0 / 3.0
    want = [
        [0.5, third],
        [0.5, third],
        [0.0, third],
        [third, third],
        [third, third],
        [third, third],
    ]
    np.testing.assert_allclose(grad, want, rtol=1e-6)


def test_max_min_empty_is_zero_not_inf():
    x = jnp.array([-5.0, 4.0])
    ids = jnp.array([1, 1], jnp.int32)
    np.testing.assert_array_equal(ops.segment_max(x, ids, 3), [0.0, 4.0, 0.0])
    np.testing.assert_array_equal(ops.segment_min(x, ids, 3), [0.0, -5.0, 0.0])
    # A non-empty all-negative segment keeps its (negative) max.
    np.testing.assert_array_equal(ops.segment_max(-jnp.abs(x), ids, 2), [0.0, -4.0])


# ---------------------------------------------------------------------------- softmax / lse


def test_softmax_rows_sum_to_one_and_stable():
    x = jnp.array([[1000.0, -1000.0], [1001.0, -999.0], [-3.0, 50.0]])
    ids = jnp.array([0, 0, 2], jnp.int32)
    out = ops.segment_softmax(x, ids, 3)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(ops.segment_sum(out, ids, 3), [[1, 1], [0, 0], [1, 1]], rtol=1e-6)
    lse = ops.segment_logsumexp(x, ids, 3)
    log1p_e = np.log1p(np.exp(-1.0))
    want = [[1001.0 + log1p_e, -999.0 + log1p_e], [0.0, 0.0], [-3.0, 50.0]]
    np.testing.assert_allclose(lse, want, rtol=1e-6)


def test_softmax_and_lse_all_neg_inf_segment():
    x = jnp.array([-jnp.inf, -jnp.inf, 0.0])
    ids = jnp.array([0, 0, 1], jnp.int32)
    np.testing.assert_array_equal(ops.segment_softmax(x, ids, 3), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(ops.segment_logsumexp(x, ids, 3), [-np.inf, 0.0, 0.0])
    grad = jax.grad(lambda x: ops.segment_softmax(x, ids, 3)[2])(x)
    assert np.all(np.isfinite(grad))


def test_logsumexp_gradient_is_softmax():
    x, ids = make(np.random.default_rng(7), 9, 3, (2,))
    grad = jax.grad(lambda x: ops.segment_logsumexp(x, ids, 3).sum())(x)
    np.testing.assert_allclose(grad, ops.segment_softmax(x, ids, 3), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- count


def test_count():
    ids = jnp.array([3, 0, 3, 3, -1, 7], jnp.int32)
    np.testing.assert_array_equal(ops.segment_count(ids, 5), [1, 0, 0, 3, 0])
    out = jax.jit(lambda i: ops.segment_count(i, 5, jnp.float32))(ids)
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(out, [1, 0, 0, 3, 0])
    np.testing.assert_array_equal(ops.segment_count(jnp.zeros(0, jnp.int32), 2), [0, 0])


# ---------------------------------------------------------------------------- dtypes


def test_bf16_accumulates_in_f32():
    ones = jnp.ones((4096, 2), jnp.bfloat16)
    ids = jnp.zeros(4096, jnp.int32)
    out = jax.jit(lambda x: ops.segment_sum(x, ids, 2))(ones)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_array_equal(out.astype(jnp.float32), [[4096, 4096], [0, 0]])
    # A bf16 accumulator stalls at 256 (256 + 1 rounds back to 256).
    naive = jax.ops.segment_sum(ones, ids, 2)
    assert float(naive[0, 0]) != 4096.0
    mean = ops.segment_mean(ones, ids, 2)
    assert mean.dtype == jnp.bfloat16
    np.testing.assert_array_equal(mean.astype(jnp.float32), [[1, 1], [0, 0]])


@partial(jax.jit, static_argnums=(3, 4))
def _low_precision(x, ids, mask, n, names):
    # Values and gradients (of the sum of the output) of ours in x.dtype and the f32 oracle.
    f32 = x.astype(jnp.float32)
    res = {}
    for k in names:
        out, vjp = jax.vjp(lambda x, k=k: call(k, x, ids, n), x)
        want, vjp_o = jax.vjp(lambda x, k=k: _oracle(k, 0, x, mask), f32)
        res[k] = (out, vjp(jnp.ones_like(out))[0], want, vjp_o(jnp.ones_like(want))[0])
    return res


@pytest.mark.parametrize(
    "dtype, names",
    [(jnp.bfloat16, tuple(REDUCERS)), (jnp.float16, ("sum", "mean", "var", "logsumexp"))],
)
def test_low_precision_matches_f32(dtype, names):
    x32, ids = make(np.random.default_rng(8), 12, 4, (3,))
    mask = jnp.asarray(np.asarray(ids)[None, :] == np.arange(4)[:, None])
    res = _low_precision(x32.astype(dtype), ids, mask, 4, names)
    for k, (out, grad, want, want_grad) in res.items():
        assert out.dtype == dtype and grad.dtype == dtype, k
        np.testing.assert_allclose(out.astype(jnp.float32), want, rtol=2e-2, atol=2e-2, err_msg=k)
        np.testing.assert_allclose(
            grad.astype(jnp.float32), want_grad, rtol=3e-2, atol=3e-2, err_msg=k
        )


def test_integer_inputs():
    rng = np.random.default_rng(9)
    x = jnp.asarray(rng.integers(-3, 4, size=(10, 2)), jnp.int32)
    ids = jnp.asarray(rng.integers(0, 3, size=10), jnp.int32)  # segment 3 empty
    outs = jax.jit(lambda x: {k: call(k, x, ids, 4) for k in INT_REDUCERS})(x)
    for k in INT_REDUCERS:
        assert outs[k].dtype == jnp.int32, k
        np.testing.assert_array_equal(outs[k], oracle(k, x, ids, 4), err_msg=k)
        np.testing.assert_array_equal(outs[k][3], 0, err_msg=k)


@pytest.mark.parametrize("name", ["mean", "var", "std", "logsumexp", "softmax"])
def test_integer_inputs_rejected_for_float_reducers(name):
    with pytest.raises(TypeError, match="floating-point"):
        call(name, jnp.arange(3), jnp.zeros(3, jnp.int32), 1)


# ---------------------------------------------------------------------------- ids & errors


def test_out_of_range_ids_are_dropped():
    x = make(np.random.default_rng(10), 6, 1, (2,))[0]
    ids = jnp.array([0, -1, 1, 5, 1, 0], jnp.int32)
    keep = np.array([0, 2, 4, 5])
    outs = jax.jit(lambda x: {k: call(k, x, ids, 3) for k in REDUCERS[:-1]})(x)
    for k in REDUCERS[:-1]:
        want = oracle(k, x[keep], ids[keep], 3)
        np.testing.assert_allclose(outs[k], want, rtol=1e-5, atol=1e-6, err_msg=k)


def test_num_segments_must_be_static_int():
    x = jnp.ones(3)
    ids = jnp.zeros(3, jnp.int32)
    with pytest.raises(TypeError, match="static Python int"):
        jax.jit(lambda x, n: ops.segment_sum(x, ids, n))(x, 2)
    for bad in (2.0, True, jnp.array(2), None):
        with pytest.raises(TypeError, match="num_segments"):
            ops.segment_mean(x, ids, bad)
    with pytest.raises(ValueError, match="num_segments"):
        ops.segment_max(x, ids, -1)
    assert ops.segment_sum(x, ids, np.int64(2)).shape == (2,)
    assert ops.segment_sum(x, ids, num_segments=2).shape == (2,)


def test_segment_ids_validation():
    x = jnp.ones((3, 2))
    with pytest.raises(TypeError, match="integer"):
        ops.segment_sum(x, jnp.zeros(3), 2)
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(4,\)"):
        ops.segment_prod(x, jnp.zeros(4, jnp.int32), 2)
    with pytest.raises(ValueError, match="1-D"):
        ops.segment_softmax(x, jnp.zeros((3, 1), jnp.int32), 2)
    with pytest.raises(ValueError, match="1-D"):
        ops.segment_count(jnp.zeros((3, 1), jnp.int32), 2)
    with pytest.raises(ValueError, match="ddof"):
        ops.segment_var(x, jnp.zeros(3, jnp.int32), 2, ddof=-1)
    with pytest.raises(ValueError, match="eps"):
        ops.segment_std(x, jnp.zeros(3, jnp.int32), 2, eps=0.0)


def test_accepts_numpy_inputs():
    out = ops.segment_sum(np.ones((3, 2), np.float32), np.array([0, 2, 2]), 3)
    np.testing.assert_array_equal(out, [[1, 1], [0, 0], [2, 2]])


# ---------------------------------------------------------------------------- property test


@given(seed=st.integers(0, 2**16), config=st.sampled_from(CONFIGS), k=st.integers(1, 6))
def test_random_ids(seed, config, k):
    # Random ids over the first k segments (so empty segments vary) on the fixed shapes above.
    e, n, feat, sorted_ = config
    x, ids = make(np.random.default_rng(seed), e, min(k, n), feat)
    if sorted_:
        ids = jnp.sort(ids)
    check_value_and_grad(x, ids, n, sorted_=sorted_)


@settings(max_examples=5)
@given(seed=st.integers(0, 2**16), e=st.integers(0, 12), n=st.integers(1, 6))
def test_random_shapes_sum_mean_softmax(seed, e, n):
    # New shapes cost a compilation each, so this one checks the three most used reducers only.
    x, ids = make(np.random.default_rng(seed), e, n, (2,))
    check_value_and_grad(x, ids, n, ("sum", "mean", "softmax"))


# ---------------------------------------------------------------------------- PyG / torch peers


@pytest.mark.peers
def test_matches_torch_scatter_reduce_and_pyg_softmax():
    torch = pytest.importorskip("torch")
    pyg_utils = pytest.importorskip("torch_geometric.utils")
    x, _ = make(np.random.default_rng(11), 9, 6, (2, 3))
    ids = jnp.array([2, 0, 4, 0, 2, 1, 0, 2, 4], jnp.int32)  # segments 3 and 5 empty
    xt, it = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(ids)).long()
    index = it.view(-1, 1, 1).expand_as(xt)
    # include_self=False on a zero-initialised output: empty segments stay 0, as in jgnn.
    for ours, theirs in [("sum", "sum"), ("mean", "mean"), ("max", "amax"), ("min", "amin"),
                         ("prod", "prod")]:  # fmt: skip
        want = torch.zeros(6, 2, 3).scatter_reduce(0, index, xt, theirs, include_self=False)
        np.testing.assert_allclose(call(ours, x, ids, 6), want.numpy(), rtol=1e-5, err_msg=ours)
    want = pyg_utils.softmax(xt, it, num_nodes=6)
    np.testing.assert_allclose(ops.segment_softmax(x, ids, 6), want.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", REDUCERS)
def test_vmap_over_a_batch_of_signals(name):
    # Custom VJPs and static num_segments must batch: vmap (values and gradients) == a loop.
    ids = jnp.array([2, 0, 4, 0, 2, 1, 0, 2, 4], jnp.int32)
    xs = jnp.asarray(np.random.default_rng(7).normal(size=(3, 9, 2)), jnp.float32)
    f = lambda x: fn(name)(x, ids, 6)
    g = jax.grad(lambda x: jnp.sum(jnp.sin(f(x))))
    np.testing.assert_allclose(jax.vmap(f)(xs), jnp.stack([f(x) for x in xs]), rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(g)(xs), jnp.stack([g(x) for x in xs]), rtol=1e-5)
