"""Loader with grain worker processes: same batches as in-process, failures surface, no orphans.

Each test starts worker processes (a few seconds each: they import jax and jgnn), so they are
few and short; every wait is bounded by the loader's timeouts.
"""

import multiprocessing
import time

import jax
import numpy as np
import pytest
from loader.loader_sources import HopSource, random_graph

from jgnn.loader import Budget, Loader
from jgnn.sampling import NeighborSampler, SeedBatches, as_csc_graph

N = 150
STARTUP_S = 120.0  # generous: workers start on a shared 2-core machine


@pytest.fixture(scope="module")
def graph():
    rng = np.random.default_rng(0)
    return random_graph(N, 500, seed=3), rng.normal(size=(N, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def budget(graph):
    return Budget.fit(
        HopSource(graph[0], N, num_batches=8, seed=11), num_batches=8, percentile=60.0, num_rungs=1
    )


def _no_children_left(deadline_s=10.0):
    end = time.monotonic() + deadline_s
    while multiprocessing.active_children() and time.monotonic() < end:
        time.sleep(0.1)
    return not multiprocessing.active_children()


def _leaves(loader, epochs):
    return [
        [np.asarray(v) for v in jax.tree_util.tree_leaves(b)] + [b.node_blocks, b.edge_blocks]
        for e in epochs
        for b in loader.epoch(e)
    ]


def test_same_batches_for_any_number_of_workers(graph):
    edges, x = graph
    shared = as_csc_graph(edges, num_nodes=N).share()  # workers map it, nothing is copied
    sampler = NeighborSampler(shared, [4, 3], seed=1)
    src = SeedBatches(sampler, np.arange(N), batch_size=12, shuffle=True, seed=5)
    budget = Budget.fit(src, num_batches=8, percentile=60.0, num_rungs=1)
    kw = dict(features=x, shuffle=True, seed=2, overflow="skip", startup_timeout_s=STARTUP_S)
    with Loader(src, budget, **kw) as loader:
        want = _leaves(loader, (0, 1))
    with Loader(src, budget, num_workers=2, **kw) as loader:
        got = _leaves(loader, (0, 1))
        report = loader.report()
    assert len(got) == len(want) and report.skipped > 0  # skips keep the order intact
    for a, b in zip(want, got):
        assert a[-2:] == b[-2:]
        for u, v in zip(a[:-2], b[:-2]):
            np.testing.assert_array_equal(u, v)
    assert report.sample_s > 0 and report.first_batch_s > 0
    assert _no_children_left()


def test_worker_exception_surfaces_with_its_type_and_message(graph, budget):
    edges, x = graph
    src = HopSource(edges, N, num_batches=8, seed=11, fail="raise", fail_index=3)
    with Loader(
        src, budget, features=x, num_workers=1, overflow="grow", startup_timeout_s=STARTUP_S
    ) as loader:
        it = loader.epoch(0)
        got = [next(it) for _ in range(3)]
        with pytest.raises(KeyError, match="planted failure at batch 3") as info:
            next(it)
    assert len(got) == 3
    assert any("source.get(epoch=0, index=3)" in note for note in info.value.__notes__)
    assert _no_children_left()


def test_killed_worker_gives_a_clear_error(graph, budget):
    edges, x = graph
    src = HopSource(edges, N, num_batches=8, seed=11, fail="kill", fail_index=2)
    with Loader(
        src,
        budget,
        features=x,
        num_workers=1,
        overflow="grow",
        timeout_s=30.0,
        startup_timeout_s=STARTUP_S,
    ) as loader:
        it = loader.epoch(0)
        start = time.monotonic()
        with pytest.raises(RuntimeError, match="terminated unexpectedly") as info:
            for _ in it:  # batches the dead worker had not flushed yet are lost with it
                pass
        assert it.position <= 2 and time.monotonic() - start < 60.0
    assert any("worker process died" in note for note in info.value.__notes__)
    assert _no_children_left()


def test_hung_worker_times_out_and_is_killed(graph, budget):
    edges, x = graph
    src = HopSource(edges, N, num_batches=8, seed=11, fail="hang", fail_index=2, hang_s=600.0)
    with Loader(
        src,
        budget,
        features=x,
        num_workers=1,
        overflow="grow",
        timeout_s=2.0,
        startup_timeout_s=STARTUP_S,
    ) as loader:
        it = loader.epoch(0)
        next(it), next(it)
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="worker processes were killed"):
            next(it)
        assert time.monotonic() - start < 15.0
    assert _no_children_left()
