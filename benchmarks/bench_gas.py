"""GNNAutoScale (jgnn.history, jgnn.train.fit_gas): accuracy, constant memory, transfer overlap.

Three parts, each a subcommand printing a Markdown table with the machine, versions and date:

``accuracy``: Planetoid (Cora, CiteSeer) test accuracy at the best validation epoch, mean ± std
over seeds, next to the GAS paper's METIS results (Fey et al., ICML 2021, Table 2 GAS rows).
Settings are pyg_autoscale's ``small_benchmark/conf`` ones (parts, parts per batch, epochs,
learning rate, weight decay groups, gradient clipping, GCNII's CiteSeer architecture); the
models and the rest are jgnn's recipes. Evaluation is exact (``MiniInference``) every epoch.

``memory``: synthetic CSBM graphs (``jgnn.datasets.scaling_csbm``, degree 10) of growing size
with the SAME part size: ``memory_analysis()`` (arguments + temporaries) of the compiled GAS
train step against the compiled full-batch train step (same model, same optimizer); then a GAS
run and, where it fits in host RAM, a full-batch run on the largest graph whose full-batch step
exceeds ``--budget-gib``, with epoch time and accuracy for both.

``overlap``: time per GAS step with host histories and asynchronous transfers vs synchronous
ones (and with device-resident histories); the hidden share is ``(sync - async) / transfer``,
with ``transfer`` the pull and push time measured in sync mode.

Usage (from the repository root):
  JGNN_DATA=../shared/data python benchmarks/bench_gas.py accuracy --seeds 5
  python benchmarks/bench_gas.py memory --sizes 100000 1000000 4000000
  python benchmarks/bench_gas.py overlap
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import platform
import statistics
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jgnn import datasets
from jgnn.models import GCN, GCNII, RECIPES
from jgnn.nn import gcn_norm
from jgnn.train import adam_l2, fit_gas, fit_node_classifier

GIB = 2**30


def header(what: str) -> None:
    print(
        f"# {what}: {datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, "
        f"{jax.device_count()} {jax.default_backend()} device(s), jax {jax.__version__}, "
        f"python {platform.python_version()}; command: python {' '.join(sys.argv)}"
    )


# ------------------------------------------------------------------------------ accuracy


@dataclasses.dataclass(frozen=True)
class GasSetting:
    """One row of pyg_autoscale's small_benchmark configs and the paper's accuracy."""

    num_parts: int
    parts_per_batch: int
    epochs: int
    grad_norm: float | None
    paper: float
    build: Any = None  # overrides the recipe's model (GCNII's CiteSeer architecture)


def _gcn2_citeseer(in_features, num_classes, hidden, dropout, rngs):
    return GCNII(
        in_features, 256, num_classes, num_layers=32, alpha=0.1, theta=0.6, dropout=0.7, rngs=rngs
    )


SETTINGS = {  # (dataset, recipe) -> pyg_autoscale small_benchmark/conf/model/*.yaml
    ("cora", "gcn"): GasSetting(40, 10, 200, 1.0, 82.29),
    ("cora", "gat"): GasSetting(40, 10, 400, 1.0, 83.32),
    ("cora", "appnp"): GasSetting(4, 2, 600, None, 83.19),
    ("cora", "gcn2"): GasSetting(2, 1, 1000, None, 85.52),
    ("citeseer", "gcn"): GasSetting(24, 8, 200, None, 71.18),
    ("citeseer", "gat"): GasSetting(24, 8, 400, None, 71.86),
    ("citeseer", "appnp"): GasSetting(24, 6, 600, 1.0, 72.63),
    ("citeseer", "gcn2"): GasSetting(40, 20, 1000, 1.0, 73.89, _gcn2_citeseer),
}


def run_accuracy(args: argparse.Namespace) -> None:
    header("GAS accuracy on Planetoid")
    print(
        "| dataset | model | parts / per batch | epochs | test acc % (mean ± std) | paper % | "
        "Δ | train epoch ms | eval ms | compile s |"
    )
    print("|---|---|---|---:|---|---:|---:|---:|---:|---:|")
    for name in args.datasets:
        data = datasets.load(name)
        x = datasets.normalize_features(np.asarray(data.graph.nodes))
        for model_name in args.models:
            s = SETTINGS[(name, model_name)]
            recipe = RECIPES[model_name]
            build = s.build or recipe.build
            epochs = args.epochs or s.epochs
            accs, times, evals, compiles = [], [], [], []
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                model = build(
                    x.shape[1], data.num_classes, recipe.hidden, recipe.dropout, nnx.Rngs(seed)
                )
                tx = adam_l2(recipe.lr, recipe.weight_decay, recipe.decay_paths)
                if s.grad_norm:
                    tx = optax.chain(optax.clip_by_global_norm(s.grad_norm), tx)
                m = fit_gas(
                    model,
                    data.graph,
                    x,
                    data.labels,
                    data.train_mask,
                    data.val_mask,
                    data.test_mask,
                    tx=tx,
                    epochs=epochs,
                    num_parts=s.num_parts,
                    parts_per_batch=s.parts_per_batch,
                    seed=seed,
                ).metrics
                accs.append(100 * m["test_accuracy"])
                times.append(m["epoch_time_ms"])
                evals.append(m["eval_time_ms"])
                compiles.append(m["compile_time_s"])
                print(f"  {name} {model_name} seed {seed}: {accs[-1]:.2f}", file=sys.stderr)
            mean = statistics.mean(accs)
            std = statistics.pstdev(accs)
            print(
                f"| {name} | {model_name} | {s.num_parts} / {s.parts_per_batch} | {epochs} | "
                f"{mean:.2f} ± {std:.2f} | {s.paper:.2f} | {mean - s.paper:+.2f} | "
                f"{statistics.median(times):.1f} | {statistics.median(evals):.1f} | "
                f"{statistics.median(compiles):.1f} |",
                flush=True,
            )


# ------------------------------------------------------------------------------ memory


def _gcn(in_features: int, num_classes: int, hidden: int, seed: int) -> GCN:
    return GCN(
        in_features,
        hidden,
        num_classes,
        num_layers=2,
        dropout=0.5,
        normalize=False,
        rngs=nnx.Rngs(seed),
    )


def full_batch_step_memory(n: int, e: int, f: int, c: int, hidden: int) -> dict[str, int]:
    """``memory_analysis()`` of a full-batch GCN train step on N nodes / E edges (compile only)."""
    model = _gcn(f, c, hidden, 0)
    optimizer = nnx.Optimizer(model, adam_l2(0.01, 5e-4), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    def step(state, senders, receivers, weights, x, labels, train):
        model, optimizer = nnx.merge(graphdef, state)
        g = gcn_norm(jnp.stack([senders, receivers]), weights, num_nodes=n)

        def loss_fn(model):
            logits = model(g, x, deterministic=False)
            losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
            return jnp.sum(jnp.where(train, losses, 0.0)) / jnp.maximum(jnp.sum(train), 1)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        with jax.numpy_dtype_promotion("standard"):
            optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    sds = jax.ShapeDtypeStruct
    args = (
        sds((e,), jnp.int32),
        sds((e,), jnp.int32),
        sds((e,), jnp.float32),
        sds((n, f), jnp.float32),
        sds((n,), jnp.int32),
        sds((n,), bool),
    )
    m = jax.jit(step).lower(state, *args).compile().memory_analysis()
    return {"args": m.argument_size_in_bytes, "temp": m.temp_size_in_bytes}


def gas_step_memory(metrics: dict[str, Any]) -> dict[str, int]:
    return {"args": metrics["step_argument_bytes"], "temp": metrics["step_temp_bytes"]}


def run_memory(args: argparse.Namespace) -> None:
    header("GAS constant device memory")
    print(
        f"GCN, 2 layers, hidden {args.hidden}, {args.features} features, {args.classes} classes; "
        f"CSBM degree 10; part size {args.part_size} nodes, {args.parts_per_batch} parts per "
        "batch; memory = arguments + temporaries of the compiled train step (MiB)."
    )
    print(
        "| nodes | edges | parts | GAS budget (batch, halo, edges) | GAS step MiB | "
        "full-batch step MiB | GAS / full | METIS + setup s |"
    )
    print("|---:|---:|---:|---|---:|---:|---:|---:|")
    largest = None
    for n in args.sizes:
        t0 = time.perf_counter()
        ds = datasets.scaling_csbm(
            n, 10.0, num_classes=args.classes, num_features=args.features, seed=0
        )
        num_parts = max(1, n // args.part_size)
        # One GAS epoch gives the compiled step's memory analysis; setup time includes METIS.
        model = _gcn(args.features, args.classes, args.hidden, 0)
        res = fit_gas(
            model,
            ds.graph,
            ds.graph.nodes,
            ds.labels,
            ds.train_mask,
            ds.val_mask,
            ds.test_mask,
            tx=adam_l2(0.01, 5e-4),
            epochs=1,
            num_parts=num_parts,
            parts_per_batch=args.parts_per_batch,
        ).metrics
        setup = time.perf_counter() - t0
        gas = gas_step_memory(res)
        e = ds.num_edges + n  # with the self loops gcn_norm appends
        full = full_batch_step_memory(n, ds.num_edges, args.features, args.classes, args.hidden)
        g_mib = (gas["args"] + gas["temp"]) / 2**20
        f_mib = (full["args"] + full["temp"]) / 2**20
        print(
            f"| {n:,} | {e:,} | {num_parts} | {res['budget']} | {g_mib:.1f} | {f_mib:.1f} | "
            f"{g_mib / f_mib:.3f} | {setup:.0f} |",
            flush=True,
        )
        if f_mib * 2**20 > args.budget_gib * GIB and largest is None:
            largest = (n, ds, num_parts, f_mib)
    if largest is None:
        return
    n, ds, num_parts, f_mib = largest
    print(
        f"\nTraining on {n:,} nodes (full-batch step {f_mib / 1024:.2f} GiB > budget "
        f"{args.budget_gib} GiB), {args.train_epochs} epochs, lr 0.01, wd 5e-4:"
    )
    print("| method | step MiB | within budget | train epoch s | eval s | test acc % |")
    print("|---|---:|---|---:|---:|---:|")
    m = fit_gas(
        _gcn(args.features, args.classes, args.hidden, 0),
        ds.graph,
        ds.graph.nodes,
        ds.labels,
        ds.train_mask,
        ds.val_mask,
        ds.test_mask,
        tx=adam_l2(0.01, 5e-4),
        epochs=args.train_epochs,
        num_parts=num_parts,
        parts_per_batch=args.parts_per_batch,
    ).metrics
    g_mib = (m["step_argument_bytes"] + m["step_temp_bytes"]) / 2**20
    print(
        f"| GAS | {g_mib:.1f} | {g_mib <= args.budget_gib * 1024} | "
        f"{m['epoch_time_ms'] / 1e3:.2f} | {m['eval_time_ms'] / 1e3:.2f} | "
        f"{100 * m['test_accuracy']:.2f} |",
        flush=True,
    )
    if args.full_batch_max_nodes and n <= args.full_batch_max_nodes:
        graph = jax.tree.map(jnp.asarray, ds.graph._replace(nodes=None))
        graph = gcn_norm(graph, num_nodes=n)
        fm = fit_node_classifier(
            _gcn(args.features, args.classes, args.hidden, 0),
            graph,
            jnp.asarray(ds.graph.nodes),
            ds.labels,
            ds.train_mask,
            ds.val_mask,
            ds.test_mask,
            tx=adam_l2(0.01, 5e-4),
            epochs=args.train_epochs,
            progress=False,
        ).metrics
        print(
            f"| full batch | {f_mib:.1f} | {f_mib <= args.budget_gib * 1024} | "
            f"{fm['epoch_time_ms'] / 1e3:.2f} | (in epoch) | {100 * fm['test_accuracy']:.2f} |"
        )


# ------------------------------------------------------------------------------ overlap


def run_overlap(args: argparse.Namespace) -> None:
    header("GAS transfer overlap")
    ds = datasets.scaling_csbm(args.nodes, 10.0, num_classes=10, num_features=args.features, seed=0)
    num_parts = max(1, args.nodes // args.part_size)
    print(
        f"CSBM {args.nodes:,} nodes, {ds.num_edges:,} edges; GCN {args.layers} layers, hidden "
        f"{args.hidden} ({args.layers - 1} histories); {num_parts} parts, "
        f"{args.parts_per_batch} per batch; {args.epochs} epochs per mode, rounds interleaved, "
        "median per-step time of the epochs after the first."
    )
    print(
        "| histories | transfers | ms / step | pull ms / step (main thread) | push landing ms / "
        "step | wait ms / step | pulled MiB / step | pushed MiB / step |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    modes = [("host", "sync"), ("host", "async"), ("device", "async")]
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for storage, transfers in modes:
            model = GCN(
                args.features,
                args.hidden,
                10,
                num_layers=args.layers,
                dropout=0.5,
                normalize=False,
                rngs=nnx.Rngs(0),
            )
            m = fit_gas(
                model,
                ds.graph,
                ds.graph.nodes,
                ds.labels,
                ds.train_mask,
                ds.val_mask,
                ds.test_mask,
                tx=adam_l2(0.01, 5e-4),
                epochs=args.epochs,
                num_parts=num_parts,
                parts_per_batch=args.parts_per_batch,
                storage=storage,
                transfers=transfers,
                eval_every=args.epochs,
            ).metrics
            m["steps_per_epoch"] = -(-num_parts // args.parts_per_batch)
            rows[(storage, transfers)].append(m)
    per_step = {}
    for mode, ms in rows.items():
        step = statistics.median(m["epoch_time_ms"] / m["steps_per_epoch"] for m in ms)
        per_step[mode] = step
        m = ms[-1]
        transfer = mode[0] == "host"
        print(
            f"| {mode[0]} | {mode[1] if transfer else 'none'} | {step:.2f} | "
            + (
                f"{m['pull_ms_per_step']:.2f} | {m['writer_ms_per_step']:.2f} | "
                f"{m['wait_ms_per_step']:.2f} | {m['pulled_bytes_per_step'] / 2**20:.2f} | "
                f"{m['pushed_bytes_per_step'] / 2**20:.2f} |"
                if transfer
                else "- | - | - | - | - |"
            )
        )
    sync, asyn, dev = (per_step[m] for m in modes)
    m_sync = rows[modes[0]]
    transfer = statistics.median(m["pull_ms_per_step"] + m["writer_ms_per_step"] for m in m_sync)
    hidden = (sync - asyn) / transfer if transfer > 0 else float("nan")
    print(
        f"\nSynchronous transfers cost {transfer:.2f} ms/step (pulls gathered and sent, pushes "
        f"landed, measured in sync mode); async runs {sync - asyn:.2f} ms/step faster: hidden "
        f"share {100 * hidden:.0f}%; async / sync = {asyn / sync:.2f}x; device-resident "
        f"histories (in-step gathers and scatters, no host traffic) / sync = {dev / sync:.2f}x."
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="part", required=True)
    a = sub.add_parser("accuracy")
    a.add_argument("--datasets", nargs="+", default=["cora", "citeseer"])
    a.add_argument("--models", nargs="+", default=["gcn", "gat", "appnp", "gcn2"])
    a.add_argument("--seeds", type=int, default=5)
    a.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, first-seed+1, ...")
    a.add_argument("--epochs", type=int, default=None, help="override every setting's epochs")
    m = sub.add_parser("memory")
    m.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000, 4_000_000])
    m.add_argument("--part-size", type=int, default=1000)
    m.add_argument("--parts-per-batch", type=int, default=10)
    m.add_argument("--features", type=int, default=64)
    m.add_argument("--classes", type=int, default=10)
    m.add_argument("--hidden", type=int, default=64)
    m.add_argument("--budget-gib", type=float, default=2.0)
    m.add_argument("--train-epochs", type=int, default=10)
    m.add_argument("--full-batch-max-nodes", type=int, default=1_000_000)
    o = sub.add_parser("overlap")
    o.add_argument("--nodes", type=int, default=100_000)
    o.add_argument("--part-size", type=int, default=1000)
    o.add_argument("--parts-per-batch", type=int, default=2)
    o.add_argument("--features", type=int, default=64)
    o.add_argument("--hidden", type=int, default=128)
    o.add_argument("--layers", type=int, default=4)
    o.add_argument("--epochs", type=int, default=2)
    o.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    {"accuracy": run_accuracy, "memory": run_memory, "overlap": run_overlap}[args.part](args)


if __name__ == "__main__":
    main()
