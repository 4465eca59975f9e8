"""``jgnn train``: node classification, full-batch, on sampled mini-batches or with GNNAutoScale.

``--loader full`` (the default) is full-batch training with the paper's hyper-parameters
under a precision policy (``--precision``), with checkpoints (``--checkpoint-dir``) and exact
resume (``--resume``); ``--loader neighbor|cluster|saint-node|saint-edge|saint-rw`` trains on
sampled batches and ``--gas`` with GNNAutoScale, both evaluating exactly. Every flag is
validated before any work (:func:`jgnn.cli._validate.validate_train_args`, exit status 2);
the run prints a header (dataset, model, sizes, hyper-parameters, device, loader) and its
results in readable units, and ``--metrics-json`` gets them as JSON with a ``status`` field.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import jax

from jgnn.cli._errors import Diverged
from jgnn.cli._output import write_json
from jgnn.cli._report import EpochLines, interactive, result_lines
from jgnn.cli._runs import DivergenceCheck, run_full, run_gas, run_sampled, sampler_settings
from jgnn.cli._validate import PLANETOID, validate_train_args

__all__ = ["add_train_parser", "run_train", "validate_train_args"]

_PRINTED = {
    "full": ("test_accuracy", "val_accuracy", "epoch_time_ms", "compile_time_s"),
    "sampled": (
        "test_accuracy",
        "val_accuracy",
        "epoch_time_ms",
        "first_epoch_s",
        "eval_time_ms",
        "batches_per_s",
        "sampled_edges_per_s",
        "host_wait_share",
        "node_waste",
        "edge_waste",
        "skipped_batches",
        "num_shapes",
    ),
    "gas": (
        "test_accuracy",
        "val_accuracy",
        "epoch_time_ms",
        "eval_time_ms",
        "compile_time_s",
        "warmup_time_s",
        "num_parts",
        "parts_per_batch",
    ),
}


def _int_list(text: str) -> tuple[int, ...]:
    """argparse type of ``--num-neighbors``: comma-separated ints, e.g. ``15,10``."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 15,10, got {text!r}"
        ) from None


def add_train_parser(sub: Any) -> argparse.ArgumentParser:
    """Adds the ``train`` sub-command to the ``jgnn`` parser.

    Args:
        sub: The ``add_subparsers()`` object of the ``jgnn`` parser.

    Returns:
        The ``train`` parser (its defaults hold ``run``, ``validate`` and ``command_parser``).
    """
    from jgnn.datasets import DATASETS
    from jgnn.models import RECIPES
    from jgnn.train import LOADERS, PRECISION_POLICIES

    p = sub.add_parser(
        "train",
        help="train a GNN for node classification",
        description="Train a GNN under jit with its paper's Planetoid hyper-parameters "
        "(override them with the flags), full-batch, on sampled mini-batches (--loader) or "
        "with GNNAutoScale (--gas), with exact evaluation. The reported test accuracy is the "
        "one at the epoch of best validation accuracy. Without --dataset it uses the embedded "
        "synthetic graph, so it runs offline. Exit status: 0 success, 1 the run failed "
        "(diverged, a sampler failed, an output could not be written), 2 a bad flag or input.",
    )
    d = p.add_argument_group("data")
    d.add_argument("--dataset", choices=DATASETS, default="synthetic", type=str.lower)
    d.add_argument("--data-dir", default=None, help="folder holding the raw dataset files")
    d.add_argument(
        "--offline", action="store_true", help="never download; fail if the files are missing"
    )
    d.add_argument(
        "--no-verify", action="store_true", help="Planetoid: skip the digest checks (edited files)"
    )
    m = p.add_argument_group("model and optimisation")
    m.add_argument("--model", choices=sorted(RECIPES), default="gcn")
    m.add_argument("--epochs", type=int, default=None, help="default: the model's recipe")
    m.add_argument("--hidden", type=int, default=None, help="default: the model's recipe")
    m.add_argument("--lr", type=float, default=None, help="default: the model's recipe")
    m.add_argument("--weight-decay", type=float, default=None, help="default: the recipe")
    m.add_argument("--dropout", type=float, default=None, help="default: the model's recipe")
    m.add_argument("--seed", type=int, default=0, help="initialisation, dropout, sampling")
    m.add_argument(
        "--precision",
        choices=sorted(PRECISION_POLICIES),
        default="fp32",
        help="fp32: float32, full-precision matmuls; tf32: TF32 matmuls on GPUs; bf16/fp16: "
        "low-precision compute, float32 parameters (fp16 with dynamic loss scaling)",
    )
    o = p.add_argument_group("output and checkpoints")
    o.add_argument("--metrics-json", default=None, help="write the final metrics here (JSON)")
    o.add_argument("--no-progress", action="store_true", help="no progress bar or lines")
    o.add_argument("--checkpoint-dir", default=None, help="save checkpoints in this folder")
    o.add_argument(
        "--checkpoint-every", type=int, default=None, help="epochs between checkpoints (~10/run)"
    )
    o.add_argument(
        "--resume", action="store_true", help="continue the run saved in --checkpoint-dir"
    )
    o.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="tracebacks on errors"
    )
    s = p.add_argument_group(
        "mini-batch training", "sampler settings; each applies to the loaders named"
    )
    s.add_argument("--loader", choices=LOADERS, default="full", help="default: full-batch")
    s.add_argument(
        "--num-neighbors", type=_int_list, default=None, help="neighbor: fanout per hop (15,10)"
    )
    s.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="neighbor: seeds (1024); saint-*: draws (default: ~3 kept neighbours per node)",
    )
    s.add_argument(
        "--num-parts", type=int, default=None, help="cluster, --gas: METIS parts (N/500)"
    )
    s.add_argument(
        "--parts-per-batch", type=int, default=None, help="cluster, --gas: parts a batch (parts/10)"
    )
    s.add_argument("--walk-length", type=int, default=None, help="saint-rw: walk steps (2)")
    s.add_argument(
        "--num-steps", type=int, default=None, help="saint-*: batches per epoch (one pass)"
    )
    s.add_argument(
        "--sample-coverage", type=float, default=None, help="saint-*: norm pre-sampling (100)"
    )
    s.add_argument("--num-workers", type=int, default=None, help="sampler processes (0)")
    s.add_argument(
        "--trim",
        action="store_const",
        const=True,
        default=None,
        help="neighbor: trim finished hops layer by layer",
    )
    s.add_argument(
        "--eval-every", type=int, default=None, help="sampled, --gas: epochs between evaluations"
    )
    s.add_argument(
        "--gas",
        action="store_true",
        help="GNNAutoScale: METIS parts with historical embeddings (every edge kept)",
    )
    p.set_defaults(run=run_train, validate=validate_train_args, command_parser=p)
    return p


def _load_dataset(args: argparse.Namespace) -> tuple[Any, Any]:
    """The dataset and the features the model sees (row-normalised for Planetoid only)."""
    from jgnn import datasets

    name = args.dataset
    if name in PLANETOID:
        data = datasets.load(
            name, root=args.data_dir, download=not args.offline, verify=not args.no_verify
        )
        return data, datasets.normalize_features(data.graph.nodes)  # as in the papers
    if name == "synthetic" or name in datasets.SYNTHETIC_PRESETS:
        data = datasets.load(name, seed=args.seed)
    else:
        data = datasets.load(name, root=args.data_dir)
    return data, data.graph.nodes


def _device() -> str:
    devices = jax.devices()
    backend, kind = jax.default_backend(), devices[0].device_kind
    what = f"{len(devices)} x {kind}" if len(devices) > 1 else kind
    return f"{backend}{'' if what == backend else f' ({what})'}, jax {jax.__version__}"


def _header(args: argparse.Namespace, data: Any, hparams: dict[str, Any]) -> list[str]:
    from jgnn import __version__
    from jgnn.models import RECIPES

    split = "/".join(str(int(m.sum())) for m in (data.train_mask, data.val_mask, data.test_mask))
    source = "" if data.name.lower() == args.dataset else f", generated by {data.name}"
    if args.loader == "full" and not args.gas:
        loader = "full-batch"
    else:
        settings = sampler_settings(args, data).options()
        if args.gas:
            settings = {k: settings[k] for k in ("num_parts", "parts_per_batch")}
        shown = ", ".join(
            f"{k.replace('_', ' ')} {','.join(map(str, v)) if isinstance(v, tuple) else v}"
            for k, v in settings.items()
            if v is not None and v is not False
        )
        what = "GNNAutoScale (METIS parts, historical embeddings)" if args.gas else args.loader
        loader = f"{what} with {shown}"
    wd = hparams["weight_decay"]
    wd = ", ".join(f"{k}: {v:g}" for k, v in wd.items()) if isinstance(wd, dict) else f"{wd:g}"
    return [
        f"jgnn {__version__} train",
        f"  dataset: {args.dataset} ({data.num_nodes:,} nodes, {data.num_edges:,} directed "
        f"edges, {data.num_features:,} features, {data.num_classes} classes; train/val/test "
        f"{split}{source})",
        f"  model: {args.model} ({RECIPES[args.model].paper})",
        f"  hyper-parameters: hidden {hparams['hidden']}, lr {hparams['lr']:g}, weight decay "
        f"{wd}, dropout {hparams['dropout']:g}, epochs {hparams['epochs']}, seed {args.seed}",
        f"  training: {loader}, precision {args.precision}"
        + (f", checkpoints in {args.checkpoint_dir}" if args.checkpoint_dir else "")
        + (" (resuming)" if args.resume else ""),
        f"  device: {_device()}",
    ]


def _metrics(args: argparse.Namespace, data: Any) -> dict[str, Any]:
    from jgnn import __version__
    from jgnn.train import precision_policy

    return {
        "status": "ok",
        "dataset": args.dataset,
        "num_nodes": data.num_nodes,
        "num_edges": data.num_edges,
        "model": args.model,
        "seed": args.seed,
        "precision": args.precision,
        "precision_policy": precision_policy(args.precision).to_dict(),
        "loader": "gas" if args.gas else args.loader,
        "backend": jax.default_backend(),
        "jax_version": jax.__version__,
        "jgnn_version": __version__,
        "test_accuracy_is": "test accuracy at the epoch of best validation accuracy",
    }


def run_train(args: argparse.Namespace) -> int:
    """Runs ``jgnn train``: loads the data, prints the header, trains, prints and writes the
    results.

    Args:
        args: The flags, already checked by :func:`validate_train_args`.

    Returns:
        The exit status (0).

    Raises:
        Diverged: Training produced a non-finite loss or parameters (the metrics JSON, if
            asked for, is written first with ``status: "diverged"``).
    """
    from jgnn.train import recipe_hparams, resolve_recipe

    data, x = _load_dataset(args)
    hparams = recipe_hparams(
        resolve_recipe(args.model),
        hidden=args.hidden,
        lr=args.lr,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
        epochs=args.epochs,
    )
    print("\n".join(_header(args, data, hparams)), flush=True)
    bars = interactive() and not args.no_progress
    lines = None if bars or args.no_progress else EpochLines(hparams["epochs"])
    check = DivergenceCheck(hparams["lr"], args.precision, then=lines)
    metrics = _metrics(args, data)
    try:
        if args.gas:
            result = run_gas(args, data, x, progress=bars, check=check)
        elif args.loader == "full":
            result = run_full(args, data, x, hparams, progress=bars, check=check)
        else:
            result = run_sampled(args, data, x, progress=bars, check=check)
    except Diverged as err:
        if args.metrics_json:
            failed = {**metrics, **hparams, "status": "diverged", "error": str(err)}
            failed.update(test_accuracy=None, val_accuracy=None)
            write_json(args.metrics_json, {**failed, "diverged_epoch": err.epoch}, "--metrics-json")
        raise
    metrics.update({k: v for k, v in result.metrics.items() if k not in metrics})
    kind = "gas" if args.gas else "full" if args.loader == "full" else "sampled"
    print("\n".join(result_lines(metrics, _PRINTED[kind])))
    if args.metrics_json:
        write_json(args.metrics_json, metrics, "--metrics-json")
        print(f"metrics written to {args.metrics_json}")
    sys.stdout.flush()
    return 0
