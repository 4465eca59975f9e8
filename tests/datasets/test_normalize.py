"""Tests for normalize_features against the closed form and PyG's NormalizeFeatures."""

from __future__ import annotations

import numpy as np
import pytest

from jgnn.datasets import normalize_features


def test_binary_rows_sum_to_one_and_zero_rows_stay_zero():
    x = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [0, 2, 0, 0]], dtype=np.int64)
    out = normalize_features(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(
        out, np.array([[1 / 3, 0, 1 / 3, 1 / 3], [0, 0, 0, 0], [0, 1, 0, 0]], np.float32)
    )
    assert x.dtype == np.int64 and x[0, 0] == 1  # input untouched


def test_closed_form_with_negative_values_and_small_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 7))
    x[3] = 0.01  # small row: after the shift its sum may stay below 1
    shifted = x - x.min()
    expected = shifted / np.maximum(shifted.sum(axis=1, keepdims=True), 1.0)
    np.testing.assert_allclose(normalize_features(x), expected, rtol=1e-6)


def test_rejects_non_matrix():
    with pytest.raises(ValueError, match=r"2-D.*\(3,\)"):
        normalize_features(np.ones(3))


def test_empty_matrix():
    assert normalize_features(np.zeros((0, 4))).shape == (0, 4)


@pytest.mark.peers
def test_matches_pyg_normalize_features():
    pytest.importorskip("torch_geometric")
    import torch
    from torch_geometric.data import Data
    from torch_geometric.transforms import NormalizeFeatures

    rng = np.random.default_rng(1)
    x = np.concatenate(
        [rng.integers(0, 2, size=(20, 9)), rng.normal(size=(20, 9)), np.zeros((3, 9))]
    ).astype(np.float32)
    x[5] = 0.02
    ref = NormalizeFeatures()(Data(x=torch.from_numpy(x.copy()))).x.numpy()
    np.testing.assert_allclose(normalize_features(x), ref, rtol=1e-6, atol=1e-7)
