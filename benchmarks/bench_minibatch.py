"""Mini-batch training: jgnn's sampled GraphSAGE vs PyG's NeighborLoader + SAGEConv, and the
accuracy of every loader against full-batch training.

``speed``: ONE synthetic CSBM graph (default the ``synthetic-200k`` preset: 200k nodes, 2M
directed edges, 128 features, 10 classes, 20k training nodes) shared by both sides. GraphSAGE
(mean aggregation, 2 layers, hidden 64, dropout 0.5 before each layer, Adam lr 0.01 with L2
5e-4), neighbour sampling with fanouts [10, 5] over the shuffled training nodes, batches of
1024 seeds, the loss over the seeds. jgnn runs ``train_minibatch_recipe`` (the code path of
``jgnn train --loader neighbor``): host sampling in a background thread (or worker
processes), padding to a few fixed shapes, one jitted step per batch; its epoch time is the
training loop only, and ``host_wait_share`` is the part of it the step spent waiting for a
batch. PyG runs its ``NeighborLoader`` (torch_sparse sampler, ``num_workers=0``) and a
``SAGEConv`` model on one torch thread. Epoch time is the median over the epochs after the
first (jgnn's first epoch holds its compilations, reported apart). Then exact inference over
every node, layer by layer with full neighbourhoods (jgnn's ``BasicGNN.inference``, PyG's
``NeighborLoader(num_neighbors=[-1])`` layer-wise loop as in its Reddit example).

``accuracy``: test accuracy at the best validation epoch, exact evaluation, mean and standard
deviation over seeds; full-batch (the recipe's 200 epochs) vs each loader (``--epochs``),
with the padding waste (padded / real node and edge slots), compiled shapes (rungs used) and
skipped batches. ``--dataset cora`` (needs
``$JGNN_DATA``): GraphSAGE full vs neighbour-sampled. ``--dataset csbm``: a CSBM of
``--nodes`` nodes (``scaling_csbm``: degree 10, 64 features, 10 classes, 10% training nodes;
``--homophily`` 0.8 and ``--noise`` 2 by default) with GCN and GraphSAGE, every loader
(GraphSAINT's draws per batch: ``--saint-batch-size``).

Usage (from the repository root):
  python benchmarks/bench_minibatch.py speed --epochs 3 --torch-threads 1
  JGNN_DATA=../shared/data python benchmarks/bench_minibatch.py accuracy --dataset cora --seeds 5
  python benchmarks/bench_minibatch.py accuracy --dataset csbm --seeds 3 --epochs 100
Prints Markdown tables with the machine, versions, date and command.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import jax
import numpy as np

from jgnn import datasets
from jgnn.train import SamplerConfig, train_minibatch_recipe, train_recipe

SAGE_HIDDEN, SAGE_DROPOUT, SAGE_LR, SAGE_WD = 64, 0.5, 0.01, 5e-4
AVERAGED = ("node_waste", "edge_waste", "epoch_time_ms", "eval_time_ms")


def header(args: argparse.Namespace) -> None:
    import torch

    print(f"# bench_minibatch {args.mode}, {datetime.date.today()}")
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"python {platform.python_version()}, jax {jax.__version__} ({jax.default_backend()}), "
        f"torch {torch.__version__}"
    )


# ----------------------------------------------------------------------------- speed


def run_jgnn(data, x, fanouts, batch_size, epochs, *, trim=False, num_workers=0) -> dict:
    sampler = SamplerConfig(
        "neighbor", num_neighbors=fanouts, batch_size=batch_size, trim=trim,
        num_workers=num_workers,
    )  # fmt: skip
    result = train_minibatch_recipe(
        "sage", data, x, sampler, epochs=epochs, eval_every=epochs, progress=False,
        hidden=SAGE_HIDDEN, dropout=SAGE_DROPOUT, lr=SAGE_LR, weight_decay=SAGE_WD,
    )  # fmt: skip
    m = result.metrics
    return {
        "epoch_s": m["epoch_time_ms"] / 1e3,
        "first_epoch_s": m["first_epoch_s"],
        "host_wait_share": m["host_wait_share"],
        "batches_per_s": m["batches_per_s"],
        "edges_per_s": m["sampled_edges_per_s"],
        "inference_s": result.history[-1]["eval_time_s"],
        "test_accuracy": result.history[-1]["test_accuracy"],
        "node_waste": m["node_waste"],
        "num_shapes": m["num_shapes"],
    }


def run_pyg(data, x, fanouts, batch_size, epochs, threads: int) -> dict:
    import torch
    import torch.nn.functional as F
    from torch_geometric.data import Data
    from torch_geometric.loader import NeighborLoader
    from torch_geometric.nn import SAGEConv

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    edge_index = torch.from_numpy(
        np.stack([data.graph.senders, data.graph.receivers]).astype(np.int64)
    )
    y = torch.from_numpy(np.asarray(data.labels, np.int64))
    graph = Data(x=torch.from_numpy(np.array(x)), edge_index=edge_index, y=y)
    train_idx = torch.from_numpy(np.flatnonzero(data.train_mask))
    loader = NeighborLoader(
        graph, num_neighbors=list(fanouts), batch_size=batch_size, input_nodes=train_idx,
        shuffle=True,
    )  # fmt: skip

    class SAGE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = torch.nn.ModuleList(
                [SAGEConv(x.shape[1], SAGE_HIDDEN), SAGEConv(SAGE_HIDDEN, data.num_classes)]
            )

        def forward(self, h, edge_index):
            for i, conv in enumerate(self.convs):
                h = conv(F.dropout(h, SAGE_DROPOUT, self.training), edge_index)
                h = h.relu() if i == 0 else h
            return h

        @torch.no_grad()
        def inference(self, x_all, subgraph_loader):
            for i, conv in enumerate(self.convs):
                out = []
                for batch in subgraph_loader:
                    h = conv(x_all[batch.n_id], batch.edge_index)[: batch.batch_size]
                    out.append(h.relu() if i == 0 else h)
                x_all = torch.cat(out)
            return x_all

    model = SAGE()
    opt = torch.optim.Adam(model.parameters(), lr=SAGE_LR, weight_decay=SAGE_WD)
    times, edges, batches = [], 0, 0
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        for batch in loader:
            opt.zero_grad()
            out = model(batch.x, batch.edge_index)[: batch.batch_size]
            loss = F.cross_entropy(out, batch.y[: batch.batch_size])
            loss.backward()
            opt.step()
            if epoch:
                edges += batch.edge_index.shape[1]
                batches += 1
        times.append(time.perf_counter() - t0)
    model.eval()
    full = NeighborLoader(graph, num_neighbors=[-1], batch_size=2048, shuffle=False)
    t0 = time.perf_counter()
    pred = model.inference(graph.x, full).argmax(-1).numpy()
    inference_s = time.perf_counter() - t0
    steady = sum(times[1:])
    return {
        "epoch_s": statistics.median(times[1:]),
        "first_epoch_s": times[0],
        "host_wait_share": None,
        "batches_per_s": batches / steady,
        "edges_per_s": edges / steady,
        "inference_s": inference_s,
        "test_accuracy": float(np.mean(pred[data.test_mask] == data.labels[data.test_mask])),
        "node_waste": None,
        "num_shapes": None,
    }


def speed(args: argparse.Namespace) -> None:
    data = datasets.load(args.dataset)
    x = np.asarray(data.graph.nodes, np.float32)
    fanouts = tuple(int(f) for f in args.fanouts.split(","))
    print(
        f"\n{args.dataset}: {data.num_nodes} nodes, {data.num_edges} edges, "
        f"{x.shape[1]} features, {int(data.train_mask.sum())} training nodes; fanouts "
        f"{list(fanouts)}, batch {args.batch_size}, {args.epochs} epochs, torch threads "
        f"{args.torch_threads}\n"
    )
    rows = {}
    for variant in args.jgnn:
        trim, workers = variant == "trim", 1 if variant == "workers1" else 0
        rows[f"jgnn ({variant})"] = run_jgnn(
            data, x, fanouts, args.batch_size, args.epochs, trim=trim, num_workers=workers
        )
    rows["PyG NeighborLoader + SAGEConv"] = run_pyg(
        data, x, fanouts, args.batch_size, args.epochs, args.torch_threads
    )
    pyg = rows["PyG NeighborLoader + SAGEConv"]["epoch_s"]
    print(
        "| run | epoch s | PyG / run | first epoch s | host-wait share | batches/s | "
        "sampled edges/s | node waste | shapes | exact inference s | test acc |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    for name, r in rows.items():
        print(
            f"| {name} | {r['epoch_s']:.2f} | {pyg / r['epoch_s']:.2f}x | "
            f"{r['first_epoch_s']:.1f} | {fmt(r['host_wait_share'], '.3f')} | "
            f"{r['batches_per_s']:.2f} | {r['edges_per_s']:.3g} | {fmt(r['node_waste'], '.3f')} | "
            f"{fmt(r['num_shapes'], 'd')} | {r['inference_s']:.1f} | {r['test_accuracy']:.4f} |"
        )


# ----------------------------------------------------------------------------- accuracy


def accuracy_runs(args: argparse.Namespace):
    """(dataset, features, [(model, label, sampler or None)])."""
    if args.dataset == "cora":
        data = datasets.load("cora", download=False)
        x = datasets.normalize_features(data.graph.nodes)
        sampler = SamplerConfig("neighbor", num_neighbors=(10, 5), batch_size=32)
        return data, x, [("sage", "full", None), ("sage", "neighbor [10, 5]", sampler)]
    data = datasets.scaling_csbm(
        args.nodes, homophily=args.homophily, feature_noise=args.noise, seed=0
    )
    saint = {"batch_size": args.saint_batch_size}
    samplers = [
        ("neighbor [10, 5]", SamplerConfig("neighbor", num_neighbors=(10, 5))),
        ("cluster", SamplerConfig("cluster")),
        ("saint-node", SamplerConfig("saint-node", **saint)),
        ("saint-edge", SamplerConfig("saint-edge", **saint)),
        ("saint-rw", SamplerConfig("saint-rw", **saint)),
    ]
    runs = []
    for model in args.models:
        runs.append((model, "full", None))
        runs.extend((model, label, s) for label, s in samplers if label in args.loaders)
    return data, np.asarray(data.graph.nodes), runs


def accuracy(args: argparse.Namespace) -> None:
    data, x, runs = accuracy_runs(args)
    print(
        f"\n{data.name}: {data.num_nodes} nodes, {data.num_edges} edges, "
        f"{int(data.train_mask.sum())} training nodes; {args.seeds} seeds; full-batch: the "
        f"recipe's epochs; mini-batch epochs: {args.epochs or 'recipe'}\n"
    )
    print(
        "| model | loader | test acc (mean ± sd) | gap to full (points) | node waste | "
        "edge waste | shapes | skipped | epoch ms | eval ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    full_mean = {}
    for model, label, sampler in runs:
        accs, metrics = [], []
        for seed in range(args.seeds):
            if sampler is None:
                m = train_recipe(model, data, x, seed=seed).metrics  # the recipe's epochs
            else:
                m = train_minibatch_recipe(
                    model, data, x, sampler, seed=seed, epochs=args.epochs,
                    eval_every=args.eval_every,
                ).metrics  # fmt: skip
            accs.append(m["test_accuracy"])
            metrics.append(m)
        mean = statistics.mean(accs)
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        if sampler is None:
            full_mean[model] = mean
            cells = (
                "- | - | - | - | "
                + f"{statistics.median(m['epoch_time_ms'] for m in metrics):.1f} | -"
            )
        else:
            avg = {k: statistics.mean(m[k] for m in metrics) for k in AVERAGED}
            cells = (
                f"{avg['node_waste']:.3f} | {avg['edge_waste']:.3f} | "
                f"{max(m['num_shapes'] for m in metrics)} | "
                f"{sum(m['skipped_batches'] for m in metrics)} | {avg['epoch_time_ms']:.1f} | "
                f"{avg['eval_time_ms']:.1f}"
            )
        gap = 100 * (full_mean[model] - mean)
        print(
            f"| {model} | {label} | {100 * mean:.2f} ± {100 * sd:.2f} | {gap:+.2f} | {cells} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--dataset", default="synthetic-200k")
    s.add_argument("--fanouts", default="10,5")
    s.add_argument("--batch-size", type=int, default=1024)
    s.add_argument("--epochs", type=int, default=3)
    s.add_argument("--torch-threads", type=int, default=1)
    s.add_argument("--jgnn", nargs="+", default=["thread"], choices=["thread", "trim", "workers1"])
    a = sub.add_parser("accuracy")
    a.add_argument("--dataset", choices=["cora", "csbm"], default="cora")
    a.add_argument("--nodes", type=int, default=20_000)
    a.add_argument("--homophily", type=float, default=0.8)
    a.add_argument("--noise", type=float, default=2.0, help="CSBM feature noise")
    a.add_argument("--seeds", type=int, default=5)
    a.add_argument("--epochs", type=int, default=None)
    a.add_argument("--eval-every", type=int, default=2)
    a.add_argument("--models", nargs="+", default=["gcn", "sage"])
    a.add_argument(
        "--saint-batch-size", type=int, default=None, help="GraphSAINT draws (default 1024)"
    )
    a.add_argument(
        "--loaders",
        nargs="+",
        default=["neighbor [10, 5]", "cluster", "saint-node", "saint-edge", "saint-rw"],
    )
    args = parser.parse_args()
    header(args)
    speed(args) if args.mode == "speed" else accuracy(args)


if __name__ == "__main__":
    main()
