"""Tests for the synthetic generators: CSBM and Chung-Lu power-law graphs."""

from __future__ import annotations

import numpy as np
import pytest

from jgnn.datasets import contextual_sbm, planetoid_like_split, power_law_graph
from jgnn.datasets._synthetic import _MEAN_NORM


def _check_simple_undirected(senders, receivers, n):
    assert senders.dtype == receivers.dtype == np.int32
    assert senders.shape == receivers.shape
    assert not (senders == receivers).any()
    assert senders.min(initial=0) >= 0 and senders.max(initial=0) < n
    keys = receivers.astype(np.int64) * n + senders
    assert (np.diff(keys) > 0).all()  # sorted by receiver, no duplicates
    pairs = set(zip(senders.tolist(), receivers.tolist(), strict=True))
    assert pairs == {(r, s) for s, r in pairs}


def _centroid_accuracy(x, labels, train, test, num_classes):
    """Nearest-class-mean classifier fitted on the training nodes."""
    means = np.stack([x[train & (labels == c)].mean(axis=0) for c in range(num_classes)])
    dist = ((x[test][:, None, :] - means[None]) ** 2).sum(-1)
    return float((dist.argmin(axis=1) == labels[test]).mean())


def _mean_aggregate(x, senders, receivers, n):
    """Mean over each node and its neighbours (one propagation step with a self loop)."""
    out = x.astype(np.float64).copy()
    np.add.at(out, receivers, x[senders])
    deg = np.bincount(receivers, minlength=n) + 1
    return out / deg[:, None]


def test_csbm_defaults_shapes_and_split():
    ds = contextual_sbm()
    g = ds.graph
    assert ds.name == "csbm" and ds.num_classes == 7
    assert g.nodes.shape == (2708, 256) and g.nodes.dtype == np.float32
    assert g.n_node.tolist() == [2708] and g.n_edge.tolist() == [g.senders.shape[0]]
    assert g.edges is None and g.globals is None
    assert ds.labels.dtype == np.int32
    _check_simple_undirected(g.senders, g.receivers, 2708)
    counts = np.bincount(ds.labels, minlength=7)
    assert counts.max() - counts.min() <= 1  # balanced
    assert np.bincount(ds.labels[ds.train_mask], minlength=7).tolist() == [20] * 7
    assert (int(ds.val_mask.sum()), int(ds.test_mask.sum())) == (500, 1000)
    total = ds.train_mask.astype(int) + ds.val_mask + ds.test_mask
    assert total.max() == 1


@pytest.mark.parametrize("homophily", [0.0, 0.2, 0.8, 1.0])
def test_csbm_degree_and_homophily(homophily):
    n, deg = 5000, 6.0
    ds = contextual_sbm(
        num_nodes=n, num_classes=5, num_features=4, avg_degree=deg, homophily=homophily, seed=3
    )
    s, r = ds.graph.senders, ds.graph.receivers
    assert abs(s.shape[0] / n - deg) < 0.05 * deg
    measured = float((ds.labels[s] == ds.labels[r]).mean())
    assert abs(measured - homophily) < 0.02


def test_csbm_features_are_class_means_plus_noise():
    ds = contextual_sbm(
        num_nodes=20_000, num_classes=4, num_features=32, feature_noise=0.5, avg_degree=1.0, seed=7
    )
    x, y = ds.graph.nodes.astype(np.float64), ds.labels
    means = np.stack([x[y == c].mean(axis=0) for c in range(4)])
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), _MEAN_NORM, rtol=0.05)
    residual = x - means[y]
    np.testing.assert_allclose(residual.std(axis=0), 0.5, rtol=0.05)


def test_csbm_graph_carries_signal():
    ds = contextual_sbm()
    x, y, c = ds.graph.nodes, ds.labels, ds.num_classes
    raw = _centroid_accuracy(x, y, ds.train_mask, ds.test_mask, c)
    agg = x
    for _ in range(2):
        agg = _mean_aggregate(agg, ds.graph.senders, ds.graph.receivers, ds.num_nodes)
    smoothed = _centroid_accuracy(agg, y, ds.train_mask, ds.test_mask, c)
    assert raw < 0.6  # features alone are weak...
    assert smoothed > raw + 0.2  # ...and neighbourhood averaging clearly helps
    # Without homophily the graph carries no class signal and averaging does not help.
    flat = contextual_sbm(homophily=1 / 7)
    agg = _mean_aggregate(flat.graph.nodes, flat.graph.senders, flat.graph.receivers, 2708)
    flat_raw = _centroid_accuracy(flat.graph.nodes, flat.labels, flat.train_mask, flat.test_mask, 7)
    flat_agg = _centroid_accuracy(agg, flat.labels, flat.train_mask, flat.test_mask, 7)
    assert flat_agg < flat_raw + 0.05


def test_csbm_is_seeded():
    a, b = contextual_sbm(num_nodes=300, seed=5), contextual_sbm(num_nodes=300, seed=5)
    for u, v in zip(
        [a.graph.nodes, a.graph.senders, a.labels, a.train_mask, a.test_mask],
        [b.graph.nodes, b.graph.senders, b.labels, b.train_mask, b.test_mask],
        strict=True,
    ):
        np.testing.assert_array_equal(u, v)
    c = contextual_sbm(num_nodes=300, seed=6)
    assert not np.array_equal(a.labels, c.labels)


def test_csbm_tiny_graph_split_scales_down():
    ds = contextual_sbm(num_nodes=30, num_classes=3, num_features=2, avg_degree=3.0, seed=1)
    train, val, test = ds.train_mask, ds.val_mask, ds.test_mask
    assert np.bincount(ds.labels[train], minlength=3).tolist() == [1, 1, 1]  # 10 // 10 each
    assert (int(val.sum()), int(test.sum())) == (27 // 3, 27 - 27 // 3)
    assert (train.astype(int) + val + test).max() == 1


def test_csbm_single_class_and_single_node():
    ds = contextual_sbm(num_nodes=50, num_classes=1, num_features=3, homophily=0.0, seed=0)
    assert (ds.labels == 0).all() and ds.graph.senders.shape[0] > 0
    _check_simple_undirected(ds.graph.senders, ds.graph.receivers, 50)
    one = contextual_sbm(num_nodes=1, num_classes=1, num_features=2)
    assert one.graph.senders.shape == (0,) and one.train_mask.tolist() == [True]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_nodes=0), "num_nodes"),
        (dict(num_nodes=3, num_classes=4), "num_classes"),
        (dict(homophily=1.5), "homophily"),
        (dict(avg_degree=-1.0), "avg_degree"),
        (dict(num_features=0), "num_features"),
        (dict(feature_noise=-0.1), "feature_noise"),
    ],
)
def test_csbm_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        contextual_sbm(**kwargs)


def test_planetoid_like_split_large_graph():
    labels = np.arange(10_000) % 4
    train, val, test = planetoid_like_split(labels, 4, np.random.default_rng(0))
    assert np.bincount(labels[train]).tolist() == [20] * 4
    assert (int(val.sum()), int(test.sum())) == (500, 1000)
    assert (train.astype(int) + val + test).max() == 1


def test_power_law_degree_distribution():
    n, target, gamma = 20_000, 10.0, 2.5
    g = power_law_graph(n, avg_degree=target, exponent=gamma, seed=0)
    _check_simple_undirected(g.senders, g.receivers, n)
    deg = np.bincount(g.receivers, minlength=n)
    assert abs(deg.mean() - target) < 0.05 * target
    assert deg.max() > 30 * deg.mean()  # hubs; a Poisson(10) graph would top out near 30
    # Tail of the CCDF: P(D >= k) ~ k^-(gamma - 1) for degrees well above the mean.
    ks = np.array([20, 40, 80, 160])
    ccdf = np.array([(deg >= k).mean() for k in ks])
    slope = np.polyfit(np.log(ks), np.log(ccdf), 1)[0]
    assert -(gamma - 1) - 0.35 < slope < -(gamma - 1) + 0.35


def test_power_law_features_and_seed():
    g = power_law_graph(500, avg_degree=4.0, seed=2)
    assert g.nodes.shape == (500, 0) and g.nodes.dtype == np.float32
    assert g.n_node.tolist() == [500] and g.n_edge.tolist() == [g.senders.shape[0]]
    h = power_law_graph(500, avg_degree=4.0, seed=2, num_features=3)
    assert h.nodes.shape == (500, 3) and h.nodes.dtype == np.float32
    np.testing.assert_array_equal(g.senders, h.senders)
    k = power_law_graph(500, avg_degree=4.0, seed=3)
    assert not np.array_equal(g.senders, k.senders)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_nodes=0), "num_nodes"),
        (dict(exponent=1.0), "exponent"),
        (dict(avg_degree=-2.0), "avg_degree"),
        (dict(num_features=-1), "num_features"),
    ],
)
def test_power_law_rejects_bad_arguments(kwargs, match):
    kwargs = {"num_nodes": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        power_law_graph(**kwargs)


def test_csbm_features_do_not_depend_on_thread_count(monkeypatch):
    import jgnn.datasets._synthetic as synthetic

    kwargs = dict(num_nodes=3 * synthetic._FEATURE_CHUNK + 5, num_features=2, avg_degree=1.0)
    monkeypatch.setattr(synthetic, "_MAX_THREADS", 1)
    serial = contextual_sbm(**kwargs).graph.nodes
    monkeypatch.setattr(synthetic, "_MAX_THREADS", 4)
    threaded = contextual_sbm(**kwargs).graph.nodes
    np.testing.assert_array_equal(serial, threaded)
    # Chunks are seeded independently, not copies of one another.
    chunk = synthetic._FEATURE_CHUNK
    assert not np.array_equal(serial[:10] - serial[:10].mean(), serial[chunk : chunk + 10])
