"""Where PyG's CPU time goes in one Cora GCN training step (`torch.profiler`, op table).

Builds the PyG side of `bench_planetoid.py` (its `gcn.py`-style GCN, dropout on the dense
row-normalised input) and profiles ten forward+backward passes after three warm-up passes.

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
    from torch.profiler import profile
    from torch_geometric.nn import GCNConv

    from jgnn import datasets

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    data = datasets.load("cora")
    x = torch.from_numpy(np.array(datasets.normalize_features(data.graph.nodes)))
    senders, receivers = np.asarray(data.graph.senders), np.asarray(data.graph.receivers)
    edge_index = torch.from_numpy(np.stack([senders, receivers]).astype(np.int64))
    conv1, conv2 = GCNConv(x.shape[1], 16, cached=True), GCNConv(16, data.num_classes, cached=True)

    def step():
        h = F.dropout(x, 0.5, training=True)
        h = F.dropout(conv1(h, edge_index).relu(), 0.5, training=True)
        conv2(h, edge_index).sum().backward()

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
