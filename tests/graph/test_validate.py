"""Tests for jgnn.graph._validate: check_graph messages and checkify_graph under jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

from jgnn.graph import batch, check_graph, checkify_graph, from_edge_index


def good_graph():
    return batch(
        [
            from_edge_index(
                np.array([[0, 1, 2], [1, 2, 0]]),
                3,
                nodes={"x": jnp.ones((3, 2))},
                edges=jnp.ones((3,)),
                globals=jnp.zeros((1, 1)),
            ),
            from_edge_index(
                np.array([[0], [1]]),
                2,
                nodes={"x": jnp.ones((2, 2))},
                edges=jnp.ones((1,)),
                globals=jnp.zeros((1, 1)),
            ),
        ]
    )


def test_valid_graph_passes():
    g = good_graph()
    check_graph(g)
    check_graph(g._replace(nodes=None, edges=None, globals=None))


# good_graph(): 5 nodes, 4 edges, 2 graphs.
@pytest.mark.parametrize(
    "change, exc, pattern",
    [
        (
            {"senders": np.array([0, 1, 2, 9], np.int32)},
            ValueError,
            r"`senders` has 1 id\(s\) out of range \[0, 5\): first is 9 at edge position 3; "
            r"the graph has 5 nodes",
        ),
        (
            {"receivers": np.array([1, -2, 0, -1], np.int32)},
            ValueError,
            r"`receivers` has 2 id\(s\) out of range \[0, 5\): first is -2 at edge position 1",
        ),
        (
            {"senders": np.array([0.0, 1, 2, 3], np.float32)},
            TypeError,
            "`senders` must hold integer node ids, got dtype float32",
        ),
        (
            {"receivers": np.array([1, 2, 0], np.int32)},
            ValueError,
            r"same shape, got \(4,\) and \(3,\)",
        ),
        (
            {"n_edge": np.array([3, 2], np.int32)},
            ValueError,
            r"shape \(4,\) but sum\(n_edge\) = 5; expected shape \(5,\)",
        ),
        (
            {"n_node": np.array([3, 3], np.int32)},
            ValueError,
            r"`nodes\['x'\]` has shape \(5, 2\) but sum\(n_node\) = 6",
        ),
        (
            {"n_node": np.array([3, 2, 0], np.int32)},
            ValueError,
            "same length .* got 3 and 2",
        ),
        (
            {"n_node": np.array([3.0, 2.0])},
            TypeError,
            "`n_node` must be an integer array, got dtype float64",
        ),
        (
            {"n_edge": np.array([-1, 5], np.int32)},
            ValueError,
            r"`n_edge` must be non-negative, got \[-1, 5\]",
        ),
        (
            {"edges": jnp.ones((3,))},
            ValueError,
            "`edges` has leading dimension 3 but the graph has 4 edges",
        ),
        (
            {"globals": jnp.ones((3, 1))},
            ValueError,
            "`globals` has leading dimension 3 but the graph has 2 graphs",
        ),
        (
            {"nodes": {"x": jnp.ones((5, 2)).at[1, 0].set(jnp.nan).at[2, 1].set(jnp.nan)}},
            ValueError,
            r"`nodes\['x'\]` has 2 non-finite value\(s\) \(2 NaN, 0 Inf\)",
        ),
        (
            {"edges": jnp.array([1.0, jnp.inf, 1.0, -jnp.inf])},
            ValueError,
            r"`edges` has 2 non-finite value\(s\) \(0 NaN, 2 Inf\)",
        ),
    ],
)
def test_check_graph_messages(change, exc, pattern):
    bad = good_graph()._replace(**change)
    with pytest.raises(exc, match=pattern):
        check_graph(bad)


def test_allow_nonfinite_and_integer_features():
    g = good_graph()
    bad = g._replace(edges=jnp.array([1.0, jnp.nan, 1.0, jnp.inf]))
    check_graph(bad, allow_nonfinite=True)
    check_graph(g._replace(edges=jnp.array([1, 2, 3, 4], jnp.int32)))


def test_check_graph_refuses_tracers():
    with pytest.raises(TypeError, match="use checkify_graph"):
        jax.jit(check_graph)(good_graph())
    with pytest.raises(TypeError, match="jraph.GraphsTuple, got dict"):
        check_graph({"senders": []})


def _checked(fn):
    return jax.jit(checkify.checkify(fn))


def test_checkify_graph_under_jit_reports_out_of_range_ids():
    def f(g):
        checkify_graph(g)
        return jax.ops.segment_sum(g.nodes["x"][g.senders], g.receivers, 5)

    run = _checked(f)
    err, out = run(good_graph())
    assert err.get() is None
    assert out.shape == (5, 2)
    bad = good_graph()._replace(receivers=jnp.array([1, 2, 0, 7], jnp.int32))
    err, _ = run(bad)
    msg = err.get()
    assert msg is not None and "receivers id 7 at edge position 3 is out of range [0, 5)" in msg
    with pytest.raises(checkify.JaxRuntimeError, match="receivers id 7"):
        err.throw()
    neg = good_graph()._replace(senders=jnp.array([0, -1, 2, 3], jnp.int32))
    assert "senders id -1 at edge position 1" in run(neg)[0].get()


def test_checkify_graph_under_jit_reports_nan_and_counts():
    def f(g):
        checkify_graph(g)
        return jnp.sum(g.edges)

    run = _checked(f)
    g = good_graph()
    err, _ = run(g._replace(edges=jnp.array([1.0, jnp.nan, jnp.nan, 1.0])))
    assert "`edges` has 2 non-finite value(s)" in err.get()
    err, _ = run(g._replace(nodes={"x": jnp.ones((5, 2)).at[0, 0].set(jnp.inf)}))
    assert "`nodes['x']` has 1 non-finite value(s)" in err.get()
    err, _ = run(g._replace(n_edge=jnp.array([3, 3], jnp.int32)))
    assert "sum(n_edge) = 6 but the graph has 4 edges" in err.get()
    err, _ = run(g._replace(n_node=jnp.array([3, 3], jnp.int32)))
    assert "sum(n_node) = 6 but `nodes` has 5 rows" in err.get()
    # allow_nonfinite turns the finiteness check off.
    run_ok = _checked(lambda g: (checkify_graph(g, allow_nonfinite=True), jnp.sum(g.edges))[1])
    assert run_ok(g._replace(edges=jnp.array([jnp.nan] * 4)))[0].get() is None


def test_checkify_graph_static_shape_errors_at_trace_time():
    g = good_graph()
    with pytest.raises(ValueError, match=r"1-D of equal shape, got \(4,\) and \(3,\)"):
        _checked(checkify_graph)(g._replace(receivers=g.receivers[:3]))
    with pytest.raises(ValueError, match=r"`edges` has shape \(3,\); expected leading dimension 4"):
        _checked(checkify_graph)(g._replace(edges=jnp.ones(3)))
    with pytest.raises(TypeError, match="integer node ids"):
        _checked(checkify_graph)(g._replace(senders=jnp.zeros(4)))
