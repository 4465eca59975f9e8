"""``jgnn train``: node classification, full-batch or on sampled mini-batches.

``--loader full`` (the default) is full-batch training with the paper's hyper-parameters;
``--loader neighbor|cluster|saint-node|saint-edge|saint-rw`` trains on sampled batches
(:func:`jgnn.train.train_minibatch_recipe`) and evaluates exactly. Every flag is validated
before any work (:func:`validate_train_args`), with argparse's exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import Any

import jax

__all__ = ["add_train_parser", "run_train", "validate_train_args"]

_PLANETOID = ("cora", "citeseer", "pubmed")
#: ``--flag`` -> attribute of the sampler settings (see ``jgnn.train.SamplerConfig``).
_SAMPLER_FLAGS = (
    "num_neighbors",
    "batch_size",
    "num_parts",
    "parts_per_batch",
    "walk_length",
    "num_steps",
    "sample_coverage",
    "num_workers",
    "trim",
)
#: Other numeric flags: attribute -> (smallest value, whether the bound is included).
_RANGES = {
    "epochs": (1, True),
    "hidden": (1, True),
    "lr": (0.0, False),
    "weight_decay": (0.0, True),
    "dropout": (0.0, True),
    "seed": (0, True),
    "eval_every": (1, True),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _int_list(text: str) -> tuple[int, ...]:
    """argparse type of ``--num-neighbors``: comma-separated ints, e.g. ``15,10``."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 15,10, got {text!r}"
        ) from None


def add_train_parser(sub: Any) -> None:
    """Adds the ``train`` sub-command to the ``jgnn`` parser."""
    from jgnn.datasets import DATASETS
    from jgnn.models import RECIPES
    from jgnn.train import LOADERS

    p = sub.add_parser(
        "train",
        help="train a GNN for node classification",
        description="Train a GNN under jit with its paper's Planetoid hyper-parameters "
        "(override them with the flags), full-batch or on sampled mini-batches (--loader), "
        "with exact layer-wise evaluation. Without --dataset it uses the embedded synthetic "
        "graph, so it runs offline.",
    )
    p.add_argument("--dataset", choices=DATASETS, default="synthetic", type=str.lower)
    p.add_argument("--data-dir", default=None, help="directory holding the raw dataset files")
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
    p.add_argument("--no-verify", action="store_true", help="skip Planetoid digest checks")
    p.add_argument("--metrics-json", default=None, help="write the final metrics here (JSON)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
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
    s.add_argument("--num-parts", type=int, default=None, help="cluster: METIS parts (N/500)")
    s.add_argument(
        "--parts-per-batch", type=int, default=None, help="cluster: parts per batch (parts/10)"
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
        "--eval-every", type=int, default=None, help="exact evaluation period in epochs (1)"
    )
    p.set_defaults(run=run_train, validate=validate_train_args, command_parser=p)


def validate_train_args(args: argparse.Namespace) -> None:
    """Checks every flag's range and combination; raises ``ValueError`` naming the flag.

    The sampler flags go through :func:`jgnn.train.check_sampler_options` (ranges, and a
    flag given to a loader it does not apply to), the other numbers through one range table;
    ``--num-neighbors`` must also give one fanout per layer of the model.

    Args:
        args: The parsed ``jgnn train`` arguments.

    Raises:
        ValueError: The first bad flag, by its name.
    """
    from jgnn.train import check_sampler_options

    options = {key: getattr(args, key) for key in _SAMPLER_FLAGS}
    check_sampler_options(args.loader, options, name=_flag)
    for key, (low, inclusive) in _RANGES.items():
        value = getattr(args, key)
        if value is not None and (value < low or (value == low and not inclusive)):
            relation = ">=" if inclusive else ">"
            raise ValueError(f"{_flag(key)} must be {relation} {low}, got {value}.")
    if args.dropout is not None and args.dropout >= 1.0:
        raise ValueError(f"--dropout must be < 1, got {args.dropout}.")
    if args.eval_every is not None and args.loader == "full":
        raise ValueError("--eval-every applies to the sampling loaders, not --loader full.")
    if args.num_neighbors is not None:
        layers = _model_layers(args.model)
        if layers is not None and len(args.num_neighbors) != layers:
            raise ValueError(
                f"--num-neighbors {','.join(map(str, args.num_neighbors))} samples "
                f"{len(args.num_neighbors)} hops but --model {args.model} has {layers} layers; "
                "give one fanout per layer."
            )


def _model_layers(model: str) -> int | None:
    """Message-passing layers of a recipe's model, when it runs layer by layer (else None)."""
    from flax import nnx

    from jgnn.models import RECIPES, BasicGNN

    recipe = RECIPES[model]
    net = recipe.build(1, 2, recipe.hidden, 0.0, nnx.Rngs(0))
    return net.num_layers if isinstance(net, BasicGNN) else None


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


def _load_dataset(args: argparse.Namespace) -> tuple[Any, Any]:
    """The dataset and the features the model sees (row-normalised for Planetoid)."""
    from jgnn import datasets

    name = args.dataset
    if name in _PLANETOID:
        data = datasets.load(
            name, root=args.data_dir, download=not args.offline, verify=not args.no_verify
        )
        return data, datasets.normalize_features(data.graph.nodes)  # as in the papers
    if name == "synthetic" or name in datasets.SYNTHETIC_PRESETS:
        data = datasets.load(name, seed=args.seed)
    else:
        data = datasets.load(name, root=args.data_dir)
    return data, data.graph.nodes


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
}


def run_train(args: argparse.Namespace) -> int:
    """Runs ``jgnn train`` (arguments already validated); returns the exit status."""
    from jgnn.train import SamplerConfig, train_minibatch_recipe, train_recipe

    data, x = _load_dataset(args)
    hparams = dict(
        seed=args.seed,
        hidden=args.hidden,
        lr=args.lr,
        weight_decay=args.weight_decay,
        dropout=args.dropout,
        epochs=args.epochs,
        progress=not args.no_progress,
    )
    if args.loader == "full":
        result = train_recipe(args.model, data, x, **hparams)
    else:
        sampler = SamplerConfig(args.loader, **{k: getattr(args, k) for k in _SAMPLER_FLAGS})
        result = train_minibatch_recipe(
            args.model, data, x, sampler, eval_every=args.eval_every or 1, **hparams
        )
    metrics = {
        "dataset": data.name,
        "model": args.model,
        "seed": args.seed,
        "backend": jax.default_backend(),
        "jax_version": jax.__version__,
        "loader": args.loader,
        **result.metrics,
    }
    for key in _PRINTED["full" if args.loader == "full" else "sampled"]:
        value = metrics[key]
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    print(f"peak_memory_bytes: {metrics['peak_memory_bytes']} ({metrics['peak_memory_source']})")
    if args.metrics_json:
        _write_json_atomic(args.metrics_json, metrics)
    return 0
