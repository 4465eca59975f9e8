"""SeedBatches: the batch-source protocol, epoch coverage, determinism across processes."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from sampling._oracle import assert_edges_exist, random_edge_index
from sampling._workers import get_batch

from jgnn.sampling import BatchSource, CSCGraph, NeighborSampler, SeedBatches

N, E = 200, 1500


@pytest.fixture(scope="module")
def edge_index():
    return random_edge_index(N, E, seed=0)


def same(a, b):
    return all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("n_id", "e_id", "senders", "receivers")
    ) and (a.num_sampled_nodes, a.num_sampled_edges) == (b.num_sampled_nodes, b.num_sampled_edges)


def test_an_epoch_covers_every_input_node_once(edge_index):
    inputs = np.random.default_rng(0).choice(N, 101, replace=False)
    source = SeedBatches(NeighborSampler(edge_index, [3, 2]), inputs, 16, seed=4)
    assert isinstance(source, BatchSource)
    assert len(source) == 7
    batches = list(source.iter_epoch(2))
    assert [b.batch_size for b in batches] == [16] * 6 + [5]
    seeds = np.concatenate([b.n_id[: b.batch_size] for b in batches])
    np.testing.assert_array_equal(np.sort(seeds), np.sort(inputs))
    for b in batches:
        assert_edges_exist(b, edge_index)
    epoch3 = np.concatenate([b.n_id[: b.batch_size] for b in source.iter_epoch(3)])
    assert not np.array_equal(seeds, epoch3)  # reshuffled
    ordered = SeedBatches(NeighborSampler(edge_index, [3]), inputs, 16, shuffle=False)
    np.testing.assert_array_equal(ordered.get(5, 1).n_id[:16], inputs[16:32])


def test_drop_last_and_oversized_batches(edge_index):
    sampler = NeighborSampler(edge_index, [2])
    assert len(SeedBatches(sampler, np.arange(50), 16, drop_last=True)) == 3
    whole = SeedBatches(sampler, np.arange(50), 64)  # PyG: one batch holding every seed
    assert len(whole) == 1 and whole.get(0, 0).batch_size == 50
    with pytest.raises(ValueError, match="batch_size.*exceeds the 50 input nodes"):
        SeedBatches(sampler, np.arange(50), 64, drop_last=True)


def test_mask_input_equals_id_input(edge_index):
    sampler = NeighborSampler(edge_index, [2, 2])
    mask = np.zeros(N, bool)
    mask[::3] = True
    a = SeedBatches(sampler, mask, 10, seed=1)
    b = SeedBatches(sampler, np.flatnonzero(mask), 10, seed=1)
    assert same(a.get(1, 2), b.get(1, 2))


def test_batches_are_a_function_of_seed_epoch_index(edge_index, spawned):
    graph = CSCGraph.from_edge_index(edge_index, N).share()
    source = SeedBatches(NeighborSampler(graph, [4, 3]), np.arange(N), 32, seed=9)
    payload = pickle.dumps(source)
    assert len(payload) < 5_000  # graph and seed ids travel as shared-memory names
    reference = {(e, i): source.get(e, i) for e in (0, 1) for i in (0, 3)}
    # same (seed, epoch, index): same batch, in any order, after pickling, in a fresh process
    assert same(pickle.loads(payload).get(1, 3), reference[(1, 3)])
    assert same(spawned.submit(get_batch, payload, 0, 3).result(timeout=120), reference[(0, 3)])
    fresh = SeedBatches(NeighborSampler(edge_index, [4, 3]), np.arange(N), 32, seed=9)
    assert same(fresh.get(1, 0), reference[(1, 0)])
    # other indices, epochs and seeds differ
    assert not same(reference[(0, 0)], reference[(0, 3)])
    assert not same(reference[(0, 3)], reference[(1, 3)])
    other = SeedBatches(NeighborSampler(edge_index, [4, 3]), np.arange(N), 32, seed=10)
    assert not same(other.get(0, 0), reference[(0, 0)])


def test_threads_get_the_same_batches(edge_index):
    source = SeedBatches(NeighborSampler(edge_index, [5, 5]), np.arange(N), 8, seed=2)
    expected = [source.get(0, i) for i in range(len(source))]
    results = {}

    def work(worker):
        for i in range(worker, len(source), 4):
            results[i] = source.get(0, i)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(same(results[i], expected[i]) for i in range(len(source)))


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((np.arange(5), 0), {}, ValueError, "batch_size.*>= 1"),
        ((np.arange(5), 2.0), {}, TypeError, "batch_size.*int"),
        ((np.array([1.0, 2.0]), 2), {}, TypeError, "input_nodes.*integer"),
        ((np.array([1, N]), 2), {}, ValueError, f"input_nodes.*{N}.*out of range"),
        ((np.array([-1, 2]), 2), {}, ValueError, "input_nodes.*-1"),
        ((np.array([1, 2, 1]), 2), {}, ValueError, "input_nodes.*repeats node 1"),
        ((np.zeros(N - 1, bool), 2), {}, ValueError, "input_nodes.*mask"),
        ((np.array([], np.int64), 2), {}, ValueError, "input_nodes.*empty"),
        ((np.arange(5), 2), {"shuffle": 1}, TypeError, "shuffle.*bool"),
        ((np.arange(5), 2), {"seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_arguments(edge_index, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        SeedBatches(NeighborSampler(edge_index, [2]), *args, **kwargs)


def test_bad_positions(edge_index):
    source = SeedBatches(NeighborSampler(edge_index, [2]), np.arange(10), 4)
    with pytest.raises(ValueError, match=r"index.*\[0, 3\).*got 3"):
        source.get(0, 3)
    with pytest.raises(ValueError, match="epoch"):
        source.get(-1, 0)
    with pytest.raises(TypeError, match="index"):
        source.get(0, 1.0)
    with pytest.raises(TypeError, match="sampler"):
        SeedBatches(edge_index, np.arange(10), 4)
