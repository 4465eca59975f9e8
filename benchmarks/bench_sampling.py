"""Host-side neighbour sampling: jgnn's NeighborSampler vs PyG's NeighborLoader (torch_sparse).

Part 1, throughput. ONE random directed graph (default 1M nodes, 10M edges, seeded) shared by
both sides; fanouts [15, 10, 5], 1024 shuffled seeds per batch, single process and one thread
on both sides (numba kernels are single-threaded; ``torch.set_num_threads(1)``). Reports
sampled edges per second of

* ``jgnn SeedBatches.get``: the batch source the loader calls (shuffle + sample + relabel,
  returning a ``SampledSubgraph``);
* ``PyG NeighborLoader``: iterating the loader (sample with ``torch_sparse.neighbor_sample``,
  then build the ``Data`` batch);
* ``torch_sparse.neighbor_sample``: PyG's raw sampling op alone, for a sampler-to-sampler ratio.

Rounds alternate between the contenders and the median round is reported. Every timed batch is
consumed (its last edge id is read), so no work can be skipped. One-off costs (graph
conversion, numba compile or cache load) are reported separately.

Part 2, Cora (when ``$JGNN_DATA`` holds the Planetoid files): mean per-hop sampled node and edge
counts with fanouts [10, 10, 10] and 128 seeds per batch, jgnn vs PyG, over whole epochs. PyG's
torch_sparse path does not return per-hop counts; they are recovered from its hop-ordered output
with the helper the tests use (``tests/sampling/_oracle.py``).

Run from the repository root: ``python benchmarks/bench_sampling.py`` (about 2 minutes).
Prints Markdown tables with the versions, machine and date.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # before numba is imported

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=1_000_000)
    p.add_argument("--edges", type=int, default=10_000_000)
    p.add_argument("--fanouts", type=int, nargs="+", default=[15, 10, 5])
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--batches", type=int, default=12, help="timed batches per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--cora-epochs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def _timed_round(next_batch, count: int) -> tuple[float, int]:
    """Seconds and sampled edges of ``count`` calls of ``next_batch() -> (edges, last e_id)``."""
    edges = 0
    checksum = 0
    start = time.perf_counter()
    for _ in range(count):
        e, last = next_batch()
        edges += e
        checksum ^= last
    elapsed = time.perf_counter() - start
    assert checksum >= 0
    return elapsed, edges


def throughput(args: argparse.Namespace) -> list[dict]:
    import torch
    import torch_sparse  # noqa: F401  (registers torch.ops.torch_sparse)
    from torch_geometric.data import Data
    from torch_geometric.loader import NeighborLoader

    from jgnn.sampling import CSCGraph, NeighborSampler, SeedBatches

    torch.set_num_threads(1)
    n = args.nodes
    rng = np.random.default_rng(args.seed)
    edge_index = rng.integers(0, n, (2, args.edges))

    t0 = time.perf_counter()
    graph = CSCGraph.from_edge_index(edge_index, n)
    t_build = time.perf_counter() - t0
    source = SeedBatches(
        NeighborSampler(graph, args.fanouts, seed=args.seed), np.arange(n), args.batch_size
    )
    t0 = time.perf_counter()
    source.get(0, 0)
    t_first = time.perf_counter() - t0

    t0 = time.perf_counter()
    data = Data(edge_index=torch.from_numpy(edge_index), num_nodes=n)
    loader = NeighborLoader(
        data, num_neighbors=args.fanouts, batch_size=args.batch_size, shuffle=True
    )
    pyg_iter = iter(loader)
    next(pyg_iter)
    t_pyg_setup = time.perf_counter() - t0
    sampler = loader.node_sampler  # the raw op on the same CSC the loader uses
    colptr, row = sampler.colptr, sampler.row
    fanouts = list(args.fanouts)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))

    jgnn_pos = iter(range(1, len(source)))

    def jgnn_next():
        out = source.get(0, next(jgnn_pos))
        return out.num_edges, int(out.e_id[-1])

    def pyg_next():
        batch = next(pyg_iter)
        return batch.edge_index.shape[1], int(batch.e_id[-1])

    raw_pos = iter(range(1, n // args.batch_size))

    def raw_next():
        i = next(raw_pos)
        seeds = perm[i * args.batch_size : (i + 1) * args.batch_size]
        node, row_out, col_out, edge = torch.ops.torch_sparse.neighbor_sample(
            colptr, row, seeds, fanouts, False, True
        )
        return int(edge.numel()), int(edge[-1])

    contenders = {
        "jgnn SeedBatches.get": jgnn_next,
        "PyG NeighborLoader": pyg_next,
        "torch_sparse.neighbor_sample": raw_next,
    }
    rates = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            seconds, edges = _timed_round(fn, args.batches)
            rates[name].append(edges / seconds)
    base = statistics.median(rates["PyG NeighborLoader"])
    rows = []
    for name, values in rates.items():
        med = statistics.median(values)
        rows.append({"name": name, "rate": med, "ratio": med / base})
    print(f"\n### Neighbour sampling throughput ({n:,} nodes, {args.edges:,} edges)\n")
    print(f"fanouts {args.fanouts}, batch {args.batch_size}, {args.batches} batches x "
          f"{args.rounds} rounds (median round), 1 thread each\n")  # fmt: skip
    print("| sampler | sampled edges/s | vs PyG NeighborLoader |")
    print("|---|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['rate'] / 1e6:.2f} M | {r['ratio']:.1f}x |")
    print(
        f"\nOne-off: jgnn CSC build {t_build:.2f} s, first batch (numba compile or cache load) "
        f"{t_first:.2f} s; PyG loader setup + first batch {t_pyg_setup:.2f} s."
    )
    return rows


def cora(args: argparse.Namespace) -> None:
    env = os.environ.get("JGNN_DATA")
    roots = [Path(env), Path(env) / "planetoid"] if env else []
    root = next((r for r in roots if (r / "ind.cora.x").is_file()), None)
    if root is None:
        print("\n(Cora part skipped: set $JGNN_DATA to the folder holding the Planetoid files.)")
        return
    import torch
    from sampling._oracle import hop_counts_from_edges
    from torch_geometric.data import Data
    from torch_geometric.loader import NeighborLoader

    from jgnn.datasets import load
    from jgnn.sampling import NeighborSampler, SeedBatches

    g = load("cora", root=root, download=False).graph
    edge_index = np.stack([np.asarray(g.senders), np.asarray(g.receivers)]).astype(np.int64)
    n = int(np.asarray(g.n_node).sum())
    fanouts, batch_size = [10, 10, 10], 128
    source = SeedBatches(
        NeighborSampler(edge_index, fanouts, seed=args.seed), np.arange(n), batch_size,
        drop_last=True, seed=args.seed,
    )  # fmt: skip
    ours = [
        (b.num_sampled_nodes, b.num_sampled_edges)
        for e in range(args.cora_epochs)
        for b in source.iter_epoch(e)
    ]
    torch.manual_seed(args.seed)
    loader = NeighborLoader(
        Data(edge_index=torch.from_numpy(edge_index), num_nodes=n),
        num_neighbors=fanouts,
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
    )
    theirs = []
    for _ in range(args.cora_epochs):
        for b in loader:
            ei = b.edge_index.numpy()
            theirs.append(hop_counts_from_edges(batch_size, ei[0], ei[1], len(fanouts)))
    on, oe = (np.mean([x[k] for x in ours], axis=0) for k in (0, 1))
    pn, pe = (np.mean([x[k] for x in theirs], axis=0) for k in (0, 1))
    print(f"\n### Cora, fanouts {fanouts}, batch {batch_size}: mean per-hop counts over "
          f"{len(ours)} (jgnn) / {len(theirs)} (PyG) batches\n")  # fmt: skip
    print("| | nodes per hop | edges per hop |")
    print("|---|---|---|")
    print(f"| jgnn | {np.round(on, 1).tolist()} | {np.round(oe, 1).tolist()} |")
    print(f"| PyG | {np.round(pn, 1).tolist()} | {np.round(pe, 1).tolist()} |")
    print(f"| jgnn / PyG | {np.round(on / pn, 3).tolist()} | {np.round(oe / pe, 3).tolist()} |")


def main() -> None:
    args = _parse()
    import numba
    import torch
    import torch_geometric
    import torch_sparse

    throughput(args)
    cora(args)
    print(
        f"\n{datetime.date.today()} | {platform.node()} | {platform.machine()}"
        f" | {os.cpu_count()} cores | Python {platform.python_version()} | numpy {np.__version__}"
        f" | numba {numba.__version__} | torch {torch.__version__} | torch_geometric "
        f"{torch_geometric.__version__} | torch_sparse {torch_sparse.__version__}\n"
        f"Command: python benchmarks/bench_sampling.py {' '.join(sys.argv[1:])}"
    )


if __name__ == "__main__":
    main()
