"""Tests for load(): dispatch by name and the error for unknown names."""

from __future__ import annotations

import numpy as np
import pytest

from jgnn.datasets import DATASETS, DatasetNotFoundError, contextual_sbm, load, load_planetoid


def test_synthetic_dispatches_to_contextual_sbm():
    kwargs = dict(num_nodes=400, num_classes=3, num_features=5, seed=4)
    a, b = load("Synthetic", **kwargs), contextual_sbm(**kwargs)
    np.testing.assert_array_equal(a.graph.nodes, b.graph.nodes)
    np.testing.assert_array_equal(a.graph.senders, b.graph.senders)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_unknown_name_lists_choices():
    with pytest.raises(ValueError, match=r"'reddit'.*cora.*pubmed.*ogbn-arxiv.*synthetic-1m"):
        load("reddit")
    assert DATASETS == (
        "cora",
        "citeseer",
        "pubmed",
        "ogbn-arxiv",
        "ogbn-products",
        "synthetic",
        "synthetic-200k",
        "synthetic-1m",
    )


@pytest.mark.parametrize("name", ["ogbn-arxiv", "OGBN-Products"])
def test_ogb_names_dispatch_and_accept_the_common_arguments(name, tmp_path, monkeypatch):
    # download/verify are accepted for every name (the CLI passes them), and an OGB name goes
    # to the OGB loader, whose error names the archive to fetch.
    monkeypatch.delenv("JGNN_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError, match=r"snap\.stanford\.edu/ogb/.*\.zip"):
        load(name, root=tmp_path, download=True, verify=False)


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
