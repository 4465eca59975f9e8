"""Where PyG's CPU time goes in one Cora GCN training step (`torch.profiler`, op table).

Takes the PyG model of `bench_planetoid.py` (its `gcn.py`-style GCN, dropout on the dense
row-normalised input) and profiles ten training steps (forward, loss, backward, Adam) after three
warm-up steps.

Usage:
  JGNN_DATA=../shared/data python benchmarks/profile_pyg_gcn.py [--torch-threads 1]
"""

from __future__ import annotations

import argparse
import datetime

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-threads", type=int, default=None)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F
    from bench_planetoid import pyg_model  # the very model the Planetoid benchmark times
    from torch.profiler import profile

    from jgnn import datasets

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    data = datasets.load("cora")
    x = torch.from_numpy(np.array(datasets.normalize_features(data.graph.nodes)))
    senders, receivers = np.asarray(data.graph.senders), np.asarray(data.graph.receivers)
    edge_index = torch.from_numpy(np.stack([senders, receivers]).astype(np.int64))
    y = torch.from_numpy(np.asarray(data.labels).astype(np.int64))
    model, opt = pyg_model("gcn", x.shape[1], data.num_classes)
    model.train()

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x, edge_index), y).backward()
        opt.step()

    for _ in range(3):
        step()
    with profile() as prof:
        for _ in range(args.steps):
            step()
    print(
        f"# {datetime.datetime.now():%Y-%m-%d %H:%M}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {args.steps} steps, input {tuple(x.shape)}"
    )
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))


if __name__ == "__main__":
    main()
