"""History tables: pull/push round trips on every storage, padding ids, errors, checkpoints."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgnn.history import History, history_arrays, init_history, pull, push, restore_histories

N, F = 50, 6


def _rows(k, seed=0):
    return np.random.default_rng(seed).normal(size=(k, F)).astype(np.float32)


@pytest.fixture(params=["host", "memmap", "device"])
def history(request, tmp_path):
    path = tmp_path / "h.npy" if request.param == "memmap" else None
    return init_history(N, F, storage=request.param, path=path)


def test_init_is_zero_and_typed(history):
    assert history.num_nodes == N and history.features == F
    assert np.asarray(history.emb).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(history.emb), 0.0)


def test_scattered_ids_round_trip_against_a_dense_table(history):
    oracle = np.zeros((N, F), np.float32)
    ids = np.array([7, 3, 49, 0, 21])
    rows = _rows(5)
    history = push(history, rows, ids)
    oracle[ids] = rows
    got = pull(history, np.array([49, 3, 8, 7, N, 0]))  # N is the padding id: zeros
    want = np.concatenate([oracle[[49, 3, 8, 7]], np.zeros((1, F)), oracle[[0]]])
    np.testing.assert_array_equal(np.asarray(got), want)
    np.testing.assert_array_equal(np.asarray(history.emb), oracle)


def test_padding_ids_are_dropped_by_push(history):
    rows = _rows(3)
    history = push(history, rows, np.array([4, N, 9]))
    table = np.asarray(history.emb)
    np.testing.assert_array_equal(table[[4, 9]], rows[[0, 2]])
    assert np.count_nonzero(np.abs(table).sum(1)) == 2


@pytest.mark.parametrize("storage", ["host", "memmap"])
def test_range_pushes_are_slice_copies(storage, tmp_path):
    path = tmp_path / "r.npy" if storage == "memmap" else None
    h = init_history(N, F, storage=storage, path=path)
    ranges = np.array([[10, 14], [30, 33]])
    rows = _rows(9)  # 7 real rows, then padding rows that must be ignored
    out = push(h, rows, ranges=ranges)
    assert out is h  # host tables are written in place
    oracle = np.zeros((N, F), np.float32)
    oracle[10:14], oracle[30:33] = rows[:4], rows[4:7]
    np.testing.assert_array_equal(np.asarray(h.emb), oracle)
    ids = np.r_[10:14, 30:33]
    np.testing.assert_array_equal(pull(h, ids), rows[:7])


def test_device_pull_and_push_are_jittable_and_pure():
    h = init_history(N, F, storage="device")
    ids = jnp.array([1, 2, N], jnp.int32)
    rows = jnp.asarray(_rows(3))

    @jax.jit
    def step(emb, rows, ids):
        new = push(History(emb), rows, ids)
        return new.emb, pull(new, ids)

    emb, got = step(h.emb, rows, ids)
    np.testing.assert_array_equal(np.asarray(got[:2]), np.asarray(rows[:2]))
    np.testing.assert_array_equal(np.asarray(got[2]), 0.0)
    np.testing.assert_array_equal(np.asarray(h.emb), 0.0)  # the old state is untouched


def test_no_gradient_flows_into_a_device_history():
    h = push(init_history(N, F, storage="device"), jnp.ones((2, F)), jnp.array([0, 1]))

    def f(emb):
        return jnp.sum(pull(History(emb), jnp.array([0, 1])) ** 2)

    np.testing.assert_array_equal(np.asarray(jax.grad(f)(h.emb)), 0.0)


def test_bad_inputs_name_what_is_wrong(tmp_path):
    h = init_history(N, F)
    with pytest.raises(ValueError, match="6 features"):
        push(h, np.ones((2, F + 1), np.float32), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 50\]"):
        pull(h, np.array([0, N + 1]))
    with pytest.raises(ValueError, match="exactly one"):
        push(h, np.ones((2, F), np.float32))
    with pytest.raises(ValueError, match="3 ids for 2 rows"):
        push(h, np.ones((2, F), np.float32), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="cover 5 rows"):
        push(h, np.ones((2, F), np.float32), ranges=np.array([[0, 5]]))
    with pytest.raises(ValueError, match="storage"):
        init_history(N, F, storage="disk")
    with pytest.raises(ValueError, match="path"):
        init_history(N, F, storage="memmap")
    with pytest.raises(ValueError, match="floating"):
        init_history(N, F, dtype=np.int32)
    with pytest.raises(ValueError, match="host histories"):
        push(init_history(N, F, storage="device"), jnp.ones((2, F)), ranges=np.array([[0, 2]]))


def test_checkpoint_round_trip_with_orbax(tmp_path):
    ocp = pytest.importorskip("orbax.checkpoint")
    hs = [
        push(init_history(N, F), _rows(4, 1), np.array([0, 5, 9, 40])),
        push(init_history(N, 3, storage="device"), jnp.ones((2, 3)), jnp.array([1, 2])),
    ]
    saved = {k: np.array(v) for k, v in history_arrays(hs).items()}
    path = tmp_path / "ckpt"
    with ocp.PyTreeCheckpointer() as ckpt:
        ckpt.save(path, history_arrays(hs))
        loaded = ckpt.restore(path)
    fresh = [init_history(N, F), init_history(N, 3, storage="device")]
    restored = restore_histories(fresh, loaded)
    for i, h in enumerate(restored):
        np.testing.assert_array_equal(np.asarray(h.emb), saved[str(i)])
    assert isinstance(restored[1].emb, jax.Array)
    with pytest.raises(ValueError, match="saved table"):
        restore_histories([init_history(N, F + 1), fresh[1]], loaded)
    with pytest.raises(ValueError, match="keys"):
        restore_histories(fresh[:1], loaded)
