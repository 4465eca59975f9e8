"""Fixtures of the GNNAutoScale tests: an isolated METIS cache and small symmetric graphs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from jgnn import datasets


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # One cache per test session: partitions are reused across tests, never across runs.
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def csbm():
    """A 400-node CSBM (symmetric, no self loops), 4 classes, 12 features."""
    return datasets.contextual_sbm(
        num_nodes=400, num_classes=4, num_features=12, avg_degree=5.0, seed=3
    )


@pytest.fixture(scope="session")
def cora():
    """Cora from ``$JGNN_DATA`` (skipped when unset) with row-normalised features."""
    if not os.environ.get("JGNN_DATA") or not Path(os.environ["JGNN_DATA"]).exists():
        pytest.skip("JGNN_DATA is not set")
    ds = datasets.load("cora")
    return ds, datasets.normalize_features(np.asarray(ds.graph.nodes))
