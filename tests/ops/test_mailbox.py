"""Degree-bucketed mailbox reducers vs segment reducers and a per-node NumPy loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jgnn.ops import MailboxPlan, plan_mailbox, reduce_mailbox, segment_max, segment_sum

N = 9
# In-degrees: node 0: 5, node 1: 1, node 2: 3, node 3: 0, node 4: 2, node 5: 1, node 6..8: 0/1.
RECV = np.array([0, 2, 0, 1, 4, 0, 2, 0, 5, 4, 2, 0, 7], np.int32)
E = len(RECV)


def _messages(shape=(E, 3), seed=0, low=-3.0, high=-0.5):
    # Strictly negative by default: a max that ignored the mask would return the 0 padding.
    return jnp.asarray(np.random.default_rng(seed).uniform(low, high, shape), jnp.float32)


def masked_sum(mailbox, mask):
    return jnp.sum(jnp.where(mask[..., None], mailbox, 0.0), axis=1)


def masked_max(mailbox, mask):
    return jnp.max(jnp.where(mask[..., None], mailbox, -jnp.inf), axis=1)


W = np.random.default_rng(7).normal(size=(3, 3)).astype(np.float32) * 0.5
U = np.random.default_rng(8).normal(size=(3, 3)).astype(np.float32) * 0.5


def rnn_reducer(mailbox, mask):
    """An LSTM-like sequential reducer: h <- tanh(h W + x U), skipping masked slots."""

    def step(h, xs):
        x, m = xs
        new = jnp.tanh(h @ W + x @ U)
        return jnp.where(m[:, None], new, h), None

    h0 = jnp.zeros((mailbox.shape[0], mailbox.shape[2]), mailbox.dtype)
    h, _ = jax.lax.scan(step, h0, (jnp.swapaxes(mailbox, 0, 1), mask.T))
    return h


def rnn_oracle(messages, recv, n):
    """Per-node NumPy loop over the node's messages in increasing edge id order."""
    msgs = np.asarray(messages, np.float64)
    out = np.zeros((n, msgs.shape[1]))
    for v in range(n):
        h = np.zeros(msgs.shape[1])
        for e in np.nonzero(recv == v)[0]:
            h = np.tanh(h @ W + msgs[e] @ U)
        out[v] = h
    return out


def test_plan_layout():
    plan = plan_mailbox(RECV, N)
    deg = np.bincount(RECV, minlength=N)
    # Degrees 1, 2, 3, 5 -> sizes 1, 2, 4, 8 (all powers of two up to 8 present).
    assert [d for _, d in plan.shapes()] == [1, 2, 4, 8]
    # Node counts: 4 nodes of degree 1 -> 4; one of degree 2 -> 1; one of 3 -> 1; one of 5 -> 1.
    assert [b for b, _ in plan.shapes()] == [4, 1, 1, 1]
    seen = []
    for bucket in plan.buckets:
        for node, edges, mask in zip(bucket.node_ids, bucket.edge_ids, bucket.mask):
            if node == N:  # padding row
                assert not mask.any()
                continue
            seen.append(int(node))
            assert mask.sum() == deg[node]
            np.testing.assert_array_equal(edges[mask], np.nonzero(RECV == node)[0])
    assert sorted(seen) == list(np.nonzero(deg)[0])


@given(
    st.lists(st.integers(0, 11), min_size=0, max_size=40),
    st.sampled_from(["pow2", None, (3, 6, 40)]),
)
def test_plan_covers_every_edge_once(recv, node_buckets):
    recv = np.asarray(recv, np.int64)
    plan = plan_mailbox(recv, 12, degree_buckets=(1, 2, 4, 40), node_buckets=node_buckets)
    assert [d for _, d in plan.shapes()] == [1, 2, 4, 40]  # fixed structure
    edges = np.concatenate([b.edge_ids[b.mask] for b in plan.buckets])
    np.testing.assert_array_equal(np.sort(edges), np.arange(len(recv)))
    deg = np.bincount(recv, minlength=12)
    for b in plan.buckets:  # each real row holds exactly its node's edges, in edge id order
        for node, ids, mask in zip(b.node_ids, b.edge_ids, b.mask):
            if node < 12:
                np.testing.assert_array_equal(ids[mask], np.nonzero(recv == node)[0])
            assert mask.sum() == (deg[node] if node < 12 else 0)


@pytest.mark.parametrize(
    ("reducer", "builtin"), [(masked_sum, segment_sum), (masked_max, segment_max)]
)
def test_udf_matches_segment_reducer_eager_and_jit(reducer, builtin):
    plan = plan_mailbox(RECV, N)
    msgs = _messages()
    expected = builtin(msgs, jnp.asarray(RECV), N)
    eager = reduce_mailbox(msgs, plan, reducer, N)
    jitted = jax.jit(lambda m, p: reduce_mailbox(m, p, reducer, N))(msgs, plan)
    np.testing.assert_allclose(eager, expected, rtol=1e-6)
    np.testing.assert_allclose(jitted, expected, rtol=1e-6)
    # Zero in-degree nodes get 0 (node 3, 6, 8).
    np.testing.assert_array_equal(np.asarray(eager)[[3, 6, 8]], 0.0)


def test_mailbox_slots_are_zero_where_masked():
    plan = plan_mailbox(RECV, N)
    seen = []

    def spy(mailbox, mask):
        if not isinstance(mailbox, jax.core.Tracer):  # skip the shape probe
            seen.append((np.asarray(mailbox), np.asarray(mask)))
        return mailbox.sum(1)

    reduce_mailbox(_messages(), plan, spy, N)
    assert len(seen) == len(plan.buckets)
    for mailbox, mask in seen:
        assert np.all(mailbox[~mask] == 0.0)
        assert np.all(mailbox[mask] < 0.0)


def test_sequential_reducer_matches_per_node_loop():
    plan = plan_mailbox(RECV, N)
    msgs = _messages(seed=1, low=-1.0, high=1.0)
    out = jax.jit(lambda m, p: reduce_mailbox(m, p, rnn_reducer, N))(msgs, plan)
    np.testing.assert_allclose(out, rnn_oracle(msgs, RECV, N), rtol=1e-5, atol=1e-6)


def test_gradients():
    plan = plan_mailbox(RECV, N)
    msgs = _messages(seed=2, low=-1.0, high=1.0)
    cot = jnp.asarray(np.random.default_rng(3).normal(size=(N, 3)), jnp.float32)

    @jax.jit
    def grads(m, p):
        g_sum = jax.grad(lambda m: jnp.sum(reduce_mailbox(m, p, masked_sum, N) * cot))(m)
        g_max = jax.grad(lambda m: jnp.sum(reduce_mailbox(m, p, masked_max, N) * cot))(m)
        g_ref = jax.grad(lambda m: jnp.sum(segment_max(m, jnp.asarray(RECV), N) * cot))(m)
        return g_sum, g_max, g_ref

    g_sum, g_max, g_ref = grads(msgs, plan)
    # Sum: the gradient is the cotangent of each message's receiver.
    np.testing.assert_allclose(g_sum, np.asarray(cot)[RECV])
    # Max: same as segment_max's gradient (no ties in continuous data).
    np.testing.assert_allclose(g_max, g_ref)

    # Sequential reducer vs jax.grad of an unbucketed per-node loop written in jnp.
    def loop(m):
        rows = []
        for v in range(N):
            h = jnp.zeros(3)
            for e in np.nonzero(RECV == v)[0]:
                h = jnp.tanh(h @ W + m[e] @ U)
            rows.append(h)
        return jnp.stack(rows)

    g_rnn = jax.jit(jax.grad(lambda m: jnp.sum(reduce_mailbox(m, plan, rnn_reducer, N) * cot)))(
        msgs
    )
    g_loop = jax.jit(jax.grad(lambda m: jnp.sum(loop(m) * cot)))(msgs)
    np.testing.assert_allclose(g_rnn, g_loop, atol=1e-6)


def test_pytree_messages_and_outputs():
    plan = plan_mailbox(RECV, N)
    msgs = {"a": _messages(), "b": _messages((E,), seed=4)}

    def red(mb, mask):
        return {"s": masked_sum(mb["a"], mask), "n": jnp.sum(mask, axis=1).astype(jnp.int32)}

    out = reduce_mailbox(msgs, plan, red, N)
    np.testing.assert_allclose(out["s"], segment_sum(msgs["a"], jnp.asarray(RECV), N), rtol=1e-6)
    np.testing.assert_array_equal(out["n"], np.bincount(RECV, minlength=N))


def test_jitted_reducer_compiles_a_bounded_number_of_times():
    """Graphs with different degree profiles (same N, E) share compiled programs."""
    n, e = 16, 32
    f = jax.jit(lambda m, p: reduce_mailbox(m, p, masked_max, n))
    msgs = _messages((e, 3))
    signatures, profiles = set(), set()
    for seed in range(10):
        recv = np.random.default_rng(seed).integers(0, n, e)
        plan = plan_mailbox(recv, n)
        out = f(msgs, plan)
        np.testing.assert_allclose(out, segment_max(msgs, jnp.asarray(recv), n), rtol=1e-6)
        signatures.add(plan.shapes())
        profiles.add(tuple(np.sort(np.bincount(recv, minlength=n))))
    assert f._cache_size() == len(signatures)
    assert len(signatures) < len(profiles)  # bucketing merged distinct degree profiles


def test_fixed_degree_buckets_and_errors():
    plan = plan_mailbox(RECV, N, degree_buckets=[2, 8], node_buckets=None)
    assert plan.shapes() == ((4, 2), (2, 8))
    np.testing.assert_allclose(
        reduce_mailbox(_messages(), plan, masked_max, N),
        segment_max(_messages(), jnp.asarray(RECV), N),
    )
    with pytest.raises(ValueError, match="largest in-degree is 5"):
        plan_mailbox(RECV, N, degree_buckets=[1, 4])
    with pytest.raises(ValueError, match="must lie in"):
        plan_mailbox(RECV, 3)
    with pytest.raises(ValueError, match="strictly increasing"):
        plan_mailbox(RECV, N, degree_buckets=[4, 2, 8])
    with pytest.raises(TypeError, match="host-side"):
        jax.jit(lambda r: plan_mailbox(r, N))(jnp.asarray(RECV))
    with pytest.raises(ValueError, match="num_nodes=5 but the plan was built for 9"):
        reduce_mailbox(_messages(), plan, masked_sum, 5)
    with pytest.raises(ValueError, match="must have 13 rows"):
        reduce_mailbox(_messages((4, 3)), plan, masked_sum, N)
    with pytest.raises(ValueError, match=r"must return \[B, \*F'\]"):
        reduce_mailbox(_messages(), plan, lambda m, mask: m.sum(), N)
    assert isinstance(plan, MailboxPlan)


def test_empty_graph():
    plan = plan_mailbox(np.zeros(0, np.int32), 4)
    assert plan.buckets == ()
    out = reduce_mailbox(jnp.zeros((0, 2)), plan, masked_sum, 4)
    np.testing.assert_array_equal(out, np.zeros((4, 2)))
