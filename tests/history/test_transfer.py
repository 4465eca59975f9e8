"""The push-before-pull rule: every pulled row is the latest pushed one, in every mode."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgnn.history import (
    GASBatches,
    GASData,
    PushWriter,
    TransferStats,
    forward_halos,
    init_history,
    pull,
    run_gas_steps,
)

P, K = 8, 2


@pytest.fixture(scope="module")
def data(csbm):
    return GASData(csbm.graph, num_parts=P)


def _batches(data, epochs):
    source = GASBatches(data, K, shuffle=True, seed=1)
    for epoch in range(epochs):
        for i in range(len(source)):
            yield jax.device_put(source.pad(source.get(epoch, i))), source.parts(epoch, i)


def _counting_step(use_forward):
    """Pushes ``t + 1`` (and ``-(t + 1)``) for every batch row at step ``t``; returns the halo
    rows it read as its "loss", so the test can compare them with the latest pushes."""

    @jax.jit
    def step(t, batch, halos, forward, previous):
        if use_forward:
            halos = forward_halos(halos, forward, previous)
        num_b = batch.node_blocks[0]
        value = t.astype(jnp.float32) + 1.0
        pushed = (jnp.full((num_b, 2), value), jnp.full((num_b, 3), -value))
        return t + 1, halos, pushed

    return step


@pytest.mark.parametrize("transfers", ["async", "sync"])
def test_every_pulled_row_is_the_latest_push(data, transfers):
    n = data.num_nodes
    hists = [init_history(n, 2), init_history(n, 3)]
    stats = TransferStats()
    batches = list(_batches(data, epochs=3))
    _, seen = run_gas_steps(
        _counting_step(True), jnp.int32(0), batches, data, hists, transfers=transfers, stats=stats
    )
    latest = np.zeros(n + 1, np.float32)  # oracle: value of the last push of every node
    for t, ((batch, parts), halos) in enumerate(zip(batches, seen, strict=True)):
        num_b = batch.node_blocks[0]
        halo_ids = np.asarray(batch.n_id)[num_b:]
        real = halo_ids < n
        want = latest[halo_ids[real], None]
        np.testing.assert_array_equal(np.asarray(halos[0])[real], np.repeat(want, 2, 1))
        np.testing.assert_array_equal(np.asarray(halos[1])[real], -np.repeat(want, 3, 1))
        latest[data.nodes(parts)] = t + 1
    # after the run every push has landed
    np.testing.assert_array_equal(hists[0].emb, np.repeat(latest[:n, None], 2, 1))
    np.testing.assert_array_equal(hists[1].emb, -np.repeat(latest[:n, None], 3, 1))
    assert stats.steps == len(batches)
    assert stats.pulled_bytes > 0 and stats.pushed_bytes == 3 * 5 * 4 * n
    if transfers == "async":
        assert stats.forwarded_rows > 0  # consecutive batches did overlap: the rule was tested
    else:
        assert stats.forwarded_rows == 0


def test_sync_mode_needs_no_forwarding(data):
    n = data.num_nodes
    hists = [init_history(n, 2), init_history(n, 3)]
    batches = list(_batches(data, epochs=2))
    _, seen = run_gas_steps(
        _counting_step(False), jnp.int32(0), batches, data, hists, transfers="sync"
    )
    latest = np.zeros(n + 1, np.float32)
    for t, ((batch, parts), halos) in enumerate(zip(batches, seen, strict=True)):
        halo_ids = np.asarray(batch.n_id)[batch.node_blocks[0] :]
        real = halo_ids < n
        want = np.repeat(latest[halo_ids[real], None], 2, 1)
        np.testing.assert_array_equal(np.asarray(halos[0])[real], want)
        latest[data.nodes(parts)] = t + 1


def test_forward_halos_matches_a_gather():
    prev = (jnp.arange(12.0).reshape(4, 3),)
    halos = (jnp.full((3, 3), -1.0),)
    got = forward_halos(halos, jnp.array([2, 4, 0], jnp.int32), prev)[0]
    want = np.stack([np.arange(6.0, 9.0), -np.ones(3), np.arange(3.0)])
    np.testing.assert_array_equal(np.asarray(got), want)


def test_writer_errors_reach_the_caller():
    h = init_history(5, 2)
    with pytest.raises(RuntimeError, match="push failed"):
        with PushWriter("async") as writer:
            t = writer.submit([jnp.ones((2, 3))], [h], np.array([[0, 2]]))  # 3 != 2 features
            writer.wait(t)
    with pytest.raises(ValueError, match="transfers"):
        PushWriter("later")


def test_empty_run_returns_the_state(data):
    state, losses = run_gas_steps(_counting_step(True), 7, [], data, [])
    assert state == 7 and losses == []


def test_pull_zero_fills_padding_in_pulls(data):
    h = init_history(data.num_nodes, 2)
    h.emb[:] = 1.0
    rows = pull(h, np.array([0, data.num_nodes]))
    np.testing.assert_array_equal(rows, [[1.0, 1.0], [0.0, 0.0]])
