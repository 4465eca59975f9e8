"""Tests for jgnn.graph._transform against dense-adjacency oracles (and PyG where marked)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jgnn.graph import (
    add_remaining_self_loops,
    add_self_loops,
    batch,
    coalesce,
    degree,
    from_edge_index,
    in_degree,
    out_degree,
    remove_self_loops,
    to_edge_index,
    to_undirected,
    unbatch,
)


@st.composite
def graphs(draw, max_nodes=6, max_edges=12):
    """Small single graph with duplicate edges allowed and float edge weights [E]."""
    n = draw(st.integers(1, max_nodes))
    pairs = draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=max_edges)
    )
    ei = np.array(pairs, dtype=np.int32).reshape(-1, 2).T
    w = np.asarray(draw(st.permutations(range(1, ei.shape[1] + 1))), np.float32)
    return from_edge_index(ei, n, edges=jnp.asarray(w))


def dense(g, n):
    """Dense weighted adjacency A[s, r] (sum over duplicate edges) and edge counts C[s, r]."""
    s, r = np.asarray(g.senders), np.asarray(g.receivers)
    a = np.zeros((n, n), np.float64)
    c = np.zeros((n, n), np.int64)
    w = np.ones(s.shape[0]) if g.edges is None else np.asarray(g.edges, np.float64)
    np.add.at(a, (s, r), w)
    np.add.at(c, (s, r), 1)
    return a, c


def sample_batch():
    g1 = from_edge_index(
        np.array([[0, 1, 1, 2, 2], [1, 0, 0, 2, 0]]), 3, edges=jnp.array([1.0, 2.0, 3.0, 4.0, 5.0])
    )
    g2 = from_edge_index(np.array([[1, 0], [1, 1]]), 2, edges=jnp.array([6.0, 7.0]))
    g3 = from_edge_index(np.array([[0, 0], [1, 1]]), 4, edges=jnp.array([8.0, 9.0]))
    return [g1, g2, g3]


def assert_graphs_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_degree_counts_and_jit():
    idx = jnp.array([0, 2, 2, 4, 2])
    want = np.bincount(np.asarray(idx), minlength=5)
    np.testing.assert_array_equal(degree(idx, 5), want)
    np.testing.assert_array_equal(jax.jit(degree, static_argnums=1)(idx, 5), want)
    d = degree(idx, 6, dtype=jnp.float32)
    assert d.dtype == jnp.float32 and d.shape == (6,)
    np.testing.assert_array_equal(d, np.append(want, 0))


@given(graphs())
def test_in_out_degree_match_dense(g):
    n = int(g.n_node[0])
    _, c = dense(g, n)
    np.testing.assert_array_equal(in_degree(g), c.sum(0))
    np.testing.assert_array_equal(out_degree(g), c.sum(1))


def test_in_degree_under_jit_needs_static_count():
    g = from_edge_index(np.array([[0, 1], [2, 2]]), 3, nodes=jnp.zeros((3, 1)))
    np.testing.assert_array_equal(jax.jit(in_degree)(g), [0, 0, 2])
    bare = g._replace(nodes=None)
    with pytest.raises(ValueError, match="num_nodes="):
        jax.jit(in_degree)(bare)
    f = jax.jit(lambda g: out_degree(g, num_nodes=3))
    np.testing.assert_array_equal(f(bare), [1, 1, 0])


@given(graphs())
def test_add_self_loops_matches_dense(g):
    n = int(g.n_node[0])
    a, c = dense(g, n)
    out = add_self_loops(g, fill_value=0.5)
    a2, c2 = dense(out, n)
    np.testing.assert_array_equal(c2, c + np.eye(n, dtype=np.int64))
    np.testing.assert_allclose(a2, a + 0.5 * np.eye(n))
    e = int(g.n_edge[0])
    # PyG layout for one graph: edges first, then loops 0..N-1.
    np.testing.assert_array_equal(out.senders[:e], g.senders)
    np.testing.assert_array_equal(out.senders[e:], np.arange(n))
    np.testing.assert_array_equal(out.n_edge, [e + n])
    assert out.senders.dtype == jnp.int32


def test_add_self_loops_batched_jit_and_pytree_fill():
    gs = [
        g._replace(edges={"w": g.edges, "v": jnp.stack([g.edges, -g.edges], 1)})
        for g in sample_batch()
    ]
    b = batch(gs)
    fill = jnp.array([10.0, 20.0])
    eager = add_self_loops(b, fill_value=fill[0], num_nodes=9)
    jitted = jax.jit(lambda g: add_self_loops(g, fill_value=fill[0], num_nodes=9))(b)
    assert_graphs_equal(eager, jitted)
    # Batched == per-graph.
    for got, g in zip(unbatch(eager), gs):
        assert_graphs_equal(got, add_self_loops(g, fill_value=fill[0]))
    np.testing.assert_array_equal(eager.n_edge, [5 + 3, 2 + 2, 2 + 4])
    # A vector fill broadcasts over the trailing feature shape.
    vec = add_self_loops(gs[1]._replace(edges=gs[1].edges["v"]), fill_value=fill)
    np.testing.assert_allclose(vec.edges, [[6.0, -6.0], [7.0, -7.0], [10.0, 20.0], [10.0, 20.0]])
    with pytest.raises(ValueError, match="does not broadcast"):
        add_self_loops(gs[1]._replace(edges=jnp.ones((2, 3))), fill_value=jnp.ones(2))


def test_add_self_loops_gradient_and_int_features():
    g = from_edge_index(np.array([[0, 1], [1, 0]]), 2, edges=jnp.array([1.0, 2.0]))

    def f(w):
        out = add_self_loops(g._replace(edges=w), fill_value=3.0)
        return jnp.sum(out.edges * jnp.arange(4.0))

    np.testing.assert_allclose(jax.grad(f)(g.edges), [0.0, 1.0])
    # Single-graph jit path (jnp) equals the eager path (NumPy).
    jitted = jax.jit(lambda g: add_self_loops(g, fill_value=3.0, num_nodes=2))(g)
    assert_graphs_equal(jitted, add_self_loops(g, fill_value=3.0))
    gi = g._replace(edges=jnp.array([5, 6], jnp.int32))
    out = add_self_loops(gi, fill_value=1.0)
    assert out.edges.dtype == jnp.int32
    np.testing.assert_array_equal(out.edges, [5, 6, 1, 1])


@given(graphs())
def test_remove_self_loops_matches_dense(g):
    n = int(g.n_node[0])
    a, c = dense(g, n)
    out = remove_self_loops(g)
    a2, c2 = dense(out, n)
    off = 1 - np.eye(n)
    np.testing.assert_array_equal(c2, c * off)
    np.testing.assert_allclose(a2, a * off)
    np.testing.assert_array_equal(out.n_edge, [out.senders.shape[0]])


@given(graphs())
def test_add_remaining_self_loops_matches_dense(g):
    n = int(g.n_node[0])
    a, c = dense(g, n)
    out = add_remaining_self_loops(g, fill_value=-1.0)
    a2, c2 = dense(out, n)
    off = 1 - np.eye(n)
    np.testing.assert_array_equal(c2, c * off + np.eye(n, dtype=np.int64))
    np.testing.assert_allclose(a2 * off, a * off)
    # Diagonal: the last existing loop's weight, else the fill value.
    s, r, w = np.asarray(g.senders), np.asarray(g.receivers), np.asarray(g.edges)
    diag = np.full(n, -1.0)
    for k in range(s.shape[0]):
        if s[k] == r[k]:
            diag[s[k]] = w[k]
    np.testing.assert_allclose(np.diag(a2), diag)


@pytest.mark.parametrize("reduce", ["sum", "add", "mean", "max", "min", "mul"])
@given(g=graphs())
def test_coalesce_matches_oracle(g, reduce):
    n = int(g.n_node[0])
    out = coalesce(g, reduce=reduce)
    s, r, w = (np.asarray(x) for x in (g.senders, g.receivers, g.edges))
    groups = {}
    for k in range(s.shape[0]):
        groups.setdefault((int(s[k]), int(r[k])), []).append(float(w[k]))
    keys = sorted(groups)
    red = {
        "sum": np.sum,
        "add": np.sum,
        "mean": np.mean,
        "max": np.max,
        "min": np.min,
        "mul": np.prod,
    }[reduce]
    np.testing.assert_array_equal(to_edge_index(out), np.array(keys, np.int32).reshape(-1, 2).T)
    np.testing.assert_allclose(out.edges, [red(groups[k]) for k in keys], rtol=1e-6)
    assert out.edges.dtype == jnp.float32 and out.senders.dtype == jnp.int32
    np.testing.assert_array_equal(out.n_edge, [len(keys)])
    np.testing.assert_array_equal(out.n_node, [n])


@given(graphs())
def test_to_undirected_matches_dense(g):
    n = int(g.n_node[0])
    a, c = dense(g, n)
    out = to_undirected(g)
    a2, c2 = dense(out, n)
    np.testing.assert_array_equal(c2, ((c + c.T) > 0).astype(np.int64))
    np.testing.assert_allclose(a2, a + a.T, rtol=1e-6)
    key = np.asarray(out.senders) * n + np.asarray(out.receivers)
    assert np.all(np.diff(key) > 0)


def test_coalesce_pytree_and_no_features():
    g = from_edge_index(
        np.array([[1, 0, 1], [0, 1, 0]]),
        2,
        edges={
            "a": jnp.array([1.0, 2.0, 3.0]),
            "b": jnp.array([[1, 2], [3, 4], [5, 6]], jnp.int32),
        },
    )
    out = coalesce(g, reduce="max")
    np.testing.assert_allclose(out.edges["a"], [2.0, 3.0])
    np.testing.assert_array_equal(out.edges["b"], [[3, 4], [5, 6]])
    assert out.edges["b"].dtype == jnp.int32
    bare = coalesce(g._replace(edges=None))
    assert bare.edges is None
    np.testing.assert_array_equal(to_edge_index(bare), [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="`reduce` must be one of .* got 'median'"):
        coalesce(g, reduce="median")


@pytest.mark.parametrize(
    "fn",
    [
        coalesce,
        to_undirected,
        remove_self_loops,
        lambda g: add_remaining_self_loops(g, fill_value=0.5),
    ],
)
def test_host_transforms_respect_batches(fn):
    gs = sample_batch()
    out = fn(batch(gs))
    for got, g in zip(unbatch(out), gs):
        assert_graphs_equal(got, fn(g))


# ------------------------------------------------------------------------------------------------
# Cross-checks against PyG.


def _pyg():
    torch = pytest.importorskip("torch")
    utils = pytest.importorskip("torch_geometric.utils")
    return torch, utils


@pytest.mark.peers
@given(g=graphs())
def test_coalesce_to_undirected_match_pyg(g):
    torch, utils = _pyg()
    n = int(g.n_node[0])
    ei = torch.as_tensor(np.array(to_edge_index(g)), dtype=torch.long)
    w = torch.as_tensor(np.array(g.edges))
    for reduce in ("sum", "mean", "max"):
        pei, pw = utils.coalesce(ei, w, num_nodes=n, reduce=reduce)
        out = coalesce(g, reduce=reduce)
        np.testing.assert_array_equal(to_edge_index(out), pei.numpy())
        np.testing.assert_allclose(out.edges, pw.numpy(), rtol=1e-6)
    pei, pw = utils.to_undirected(ei, w, num_nodes=n)
    out = to_undirected(g)
    np.testing.assert_array_equal(to_edge_index(out), pei.numpy())
    np.testing.assert_allclose(out.edges, pw.numpy(), rtol=1e-6)


@pytest.mark.peers
@given(g=graphs())
def test_self_loops_and_degree_match_pyg(g):
    torch, utils = _pyg()
    n = int(g.n_node[0])
    ei = torch.as_tensor(np.array(to_edge_index(g)), dtype=torch.long)
    w = torch.as_tensor(np.array(g.edges))
    pei, pw = utils.add_remaining_self_loops(ei, w, fill_value=2.0, num_nodes=n)
    out = add_remaining_self_loops(g, fill_value=2.0)
    np.testing.assert_array_equal(to_edge_index(out), pei.numpy())
    np.testing.assert_allclose(out.edges, pw.numpy())
    pei, pw = utils.add_self_loops(ei, w, fill_value=2.0, num_nodes=n)
    out = add_self_loops(g, fill_value=2.0)
    np.testing.assert_array_equal(to_edge_index(out), pei.numpy())
    np.testing.assert_allclose(out.edges, pw.numpy())
    pei, pw = utils.remove_self_loops(ei, w)
    out = remove_self_loops(g)
    np.testing.assert_array_equal(to_edge_index(out), pei.numpy())
    np.testing.assert_allclose(out.edges, pw.numpy())
    np.testing.assert_array_equal(in_degree(g), utils.degree(ei[1], n, dtype=torch.long).numpy())
