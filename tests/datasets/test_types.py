"""Tests for the NodeDataset container."""

from __future__ import annotations

import jraph
import numpy as np

from jgnn.datasets import NodeDataset


def test_properties_and_replace():
    g = jraph.GraphsTuple(
        nodes=np.zeros((3, 5), np.float32),
        edges=None,
        globals=None,
        senders=np.array([0, 1, 1, 2], np.int32),
        receivers=np.array([1, 0, 2, 1], np.int32),
        n_node=np.array([3], np.int32),
        n_edge=np.array([4], np.int32),
    )
    mask = np.array([True, False, False])
    ds = NodeDataset(g, np.array([0, 1, 1], np.int32), mask, ~mask, mask & False, 2, "toy")
    assert (ds.num_nodes, ds.num_edges, ds.num_features) == (3, 4, 5)
    assert ds._fields == (
        "graph",
        "labels",
        "train_mask",
        "val_mask",
        "test_mask",
        "num_classes",
        "name",
    )
    other = ds._replace(name="renamed")
    assert other.name == "renamed" and ds.name == "toy" and other.graph is ds.graph
