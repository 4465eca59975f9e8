"""to_adj_t: the transposed adjacency of a jraph graph against edge-list aggregation."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jgnn.sparse import to_adj_t


def _graph(senders, receivers, n, edges=None):
    return jraph.GraphsTuple(
        nodes=jnp.zeros((n, 1)),
        edges=edges,
        senders=jnp.asarray(senders, jnp.int32),
        receivers=jnp.asarray(receivers, jnp.int32),
        n_node=jnp.array([n]),
        n_edge=jnp.array([len(senders)]),
        globals=None,
    )


def test_to_adj_t_matches_edge_list_aggregation():
    senders, receivers = np.array([0, 0, 2, 3, 0]), np.array([1, 2, 1, 1, 1])
    x = jnp.arange(8.0).reshape(4, 2)
    expected = jax.ops.segment_sum(x[senders], receivers, 4)
    adj_t = to_adj_t(_graph(senders, receivers, 4))
    assert adj_t.sparse_sizes() == (4, 4)
    # the parallel edge 0 -> 1 is kept as a multiplicity of 2
    np.testing.assert_array_equal(adj_t.to_dense() @ x, expected)
    w = jnp.arange(1.0, 6.0)
    adj_w = to_adj_t(_graph(senders, receivers, 4, edges=w))
    np.testing.assert_allclose(
        adj_w.to_dense() @ x, jax.ops.segment_sum(x[senders] * w[:, None], receivers, 4)
    )
    simple = to_adj_t(_graph([0, 1], [1, 2], 3))
    assert not simple.has_value()
    np.testing.assert_array_equal(simple.to_dense(), [[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    multi = to_adj_t(_graph([0, 1], [1, 2], 3, edges=jnp.ones((2, 4))))
    assert multi.value.shape == (2, 4)


def test_to_adj_t_errors():
    with pytest.raises(ValueError, match="ids must lie"):
        to_adj_t(_graph([0, 5], [1, 2], 3))
    with pytest.raises(TypeError, match="edges"):
        to_adj_t(_graph([0], [1], 3, edges={"w": jnp.ones(1)}))


def test_to_adj_t_without_node_features():
    g = _graph([0, 2], [1, 1], 3)._replace(nodes=None, n_node=jnp.array([2, 2]))
    assert to_adj_t(g).sparse_sizes() == (4, 4)
    assert to_adj_t(g, num_nodes=3).sparse_sizes() == (3, 3)
