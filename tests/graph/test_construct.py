"""Tests for jgnn.graph._construct: sizes, edge index, SciPy and NetworkX conversions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from jgnn.graph import (
    from_edge_index,
    from_networkx,
    from_scipy,
    num_edges,
    num_nodes,
    to_edge_index,
    to_networkx,
    to_scipy,
)


@st.composite
def edge_lists(draw, max_nodes=6, max_edges=12):
    n = draw(st.integers(1, max_nodes))
    pairs = draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=max_edges)
    )
    ei = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return n, ei


def test_num_nodes_num_edges_static_under_jit():
    g = from_edge_index(np.array([[0, 1, 2], [1, 2, 0]]), 4, nodes={"x": jnp.ones((4, 2))})
    assert num_nodes(g) == 4 and num_edges(g) == 3
    assert isinstance(num_nodes(g), int) and isinstance(num_edges(g), int)

    @jax.jit
    def f(g):
        # Sizes must be Python ints to fix output shapes under jit.
        return jnp.zeros((num_nodes(g), num_edges(g)))

    assert f(g).shape == (4, 3)


def test_num_nodes_without_nodes_asks_for_explicit_count():
    g = from_edge_index(np.array([[0], [1]]), 2)
    with pytest.raises(ValueError, match="num_nodes="):
        num_nodes(g)
    with pytest.raises(ValueError, match="senders` is None"):
        num_edges(g._replace(senders=None))


def test_from_edge_index_fields_and_dtypes():
    ei = np.array([[0, 1, 2, 2], [1, 2, 0, 2]], dtype=np.int64)
    x = jnp.arange(6.0).reshape(3, 2)
    w = jnp.arange(4.0)
    glob = jnp.ones((1, 5))
    g = from_edge_index(ei, 3, nodes=x, edges=w, globals=glob)
    assert g.senders.dtype == jnp.int32 and g.receivers.dtype == jnp.int32
    np.testing.assert_array_equal(g.senders, ei[0])
    np.testing.assert_array_equal(g.receivers, ei[1])
    np.testing.assert_array_equal(g.n_node, [3])
    np.testing.assert_array_equal(g.n_edge, [4])
    assert g.n_node.dtype == jnp.int32 and g.n_edge.dtype == jnp.int32
    assert g.nodes is x and g.edges is w and g.globals is glob
    np.testing.assert_array_equal(to_edge_index(g), ei)


def test_from_edge_index_accepts_lists_and_empty():
    g = from_edge_index([[0, 1], [1, 0]], 2)
    np.testing.assert_array_equal(to_edge_index(g), [[0, 1], [1, 0]])
    empty = from_edge_index([[], []], 3)
    assert num_edges(empty) == 0 and empty.senders.dtype == jnp.int32
    np.testing.assert_array_equal(empty.n_edge, [0])


def test_from_edge_index_jit_matches_eager():
    ei = jnp.array([[0, 3, 1], [2, 2, 0]])

    @jax.jit
    def f(ei):
        return to_edge_index(from_edge_index(ei, 4))

    np.testing.assert_array_equal(f(ei), ei)
    np.testing.assert_array_equal(f(ei), to_edge_index(from_edge_index(ei, 4)))


def test_from_edge_index_errors():
    with pytest.raises(ValueError, match=r"shape \[2, E\], got shape \(3, 2\)"):
        from_edge_index(np.zeros((3, 2), np.int32), 2)
    with pytest.raises(TypeError, match="integer array, got dtype float32"):
        from_edge_index(np.zeros((2, 2), np.float32), 2)
    with pytest.raises(ValueError, match=r"`receivers`.*id 7 at edge position 1.*3 nodes"):
        from_edge_index(np.array([[0, 1], [1, 7]]), 3)
    with pytest.raises(ValueError, match=r"`senders`.*id -1 at edge position 0"):
        from_edge_index(np.array([[-1, 1], [1, 0]]), 3)
    with pytest.raises(ValueError, match=r"`nodes` has shape \(2, 1\).*sum\(n_node\) = 3"):
        from_edge_index(np.array([[0], [1]]), 3, nodes=jnp.ones((2, 1)))
    # check=False skips validation entirely.
    g = from_edge_index(np.array([[0, 1], [1, 7]]), 3, check=False)
    np.testing.assert_array_equal(g.receivers, [1, 7])


@given(edge_lists())
def test_edge_index_scipy_round_trip(data):
    n, ei = data
    w = np.arange(1, ei.shape[1] + 1, dtype=np.float32)
    g = from_edge_index(ei, n, edges=jnp.asarray(w))
    a = to_scipy(g)
    assert a.shape == (n, n)
    dense = np.zeros((n, n), np.float32)
    np.add.at(dense, (ei[0], ei[1]), w)  # oracle: duplicates add up
    np.testing.assert_allclose(a.toarray(), dense)
    # Back: from_scipy sorts edges row-major and merges duplicates.
    g2 = from_scipy(a)
    rows, cols = np.nonzero(dense)
    np.testing.assert_array_equal(to_edge_index(g2), np.stack([rows, cols]))
    np.testing.assert_allclose(g2.edges, dense[rows, cols])
    np.testing.assert_array_equal(g2.n_node, [n])


def test_from_scipy_values_order_and_explicit_zeros():
    a = sp.coo_array(
        (np.array([5.0, 0.0, 2.0, 3.0]), (np.array([2, 1, 0, 0]), np.array([0, 1, 2, 1]))),
        shape=(3, 3),
    )
    g = from_scipy(a, nodes=jnp.ones((3, 1)))
    np.testing.assert_array_equal(to_edge_index(g), [[0, 0, 2], [1, 2, 0]])
    np.testing.assert_allclose(g.edges, [3.0, 2.0, 5.0])
    dense = np.array([[0, 1, 0], [0, 0, 0], [1, 1, 0]])
    g_dense = from_scipy(dense)
    np.testing.assert_array_equal(to_edge_index(g_dense), [[0, 2, 2], [1, 0, 1]])
    with pytest.raises(ValueError, match=r"square \[N, N\], got shape \(2, 3\)"):
        from_scipy(sp.coo_array((2, 3)))


def test_to_scipy_edge_weight_and_defaults():
    g = from_edge_index(np.array([[0, 1], [1, 1]]), 3, edges=jnp.ones((2, 4)))
    # 2-D edge features are not weights: ones are used.
    np.testing.assert_allclose(to_scipy(g).toarray(), [[0, 1, 0], [0, 1, 0], [0, 0, 0]])
    a = to_scipy(g, edge_weight=np.array([2.0, 3.0]))
    np.testing.assert_allclose(a.toarray(), [[0, 2, 0], [0, 3, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match=r"shape \(2,\), got \(3,\)"):
        to_scipy(g, edge_weight=np.ones(3))


@given(edge_lists())
def test_networkx_round_trip(data):
    n, ei = data
    g = from_edge_index(ei, n, edges=jnp.arange(ei.shape[1], dtype=jnp.float32))
    nxg = to_networkx(g)
    assert sorted(nxg.nodes) == list(range(n))
    assert nxg.number_of_edges() == ei.shape[1]
    got = sorted((u, v, float(d["edge_attr"])) for u, v, d in nxg.edges(data=True))
    want = sorted(zip(ei[0].tolist(), ei[1].tolist(), range(ei.shape[1])))
    assert got == [(u, v, float(k)) for u, v, k in want]
    back = from_networkx(nxg, edge_attr="edge_attr")
    got_back = sorted(zip(back.senders.tolist(), back.receivers.tolist(), back.edges.tolist()))
    assert got_back == [(u, v, float(k)) for u, v, k in want]


def test_edge_index_networkx_exact_for_sorted_unique_edges():
    ei = np.array([[0, 0, 1, 2, 3], [1, 3, 2, 0, 3]])
    g = from_edge_index(ei, 4)
    back = from_networkx(to_networkx(g, multigraph=False))
    np.testing.assert_array_equal(to_edge_index(back), ei)
    np.testing.assert_array_equal(back.n_node, [4])


def test_from_networkx_undirected_and_attributes():
    nx = pytest.importorskip("networkx")
    g = nx.Graph()
    g.add_node("a", x=[1.0, 2.0])
    g.add_node("b", x=[3.0, 4.0])
    g.add_node("c", x=[5.0, 6.0])
    g.add_edge("a", "b", w=0.5)
    g.add_edge("c", "c", w=2.0)
    out = from_networkx(g, node_attr="x", edge_attr="w")
    # Undirected edge -> both directions; self loop once.
    np.testing.assert_array_equal(to_edge_index(out), [[0, 1, 2], [1, 0, 2]])
    np.testing.assert_allclose(out.edges, [0.5, 0.5, 2.0])
    np.testing.assert_allclose(out.nodes, [[1, 2], [3, 4], [5, 6]])
    with pytest.raises(ValueError, match="has no attribute 'y'"):
        from_networkx(g, node_attr="y")
    with pytest.raises(ValueError, match="has no attribute 'q'"):
        from_networkx(g, edge_attr="q")


def test_to_networkx_without_nodes_uses_n_node():
    g = from_edge_index(np.array([[0], [1]]), 5)
    assert to_networkx(g).number_of_nodes() == 5
    assert to_networkx(g, num_nodes=7).number_of_nodes() == 7
