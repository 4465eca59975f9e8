"""Tests for the fractional split, the scaling CSBM and the cached synthetic presets."""

from __future__ import annotations

import time

import numpy as np
import pytest

import jgnn.datasets._presets as presets
from jgnn.datasets import (
    DATASETS,
    SCALING_SIZES,
    SYNTHETIC_PRESETS,
    contextual_sbm,
    load,
    load_synthetic_preset,
    random_split,
    scaling_csbm,
)

_TINY = {"num_nodes": 3000, "avg_degree": 6.0, "num_classes": 3, "num_features": 4}


def _arrays(ds):
    g = ds.graph
    return [g.nodes, g.senders, g.receivers, ds.labels, ds.train_mask, ds.val_mask, ds.test_mask]


def _assert_same(a, b) -> None:
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    assert (a.num_classes, a.name) == (b.num_classes, b.name)


@pytest.fixture
def tiny(monkeypatch):
    """Registers a small preset so that cache behaviour is tested in milliseconds."""
    monkeypatch.setattr(presets, "SYNTHETIC_PRESETS", {"synthetic-tiny": _TINY})
    return "synthetic-tiny"


def test_random_split_is_a_partition_of_the_right_sizes():
    tr, va, te = random_split(1001, np.random.default_rng(3), 0.25, 0.5)
    assert (int(tr.sum()), int(va.sum()), int(te.sum())) == (250, 500, 251)
    assert ((tr.astype(int) + va + te) == 1).all()
    again = random_split(1001, np.random.default_rng(3), 0.25, 0.5)
    for a, b in zip((tr, va, te), again, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("train", "val"), [(-0.1, 0.5), (0.5, 1.5), (0.7, 0.4)])
def test_random_split_rejects_bad_fractions(train, val):
    with pytest.raises(ValueError, match="fraction"):
        random_split(10, np.random.default_rng(0), train, val)


def test_split_argument_changes_only_the_masks():
    kwargs = dict(num_nodes=2000, num_classes=4, num_features=6, seed=9)
    planetoid = contextual_sbm(**kwargs)
    fractional = contextual_sbm(**kwargs, split=(0.5, 0.2))
    for a, b in zip(_arrays(planetoid)[:4], _arrays(fractional)[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    assert (int(fractional.train_mask.sum()), int(fractional.val_mask.sum())) == (1000, 400)
    assert int(fractional.test_mask.sum()) == 600
    with pytest.raises(ValueError, match="split"):
        contextual_sbm(**kwargs, split="random")
    with pytest.raises(TypeError, match="split"):
        contextual_sbm(**kwargs, split=0.5)


def test_scaling_csbm_keeps_the_degree_fixed_across_sizes():
    for n in (5_000, 50_000):
        ds = scaling_csbm(n, avg_degree=12.0, num_features=2, seed=0)
        assert ds.num_nodes == n
        assert abs(ds.num_edges / n - 12.0) < 0.02 * 12.0
        assert int(ds.train_mask.sum()) == n // 10 and int(ds.val_mask.sum()) == n // 10
        measured = float((ds.labels[ds.graph.senders] == ds.labels[ds.graph.receivers]).mean())
        assert abs(measured - 0.8) < 0.02
    assert SCALING_SIZES == (100_000, 1_000_000, 4_000_000)


def test_preset_is_cached_and_read_back(tiny, tmp_path, monkeypatch):
    direct = scaling_csbm(**_TINY, seed=2)._replace(name=tiny)
    first = load_synthetic_preset(tiny, seed=2)
    _assert_same(first, direct)
    (path,) = (tmp_path / "cache" / "synthetic").iterdir()
    assert path.name.startswith(f"{tiny}-seed2-") and path.suffix == ".npz"

    def fail(**kwargs):
        raise AssertionError("regenerated instead of reading the cache")

    with monkeypatch.context() as patched:
        patched.setattr(presets, "scaling_csbm", fail)
        _assert_same(load_synthetic_preset(tiny, seed=2), direct)


def test_corrupt_preset_cache_is_regenerated(tiny, tmp_path):
    reference = load_synthetic_preset(tiny)
    (path,) = (tmp_path / "cache" / "synthetic").iterdir()
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="rebuilding"):
        _assert_same(load_synthetic_preset(tiny), reference)
    _assert_same(load_synthetic_preset(tiny), reference)


def test_preset_is_deterministic_for_a_seed(tiny):
    a = load_synthetic_preset(tiny, seed=5, cache=False)
    b = load_synthetic_preset(tiny, seed=5, cache=False)
    _assert_same(a, b)
    c = load_synthetic_preset(tiny, seed=6, cache=False)
    assert not np.array_equal(a.labels, c.labels)


def test_changed_preset_does_not_read_the_old_cache(tiny, tmp_path, monkeypatch):
    load_synthetic_preset(tiny)
    monkeypatch.setattr(presets, "SYNTHETIC_PRESETS", {tiny: {**_TINY, "num_features": 5}})
    ds = load_synthetic_preset(tiny)
    assert ds.num_features == 5
    assert len(list((tmp_path / "cache" / "synthetic").iterdir())) == 1  # the stale one is gone


def test_unknown_preset():
    with pytest.raises(ValueError, match=r"'synthetic-5m'.*synthetic-200k.*synthetic-1m"):
        load_synthetic_preset("synthetic-5m")


def test_real_presets_are_listed_and_200k_has_its_advertised_size(capsys):
    assert {"synthetic-200k", "synthetic-1m"} <= set(DATASETS) & set(SYNTHETIC_PRESETS)
    start = time.perf_counter()
    ds = load("Synthetic-200K", cache=False)
    seconds = time.perf_counter() - start
    assert ds.name == "synthetic-200k" and ds.num_nodes == 200_000
    assert ds.num_features == 128 and ds.num_classes == 10
    assert abs(ds.num_edges - 2_000_000) < 0.01 * 2_000_000
    assert int(ds.train_mask.sum()) == 20_000 and int(ds.val_mask.sum()) == 20_000
    with capsys.disabled():
        print(f"\nsynthetic-200k generated in {seconds:.2f} s")  # measured, not asserted
