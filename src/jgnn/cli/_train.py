"""``jgnn train``: full-batch node classification with the paper's hyper-parameters."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import Any

import jax

__all__ = ["add_train_parser", "run_train"]

DATASETS = ("synthetic", "cora", "citeseer", "pubmed")


def add_train_parser(sub: Any) -> None:
    from jgnn.models import RECIPES

    p = sub.add_parser(
        "train",
        help="train a GNN for node classification",
        description="Train a GNN full-batch under jit with its paper's Planetoid "
        "hyper-parameters (override them with the flags). Without --dataset it uses the "
        "embedded synthetic graph, so it runs offline.",
    )
    p.add_argument("--dataset", choices=DATASETS, default="synthetic")
    p.add_argument("--data-dir", default=None, help="directory holding the raw Planetoid files")
    p.add_argument("--model", choices=sorted(RECIPES), default="gcn")
    p.add_argument("--epochs", type=int, default=None, help="default: the model's recipe")
    p.add_argument("--hidden", type=int, default=None, help="default: the model's recipe")
    p.add_argument("--lr", type=float, default=None, help="default: the model's recipe")
    p.add_argument("--weight-decay", type=float, default=None, help="default: the recipe")
    p.add_argument("--dropout", type=float, default=None, help="default: the model's recipe")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--offline", action="store_true", help="never download; fail if the files are missing"
    )
    p.add_argument("--metrics-json", default=None, help="write the final metrics here (JSON)")
    p.add_argument("--no-progress", action="store_true", help="hide the per-epoch progress bar")
    p.set_defaults(run=run_train)


def _write_json_atomic(path: str, payload: dict[str, Any]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".metrics-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def run_train(args: argparse.Namespace) -> int:
    from jgnn import datasets
    from jgnn.train import train_recipe

    if args.dataset == "synthetic":
        data = datasets.load("synthetic", seed=args.seed)
    else:
        data = datasets.load(args.dataset, root=args.data_dir, download=not args.offline)
    x = data.graph.nodes
    if args.dataset != "synthetic":
        x = datasets.normalize_features(x)  # PyG's NormalizeFeatures, as in the papers
    result = train_recipe(
        args.model,
        data,
        x,
        seed=args.seed,
        hidden=args.hidden,
        lr=args.lr,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
        epochs=args.epochs,
        progress=not args.no_progress,
    )
    metrics = {
        "dataset": data.name,
        "model": args.model,
        "seed": args.seed,
        "backend": jax.default_backend(),
        "jax_version": jax.__version__,
        **result.metrics,
    }
    for key in ("test_accuracy", "val_accuracy", "epoch_time_ms", "compile_time_s"):
        print(f"{key}: {metrics[key]:.4f}")
    print(f"peak_memory_bytes: {metrics['peak_memory_bytes']} ({metrics['peak_memory_source']})")
    if args.metrics_json:
        _write_json_atomic(args.metrics_json, metrics)
    return 0
