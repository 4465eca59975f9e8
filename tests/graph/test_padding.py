"""Tests for jgnn.graph._padding: bucket policies, pad/unpad, masks, padding invariance."""

import dataclasses

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jgnn.graph import (
    BucketPolicy,
    batch,
    edge_mask,
    from_edge_index,
    graph_mask,
    node_mask,
    num_edges,
    num_nodes,
    pad_graph,
    pad_to_bucket,
    unpad,
)


def make_graph(rng, n, e, f=3):
    ei = rng.integers(0, n, size=(2, e))
    return from_edge_index(
        ei,
        n,
        nodes={"x": rng.normal(size=(n, f)).astype(np.float32), "id": np.arange(n, dtype=np.int32)},
        edges=rng.normal(size=(e,)).astype(np.float32),
        globals=np.ones((1, 2), np.float32),
    )


@jax.jit
def all_masks(p):
    return node_mask(p), edge_mask(p), graph_mask(p)


@st.composite
def batches(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    sizes = draw(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 10)), min_size=1, max_size=3))
    return batch([make_graph(rng, n, e) for n, e in sizes])


def assert_graphs_equal(a, b):
    la, ta = jax.tree_util.tree_flatten(a)
    lb, tb = jax.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert np.asarray(x).dtype == np.asarray(y).dtype
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ------------------------------------------------------------------------------------------------
# BucketPolicy


def test_powers_of_two_choose():
    p = BucketPolicy.powers_of_two()
    assert p.choose(10, 30, 1) == (16, 32, 2)
    assert p.choose(7, 8, 1) == (8, 8, 2)
    assert p.choose(8, 9, 3) == (16, 16, 4)  # N >= n + 1 forces the next power
    assert p.choose(0, 0, 0) == (8, 8, 2)
    q = BucketPolicy.powers_of_two(min_nodes=2, min_edges=1, min_graphs=2)
    assert q.choose(0, 0, 0) == (2, 1, 2)
    assert q.choose(3, 5, 2) == (4, 8, 4)


def test_multiple_of_choose():
    p = BucketPolicy.multiple_of(64, 256, 4)
    assert p.choose(10, 30, 1) == (64, 256, 4)
    assert p.choose(63, 256, 3) == (64, 256, 4)
    assert p.choose(64, 257, 4) == (128, 512, 8)
    assert BucketPolicy.multiple_of(5, 3, 1).choose(4, 0, 2) == (5, 3, 3)


def test_explicit_choose_smallest_fit_and_errors():
    p = BucketPolicy.explicit([(128, 512, 8), (32, 64, 2), (32, 128, 4)])
    assert p.sizes == ((32, 64, 2), (32, 128, 4), (128, 512, 8))
    assert p.choose(31, 64, 1) == (32, 64, 2)
    assert p.choose(31, 65, 1) == (32, 128, 4)
    assert p.choose(31, 64, 2) == (32, 128, 4)
    assert p.choose(40, 10, 1) == (128, 512, 8)
    with pytest.raises(ValueError, match=r"No explicit bucket fits .* 128 nodes.*N >= 129"):
        p.choose(128, 10, 1)
    with pytest.raises(ValueError, match="at least one"):
        BucketPolicy.explicit([])
    with pytest.raises(ValueError, match="triple"):
        BucketPolicy.explicit([(1, 2)])
    with pytest.raises(ValueError, match=r"n_graph\)` must be >= 2, got 1"):
        BucketPolicy.explicit([(8, 8, 1)])


def test_policy_validation_and_frozen():
    with pytest.raises(ValueError, match="`k_edges` must be >= 1, got 0"):
        BucketPolicy.multiple_of(4, 0, 2)
    with pytest.raises(TypeError, match="`k_nodes` must be an int, got float"):
        BucketPolicy.multiple_of(4.0, 4, 2)
    with pytest.raises(ValueError, match="`min_nodes` must be >= 2"):
        BucketPolicy.powers_of_two(min_nodes=1)
    with pytest.raises(ValueError, match="`n_node` must be >= 0, got -1"):
        BucketPolicy.powers_of_two().choose(-1, 0, 0)
    with pytest.raises(ValueError, match="use the BucketPolicy constructors"):
        BucketPolicy("fibonacci")
    p = BucketPolicy.powers_of_two()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.kind = "explicit"
    assert p == BucketPolicy.powers_of_two() and hash(p) == hash(BucketPolicy.powers_of_two())


# ------------------------------------------------------------------------------------------------
# pad_graph / unpad / masks


def test_pad_graph_layout():
    rng = np.random.default_rng(0)
    g = batch([make_graph(rng, 3, 4), make_graph(rng, 2, 1)])
    p = pad_graph(g, 8, 9, 5)
    assert num_nodes(p) == 8 and num_edges(p) == 9
    np.testing.assert_array_equal(p.n_node, [3, 2, 3, 0, 0])
    np.testing.assert_array_equal(p.n_edge, [4, 1, 4, 0, 0])
    np.testing.assert_array_equal(p.senders[5:], [5, 5, 5, 5])
    np.testing.assert_array_equal(p.receivers[5:], [5, 5, 5, 5])
    np.testing.assert_array_equal(p.nodes["x"][5:], 0.0)
    np.testing.assert_array_equal(p.nodes["id"][5:], 0)
    np.testing.assert_array_equal(p.edges[5:], 0.0)
    np.testing.assert_array_equal(p.globals[2:], 0.0)
    assert p.globals.shape == (5, 2)
    for a, b in zip(jax.tree_util.tree_leaves(p), jax.tree_util.tree_leaves(g)):
        assert a.dtype == b.dtype
    np.testing.assert_array_equal(node_mask(p), [1, 1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(edge_mask(p), [1, 1, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(graph_mask(p), [1, 1, 0, 0, 0])


def test_pad_graph_jit_matches_eager_and_errors():
    rng = np.random.default_rng(1)
    g = make_graph(rng, 4, 6)
    eager = pad_graph(g, 8, 8, 3)
    jitted = jax.jit(lambda g: pad_graph(g, 8, 8, 3))(g)
    assert_graphs_equal(eager, jitted)
    masks = jax.jit(lambda g: (node_mask(g), edge_mask(g), graph_mask(g)))(jitted)
    np.testing.assert_array_equal(masks[0], node_mask(eager))
    np.testing.assert_array_equal(masks[1], edge_mask(eager))
    np.testing.assert_array_equal(masks[2], graph_mask(eager))
    with pytest.raises(ValueError, match=r"need n_node >= 5, n_edge >= 6, n_graph >= 2"):
        pad_graph(g, 4, 8, 3)
    with pytest.raises(ValueError, match=r"need n_node >= 5"):
        pad_graph(g, 8, 5, 3)
    with pytest.raises(ValueError, match=r"n_graph >= 2"):
        pad_graph(g, 8, 8, 1)


def test_pad_graph_without_nodes_needs_static_count_under_jit():
    g = from_edge_index(np.array([[0, 1], [1, 2]]), 3)
    p = pad_graph(g, 4, 2, 2)  # eager: sum(n_node) is concrete
    np.testing.assert_array_equal(p.n_node, [3, 1])
    with pytest.raises(ValueError, match="num_nodes="):
        jax.jit(lambda g: pad_graph(g, 4, 2, 2))(g)
    q = jax.jit(lambda g: pad_graph(g, 4, 2, 2, num_nodes=3))(g)
    assert_graphs_equal(p, q)
    np.testing.assert_array_equal(node_mask(q, num_nodes=4), [1, 1, 1, 0])


@given(batches(), st.sampled_from(["pow2", "mult", "explicit"]))
def test_pad_unpad_round_trip_and_masks(g, kind):
    policy = {
        "pow2": BucketPolicy.powers_of_two(),
        "mult": BucketPolicy.multiple_of(5, 7, 3),
        "explicit": BucketPolicy.explicit([(8, 16, 3), (32, 64, 8)]),
    }[kind]
    p = pad_to_bucket(g, policy)
    n, e, k = num_nodes(g), num_edges(g), g.n_node.shape[0]
    assert (num_nodes(p), num_edges(p), p.n_node.shape[0]) == policy.choose(n, e, k)
    assert_graphs_equal(unpad(p), g)
    nm, em, gm = all_masks(p)
    assert nm.dtype == jnp.bool_ and em.dtype == jnp.bool_ and gm.dtype == jnp.bool_
    np.testing.assert_array_equal(nm, np.arange(num_nodes(p)) < n)
    np.testing.assert_array_equal(em, np.arange(num_edges(p)) < e)
    np.testing.assert_array_equal(gm, np.arange(p.n_node.shape[0]) < k)


@given(batches())
def test_padding_invariance_of_message_passing(g):
    """Sum aggregation on the padded graph equals the unpadded one on real nodes and graphs."""
    x, w = np.asarray(g.nodes["x"]), np.asarray(g.edges)
    s, r = np.asarray(g.senders), np.asarray(g.receivers)
    n, k = num_nodes(g), g.n_node.shape[0]
    want = np.zeros((n, x.shape[1]), np.float64)  # dense NumPy oracle
    np.add.at(want, r, x[s] * w[:, None])
    want_readout = np.zeros((k, x.shape[1]))
    np.add.at(want_readout, np.repeat(np.arange(k), np.asarray(g.n_node)), want)
    p = pad_to_bucket(g, BucketPolicy.powers_of_two())
    h, readout = aggregate(p)
    np.testing.assert_allclose(h[:n], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(readout[:k], want_readout, rtol=1e-5, atol=1e-5)
    # Padding nodes only ever receive padding messages (zero features here).
    np.testing.assert_allclose(np.asarray(h)[n:], 0.0)


@jax.jit
def aggregate(p):
    n_pad = num_nodes(p)
    h = jax.ops.segment_sum(p.nodes["x"][p.senders] * p.edges[:, None], p.receivers, n_pad)
    gid = jnp.repeat(jnp.arange(p.n_node.shape[0]), p.n_node, total_repeat_length=n_pad)
    return h, jax.ops.segment_sum(h, gid, p.n_node.shape[0])


def test_masks_on_jraph_pad_with_graphs():
    rng = np.random.default_rng(2)
    g = batch([make_graph(rng, 3, 2), make_graph(rng, 1, 0)])
    p = jraph.pad_with_graphs(g, n_node=7, n_edge=5, n_graph=4)
    np.testing.assert_array_equal(node_mask(p), [1, 1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(edge_mask(p), [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(graph_mask(p), [1, 1, 0, 0])
    np.testing.assert_array_equal(graph_mask(p), jraph.get_graph_padding_mask(p))
    np.testing.assert_array_equal(node_mask(p), jraph.get_node_padding_mask(p))
    np.testing.assert_array_equal(edge_mask(p), jraph.get_edge_padding_mask(p))


def test_unpad_keeps_numpy_leaves_and_rejects_unpadded():
    g = jraph.GraphsTuple(
        nodes=np.ones((3, 1), np.float64),
        edges=None,
        senders=np.array([0, 3], np.int32),
        receivers=np.array([1, 3], np.int32),
        globals=None,
        n_node=np.array([3, 1], np.int32),
        n_edge=np.array([1, 1], np.int32),
    )
    g = g._replace(nodes=np.ones((4, 1), np.float64))
    u = unpad(g)
    assert isinstance(u.nodes, np.ndarray) and u.nodes.dtype == np.float64
    np.testing.assert_array_equal(u.senders, [0])
    np.testing.assert_array_equal(u.n_node, [3])
    empty = g._replace(n_node=np.array([0, 0], np.int32))
    with pytest.raises(ValueError, match=r"n_node = \[0, 0\]"):
        unpad(empty)


def test_pad_to_bucket_errors():
    g = make_graph(np.random.default_rng(3), 5, 5)
    with pytest.raises(TypeError, match="must be a BucketPolicy, got tuple"):
        pad_to_bucket(g, (8, 8, 2))
    with pytest.raises(ValueError, match="No explicit bucket fits"):
        pad_to_bucket(g, BucketPolicy.explicit([(4, 4, 2)]))
