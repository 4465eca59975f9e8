"""Tests for jgnn.graph._batch: batch/unbatch against block-diagonal oracles and jraph."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

from jgnn.graph import batch, from_edge_index, to_scipy, unbatch


def make_graph(rng, n, e):
    return from_edge_index(
        rng.integers(0, n, size=(2, e)),
        n,
        nodes={"x": rng.normal(size=(n, 2)).astype(np.float32), "t": np.arange(n, dtype=np.int32)},
        edges=rng.normal(size=(e, 3)).astype(np.float32),
        globals=rng.normal(size=(1, 4)).astype(np.float32),
    )


@st.composite
def graph_lists(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    sizes = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 8)), min_size=1, max_size=4))
    # A graph with 0 nodes has no edges.
    return [make_graph(rng, n, e if n else 0) for n, e in sizes]


def assert_graphs_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@given(graph_lists())
def test_batch_is_block_diagonal_and_round_trips(gs):
    b = batch(gs)
    blocks = [to_scipy(g, num_nodes=int(g.n_node[0])).toarray() for g in gs]
    want = scipy.linalg.block_diag(*blocks) if blocks else np.zeros((0, 0))
    n_total = int(b.n_node.sum())
    np.testing.assert_array_equal(to_scipy(b, num_nodes=n_total).toarray(), want)
    np.testing.assert_array_equal(b.n_node, [int(g.n_node[0]) for g in gs])
    np.testing.assert_array_equal(b.n_edge, [int(g.n_edge[0]) for g in gs])
    assert b.senders.dtype == jnp.int32
    back = unbatch(b)
    assert len(back) == len(gs)
    for got, g in zip(back, gs):
        assert_graphs_equal(got, g)
    assert_graphs_equal(batch(back), b)


def test_batch_matches_jraph_and_jit():
    rng = np.random.default_rng(0)
    gs = [make_graph(rng, 3, 4), make_graph(rng, 2, 2), make_graph(rng, 4, 1)]
    b = batch(gs)
    assert_graphs_equal(b, jraph.batch(gs))
    assert_graphs_equal(jax.jit(batch)(gs), b)
    # Batching batches composes.
    assert_graphs_equal(batch([batch(gs[:2]), gs[2]]), b)
    assert all(isinstance(x, jax.Array) for x in jax.tree_util.tree_leaves(b))


def test_unbatch_preserves_numpy_leaves():
    g = jraph.GraphsTuple(
        nodes=np.arange(5, dtype=np.float64)[:, None],
        edges=None,
        senders=np.array([0, 3, 4], np.int64),
        receivers=np.array([1, 2, 2], np.int64),
        globals=None,
        n_node=np.array([2, 3]),
        n_edge=np.array([1, 2]),
    )
    a, c = unbatch(g)
    assert isinstance(a.nodes, np.ndarray) and a.nodes.dtype == np.float64
    assert c.senders.dtype == np.int64
    np.testing.assert_array_equal(c.senders, [1, 2])
    np.testing.assert_array_equal(c.receivers, [0, 0])
    np.testing.assert_array_equal(c.nodes[:, 0], [2.0, 3.0, 4.0])
    assert c.edges is None and c.globals is None


def test_batch_errors():
    rng = np.random.default_rng(1)
    g = make_graph(rng, 2, 1)
    with pytest.raises(ValueError, match="at least one graph"):
        batch([])
    with pytest.raises(ValueError, match=r"`edges` is None for graph\(s\) \[1\]"):
        batch([g, g._replace(edges=None)])
    with pytest.raises(ValueError, match="`nodes` of graph 1 has pytree structure"):
        batch([g, g._replace(nodes=g.nodes["x"])])
    with pytest.raises(TypeError, match=r"graphs\[0\] must be a jraph.GraphsTuple, got tuple"):
        batch([(1, 2)])
