"""Planetoid node classification: jgnn (`jgnn train`'s code path) vs PyG, side by side in one run.

Both sides use the paper recipes of `jgnn.models.RECIPES` (GCN: Kipf & Welling; GAT: Veličković
et al.; GCNII: Chen et al., as PyG's examples build them), row-normalised features, and report
test accuracy at the best validation epoch. Epoch time = one training step plus one evaluation
pass, median over the epochs after the first (jgnn compiles ahead of time; its compile time is
reported separately).

Usage:
  JGNN_DATA=../shared/data python benchmarks/bench_planetoid.py --models gcn gat \
      --datasets cora citeseer --seeds 5 --torch-threads 1
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time

import jax
import numpy as np

from jgnn import datasets
from jgnn.models import RECIPES
from jgnn.train import train_recipe


def run_jgnn(model_name: str, data, x: np.ndarray, seed: int, epochs: int) -> dict:
    return train_recipe(model_name, data, x, seed=seed, epochs=epochs).metrics


def pyg_model(model_name: str, in_features: int, num_classes: int, input_dropout: bool = True):
    """PyG's counterpart of a recipe: its example scripts' models (gcn.py, gat.py, gcn2_cora.py)."""
    import torch
    import torch.nn.functional as F
    from torch_geometric.nn import GATConv, GCN2Conv, GCNConv

    recipe = RECIPES[model_name]
    p = recipe.dropout

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            if model_name == "gcn":
                self.conv1 = GCNConv(in_features, recipe.hidden, cached=True)
                self.conv2 = GCNConv(recipe.hidden, num_classes, cached=True)
                self.act = F.relu
            else:
                self.conv1 = GATConv(in_features, recipe.hidden // 8, heads=8, dropout=p)
                self.conv2 = GATConv(recipe.hidden, num_classes, heads=1, concat=False, dropout=p)
                self.act = F.elu

        def forward(self, x, edge_index, edge_weight=None):
            x = F.dropout(x, p=p, training=self.training and input_dropout)
            x = self.act(self.conv1(x, edge_index))
            x = F.dropout(x, p=p, training=self.training)
            return self.conv2(x, edge_index)

    class GCNII(torch.nn.Module):  # 64 layers, alpha 0.1, theta 0.5 (PyG's gcn2_cora.py)
        def __init__(self):
            super().__init__()
            self.lins = torch.nn.ModuleList(
                [
                    torch.nn.Linear(in_features, recipe.hidden),
                    torch.nn.Linear(recipe.hidden, num_classes),
                ]
            )
            self.convs = torch.nn.ModuleList(
                GCN2Conv(recipe.hidden, 0.1, 0.5, layer + 1, normalize=False) for layer in range(64)
            )

        def forward(self, x, edge_index, edge_weight=None):
            x = F.dropout(x, p=p, training=self.training and input_dropout)
            x = x_0 = self.lins[0](x).relu()
            for conv in self.convs:
                x = F.dropout(x, p=p, training=self.training)
                x = conv(x, x_0, edge_index, edge_weight).relu()
            x = F.dropout(x, p=p, training=self.training)
            return self.lins[1](x)

    if model_name == "gcn2":
        model = GCNII()
        groups = [
            dict(params=model.convs.parameters(), weight_decay=recipe.weight_decay["convs/"]),
            dict(params=model.lins.parameters(), weight_decay=recipe.weight_decay["lins/"]),
        ]
    elif model_name in ("gcn", "gat"):
        model = Net()
        if recipe.decay_paths:  # decay the first layer only, as in the GCN paper
            groups = [
                dict(params=model.conv1.parameters(), weight_decay=recipe.weight_decay),
                dict(params=model.conv2.parameters(), weight_decay=0.0),
            ]
        else:
            groups = [dict(params=model.parameters(), weight_decay=recipe.weight_decay)]
    else:
        raise SystemExit(f"no PyG counterpart for --models {model_name} (have gcn, gat, gcn2)")
    return model, torch.optim.Adam(groups, lr=recipe.lr)


def run_pyg(
    model_name: str, data, x: np.ndarray, seed: int, epochs: int, input_dropout: bool = True
) -> dict:
    import torch
    import torch.nn.functional as F
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    torch.manual_seed(seed)
    xt = torch.from_numpy(np.array(x))
    edge_index = torch.from_numpy(
        np.stack([np.asarray(data.graph.senders), np.asarray(data.graph.receivers)]).astype(
            np.int64
        )
    )
    y = torch.from_numpy(np.asarray(data.labels).astype(np.int64))
    masks = [
        torch.from_numpy(np.array(m)) for m in (data.train_mask, data.val_mask, data.test_mask)
    ]
    edge_weight = None
    if RECIPES[model_name].normalized_graph and model_name != "gcn":  # GCNConv normalises itself
        # As PyG's gcn2_cora.py: GCNNorm, then ToSparseTensor (a torch_sparse adj_t).
        import torch_sparse

        (src, dst), w = gcn_norm(edge_index, num_nodes=len(x))
        n = len(x)
        edge_index = torch_sparse.SparseTensor(row=dst, col=src, value=w, sparse_sizes=(n, n))
    model, opt = pyg_model(model_name, x.shape[1], data.num_classes, input_dropout)
    times, best_val, test_at_best = [], -1.0, 0.0
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        opt.zero_grad()
        loss = F.cross_entropy(model(xt, edge_index, edge_weight)[masks[0]], y[masks[0]])
        loss.backward()
        opt.step()
        model.eval()
        with torch.no_grad():
            pred = model(xt, edge_index, edge_weight).argmax(dim=-1)
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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["gcn", "gat"])
    parser.add_argument("--datasets", nargs="+", default=["cora"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=None, help="default: each recipe's")
    parser.add_argument(
        "--pyg-no-input-dropout",
        action="store_true",
        help="timing ablation: PyG skips dropout on the dense input features (torch's CPU "
        "bernoulli on [N, F] dominates its epoch); changes PyG's accuracy",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads (default: torch's own choice)",
    )
    args = parser.parse_args()
    import torch
    import torch_geometric

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    print(
        f"# {datetime.date.today()}, {platform.machine()} {platform.processor()}, "
        f"jax {jax.__version__} ({jax.default_backend()}), torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), torch_geometric {torch_geometric.__version__}, "
        f"{args.seeds} seeds"
        + (", PyG without input dropout (timing ablation)" if args.pyg_no_input_dropout else "")
    )
    print(
        "| dataset | model | library | test acc % (mean ± std) | median epoch ms | "
        "epoch time vs PyG | compile s |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets:
        data = datasets.load(name)
        x = datasets.normalize_features(data.graph.nodes)
        for model_name in args.models:
            rows = {"jgnn": [], "PyG": []}
            for seed in range(args.seeds):
                epochs = args.epochs or RECIPES[model_name].epochs
                rows["jgnn"].append(run_jgnn(model_name, data, x, seed, epochs))
                rows["PyG"].append(
                    run_pyg(model_name, data, x, seed, epochs, not args.pyg_no_input_dropout)
                )
            pyg_ms = statistics.median(r["epoch_time_ms"] for r in rows["PyG"])
            for lib, rs in rows.items():
                accs = [r["test_accuracy"] * 100 for r in rs]
                ms = statistics.median(r["epoch_time_ms"] for r in rs)
                comp = (
                    f"{statistics.median(r['compile_time_s'] for r in rs):.2f}"
                    if lib == "jgnn"
                    else "-"
                )
                print(
                    f"| {name} | {model_name} | {lib} | {statistics.mean(accs):.2f} ± "
                    f"{statistics.pstdev(accs):.2f} | {ms:.2f} | {ms / pyg_ms:.2f}x | {comp} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
