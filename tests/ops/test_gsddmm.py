"""gsddmm against dense one-hot incidence matrices (values in NumPy, gradients by jax.grad)."""

import itertools

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jgnn.ops import gsddmm
from jgnn.sparse import SparseTensor

N = 5
# A self loop (2 -> 2), a parallel edge (0 -> 1 twice), node 4 isolated.
SRC = np.array([0, 0, 1, 2, 3, 0, 2], np.int32)
DST = np.array([1, 1, 2, 2, 0, 3, 3], np.int32)
E = len(SRC)
OPS = ("add", "sub", "mul", "div", "dot", "copy_lhs", "copy_rhs")
TARGETS = ("u", "v", "e")
PAIRS = list(itertools.product(TARGETS, TARGETS))


def _graph(src=SRC, dst=DST, n=N):
    return jraph.GraphsTuple(
        nodes=jnp.zeros((n, 1)),
        edges=None,
        senders=jnp.asarray(src),
        receivers=jnp.asarray(dst),
        globals=None,
        n_node=jnp.array([n]),
        n_edge=jnp.array([len(src)]),
    )


def _incidence(ids, n):
    return (ids[:, None] == np.arange(n)[None, :]).astype(np.float32)  # [E, n]


S_INC, D_INC = _incidence(SRC, N), _incidence(DST, N)


def _rows(target):
    return {"u": N, "v": N, "e": E}[target]


def _per_edge(x, target, xp):
    """Per-edge rows via dense incidence matmuls (no gathers), right-aligned features."""
    if target == "e":
        return x
    inc = xp.asarray(S_INC if target == "u" else D_INC, x.dtype)
    flat = x.reshape(x.shape[0], -1)
    return (inc @ flat).reshape((E,) + x.shape[1:])


def oracle(op, lhs, rhs, lt, rt, xp=np):
    a = None if lhs is None else _per_edge(lhs, lt, xp)
    b = None if rhs is None else _per_edge(rhs, rt, xp)
    if op == "copy_lhs":
        return a
    if op == "copy_rhs":
        return b
    k = max(a.ndim, b.ndim) - 1
    a = a.reshape(a.shape[:1] + (1,) * (k - a.ndim + 1) + a.shape[1:])
    b = b.reshape(b.shape[:1] + (1,) * (k - b.ndim + 1) + b.shape[1:])
    if op == "dot":
        return (a * b).sum(-1, keepdims=True)
    return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b}[op]


def _data(op, lt, rt, lf=(2, 3), rf=(2, 3), seed=0):
    rng = np.random.default_rng(seed)
    lhs = rng.uniform(0.5, 2.0, (_rows(lt),) + lf).astype(np.float32)
    rhs = rng.uniform(0.5, 2.0, (_rows(rt),) + rf).astype(np.float32)
    return (
        None if op == "copy_rhs" else jnp.asarray(lhs),
        None if op == "copy_lhs" else jnp.asarray(rhs),
    )


def test_values_match_dense_oracle_eager():
    g = _graph()
    for op, (lt, rt) in itertools.product(OPS, PAIRS):
        lhs, rhs = _data(op, lt, rt)
        out = gsddmm(g, op, lhs, rhs, lhs_target=lt, rhs_target=rt)
        expected = oracle(
            op,
            None if lhs is None else np.asarray(lhs),
            None if rhs is None else np.asarray(rhs),
            lt,
            rt,
        )
        assert out.shape == ((E, 2, 1) if op == "dot" else (E, 2, 3)), (op, lt, rt)
        np.testing.assert_allclose(out, expected, rtol=1e-6, err_msg=f"{op} {lt} {rt}")


@pytest.mark.parametrize("op", ("add", "sub", "mul", "div", "dot"))
def test_jit_values_and_gradients(op):
    """One jit per op over every target pair; gradients vs jax.grad of the dense oracle."""
    g = _graph()
    data = {pair: _data(op, *pair, seed=1) for pair in PAIRS}
    cot_shape = (E, 2, 1) if op == "dot" else (E, 2, 3)
    cot = jnp.asarray(np.random.default_rng(2).normal(size=cot_shape), jnp.float32)

    def run(f):
        def go(data):
            out = {}
            for (lt, rt), (a, b) in data.items():
                loss = lambda a, b, lt=lt, rt=rt: jnp.sum(f(a, b, lt, rt) * cot)
                out[lt + rt] = (f(a, b, lt, rt), jax.grad(loss, (0, 1))(a, b))
            return out

        return go

    got = jax.jit(run(lambda a, b, lt, rt: gsddmm(g, op, a, b, lhs_target=lt, rhs_target=rt)))(data)
    want = run(lambda a, b, lt, rt: oracle(op, a, b, lt, rt, xp=jnp))(data)
    for key in got:
        np.testing.assert_allclose(got[key][0], want[key][0], rtol=1e-5, err_msg=key)
        for x, y in zip(got[key][1], want[key][1]):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=key)


@pytest.mark.parametrize(
    ("lf", "rf", "out_f"),
    [((2, 3), (3,), (2, 3)), ((), (4,), (4,)), ((4, 1), (1, 5), (4, 5)), ((), (), ())],
)
def test_feature_broadcasting(lf, rf, out_f):
    g = _graph()
    lhs, rhs = _data("mul", "u", "e", lf, rf)
    out = gsddmm(g, "mul", lhs, rhs, lhs_target="u", rhs_target="e")
    assert out.shape == (E,) + out_f
    np.testing.assert_allclose(out, oracle("mul", np.asarray(lhs), np.asarray(rhs), "u", "e"))


def test_dot_keeps_trailing_axis_like_dgl():
    g = _graph()
    x = jnp.asarray(np.random.default_rng(0).normal(size=(N, 4)), jnp.float32)
    out = gsddmm(g, "dot", x, x, lhs_target="u", rhs_target="v")
    assert out.shape == (E, 1)
    np.testing.assert_allclose(out[:, 0], np.sum(np.asarray(x)[SRC] * np.asarray(x)[DST], -1))


def test_sparse_tensor_edges_are_coo_order():
    # adj_t rows = destinations, cols = sources; the result follows the tensor's COO order.
    key = np.unique(DST.astype(np.int64) * N + SRC)
    src, dst = (key % N).astype(np.int32), (key // N).astype(np.int32)
    adj_t = SparseTensor(dst[::-1].copy(), src[::-1].copy(), None, (N, N))
    row, col, _ = adj_t.coo()
    x = jnp.arange(N, dtype=jnp.float32)
    y = 10.0 * jnp.arange(N, dtype=jnp.float32)
    out = jax.jit(lambda a, x, y: gsddmm(a, "add", x, y, lhs_target="u", rhs_target="v"))(
        adj_t, x, y
    )
    np.testing.assert_allclose(out, np.asarray(col) + 10.0 * np.asarray(row))
    # The tensor sorted row-major, so results follow (dst, src) order.
    np.testing.assert_allclose(out, src + 10.0 * dst)


def test_bf16():
    g = _graph()
    lhs, rhs = _data("mul", "u", "v", seed=3)
    out = gsddmm(g, "dot", lhs.astype(jnp.bfloat16), rhs.astype(jnp.bfloat16))
    assert out.dtype == jnp.bfloat16
    expected = oracle("dot", np.asarray(lhs), np.asarray(rhs), "u", "v")
    np.testing.assert_allclose(np.asarray(out, np.float32), expected, rtol=3e-2)


def test_empty_graph():
    g = _graph(np.zeros(0, np.int32), np.zeros(0, np.int32))
    out = gsddmm(g, "sub", jnp.ones((N, 2)), jnp.ones((N, 2)))
    assert out.shape == (0, 2)


def test_errors():
    g = _graph()
    x = jnp.ones((N, 3))
    with pytest.raises(ValueError, match="op must be one of"):
        gsddmm(g, "max", x, x)
    with pytest.raises(ValueError, match="lhs_target must be one of"):
        gsddmm(g, "add", x, x, lhs_target="src")
    with pytest.raises(ValueError, match="`rhs` .target 'e'. has 5 rows but the graph has 7 edges"):
        gsddmm(g, "add", x, x, rhs_target="e")
    with pytest.raises(ValueError, match="has 4 rows but the graph has 5"):
        gsddmm(g, "add", x, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="do not broadcast"):
        gsddmm(g, "add", x, jnp.ones((N, 2)))
    with pytest.raises(ValueError, match="needs a feature axis"):
        gsddmm(g, "dot", jnp.ones(N), jnp.ones(N))
    with pytest.raises(TypeError, match="same dtype"):
        gsddmm(g, "add", x, x.astype(jnp.bfloat16))
    with pytest.raises(ValueError, match="`lhs` is required"):
        gsddmm(g, "copy_lhs", None, x)
    # Bipartite data on a graph with node features needs num_nodes=(num_src, num_dst).
    out = gsddmm(g, "copy_rhs", None, jnp.ones((6, 2)), rhs_target="v", num_nodes=(N, 6))
    assert out.shape == (E, 2)
