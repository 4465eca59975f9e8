"""ClusterData / ClusterLoader: contiguous parts, induced batches, the verified cache."""

from __future__ import annotations

import os
import pickle
import shutil
import warnings

import numpy as np
import pytest
from sampling._oracle import assert_edges_exist, symmetric_edge_index

from jgnn.sampling import BatchSource, ClusterData, ClusterLoader, CSCGraph

N = 300


@pytest.fixture(scope="module")
def edge_index():
    return symmetric_edge_index(N, 1200, seed=0)


def test_parts_are_contiguous_ranges_of_the_new_order(edge_index, tmp_path):
    cd = ClusterData(edge_index, 6, cache_dir=tmp_path)
    assert cd.part.shape == (N,) and cd.part.min() >= 0 and cd.part.max() < 6
    np.testing.assert_array_equal(np.sort(cd.perm), np.arange(N))  # a permutation
    assert cd.partptr[0] == 0 and cd.partptr[-1] == N and np.all(np.diff(cd.partptr) >= 0)
    for p in range(6):
        members = cd.perm[cd.partptr[p] : cd.partptr[p + 1]]
        np.testing.assert_array_equal(np.sort(members), np.flatnonzero(cd.part == p))
        assert np.all(np.diff(members) > 0)  # stable within a part
    # the permuted store holds the same edges, relabelled, with the original edge ids
    relabelled = cd.perm[cd.graph.to_edge_index()]
    np.testing.assert_array_equal(relabelled, edge_index)
    # METIS did its job: fewer cut edges than a random balanced split
    cut = np.mean(cd.part[edge_index[0]] != cd.part[edge_index[1]])
    assert cut < 0.6 * (1 - 1 / 6)


def brute_force_induced(edge_index, nodes):
    inside = set(nodes.tolist())
    return sorted(
        e for e, (s, d) in enumerate(edge_index.T.tolist()) if s in inside and d in inside
    )


def test_batches_hold_all_edges_among_their_parts(edge_index, tmp_path):
    cd = ClusterData(edge_index, 8, cache_dir=tmp_path)
    loader = ClusterLoader(cd, 3, seed=1)
    assert isinstance(loader, BatchSource) and len(loader) == 3
    covered = []
    for i, batch in enumerate(loader.iter_epoch(0)):
        parts = loader.parts(0, i)
        expected_nodes = np.concatenate([cd.perm[cd.partptr[p] : cd.partptr[p + 1]] for p in parts])
        np.testing.assert_array_equal(batch.n_id, expected_nodes)
        assert batch.batch_size == batch.num_nodes
        assert_edges_exist(batch, edge_index)
        assert sorted(batch.e_id.tolist()) == brute_force_induced(edge_index, batch.n_id)
        assert batch.num_sampled_edges == (batch.num_edges,)
        covered.append(parts)
    np.testing.assert_array_equal(np.sort(np.concatenate(covered)), np.arange(8))
    assert [len(p) for p in covered] == [3, 3, 2]
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(covered, [loader.parts(1, i) for i in range(3)], strict=True)
    )


def test_weights_follow_the_edges(edge_index, tmp_path):
    w = np.arange(edge_index.shape[1], dtype=np.float32)
    graph = CSCGraph.from_edge_index(edge_index, N, edge_weight=w)
    batch = ClusterLoader(ClusterData(graph, 4, cache_dir=tmp_path), 2).get(0, 1)
    np.testing.assert_array_equal(batch.edge_weight, w[batch.e_id])


def test_cache_hit_miss_and_default_folder(edge_index, tmp_path):
    first = ClusterData(edge_index, 5)
    assert not first.from_cache
    assert first.cache_path.parent == tmp_path / "cache" / "metis"  # $JGNN_CACHE/metis
    second = ClusterData(edge_index, 5)
    assert second.from_cache
    np.testing.assert_array_equal(second.part, first.part)
    assert not ClusterData(edge_index, 4).from_cache  # other arguments, other key
    assert not ClusterData(edge_index, 5, seed=1).from_cache


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_damaged_cache_is_reported_and_rebuilt(edge_index, tmp_path, damage):
    good = ClusterData(edge_index, 5, cache_dir=tmp_path)
    path = good.cache_path
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    else:  # a valid file whose partition no longer matches its checksum
        with np.load(path) as z:
            fields = {k: z[k] for k in z.files}
        fields["part"] = (fields["part"] + 1) % 5
        with open(path, "wb") as f:
            np.savez(f, **fields)
    with pytest.warns(RuntimeWarning, match="cache file .* is .*rebuilding"):
        rebuilt = ClusterData(edge_index, 5, cache_dir=tmp_path)
    assert not rebuilt.from_cache
    np.testing.assert_array_equal(rebuilt.part, good.part)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ClusterData(edge_index, 5, cache_dir=tmp_path).from_cache  # rewritten, valid
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_another_graphs_cache_is_never_used(edge_index, tmp_path):
    a = ClusterData(edge_index, 5, cache_dir=tmp_path / "a")
    other = symmetric_edge_index(N, 1200, seed=1)
    b = ClusterData(other, 5, cache_dir=tmp_path / "b")
    shutil.copy(a.cache_path, b.cache_path)  # a's file under b's key
    with pytest.warns(RuntimeWarning, match="another graph"):
        again = ClusterData(other, 5, cache_dir=tmp_path / "b")
    np.testing.assert_array_equal(again.part, b.part)


def test_shared_cluster_data_pickles_small(edge_index, tmp_path):
    cd = ClusterData(CSCGraph.from_edge_index(edge_index, N).share(), 4, cache_dir=tmp_path)
    assert cd.graph.is_shared
    loader = ClusterLoader(cd, 2, seed=3)
    payload = pickle.dumps(loader)
    assert len(payload) < 3_000
    b1, b2 = pickle.loads(payload).get(2, 1), loader.get(2, 1)
    np.testing.assert_array_equal(b1.n_id, b2.n_id)
    np.testing.assert_array_equal(b1.e_id, b2.e_id)


def test_bad_inputs(edge_index, tmp_path):
    directed = np.array([[0, 1, 2], [1, 2, 0]])
    with pytest.raises(ValueError, match=r"symmetric.*0 -> 1.*jgnn.graph.to_undirected"):
        ClusterData(directed, 2, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"num_parts.*\[1, 300\].*301"):
        ClusterData(edge_index, N + 1, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="num_parts.*>= 1"):
        ClusterData(edge_index, 0, cache_dir=tmp_path)
    with pytest.raises(TypeError, match="num_parts"):
        ClusterData(edge_index, 2.0, cache_dir=tmp_path)
    with pytest.raises(TypeError, match="recursive"):
        ClusterData(edge_index, 2, recursive=None, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="no edges"):
        ClusterData(np.zeros((2, 0), np.int64), 1, cache_dir=tmp_path)
    cd = ClusterData(edge_index, 4, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"parts_per_batch.*5.*num_parts.*4"):
        ClusterLoader(cd, 5)
    with pytest.raises(ValueError, match="parts_per_batch"):
        ClusterLoader(cd, 0)
    with pytest.raises(TypeError, match="cluster_data"):
        ClusterLoader(edge_index, 1)


def test_self_loops_and_duplicates_are_ignored_by_metis(edge_index, tmp_path):
    loops = np.stack([np.arange(N), np.arange(N)])
    noisy = np.concatenate([edge_index, loops, edge_index[:, :50], edge_index[::-1, :50]], axis=1)
    a = ClusterData(edge_index, 4, cache_dir=tmp_path / "a")
    b = ClusterData(noisy, 4, cache_dir=tmp_path / "b")
    np.testing.assert_array_equal(a.part, b.part)  # METIS saw the same simple graph
    batch = ClusterLoader(b, 4, shuffle=False).get(0, 0)
    assert batch.num_edges == noisy.shape[1]  # the batches keep them


def test_recursive_bisection(edge_index, tmp_path):
    cd = ClusterData(edge_index, 4, recursive=True, cache_dir=tmp_path)
    assert np.all(np.diff(cd.partptr) > 0)
