"""update_all / apply_edges: every builtin message x reducer vs a dense oracle, UDFs, paths."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jgnn import fn
from jgnn.ops import EdgeBatch, apply_edges, gspmm, plan_mailbox, update_all
from jgnn.sparse import SparseTensor

N = 6
# Node 3 has no in-edges; (0 -> 2) is a parallel edge; 4 -> 4 is a self loop.
SRC = np.array([0, 1, 2, 0, 4, 0, 1, 4, 2, 0, 4], np.int32)
DST = np.array([1, 1, 0, 2, 2, 2, 4, 4, 4, 2, 4], np.int32)
E = len(SRC)
REDUCES = ("sum", "mean", "max", "min", "prod")
MESSAGES = [
    getattr(fn, name) for name in fn.__all__ if isinstance(getattr(fn, name), fn.MessageFunction)
]
MESSAGES = sorted({m.name: m for m in MESSAGES}.values(), key=lambda m: m.name)


def _graph(src=SRC, dst=DST, nodes=True):
    return jraph.GraphsTuple(
        nodes=jnp.zeros((N, 1)) if nodes else None,
        edges=None,
        senders=jnp.asarray(src),
        receivers=jnp.asarray(dst),
        globals=None,
        n_node=jnp.array([N]),
        n_edge=jnp.array([len(src)]),
    )


def _data(seed=0, feat=(2, 3)):
    rng = np.random.default_rng(seed)
    return {
        t: jnp.asarray(rng.uniform(0.5, 2.0, ((E if t == "e" else N),) + feat), jnp.float32)
        for t in ("u", "v", "e")
    }


INC = {
    "u": (SRC[:, None] == np.arange(N)).astype(np.float32),
    "v": (DST[:, None] == np.arange(N)).astype(np.float32),
}
MASK = DST[None, :] == np.arange(N)[:, None]  # [N, E]


def oracle(message, reduce, data, xp=np):
    """Per-edge operands by dense incidence matmuls, then a dense masked [N, E, *F] reduce."""

    def per_edge(t):
        x = data[t]
        if t == "e":
            return x
        return (xp.asarray(INC[t]) @ x.reshape(N, -1)).reshape((E,) + x.shape[1:])

    a = per_edge(message.lhs_target)
    if message.op == "copy":
        msg = a
    else:
        b = per_edge(message.rhs_target)
        msg = {
            "add": lambda: a + b,
            "sub": lambda: a - b,
            "mul": lambda: a * b,
            "div": lambda: a / b,
            "dot": lambda: (a * b).sum(-1, keepdims=True),
        }[message.op]()
    m = MASK.reshape(MASK.shape + (1,) * (msg.ndim - 1))
    dense = msg[None]
    deg = m.sum(1)
    if reduce == "sum":
        out = xp.where(m, dense, 0.0).sum(1)
    elif reduce == "mean":
        out = xp.where(m, dense, 0.0).sum(1) / np.maximum(deg, 1).astype(np.float32)
    elif reduce == "max":
        out = xp.where(m, dense, -np.inf).max(1)
    elif reduce == "min":
        out = xp.where(m, dense, np.inf).min(1)
    else:
        out = xp.where(m, dense, 1.0).prod(1)
    return xp.where(deg > 0, out, 0.0)


def _kwargs(message, data):
    return {t: data[t] for t in message.targets}


def test_fn_message_list_is_complete():
    assert len(MESSAGES) == 32  # copy_u, copy_e and 30 binary combinations


def _cot(message, seed):
    shape = (N, 2, 1 if message.op == "dot" else 3)
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


def test_every_builtin_message_and_reducer_eager():
    """Values of all 32 x 5 pairs, eagerly, vs the dense masked NumPy oracle."""
    g = _graph()
    for i, message in enumerate(MESSAGES):
        kw = _kwargs(message, _data(seed=i))
        np_kw = {k: np.asarray(v, np.float64) for k, v in kw.items()}
        for reduce in REDUCES:
            out = update_all(g, message, reduce, **kw)
            expected = oracle(message, reduce, np_kw)
            assert out.shape == expected.shape, message.name
            msg = f"{message.name} {reduce}"
            np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6, err_msg=msg)
            np.testing.assert_array_equal(np.asarray(out)[3], 0.0)  # zero in-degree node


def test_every_builtin_message_gradients_eager():
    """Gradients w.r.t. every operand of all 32 messages (reduced by mean), eagerly.

    The reducers' own gradients are covered for every reducer by the jit test below and by
    the segment reducer tests; update_all composes the two.
    """
    g = _graph()
    for i, message in enumerate(MESSAGES):
        kw = _kwargs(message, _data(seed=i))
        cot = _cot(message, i)
        got = jax.grad(lambda kw: jnp.sum(update_all(g, message, "mean", **kw) * cot))(kw)
        want = jax.grad(lambda kw: jnp.sum(oracle(message, "mean", kw, xp=jnp) * cot))(kw)
        for t in kw:
            np.testing.assert_allclose(
                got[t], want[t], rtol=1e-4, atol=1e-5, err_msg=f"{message.name} d/d{t}"
            )


# One message per dispatch path: one gspmm (u_op_e) and gsddmm + segment reduce (a
# non-commutative e_op_u).
JIT_MESSAGES = (fn.u_div_e, fn.e_sub_u)


def test_builtin_messages_under_jit():
    """One jit: every message (reducers cycled, so every reducer too) and the gradients of every
    reducer for one message per dispatch path. (All 160 pairs run eagerly above; compiling them
    all would cost ~10 s of CPU for no new code path.)"""
    g = _graph()
    per_msg = {m.name: _kwargs(m, _data(seed=i)) for i, m in enumerate(MESSAGES)}
    by_name = {m.name: m for m in MESSAGES}

    def values(per_msg):
        out = {}
        for i, (name, kw) in enumerate(per_msg.items()):
            r = REDUCES[i % len(REDUCES)]
            out[(name, r)] = update_all(g, by_name[name], r, **kw)
        return out

    def grads(f, per_msg):
        out = {}
        for m in JIT_MESSAGES:
            for r in REDUCES:
                loss = lambda kw, m=m, r=r: jnp.sum(f(m, r, kw) * _cot(m, 0))
                out[(m.name, r)] = jax.grad(loss)(per_msg[m.name])
        return out

    got_values = jax.jit(values)(per_msg)
    for (name, r), out in got_values.items():
        np_kw = {k: np.asarray(v, np.float64) for k, v in per_msg[name].items()}
        np.testing.assert_allclose(
            out, oracle(by_name[name], r, np_kw), rtol=1e-5, atol=1e-6, err_msg=f"{name} {r}"
        )
    ours = lambda m, r, kw: update_all(g, m, r, **kw)
    dense = lambda m, r, kw: oracle(m, r, kw, xp=jnp)
    got = jax.jit(lambda p: grads(ours, p))(per_msg)
    want = jax.jit(lambda p: grads(dense, p))(per_msg)
    for key, got_kw in got.items():
        for t in got_kw:
            np.testing.assert_allclose(
                got_kw[t], want[key][t], rtol=1e-4, atol=1e-5, err_msg=f"{key} d/d{t}"
            )


def _unique_edges():
    key = np.unique(DST.astype(np.int64) * N + SRC)
    return (key % N).astype(np.int32), (key // N).astype(np.int32)


def test_gspmm_expressible_builtins_fuse_on_a_sparse_tensor():
    src, dst = _unique_edges()
    adj_t = SparseTensor(dst, src, None, (N, N))
    g = _graph(src, dst)
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.normal(size=(N, 4)), jnp.float32)
    w = jnp.asarray(rng.uniform(0.5, 2.0, size=(len(src), 1)), jnp.float32)
    row, col, _ = adj_t.coo()
    w_coo = w[np.argsort(dst.astype(np.int64) * N + src)]  # edge data in the tensor's order
    for message in (fn.copy_u, fn.u_mul_e, fn.e_mul_u, fn.src_mul_edge):
        for reduce in ("sum", "mean"):
            kw_g = {"u": x, "e": w} if message.op != "copy" else {"u": x}
            kw_s = {"u": x, "e": w_coo} if message.op != "copy" else {"u": x}
            fused = jax.jit(
                lambda a, kw, m=message, r=reduce: update_all(a, m, r, impl="bcsr", **kw)
            )
            np.testing.assert_allclose(
                fused(adj_t, kw_s), update_all(g, message, reduce, **kw_g), rtol=1e-5, atol=1e-6
            )
    # Messages that one gspmm cannot express refuse a sparse impl...
    with pytest.raises(NotImplementedError, match="impl='auto' or 'segment'"):
        update_all(adj_t, fn.u_add_v, fn.sum, u=x, v=x, impl="bcsr")
    with pytest.raises(NotImplementedError, match="impl='auto' or 'segment'"):
        update_all(adj_t, fn.e_sub_u, fn.sum, u=x, e=w_coo, impl="bcsr")
    # ...and run as gsddmm + segment reduce otherwise (values agree with the edge list).
    np.testing.assert_allclose(
        update_all(adj_t, fn.e_sub_u, fn.max, u=x, e=w_coo),
        update_all(g, fn.e_sub_u, fn.max, u=x, e=w),
        rtol=1e-6,
    )


def test_e_op_u_commutative_equals_u_op_e():
    data = _data(seed=3)
    g = _graph()
    for a, b in ((fn.e_mul_u, fn.u_mul_e), (fn.e_add_u, fn.u_add_e)):
        np.testing.assert_allclose(
            update_all(g, a, "max", u=data["u"], e=data["e"]),
            update_all(g, b, "max", u=data["u"], e=data["e"]),
            rtol=1e-6,
        )


def test_udf_message_is_lazy_and_matches_builtin():
    g = _graph()
    data = _data(seed=4)
    # Only `data` is read: no source data is needed (and none is gathered).
    only_e = update_all(g, lambda edges: edges.data * 2.0, fn.sum, e=data["e"])
    np.testing.assert_allclose(only_e, 2.0 * oracle(fn.copy_e, "sum", data), rtol=1e-6)
    jaxpr = jax.make_jaxpr(lambda u, e: update_all(g, lambda ed: ed.data, fn.sum, u=u, e=e))(
        data["u"], data["e"]
    )
    assert "gather" not in str(jaxpr)
    jaxpr_src = jax.make_jaxpr(lambda u, e: update_all(g, lambda ed: ed.src, fn.sum, u=u, e=e))(
        data["u"], data["e"]
    )
    assert "gather" in str(jaxpr_src)  # so the check above can fail
    # A UDF equal to a builtin gives the builtin's result, also with pytree node data.
    udf = lambda edges: edges.src["h"] * edges.dst["h"]
    out = jax.jit(lambda u, v: update_all(g, udf, fn.mean, u=u, v=v))(
        {"h": data["u"]}, {"h": data["v"]}
    )
    np.testing.assert_allclose(out, oracle(fn.u_mul_v, "mean", data), rtol=1e-5)
    with pytest.raises(ValueError, match="edges.src but no `u` data"):
        update_all(g, lambda edges: edges.src, fn.sum, e=data["e"])


def test_edge_batch_caches_and_describes_edges():
    src, dst = jnp.asarray(SRC), jnp.asarray(DST)
    b = EdgeBatch(src, dst, u=jnp.arange(N, dtype=jnp.float32))
    assert b.src is b.src  # gathered once
    np.testing.assert_array_equal(b.src, SRC.astype(np.float32))
    s, d, ids = b.edges()
    np.testing.assert_array_equal(ids, np.arange(E))
    assert b.batch_size() == E


def test_udf_reducer_with_plan():
    g = _graph()
    data = _data(seed=6)
    plan = plan_mailbox(DST, N)

    def masked_max(mailbox, mask):
        return jnp.max(jnp.where(mask[..., None, None], mailbox, -jnp.inf), axis=1)

    want = update_all(g, fn.u_sub_e, fn.max, u=data["u"], e=data["e"])
    got = jax.jit(lambda u, e, p: update_all(g, fn.u_sub_e, masked_max, u=u, e=e, plan=p))(
        data["u"], data["e"], plan
    )
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # Eager without a plan builds one from the concrete receivers.
    np.testing.assert_allclose(
        update_all(g, fn.u_sub_e, masked_max, u=data["u"], e=data["e"]), want, rtol=1e-6
    )
    with pytest.raises(TypeError, match="plan=plan_mailbox"):
        jax.jit(lambda g, u: update_all(g, fn.copy_u, masked_max, u=u))(g, data["u"])
    with pytest.raises(ValueError, match="plan was built for 3 edges"):
        update_all(g, fn.copy_u, masked_max, u=data["u"], plan=plan_mailbox([0, 1, 1], N))


def test_apply_edges_and_reduce_none():
    g = _graph()
    data = _data(seed=7)
    for message in (fn.u_dot_v, fn.e_div_v, fn.copy_e):
        kw = _kwargs(message, data)
        out = apply_edges(g, message, **kw)
        expected_sum = oracle(message, "sum", data)
        np.testing.assert_allclose(
            jax.ops.segment_sum(out, jnp.asarray(DST), N), expected_sum, rtol=1e-5
        )
        np.testing.assert_allclose(update_all(g, message, fn.none, **kw), out)
    np.testing.assert_allclose(
        apply_edges(g, lambda edges: edges.src - edges.dst, u=data["u"], v=data["v"]),
        apply_edges(g, fn.u_sub_v, u=data["u"], v=data["v"]),
    )


def test_zero_degree_and_bf16():
    g = _graph()
    data = {k: v.astype(jnp.bfloat16) for k, v in _data(seed=8).items()}
    ref = {k: np.asarray(v, np.float32) for k, v in data.items()}
    for message, reduce in ((fn.u_mul_e, "sum"), (fn.u_add_v, "mean"), (fn.e_dot_u, "max")):
        out = update_all(g, message, reduce, **_kwargs(message, data))
        assert out.dtype == jnp.bfloat16
        np.testing.assert_allclose(
            np.asarray(out, np.float32), oracle(message, reduce, ref), rtol=3e-2, atol=3e-2
        )
        assert np.all(np.asarray(out, np.float32)[3] == 0.0)


def test_bipartite_counts_from_data():
    # No node features: counts come from u (sources) and v (destinations).
    src = np.array([0, 1, 2, 2], np.int32)
    dst = np.array([0, 0, 1, 1], np.int32)
    g = _graph(src, dst, nodes=False)
    u = jnp.arange(3.0)[:, None]
    v = jnp.ones((2, 1))
    out = update_all(g, fn.u_add_v, fn.sum, u=u, v=v)
    np.testing.assert_allclose(out, [[3.0], [6.0]])
    assert update_all(g, fn.copy_u, fn.sum, u=u, num_nodes=(3, 4)).shape == (4, 1)


def test_errors():
    g = _graph()
    data = _data()
    with pytest.raises(ValueError, match="reads target 'v'"):
        update_all(g, fn.u_add_v, fn.sum, u=data["u"])
    with pytest.raises(TypeError, match="message must be"):
        update_all(g, "copy_u", fn.sum, u=data["u"])
    with pytest.raises(TypeError, match="reduce must be"):
        update_all(g, fn.copy_u, 3, u=data["u"])
    with pytest.raises(ValueError, match="Unknown reducer"):
        update_all(g, fn.copy_u, "median", u=data["u"])
    with pytest.raises(ValueError, match="impl must be one of"):
        update_all(g, fn.copy_u, "sum", u=data["u"], impl="dense")


def test_builtin_equals_direct_gspmm_call():
    g = _graph()
    data = _data(seed=9)
    np.testing.assert_array_equal(
        update_all(g, fn.u_div_e, fn.min, u=data["u"], e=data["e"]),
        gspmm(g, "div", "min", data["u"], data["e"]),
    )
