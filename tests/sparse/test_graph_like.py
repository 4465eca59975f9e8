"""The one coercion of the three graph forms: as_graph, endpoints and graph_args agree."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest

from jgnn import from_edge_index
from jgnn.sparse import SparseTensor, as_graph, endpoints, graph_args

SRC = np.array([0, 2, 1, 2])
DST = np.array([1, 1, 0, 2])


def _forms():
    ei = jnp.asarray(np.stack([SRC, DST]))
    g = from_edge_index(ei, 3, nodes=jnp.ones((3, 2)))
    return g, ei, SparseTensor(DST, SRC, None, (3, 3))


def test_every_form_gives_the_same_edges_and_counts():
    g, ei, adj = _forms()
    order = np.lexsort((SRC, DST))  # the SparseTensor's COO order (row-major over dst)
    for graph, perm in ((g, slice(None)), (ei, slice(None)), (adj, order)):
        src, dst = endpoints(graph)
        np.testing.assert_array_equal(src, SRC[perm])
        np.testing.assert_array_equal(dst, DST[perm])
        args = graph_args(graph, src_hint=3)
        assert (args.num_src, args.num_dst, args.num_edges) == (3, 3, 4)
        assert args.src.dtype == jnp.int32


def test_as_graph_is_jittable_and_passes_graphs_through():
    g, ei, adj = _forms()
    assert as_graph(g) is g and as_graph(adj) is adj
    out = jax.jit(lambda e: as_graph(e).receivers)(ei)
    np.testing.assert_array_equal(out, DST)
    assert isinstance(as_graph(np.stack([SRC, DST])), jraph.GraphsTuple)


def test_bad_graphs_are_named():
    with pytest.raises(TypeError, match="GraphsTuple or a jgnn.sparse.SparseTensor"):
        as_graph("edges", "f")
    with pytest.raises(TypeError, match="must be integer, got dtype float32"):
        as_graph(jnp.zeros((2, 3)), "f")
    with pytest.raises(ValueError, match=r"f: an edge index must have shape \[2, E\]"):
        as_graph(jnp.zeros((3, 3), jnp.int32), "f")
    g, _, adj = _forms()
    with pytest.raises(ValueError, match="disagrees with the SparseTensor's sparse sizes"):
        graph_args(adj, num_nodes=4)
    with pytest.raises(ValueError, match="`x` has 5 rows but the graph has 3 source nodes"):
        graph_args(g, src_hint=5, src_data="x")
