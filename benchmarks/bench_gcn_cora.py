"""GCN on Cora: jgnn (`jgnn train`'s code path) vs PyG's GCN example, side by side in one run.

Same hyper-parameters on both sides (Kipf & Welling: hidden 16, lr 0.01, weight decay 5e-4 on the
first layer, dropout 0.5, 200 epochs, row-normalised features, test accuracy at the best
validation epoch). Epoch time = one training step plus one evaluation pass, median over epochs
after the first (jgnn compiles ahead of time; its compile time is reported separately).

Usage: JGNN_DATA=../shared/data python benchmarks/bench_gcn_cora.py [--seeds 5] [--dataset cora]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jgnn import datasets
from jgnn.models import RECIPES, prepare_graph
from jgnn.train import adam_l2, fit_node_classifier


def run_jgnn(data, seed: int, epochs: int) -> dict:
    recipe = RECIPES["gcn"]
    x = jnp.asarray(datasets.normalize_features(data.graph.nodes))
    model = recipe.build(
        x.shape[1], data.num_classes, recipe.hidden, recipe.dropout, nnx.Rngs(seed)
    )
    result = fit_node_classifier(
        model,
        prepare_graph(data.graph, len(x), recipe),
        x,
        data.labels,
        data.train_mask,
        data.val_mask,
        data.test_mask,
        tx=adam_l2(recipe.lr, recipe.weight_decay, decay_paths=recipe.decay_paths),
        epochs=epochs,
        progress=False,
    )
    return result.metrics


def run_pyg(data, seed: int, epochs: int) -> dict:
    import torch
    import torch.nn.functional as F
    from torch_geometric.nn import GCNConv

    torch.manual_seed(seed)
    x = torch.from_numpy(np.asarray(datasets.normalize_features(data.graph.nodes)))
    edge_index = torch.from_numpy(
        np.stack([np.asarray(data.graph.senders), np.asarray(data.graph.receivers)]).astype(
            np.int64
        )
    )
    y = torch.from_numpy(np.asarray(data.labels).astype(np.int64))
    masks = [
        torch.from_numpy(np.asarray(m)) for m in (data.train_mask, data.val_mask, data.test_mask)
    ]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = GCNConv(x.shape[1], 16, cached=True)
            self.conv2 = GCNConv(16, data.num_classes, cached=True)

        def forward(self, x, edge_index):
            x = F.dropout(x, p=0.5, training=self.training)
            x = self.conv1(x, edge_index).relu()
            x = F.dropout(x, p=0.5, training=self.training)
            return self.conv2(x, edge_index)

    model = Net()
    opt = torch.optim.Adam(
        [
            dict(params=model.conv1.parameters(), weight_decay=5e-4),
            dict(params=model.conv2.parameters(), weight_decay=0),
        ],
        lr=0.01,
    )
    times, best_val, test_at_best = [], -1.0, 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        opt.zero_grad()
        out = model(x, edge_index)
        loss = F.cross_entropy(out[masks[0]], y[masks[0]])
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(x, edge_index).argmax(dim=-1)
        accs = [float((pred[m] == y[m]).float().mean()) for m in masks]
        times.append((time.perf_counter() - t0) * 1e3)
        if accs[1] > best_val:
            best_val, test_at_best = accs[1], accs[2]
    return {
        "test_accuracy": test_at_best,
        "val_accuracy": best_val,
        "epoch_time_ms": statistics.median(times[1:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args()
    import torch
    import torch_geometric

    data = datasets.load(args.dataset)
    rows = {"jgnn": [], "PyG": []}
    for seed in range(args.seeds):
        rows["jgnn"].append(run_jgnn(data, seed, args.epochs))
        rows["PyG"].append(run_pyg(data, seed, args.epochs))
    print(
        f"# GCN on {data.name}, {args.seeds} seeds x {args.epochs} epochs, "
        f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
        f"jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), torch_geometric {torch_geometric.__version__}"
    )
    print("| library | test acc (mean ± std) | median epoch ms | epoch time vs PyG |")
    print("|---|---|---|---|")
    pyg_ms = statistics.median(r["epoch_time_ms"] for r in rows["PyG"])
    for name, rs in rows.items():
        accs = [r["test_accuracy"] * 100 for r in rs]
        ms = statistics.median(r["epoch_time_ms"] for r in rs)
        print(
            f"| {name} | {statistics.mean(accs):.2f} ± {statistics.pstdev(accs):.2f} | "
            f"{ms:.2f} | {ms / pyg_ms:.2f}x |"
        )
    compile_s = statistics.median(r["compile_time_s"] for r in rows["jgnn"])
    print(
        f"jgnn compile time (median): {compile_s:.2f} s; per-seed test acc jgnn "
        f"{[round(r['test_accuracy'] * 100, 1) for r in rows['jgnn']]}, PyG "
        f"{[round(r['test_accuracy'] * 100, 1) for r in rows['PyG']]}"
    )


if __name__ == "__main__":
    main()
