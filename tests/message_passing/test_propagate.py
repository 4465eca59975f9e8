"""propagate against a dense masked oracle (tests/message_passing/conftest.py).

Covers every aggregate (eager, jit, gradients), messages reading x_i / x_j / edge_attr,
bipartite inputs, callable and list aggregates, the three graph forms, lazy gathering and
padding invariance (builtin messages and the fused path: test_propagate_fused.py; errors:
test_propagate_errors.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _mp_oracle import (
    TOL,
    F,
    adj_t,
    coo_perm,
    dense_reduce,
    graphs_tuple,
    msg,
    msg_oracle,
    node_edge_data,
    normal,
    np_reduce,
    random_topo,
    uniform,
)
from hypothesis import given
from hypothesis import strategies as st

from jgnn import fn
from jgnn.graph import from_edge_index, pad_graph
from jgnn.message_passing import AGGREGATES, Edges, propagate

# --------------------------------------------------------------------------------------------
# Every aggregate against the dense oracle
# --------------------------------------------------------------------------------------------


def _all_aggregates(g, x, ea):
    """propagate once per aggregate (one compiled program under jit for the whole set)."""
    return [propagate(g, x, message=msg, aggregate=a, edge_attr=ea) for a in AGGREGATES]


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_every_aggregate_matches_dense_oracle(mode):
    topo = random_topo(1)
    x, ea, _ = node_edge_data(topo)
    run = jax.jit(_all_aggregates) if mode == "jit" else _all_aggregates
    outs = run(graphs_tuple(topo), x, ea)
    m = msg_oracle(topo, x, ea)
    for aggregate, out in zip(AGGREGATES, outs, strict=True):
        want = dense_reduce(m, topo, aggregate)
        assert out.shape == (topo.n_dst, F) and out.dtype == jnp.float32
        np.testing.assert_allclose(out, want, **TOL, err_msg=aggregate)
        np.testing.assert_array_equal(out[-1], 0.0)  # the last node has no incoming edge


GRAD_AGGREGATES = tuple(a for a in AGGREGATES if a != "add")  # "add" is "sum"


def test_gradients_match_dense_oracle():
    topo = random_topo(2)
    x, ea, cot = node_edge_data(topo, seed=2)

    @jax.jit
    def grads(x, ea):
        def loss(x, ea, aggregate):
            out = propagate(graphs_tuple(topo), x, message=msg, aggregate=aggregate, edge_attr=ea)
            return jnp.sum(out * cot)

        return [jax.grad(loss, (0, 1))(x, ea, a) for a in GRAD_AGGREGATES]

    @jax.jit
    def oracle_grads(x, ea):
        def loss(x, ea, aggregate):
            return jnp.sum(dense_reduce(msg_oracle(topo, x, ea), topo, aggregate) * cot)

        return [jax.grad(loss, (0, 1))(x, ea, a) for a in GRAD_AGGREGATES]

    for aggregate, got, want in zip(
        GRAD_AGGREGATES, grads(x, ea), oracle_grads(x, ea), strict=True
    ):
        for g, w in zip(got, want, strict=True):
            assert np.all(np.isfinite(g)), aggregate
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4, err_msg=aggregate)
        assert np.abs(np.asarray(got[1])).sum() > 0, aggregate  # edge_attr gets a gradient


def test_softmax_pair_is_attention_over_incoming_edges():
    topo = random_topo(3)
    heads, f = 2, 3
    logits = normal(30, (topo.num_edges, heads))
    values = normal(31, (topo.num_edges, heads, f))
    x = jnp.zeros((topo.n_src, 1))

    def message(edges):
        return logits, values

    out = jax.jit(lambda x: propagate(topo.edge_index, x, message=message, aggregate="softmax"))(x)
    want = np.zeros((topo.n_dst, heads, f))
    lg, vs = np.asarray(logits, np.float64), np.asarray(values, np.float64)
    for i in range(topo.n_dst):
        sel = topo.dst == i
        if sel.any():
            w = np.exp(lg[sel] - lg[sel].max(0))
            w /= w.sum(0)
            want[i] = np.sum(w[..., None] * vs[sel], axis=0)
    assert out.shape == (topo.n_dst, heads, f)
    np.testing.assert_allclose(out, want, **TOL)

    # 1-D logits weight whole rows of [E, F] values; edges into one node sum to a convex mix.
    ones = jnp.ones((topo.num_edges, f))
    out1 = propagate(
        topo.edge_index, x, message=lambda e: (logits[:, 0], ones), aggregate="softmax"
    )
    has_in = np.isin(np.arange(topo.n_dst), topo.dst)
    np.testing.assert_allclose(out1, np.where(has_in[:, None], np.ones((1, f)), 0.0), **TOL)


def test_list_aggregate_concatenates_on_last_axis():
    topo = random_topo(4)
    x, ea, _ = node_edge_data(topo, seed=4)
    aggs = ["sum", "max", "mean"]
    out = propagate(graphs_tuple(topo), x, message=msg, aggregate=aggs, edge_attr=ea)
    m = msg_oracle(topo, x, ea)
    want = jnp.concatenate([dense_reduce(m, topo, a) for a in aggs], axis=-1)
    assert out.shape == (topo.n_dst, 3 * F)
    np.testing.assert_allclose(out, want, **TOL)

    # 1-D messages give one column per reducer.
    out1 = propagate(graphs_tuple(topo), x[:, 0], aggregate=("min", "var"))
    m1 = x[topo.src, 0]
    want1 = jnp.stack([dense_reduce(m1, topo, "min"), dense_reduce(m1, topo, "var")], -1)
    np.testing.assert_allclose(out1, want1, **TOL)


def test_callable_and_builtin_reducer_aggregates():
    topo = random_topo(5)
    x, _, _ = node_edge_data(topo, seed=5)
    calls = []

    def sum_of_squares(messages, index, num_segments):
        calls.append((messages.shape, num_segments))
        return jax.ops.segment_sum(messages * messages, index, num_segments)

    out = propagate(topo.edge_index, x, aggregate=sum_of_squares)
    np.testing.assert_allclose(out, dense_reduce(x[topo.src] ** 2, topo, "sum"), **TOL)
    assert calls == [((topo.num_edges, F), topo.n_dst)]

    mixed = propagate(topo.edge_index, x, aggregate=[sum_of_squares, fn.max])
    want = jnp.concatenate(
        [dense_reduce(x[topo.src] ** 2, topo, "sum"), dense_reduce(x[topo.src], topo, "max")],
        axis=-1,
    )
    np.testing.assert_allclose(mixed, want, **TOL)


# --------------------------------------------------------------------------------------------
# Default message, graph forms, bipartite inputs, update
# --------------------------------------------------------------------------------------------


def test_default_message_is_adj_t_matmul():
    topo = random_topo(6, unique=False, num_edges=20)  # parallel edges count twice
    x, _, _ = node_edge_data(topo, seed=6)
    w = uniform(60, (topo.num_edges,))
    adj_t = np.zeros((topo.n_dst, topo.n_src))
    weighted = np.zeros((topo.n_dst, topo.n_src))
    np.add.at(adj_t, (topo.dst, topo.src), 1.0)
    np.add.at(weighted, (topo.dst, topo.src), np.asarray(w, np.float64))
    np.testing.assert_allclose(propagate(graphs_tuple(topo), x), adj_t @ np.asarray(x), **TOL)
    np.testing.assert_allclose(
        propagate(graphs_tuple(topo), x, edge_attr=w), weighted @ np.asarray(x), **TOL
    )
    np.testing.assert_allclose(
        propagate(graphs_tuple(topo), x, edge_attr=w[:, None]), weighted @ np.asarray(x), **TOL
    )


@pytest.mark.parametrize("form", ["graphs_tuple", "no_nodes", "edge_index", "sparse"])
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_graph_forms_agree(form, mode):
    topo = random_topo(7)
    x, ea, _ = node_edge_data(topo, seed=7)
    if form == "sparse":
        graph, attr = adj_t(topo), ea[coo_perm(topo)]
    else:
        graph = {
            "graphs_tuple": graphs_tuple(topo),
            "no_nodes": graphs_tuple(topo, nodes=False),
            "edge_index": jnp.asarray(topo.edge_index),
        }[form]
        attr = ea

    def run(graph, x, attr):
        return propagate(graph, x, message=msg, aggregate="max", edge_attr=attr)

    if mode == "jit":
        run = jax.jit(run)
    want = dense_reduce(msg_oracle(topo, x, ea), topo, "max")
    np.testing.assert_allclose(run(graph, x, attr), want, **TOL)


def test_sparse_tensor_values_are_the_default_edge_attr():
    topo = random_topo(8)
    x, ea, _ = node_edge_data(topo, seed=8)
    adj = adj_t(topo, value=ea)
    out = propagate(adj, x, message=msg, aggregate="sum", fuse=False)
    np.testing.assert_allclose(out, dense_reduce(msg_oracle(topo, x, ea), topo, "sum"), **TOL)
    # An explicit edge_attr (COO order) overrides the stored values.
    ea2 = ea * 2.0
    out2 = propagate(adj, x, message=msg, edge_attr=ea2[coo_perm(topo)], fuse=False)
    np.testing.assert_allclose(out2, dense_reduce(msg_oracle(topo, x, ea2), topo, "sum"), **TOL)


@pytest.mark.parametrize("form", ["edge_index", "no_nodes", "sparse"])
def test_bipartite_pair(form):
    topo = random_topo(9, n_src=5, n_dst=4, num_edges=10)
    xs = normal(91, (topo.n_src, F))
    xd = normal(92, (topo.n_dst, F))
    graph = {
        "edge_index": jnp.asarray(topo.edge_index),
        "no_nodes": graphs_tuple(topo, nodes=False),
        "sparse": adj_t(topo),
    }[form]

    def message(edges):
        assert (edges.num_src, edges.num_dst) == (topo.n_src, topo.n_dst)
        return edges.x_j * edges.x_i

    out = propagate(graph, (xs, xd), message=message, aggregate="mean")
    want = dense_reduce(xs[topo.src] * xd[topo.dst], topo, "mean")
    assert out.shape == (topo.n_dst, F)
    np.testing.assert_allclose(out, want, **TOL)

    # Builtin u_mul_v reads x_dst as its "v" operand.
    out_fn = propagate(graph, (xs, xd), message=fn.u_mul_v, aggregate="mean")
    np.testing.assert_allclose(out_fn, want, **TOL)

    # x_dst=None: the destination count comes from num_nodes (or the SparseTensor) and
    # update receives None.
    seen = []
    sizes = None if form == "sparse" else (topo.n_src, topo.n_dst)
    out_none = propagate(
        graph,
        (xs, None),
        num_nodes=sizes,
        update=lambda aggr, x_dst: seen.append(x_dst) or aggr,
    )
    np.testing.assert_allclose(out_none, dense_reduce(xs[topo.src], topo, "sum"), **TOL)
    assert seen == [None]


def test_bipartite_gradients_reach_both_node_sets():
    topo = random_topo(9, n_src=5, n_dst=4, num_edges=10)
    xs = normal(93, (topo.n_src, F))
    xd = normal(94, (topo.n_dst, F))

    def loss(xs, xd):
        out = propagate(
            topo.edge_index, (xs, xd), message=lambda e: e.x_j * e.x_i, aggregate="mean"
        )
        return jnp.sum(out**2)

    def oracle(xs, xd):
        return jnp.sum(dense_reduce(xs[topo.src] * xd[topo.dst], topo, "mean") ** 2)

    got = jax.jit(jax.grad(loss, (0, 1)))(xs, xd)
    for g, w in zip(got, jax.jit(jax.grad(oracle, (0, 1)))(xs, xd), strict=True):
        assert np.abs(np.asarray(g)).sum() > 0
        np.testing.assert_allclose(g, w, **TOL)


def test_update_gets_aggregate_and_destination_features():
    topo = random_topo(10)
    x, _, _ = node_edge_data(topo, seed=10)
    w = jnp.arange(F * 2, dtype=jnp.float32).reshape(F, 2)

    def update(aggr, x_dst):
        return aggr @ w + x_dst[:, :2]

    out = propagate(graphs_tuple(topo), x, aggregate="mean", update=update)
    want = dense_reduce(x[topo.src], topo, "mean") @ w + x[:, :2]
    np.testing.assert_allclose(out, want, **TOL)


def test_empty_graph_gives_zeros():
    topo = random_topo(11, num_edges=0)
    x = jnp.ones((topo.n_src, F))
    run = jax.jit(lambda ei, x: propagate(ei, x, aggregate=list(AGGREGATES)))
    out = run(jnp.zeros((2, 0), jnp.int32), x)
    np.testing.assert_array_equal(out, np.zeros((topo.n_dst, F * len(AGGREGATES))))


def test_low_precision_keeps_dtype():
    topo = random_topo(12)
    x, _, _ = node_edge_data(topo, seed=12)
    out = propagate(graphs_tuple(topo), x.astype(jnp.bfloat16), aggregate="mean")
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(
        out.astype(jnp.float32), dense_reduce(x[topo.src], topo, "mean"), rtol=2e-2, atol=2e-2
    )


# --------------------------------------------------------------------------------------------
# Lazy gathering
# --------------------------------------------------------------------------------------------


def _count_gathers(jaxpr) -> int:
    """Number of ``gather`` equations in a jaxpr, nested sub-jaxprs included."""
    count = 0
    for eqn in jaxpr.eqns:
        count += eqn.primitive.name == "gather"
        for value in eqn.params.values():
            for sub in value if isinstance(value, (list, tuple)) else (value,):
                sub = getattr(sub, "jaxpr", sub)
                if hasattr(sub, "eqns"):
                    count += _count_gathers(sub)
    return count


def test_message_ignoring_x_i_does_not_gather_it():
    topo = random_topo(16)
    x, _, _ = node_edge_data(topo, seed=16)
    seen = []

    def only_j(edges):
        seen.append(edges)
        return edges.x_j * 2.0

    def both(edges):
        seen.append(edges)
        return edges.x_j - edges.x_i

    propagate(graphs_tuple(topo), x, message=only_j)  # eager
    assert isinstance(seen[-1], Edges) and seen[-1].gathered == ("x_j",)
    propagate(graphs_tuple(topo), x, message=both)
    assert seen[-1].gathered == ("x_j", "x_i")

    # Traced: the program holds one gather for x_j alone, two when x_i is read too.
    g = graphs_tuple(topo)
    one = jax.make_jaxpr(lambda x: propagate(g, x, message=only_j))(x)
    two = jax.make_jaxpr(lambda x: propagate(g, x, message=both))(x)
    assert _count_gathers(one.jaxpr) == 1
    assert _count_gathers(two.jaxpr) == 2


def test_edges_view_exposes_indices_and_attrs():
    topo = random_topo(17)
    x, ea, _ = node_edge_data(topo, seed=17)
    captured = {}

    def message(edges):
        captured.update(
            index_i=edges.index_i, index_j=edges.index_j, attr=edges.edge_attr, e=edges.num_edges
        )
        return edges.x_j

    propagate(topo.edge_index, x, message=message, edge_attr=ea)
    np.testing.assert_array_equal(captured["index_i"], topo.dst)
    np.testing.assert_array_equal(captured["index_j"], topo.src)
    np.testing.assert_array_equal(captured["attr"], ea)
    assert captured["e"] == topo.num_edges


# --------------------------------------------------------------------------------------------
# Padding invariance
# --------------------------------------------------------------------------------------------


def test_padding_does_not_change_real_nodes():
    topo = random_topo(18)
    x, ea, _ = node_edge_data(topo, seed=18)
    n, e = topo.n_src, topo.num_edges
    g = from_edge_index(topo.edge_index, n, nodes=x, edges=ea)
    padded = pad_graph(g, n + 3, e + 5, 3)
    # Non-zero junk on padding nodes and edges must not leak into real nodes.
    junk = normal(180, (3, F), scale=100.0)
    xp = padded.nodes.at[n:].set(junk)
    eap = padded.edges.at[e:].set(7.0)
    run = jax.jit(_all_aggregates)
    for aggregate, out, outp in zip(AGGREGATES, run(g, x, ea), run(padded, xp, eap), strict=True):
        assert outp.shape == (n + 3, F)
        np.testing.assert_allclose(outp[:n], out, **TOL, err_msg=aggregate)
    fused = propagate(padded, xp, aggregate="sum", fuse=True)[:n]
    np.testing.assert_allclose(fused, propagate(g, x, aggregate="sum"), **TOL)


# --------------------------------------------------------------------------------------------
# Property test: random graphs with parallel edges, default weighted message
# --------------------------------------------------------------------------------------------


@jax.jit
def _default_message_all_aggregates(ei, x, w):
    return [propagate(ei, x, edge_attr=w, aggregate=a) for a in AGGREGATES]


@given(
    edges=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=8, max_size=8),
    seed=st.integers(0, 2**16),
)
def test_random_graphs_match_oracle(edges, seed):
    # Fixed shapes (5 nodes, 8 edges, parallel edges and self loops allowed) so that the
    # program compiles once; the oracle is a per-node NumPy loop in float64.
    ei = np.array(edges, np.int32).T
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(5, 2)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, size=8).astype(np.float32)
    outs = _default_message_all_aggregates(ei, x, w)
    for aggregate, out in zip(AGGREGATES, outs, strict=True):
        want = np_reduce(x[ei[0]] * w[:, None], ei[1], 5, aggregate)
        np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5, err_msg=aggregate)
