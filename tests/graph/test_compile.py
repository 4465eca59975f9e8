"""Tests for jgnn.graph._compile.CompileCounter and the bucketing recompile budget."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax._src import monitoring as jax_monitoring

from jgnn.graph import BucketPolicy, CompileCounter, from_edge_index, num_nodes, pad_to_bucket


def _listeners():
    return jax_monitoring.get_event_duration_listeners()


def test_counts_compilations_per_new_shape():
    def double(x):
        return x * 2.0

    f = jax.jit(double)
    with CompileCounter(match="double") as cc:
        f(jnp.ones(3))
        f(jnp.ones(3))  # cached
        f(jnp.ones(4))  # new shape
        f(jnp.ones((2, 2)))  # new shape
    assert cc.count == 3
    assert cc.names == ["jit(double)"] * 3
    assert cc.seconds > 0.0
    cc.assert_at_most(3)
    with pytest.raises(AssertionError, match=r"3 compilations exceed the budget of 2"):
        cc.assert_at_most(2)


def test_match_filters_and_nesting():
    def triple(x):
        return x * 3.0

    def square(x):
        return x * x

    f, g = jax.jit(triple), jax.jit(square)
    with CompileCounter() as outer:
        f(jnp.ones(5))
        with CompileCounter(match="square") as inner:
            g(jnp.ones(5))
            f(jnp.ones(6))
    assert inner.count == 1 and inner.names == ["jit(square)"]
    assert outer.names.count("jit(triple)") == 2 and outer.names.count("jit(square)") == 1
    assert outer.count >= 3


def test_listener_removed_on_exit_even_after_error():
    before = len(_listeners())
    cc = CompileCounter()
    with pytest.raises(RuntimeError, match="boom"):
        with cc:
            assert len(_listeners()) == before + 1
            raise RuntimeError("boom")
    assert len(_listeners()) == before
    jax.jit(lambda x: x - 7.0)(jnp.ones(7))
    assert cc.count == 0  # nothing counted after exit
    with pytest.raises(TypeError, match="`match` must be a str"):
        CompileCounter(match=3)
    with cc:
        with pytest.raises(RuntimeError, match="already active"):
            cc.__enter__()


def test_bucketing_bounds_recompiles():
    """A jitted step over 20 random graphs compiles once per bucket, not once per graph."""
    rng = np.random.default_rng(0)
    graphs = []
    for _ in range(20):
        n = int(rng.integers(2, 30))
        e = int(rng.integers(1, 60))
        graphs.append(
            from_edge_index(
                rng.integers(0, n, size=(2, e)), n, nodes=rng.normal(size=(n, 4)).astype(np.float32)
            )
        )
    policy = BucketPolicy.powers_of_two()
    buckets = {policy.choose(num_nodes(g), int(g.n_edge[0]), 1) for g in graphs}

    def step(g):
        return jax.ops.segment_sum(g.nodes[g.senders], g.receivers, num_nodes(g)).sum()

    padded_step = jax.jit(step)
    with CompileCounter(match="jit(step)") as cc:
        padded = [float(padded_step(pad_to_bucket(g, policy))) for g in graphs]
    assert cc.count == len(buckets) <= 8
    cc.assert_at_most(8)
    # Same values as without padding (checked on the first 8 graphs to keep the test fast), and
    # without padding every distinct shape compiles.
    raw_step = jax.jit(step)
    with CompileCounter(match="jit(step)") as raw:
        unpadded = [float(raw_step(g)) for g in graphs[:8]]
    np.testing.assert_allclose(padded[:8], unpadded, rtol=1e-5, atol=1e-5)
    shapes = {(num_nodes(g), int(g.n_edge[0])) for g in graphs[:8]}
    assert raw.count == len(shapes) == 8
