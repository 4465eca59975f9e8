"""``jgnn train``: full-batch node classification with the paper's hyper-parameters."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["add_train_parser", "run_train"]

DATASETS = ("synthetic", "cora", "citeseer", "pubmed")


def add_train_parser(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a GNN for node classification",
        description="Train a 2-layer GCN full-batch under jit (defaults: Kipf & Welling, 2017). "
        "Without --dataset it uses the embedded synthetic graph, so it runs offline.",
    )
    p.add_argument("--dataset", choices=DATASETS, default="synthetic")
    p.add_argument("--data-dir", default=None, help="directory holding the raw Planetoid files")
    p.add_argument("--model", choices=("gcn",), default="gcn")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--hidden", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--dropout", type=float, default=0.5)
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
    from jgnn.models import GCN
    from jgnn.nn import gcn_norm
    from jgnn.train import adam_l2, fit_node_classifier

    if args.dataset == "synthetic":
        data = datasets.load("synthetic", seed=args.seed)
    else:
        data = datasets.load(args.dataset, root=args.data_dir, download=not args.offline)
    x = data.graph.nodes
    if args.dataset != "synthetic":
        x = datasets.normalize_features(x)  # PyG's NormalizeFeatures, as in the paper
    graph = gcn_norm(jax.tree.map(jnp.asarray, data.graph._replace(nodes=None)), num_nodes=len(x))
    model = GCN(
        x.shape[1],
        args.hidden,
        data.num_classes,
        dropout=args.dropout,
        normalize=False,
        rngs=nnx.Rngs(args.seed),
    )
    tx = adam_l2(args.lr, args.weight_decay, decay_paths=["layers/0/"])
    result = fit_node_classifier(
        model,
        graph,
        jnp.asarray(x),
        data.labels,
        data.train_mask,
        data.val_mask,
        data.test_mask,
        tx=tx,
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
