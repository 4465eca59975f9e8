"""Tests for load(): dispatch by name and the error for unknown names."""

from __future__ import annotations

import numpy as np
import pytest

from jgnn.datasets import DATASETS, contextual_sbm, load, load_planetoid


def test_synthetic_dispatches_to_contextual_sbm():
    kwargs = dict(num_nodes=400, num_classes=3, num_features=5, seed=4)
    a, b = load("Synthetic", **kwargs), contextual_sbm(**kwargs)
    np.testing.assert_array_equal(a.graph.nodes, b.graph.nodes)
    np.testing.assert_array_equal(a.graph.senders, b.graph.senders)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match=r"'ogbn-arxiv'.*cora.*citeseer.*pubmed.*synthetic"):
        load("ogbn-arxiv")
    assert DATASETS == ("cora", "citeseer", "pubmed", "synthetic")


def test_planetoid_names_dispatch_with_download_flag(monkeypatch):
    monkeypatch.delenv("JGNN_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="(?s)'pubmed'.*download=False"):
        load("PubMed", download=False)


def test_planetoid_dispatch_matches_loader(raw_dir, tmp_path):
    a = load("CiteSeer", root=raw_dir, download=False)
    b = load_planetoid("citeseer", root=raw_dir, download=False)
    assert a.name == b.name == "CiteSeer"
    np.testing.assert_array_equal(a.graph.receivers, b.graph.receivers)
    np.testing.assert_array_equal(a.test_mask, b.test_mask)
