"""CSCGraph: construction from every input type against a brute-force CSC, validation, sharing."""

from __future__ import annotations

import gc
import hashlib
import pickle

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from sampling._oracle import random_edge_index
from sampling._workers import read_store

from jgnn.graph import from_edge_index, from_scipy
from jgnn.sampling import CSCGraph, as_csc_graph
from jgnn.sampling._store import _offset_dtype
from jgnn.sparse import SparseTensor

N, E = 30, 120


def brute_force_csc(edge_index, num_nodes):
    """For each target: (source, edge id) pairs sorted by source, then edge id."""
    cols = [[] for _ in range(num_nodes)]
    for e, (s, d) in enumerate(edge_index.T.tolist()):
        cols[d].append((s, e))
    return [sorted(c) for c in cols]


def columns(store):
    return [
        sorted(
            zip(
                store.indices[store.indptr[v] : store.indptr[v + 1]].tolist(),
                store.edge_ids[store.indptr[v] : store.indptr[v + 1]].tolist(),
                strict=True,
            )
        )
        for v in range(store.num_nodes)
    ]


def test_from_edge_index_matches_brute_force():
    ei = random_edge_index(N, E, seed=0)
    store = CSCGraph.from_edge_index(ei, N)
    assert store.indptr.dtype == np.int32 and store.indices.dtype == np.int32
    assert store.num_nodes == N and store.num_edges == E
    assert columns(store) == brute_force_csc(ei, N)
    for v in range(N):  # sources sorted within each column, in CSC order
        col = store.indices[store.indptr[v] : store.indptr[v + 1]]
        assert np.all(np.diff(col) >= 0)
    np.testing.assert_array_equal(store.to_edge_index(), ei)
    assert store.max_in_degree == max(len(c) for c in brute_force_csc(ei, N))


def test_every_input_type_gives_the_same_store():
    ei = random_edge_index(N, E, seed=1)
    w = np.random.default_rng(1).random(E).astype(np.float32) + 0.5
    ref = CSCGraph.from_edge_index(ei, N, edge_weight=w)
    from_jax = as_csc_graph(jnp.asarray(ei), num_nodes=N, edge_weight=jnp.asarray(w))
    from_tuple = as_csc_graph(from_edge_index(ei, N, edges=w))
    for store in (from_jax, from_tuple):
        np.testing.assert_array_equal(store.indptr, ref.indptr)
        np.testing.assert_array_equal(store.indices, ref.indices)
        np.testing.assert_array_equal(store.edge_ids, ref.edge_ids)
        np.testing.assert_array_equal(store.weight, ref.weight)


def test_sparse_tensor_adj_t_rows_are_destinations():
    ei = np.unique(random_edge_index(N, E, seed=2), axis=1)  # SparseTensor coalesces
    w = np.arange(1, ei.shape[1] + 1, dtype=np.float32)
    adj_t = SparseTensor.from_edge_index(jnp.asarray(ei), jnp.asarray(w), (N, N)).t()
    store = as_csc_graph(adj_t)
    row, col, value = adj_t.coo()
    # entry k of adj_t is the edge col[k] -> row[k] with id k (PyG's e_id convention)
    ref = brute_force_csc(np.stack([np.asarray(col), np.asarray(row)]), N)
    assert columns(store) == ref
    np.testing.assert_array_equal(store.weight, np.asarray(value)[store.edge_ids])
    with pytest.raises(ValueError, match="square"):
        CSCGraph.from_sparse_tensor(SparseTensor.from_edge_index(jnp.asarray(ei), None, (N, N + 1)))


def test_scipy_matrix_entries_are_edges_i_to_j():
    ei = random_edge_index(N, E, seed=3)
    values = np.random.default_rng(3).random(E) + 1.0
    mat = sp.coo_matrix((values, (ei[0], ei[1])), shape=(N, N))
    mat.data[0] = 0.0  # an explicit zero is not an edge (unless a duplicate adds to it)
    store = as_csc_graph(mat.tocsr())
    graph = from_scipy(mat)
    ref_ei = np.stack([np.asarray(graph.senders), np.asarray(graph.receivers)])
    assert columns(store) == brute_force_csc(ref_ei, N)  # e_id indexes jgnn.graph.from_scipy
    np.testing.assert_allclose(store.weight, np.asarray(graph.edges)[store.edge_ids], rtol=1e-6)
    dense = mat.toarray()
    assert all(dense[s, d] != 0 for s, d in store.to_edge_index().T)


def test_offsets_switch_to_int64_beyond_int32():
    assert _offset_dtype(2**31 - 1) is np.int32
    assert _offset_dtype(2**31) is np.int64


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"edge_index": np.array([[0.0, 1.0], [1.0, 0.0]])}, TypeError, "edge_index.*integer"),
        ({"edge_index": np.array([0, 1, 2])}, ValueError, r"edge_index.*\[2, E\]"),
        ({"edge_index": np.array([[0, 5], [1, 0]]), "num_nodes": 3}, ValueError, "senders.*5"),
        ({"edge_index": np.array([[0, 1], [-1, 0]]), "num_nodes": 3}, ValueError, "receivers.*-1"),
        ({"edge_index": np.array([[0], [1]]), "num_nodes": 2.0}, TypeError, "num_nodes"),
        (
            {"edge_index": np.array([[0], [1]]), "edge_weight": np.ones(2)},
            ValueError,
            "edge_weight",
        ),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        CSCGraph.from_edge_index(**kwargs)


def test_direct_construction_is_validated():
    with pytest.raises(ValueError, match="sorted within each column"):
        CSCGraph(np.array([0, 2, 2, 2]), np.array([2, 1]))
    with pytest.raises(ValueError, match="indptr"):
        CSCGraph(np.array([0, 3]), np.array([1, 0]))
    with pytest.raises(ValueError, match="indices.*7"):
        CSCGraph(np.array([0, 1, 2]), np.array([1, 7]))
    with pytest.raises(TypeError, match="graph"):
        as_csc_graph(object())


def test_shared_store_pickles_by_name_and_maps_the_same_pages(spawned):
    ei = random_edge_index(20_000, 200_000, seed=4)
    w = np.random.default_rng(4).random(ei.shape[1]).astype(np.float32)
    store = CSCGraph.from_edge_index(ei, 20_000, edge_weight=w)
    shared = store.share()
    assert shared.is_shared and shared.share() is shared
    payload = pickle.dumps(shared)
    assert len(payload) < 2_000  # the arrays are ~2.4 MB
    assert len(pickle.dumps(store)) > 2_000_000  # an unshared store pickles by value
    report = spawned.submit(read_store, payload).result(timeout=120)
    for name in ("indptr", "indices", "edge_ids", "weight"):
        arr = np.ascontiguousarray(getattr(store, name))
        assert report[name] == hashlib.sha256(arr.tobytes()).hexdigest()
        assert not report[name + "_owns_data"]  # a view on the mapped file, not a copy
        assert not report[name + "_writeable"]
    assert report["shared"]


def test_shared_file_is_removed_with_its_owner(tmp_path):
    shared = CSCGraph.from_edge_index(np.array([[0, 1], [1, 0]])).share(tmp_path)
    path = shared._shared.path
    copy = pickle.loads(pickle.dumps(shared))
    assert copy.to_edge_index().tolist() == [[0, 1], [1, 0]]
    del shared
    gc.collect()
    assert not (tmp_path / path.rsplit("/", 1)[1]).exists()
    assert copy.to_edge_index().tolist() == [[0, 1], [1, 0]]  # mapped pages outlive the file
