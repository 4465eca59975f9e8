"""The three ways ``jgnn train`` trains: full-batch, on sampled batches, with GNNAutoScale.

Each runner takes the parsed flags, the dataset, the features and the resolved
hyper-parameters, calls one public training loop of :mod:`jgnn.train` and returns its
:class:`jgnn.train.FitResult` with the hyper-parameters added to the metrics:

* full-batch: :func:`jgnn.train.fit_full_graph` (the loop of ``train_recipe``, bit for bit,
  plus a precision policy, checkpoints and exact resume);
* ``--loader neighbor|cluster|saint-*``: :func:`jgnn.train.train_minibatch_recipe`;
* ``--gas``: :func:`jgnn.train.train_gas_recipe` (GNNAutoScale, exact evaluation through
  ``jgnn.history.MiniInference``).

Divergence is caught here: :class:`DivergenceCheck` stops a loop that reports its epochs at
the first non-finite loss, and checks the history of the loops that do not.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jgnn.cli._errors import Diverged
from jgnn.cli._validate import SAMPLER_FLAGS

__all__ = [
    "DivergenceCheck",
    "checkpoint_config",
    "run_full",
    "run_gas",
    "run_sampled",
    "sampler_settings",
]

#: Loss-scaled (fp16) steps skipped in a row before the run counts as diverged.
MAX_SKIPPED_STEPS = 25


class DivergenceCheck:
    """An ``on_epoch`` callback that raises :class:`Diverged` at the first non-finite loss.

    Under dynamic loss scaling (fp16) a step with non-finite gradients is skipped and the
    scale halves: that is expected, and only ``MAX_SKIPPED_STEPS`` skipped steps in a row
    count as divergence.

    Args:
        lr: The learning rate, quoted in the message.
        precision: The ``--precision``, quoted in the message.
        then: Another ``on_epoch`` callback to call after the check (progress lines).
    """

    def __init__(
        self,
        lr: float,
        precision: str,
        then: Callable[[int, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.lr, self.precision, self.then = lr, precision, then
        self.skipped = 0

    def __call__(self, epoch: int, record: Mapping[str, Any]) -> None:
        """Checks ``record`` of ``epoch`` (0-based), then calls ``then``."""
        self._check(epoch, record)
        if self.then is not None:
            self.then(epoch, record)

    def _check(self, epoch: int, record: Mapping[str, Any]) -> None:
        loss = float(record.get("loss", 0.0))
        if self.precision == "fp16" and "finite" in record:  # dynamic loss scaling
            self.skipped = 0 if record["finite"] else self.skipped + 1
            if self.skipped >= MAX_SKIPPED_STEPS:
                raise self.error(epoch, f"{self.skipped} loss-scaled steps in a row overflowed")
        elif not math.isfinite(loss):
            raise self.error(epoch, f"the training loss became {loss}")

    def check_history(self, history: list[Mapping[str, Any]]) -> None:
        """Checks the records of a finished run (a loop without an ``on_epoch`` hook)."""
        for epoch, record in enumerate(history):
            self._check(epoch, record)

    def error(self, epoch: int | None, what: str) -> Diverged:
        """The :class:`Diverged` error for ``epoch`` with its likely cause."""
        at = f"at epoch {epoch + 1}" if epoch is not None else "by the end of training"
        hint = f"the learning rate is the usual cause: lower --lr (it was {self.lr:g})"
        if self.precision == "fp16":
            hint += "; float16 overflows easily, try --precision bf16"
        return Diverged(f"training diverged: {what} {at}; {hint}.", epoch)


def checkpoint_config(args: argparse.Namespace, hparams: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint must have been written under to be resumed by this run.

    Args:
        args: The ``jgnn train`` flags.
        hparams: The resolved hyper-parameters.

    Returns:
        The configuration (dataset, model, loader, seed, precision, hyper-parameters; not the
        number of epochs, so that a resumed run may train longer).
    """
    keep = ("hidden", "lr", "weight_decay", "dropout")
    return {
        "command": "train",
        "dataset": args.dataset,
        "model": args.model,
        "loader": "gas" if args.gas else args.loader,
        "seed": args.seed,
        "precision": args.precision,
        **{k: hparams[k] for k in keep},
    }


def sampler_settings(args: argparse.Namespace, data: Any) -> Any:
    """The sampler settings of the run, defaults filled in for ``data``.

    Args:
        args: The ``jgnn train`` flags.
        data: The ``NodeDataset``.

    Returns:
        The resolved :class:`jgnn.train.SamplerConfig` of ``--loader``, or for ``--gas`` the
        Cluster-GCN config holding its parts (``--num-parts`` and ``--parts-per-batch``
        default as for Cluster-GCN: about 500 nodes a part, ten batches an epoch).
    """
    from jgnn.train import SamplerConfig

    if args.gas:
        config = SamplerConfig(
            "cluster", num_parts=args.num_parts, parts_per_batch=args.parts_per_batch
        )
    else:
        config = SamplerConfig(args.loader, **{k: getattr(args, k) for k in SAMPLER_FLAGS})
    return config.resolve(data.num_nodes, data.num_edges)


def _hparam_overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("hidden", "lr", "weight_decay", "dropout", "epochs")
    return {k: getattr(args, k) for k in keys}


def run_full(
    args: argparse.Namespace,
    data: Any,
    x: Any,
    hparams: Mapping[str, Any],
    *,
    progress: bool,
    check: DivergenceCheck,
) -> Any:
    """Full-batch training of the ``--model`` recipe (``fit_full_graph``).

    The recipe's model, graph preparation, sparse features and optimizer exactly as
    :func:`jgnn.train.train_recipe`, under the ``--precision`` policy, with checkpoints in
    ``--checkpoint-dir`` every ``--checkpoint-every`` epochs (default: about ten per run)
    and ``--resume``.

    Args:
        args: The validated ``jgnn train`` flags.
        data: The ``NodeDataset``.
        x: ``[N, F]`` features as the model sees them.
        hparams: The resolved hyper-parameters (``jgnn.train.recipe_hparams``).
        progress: Show tqdm bars.
        check: The ``on_epoch`` hook (divergence, progress lines).

    Returns:
        The ``FitResult``, hyper-parameters added to its metrics.

    Raises:
        Diverged: A non-finite loss (at its epoch) or non-finite final parameters.
        CheckpointError: Resuming failed, or a save failed.
    """
    from flax import nnx

    from jgnn.models import RECIPES
    from jgnn.train import Checkpointer, FitResult, all_finite, fit_full_graph, recipe_fit_args

    fit_args, tx = recipe_fit_args(RECIPES[args.model], data, x, hparams, args.seed)
    net = fit_args[0]
    epochs = hparams["epochs"]
    with contextlib.ExitStack() as stack:
        checkpointer = None
        if args.checkpoint_dir is not None:
            checkpointer = stack.enter_context(
                Checkpointer(args.checkpoint_dir, config=checkpoint_config(args, hparams))
            )
        result = fit_full_graph(
            *fit_args,
            tx=tx,
            epochs=epochs,
            policy=args.precision,
            checkpointer=checkpointer,
            checkpoint_every=args.checkpoint_every or max(1, math.ceil(epochs / 10)),
            resume=args.resume,
            progress=progress,
            on_epoch=check,
        )
    if not bool(all_finite(nnx.state(net, nnx.Param))):
        raise check.error(None, "the parameters are not finite")
    return FitResult({**hparams, **result.metrics}, result.history)


def run_sampled(
    args: argparse.Namespace, data: Any, x: Any, *, progress: bool, check: DivergenceCheck
) -> Any:
    """Mini-batch training on the ``--loader`` sampler (``train_minibatch_recipe``).

    The loop has no ``on_epoch`` hook: its history is checked for divergence after the run.

    Args:
        args: The validated ``jgnn train`` flags.
        data: The ``NodeDataset``.
        x: ``[N, F]`` features as the model sees them.
        progress: Show tqdm bars.
        check: The divergence check.

    Returns:
        The ``FitResult`` of ``train_minibatch_recipe``.

    Raises:
        Diverged: An epoch's loss was not finite.
    """
    from jgnn.train import SamplerConfig, precision_policy, train_minibatch_recipe

    sampler = SamplerConfig(args.loader, **{k: getattr(args, k) for k in SAMPLER_FLAGS})
    with precision_policy(args.precision).matmul_scope():
        result = train_minibatch_recipe(
            args.model,
            data,
            x,
            sampler,
            seed=args.seed,
            eval_every=args.eval_every or 1,
            progress=progress,
            **_hparam_overrides(args),
        )
    check.check_history(result.history)
    return result


def run_gas(
    args: argparse.Namespace, data: Any, x: Any, *, progress: bool, check: DivergenceCheck
) -> Any:
    """GNNAutoScale training (``train_gas_recipe``) on the parts of :func:`sampler_settings`.

    Args:
        args: The validated ``jgnn train`` flags.
        data: The ``NodeDataset``.
        x: ``[N, F]`` dense features as the model sees them.
        progress: Show tqdm bars.
        check: The divergence check (run over the history after training).

    Returns:
        The ``FitResult`` of ``train_gas_recipe``, with ``loader: "gas"``.

    Raises:
        Diverged: An epoch's loss was not finite.
    """
    from jgnn.train import FitResult, precision_policy, train_gas_recipe

    parts = sampler_settings(args, data)
    with precision_policy(args.precision).matmul_scope():
        result = train_gas_recipe(
            args.model,
            data,
            np.asarray(x, np.float32),
            num_parts=parts.num_parts,
            parts_per_batch=parts.parts_per_batch,
            seed=args.seed,
            eval_every=args.eval_every or 1,
            progress=progress,
            **_hparam_overrides(args),
        )
    check.check_history(result.history)
    return FitResult({"loader": "gas", **result.metrics}, result.history)
