"""What the examples share: the dataset flag and its loading (Cora or a synthetic graph)."""

from __future__ import annotations

import argparse

import numpy as np

from jgnn.datasets import NodeDataset, contextual_sbm, load, normalize_features


def add_data_args(parser: argparse.ArgumentParser, *, nodes: int = 2000) -> None:
    """Adds ``--dataset``, ``--nodes`` and ``--seed``."""
    parser.add_argument(
        "--dataset",
        default="synthetic",
        help="'synthetic' (a contextual SBM, nothing to download) or a jgnn.datasets name "
        "such as 'cora' (read from $JGNN_DATA or downloaded)",
    )
    parser.add_argument("--nodes", type=int, default=nodes, help="nodes of the synthetic graph")
    parser.add_argument("--seed", type=int, default=0, help="model and sampling seed")


def load_data(args: argparse.Namespace) -> tuple[NodeDataset, np.ndarray]:
    """The dataset and its float32 features (row-normalised bag-of-words for Planetoid)."""
    if args.dataset == "synthetic":
        data = contextual_sbm(num_nodes=args.nodes, num_features=64, seed=args.seed)
        return data, np.asarray(data.graph.nodes, np.float32)
    data = load(args.dataset)
    return data, normalize_features(np.asarray(data.graph.nodes, np.float32))
