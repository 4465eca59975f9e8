"""SharedArrays: one memory-mapped file, pickled by name, checked when attached."""

from __future__ import annotations

import gc
import os
import pickle

import numpy as np
import pytest

from jgnn.sampling import SharedArrays


def test_round_trip_keeps_values_dtypes_and_shapes(tmp_path):
    arrays = {
        "a": np.arange(10, dtype=np.int32),
        "b": np.linspace(0, 1, 12, dtype=np.float64).reshape(3, 4),
        "empty": np.zeros((0, 5), np.float32),
        "c": np.array([True, False, True]),
    }
    shared = SharedArrays(arrays, tmp_path)
    assert shared.is_owner and os.path.dirname(shared.path) == str(tmp_path)
    copy = pickle.loads(pickle.dumps(shared))
    assert not copy.is_owner
    for view in (shared, copy):
        assert list(view) == list(arrays)
        for name, value in arrays.items():
            assert view[name].dtype == value.dtype and view[name].shape == value.shape
            np.testing.assert_array_equal(view[name], value)
            assert not view[name].flags.writeable
            if value.size:
                assert view[name].ctypes.data % 64 == 0  # aligned
    with pytest.raises(ValueError, match="read-only"):
        copy["a"][0] = 1


def test_pickle_is_small_and_independent_of_size(tmp_path):
    small = len(pickle.dumps(SharedArrays({"x": np.zeros(10)}, tmp_path)))
    large = len(pickle.dumps(SharedArrays({"x": np.zeros(5_000_000)}, tmp_path)))
    assert small < 1_000 and abs(large - small) < 16


def test_a_changed_file_is_detected(tmp_path):
    shared = SharedArrays({"x": np.arange(100)}, tmp_path)
    payload = pickle.dumps(shared)
    with open(shared.path, "r+b") as f:
        f.truncate(10)
    with pytest.raises(ValueError, match="truncated"):
        pickle.loads(payload)


def test_owner_deletes_the_file(tmp_path):
    shared = SharedArrays({"x": np.arange(5)}, tmp_path)
    path = shared.path
    attached = pickle.loads(pickle.dumps(shared))
    del attached
    gc.collect()
    assert os.path.exists(path)  # a non-owner never deletes
    del shared
    gc.collect()
    assert not os.path.exists(path)


def test_object_arrays_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="object dtype"):
        SharedArrays({"x": np.array([None, 1])}, tmp_path)
