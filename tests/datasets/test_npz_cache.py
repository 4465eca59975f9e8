"""Tests for the verified dataset cache: round trip, atomic writes, corruption, opt-out."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from jgnn.datasets import contextual_sbm
from jgnn.datasets._npz_cache import _CorruptCache, cached_dataset, read_arrays, write_arrays


def _same(a, b) -> None:
    for x, y in [
        (a.graph.nodes, b.graph.nodes),
        (a.graph.senders, b.graph.senders),
        (a.graph.receivers, b.graph.receivers),
        (a.graph.n_node, b.graph.n_node),
        (a.graph.n_edge, b.graph.n_edge),
        (a.labels, b.labels),
        (a.train_mask, b.train_mask),
        (a.val_mask, b.val_mask),
        (a.test_mask, b.test_mask),
    ]:
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    assert (a.num_classes, a.name) == (b.num_classes, b.name)


class _Builder:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return contextual_sbm(num_nodes=200, num_features=3, seed=1)


def test_round_trip_reads_instead_of_building(tmp_path):
    path = tmp_path / "c" / "ds.npz"
    build = _Builder()
    first = cached_dataset(path, build)
    second = cached_dataset(path, build)
    assert build.calls == 1
    _same(first, second)
    _same(second, contextual_sbm(num_nodes=200, num_features=3, seed=1))
    assert [p.name for p in path.parent.iterdir()] == ["ds.npz"]  # no temporary file left


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_corrupt_cache_is_reported_and_rebuilt(tmp_path, damage):
    path = tmp_path / "ds.npz"
    build = _Builder()
    reference = cached_dataset(path, build)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0x01  # inside the feature block: zip CRC or digest catches it
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(b"PK\x03\x04 not really a zip")
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=f"Dataset cache {path}.*rebuilding"):
        rebuilt = cached_dataset(path, build)
    assert build.calls == 2
    _same(rebuilt, reference)
    _same(cached_dataset(path, build), reference)  # the rewritten file is sound
    assert build.calls == 2


def test_digest_mismatch_is_detected(tmp_path):
    # A well-formed npz whose arrays do not match the stored digest (e.g. edited by hand).
    path = tmp_path / "a.npz"
    write_arrays(path, {"x": np.arange(5)})
    with np.load(path) as z:
        stored = z["__sha256__"]
    np.savez(path, x=np.arange(5) + 1, __sha256__=stored)
    with pytest.raises(_CorruptCache, match="fails its SHA-256 check"):
        read_arrays(path)
    np.savez(path, x=np.arange(5))
    with pytest.raises(_CorruptCache, match="holds no digest"):
        read_arrays(path)


def test_disabled_cache_neither_reads_nor_writes(tmp_path):
    path = tmp_path / "ds.npz"
    build = _Builder()
    cached_dataset(path, build, enabled=False)
    cached_dataset(path, build, enabled=False)
    assert build.calls == 2 and not path.exists()


def test_unwritable_cache_warns_and_returns_the_dataset(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="Could not write the dataset cache"):
        ds = cached_dataset(blocker / "ds.npz", _Builder())
    _same(ds, contextual_sbm(num_nodes=200, num_features=3, seed=1))


def test_stale_files_are_removed_after_a_write(tmp_path):
    old = tmp_path / "ds-old.npz"
    write_arrays(old, {"x": np.zeros(2)})
    new = tmp_path / "ds-new.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cached_dataset(new, _Builder(), stale=[old, new])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds-new.npz"]
