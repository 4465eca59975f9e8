"""Every ``jgnn train`` flag checked before any work: ranges, finiteness, combinations, paths.

:func:`validate_train_args` runs after argparse and before a dataset is read or a step
compiled. The first problem raises :class:`jgnn.cli._errors.UsageError` naming the flag, what
was expected and what was given; ``jgnn`` prints it with the usage line and exits with
status 2.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from jgnn.cli._errors import UsageError
from jgnn.cli._output import check_output_dir, check_output_file

__all__ = [
    "CHECKPOINT_LOADERS",
    "PLANETOID",
    "POLICY_LOADERS",
    "SAMPLER_FLAGS",
    "flag",
    "validate_train_args",
]

PLANETOID = ("cora", "citeseer", "pubmed")
#: ``--flag`` -> attribute of the sampler settings (see ``jgnn.train.SamplerConfig``).
SAMPLER_FLAGS = (
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
_GAS_FLAGS = ("num_parts", "parts_per_batch")
#: Numeric flags: attribute -> (smallest value, whether it is allowed, largest allowed or None).
_RANGES: dict[str, tuple[float, bool, float | None]] = {
    "epochs": (1, True, None),
    "hidden": (1, True, None),
    "lr": (0.0, False, None),
    "weight_decay": (0.0, True, None),
    "dropout": (0.0, True, None),
    "seed": (0, True, 2**32 - 1),
    "eval_every": (1, True, None),
    "checkpoint_every": (1, True, None),
}
#: What the training loops take today. Full-batch training (``fit_full_graph``) takes any
#: precision policy and checkpoints; the sampled loops (``fit_minibatch``, ``fit_gas``) take
#: neither, so only the policies that change nothing but the matmul precision (which the CLI
#: sets around them) run there. Widen these when the loops grow the arguments.
POLICY_LOADERS = {"fp32": None, "tf32": None, "bf16": ("full",), "fp16": ("full",)}
CHECKPOINT_LOADERS = ("full",)


def flag(name: str) -> str:
    """``num_parts`` -> ``--num-parts``."""
    return "--" + name.replace("_", "-")


def _check_ranges(args: argparse.Namespace) -> None:
    for key, (low, inclusive, high) in _RANGES.items():
        value = getattr(args, key, None)
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(f"{flag(key)} must be a finite number, got {value}.")
        if value < low or (value == low and not inclusive):
            relation = ">=" if inclusive else ">"
            raise UsageError(f"{flag(key)} must be {relation} {low:g}, got {value}.")
        if high is not None and value > high:
            raise UsageError(f"{flag(key)} must be <= {high}, got {value}.")
    if args.dropout is not None and args.dropout >= 1.0:
        raise UsageError(
            f"--dropout is the probability of dropping a unit and must be < 1, got {args.dropout}."
        )


def _check_sampling(args: argparse.Namespace) -> None:
    from jgnn.train import check_sampler_options

    options = {key: getattr(args, key) for key in SAMPLER_FLAGS}
    if args.gas:
        if args.loader != "full":
            raise UsageError(
                f"--gas trains on METIS parts with historical embeddings and replaces the "
                f"sampler; drop --loader {args.loader}."
            )
        # --num-parts / --parts-per-batch mean what they mean for Cluster-GCN.
        check_sampler_options("cluster", {k: options.pop(k) for k in _GAS_FLAGS}, name=flag)
    elif args.loader != "cluster":
        for key in _GAS_FLAGS:
            if options[key] is not None:
                raise UsageError(
                    f"{flag(key)} applies only with --loader cluster or --gas; it makes no "
                    f"sense with --loader {args.loader}."
                )
    check_sampler_options(args.loader, options, name=flag)
    if args.eval_every is not None and args.loader == "full" and not args.gas:
        raise UsageError(
            "--eval-every applies to the sampling loaders and --gas; full-batch training "
            "evaluates every epoch."
        )


def _check_model(args: argparse.Namespace) -> None:
    from flax import nnx

    from jgnn.history import gas_program
    from jgnn.models import RECIPES, BasicGNN

    if args.num_neighbors is None and not args.gas:
        return
    recipe = RECIPES[args.model]
    net = recipe.build(1, 2, recipe.hidden, 0.0, nnx.Rngs(0))
    if args.num_neighbors is not None and isinstance(net, BasicGNN):
        if len(args.num_neighbors) != net.num_layers:
            raise UsageError(
                f"--num-neighbors {','.join(map(str, args.num_neighbors))} samples "
                f"{len(args.num_neighbors)} hops but --model {args.model} has {net.num_layers} "
                "layers; give one fanout per layer."
            )
    if args.gas:
        try:
            gas_program(net)
        except (TypeError, ValueError, NotImplementedError) as err:
            raise UsageError(
                f"--gas does not support --model {args.model}: {err} Train it with --loader "
                "full or a sampling --loader."
            ) from None


def _check_data(args: argparse.Namespace) -> None:
    from jgnn.datasets import OGB_DATASETS

    on_disk = (*PLANETOID, *OGB_DATASETS)
    if args.data_dir is not None:
        if args.dataset not in on_disk:
            raise UsageError(
                f"--data-dir applies to datasets read from files ({'|'.join(on_disk)}); "
                f"--dataset {args.dataset} is generated, so drop --data-dir."
            )
        path = Path(args.data_dir).expanduser()
        if not path.is_dir():
            what = "is a file" if path.exists() else "does not exist"
            raise UsageError(f"--data-dir {path} {what}; give the folder holding the raw files.")
    if args.no_verify and args.dataset not in PLANETOID:
        raise UsageError(
            f"--no-verify skips the pinned digests of the Planetoid files; --dataset "
            f"{args.dataset} has none to skip, so drop --no-verify."
        )


def _check_precision_and_checkpoints(args: argparse.Namespace) -> None:
    loader = "gas" if args.gas else args.loader
    shown = "--gas" if args.gas else f"--loader {args.loader}"
    allowed = POLICY_LOADERS[args.precision]
    if allowed is not None and loader not in allowed:
        raise UsageError(
            f"--precision {args.precision} runs with --loader full only: the {shown} training "
            "loop takes no precision policy yet. Use --precision fp32 or tf32 there, or "
            "--loader full."
        )
    wants_checkpoints = args.checkpoint_dir is not None
    if args.resume and not wants_checkpoints:
        raise UsageError("--resume needs --checkpoint-dir (the folder of the run to continue).")
    if args.checkpoint_every is not None and not wants_checkpoints:
        raise UsageError("--checkpoint-every needs --checkpoint-dir (where to save).")
    if not wants_checkpoints:
        return
    if loader not in CHECKPOINT_LOADERS:
        raise UsageError(
            f"--checkpoint-dir works with --loader full only: the {shown} training loop does "
            "not save checkpoints yet. Drop --checkpoint-dir/--resume, or use --loader full."
        )
    path = check_output_dir(args.checkpoint_dir, "--checkpoint-dir")
    has_files = path.is_dir() and any(not p.name.startswith(".") for p in path.iterdir())
    if args.resume and not has_files:
        raise UsageError(
            f"--resume: --checkpoint-dir {path} holds no checkpoint; drop --resume to start a "
            "new run there."
        )
    if not args.resume and has_files:
        raise UsageError(
            f"--checkpoint-dir {path} already holds a run; pass --resume to continue it, or "
            "choose an empty folder."
        )


def validate_train_args(args: argparse.Namespace) -> None:
    """Checks every ``jgnn train`` flag's range and combination, before any work.

    The sampler flags go through :func:`jgnn.train.check_sampler_options` (ranges, and a
    flag given to a loader it does not apply to); the other numbers through one range table
    (finite, in range); ``--num-neighbors`` must give one fanout per layer of the model and
    ``--gas`` a model GNNAutoScale runs; dataset, precision and checkpoint flags must fit
    together; output paths must be writable.

    Args:
        args: The parsed ``jgnn train`` arguments.

    Raises:
        UsageError: The first bad flag, by its name (a ``ValueError``).
        TypeError: A sampler flag of the wrong type.
    """
    _check_ranges(args)
    _check_sampling(args)
    _check_data(args)
    _check_precision_and_checkpoints(args)
    _check_model(args)
    if args.metrics_json is not None:
        check_output_file(os.fspath(args.metrics_json), "--metrics-json")
