"""``train_recipe``: a model recipe, a dataset and features -> a trained model's metrics.

The glue between :data:`jgnn.models.RECIPES` and :func:`fit_node_classifier`, shared by
``jgnn train`` and ``benchmarks/bench_planetoid.py`` so both run exactly the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flax import nnx

from jgnn.datasets import NodeDataset
from jgnn.models import RECIPES, Recipe, prepare_features, prepare_graph
from jgnn.train._node_classification import FitResult, adam_l2, fit_node_classifier

__all__ = ["train_recipe"]


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def train_recipe(
    model: str | Recipe,
    data: NodeDataset,
    x: Any,
    *,
    seed: int = 0,
    hidden: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    dropout: float | None = None,
    epochs: int | None = None,
    progress: bool = False,
) -> FitResult:
    """Builds the recipe's model and trains it full-batch on ``data`` with features ``x``.

    Host-side setup (graph normalisation, sparse features) then one jitted step per epoch.
    Hyper-parameters left as None take the recipe's (its paper's) values.

    Args:
      model: a key of :data:`jgnn.models.RECIPES` or a :class:`Recipe`.
      data: the dataset (graph, labels and split masks).
      x: node features ``[N, F]`` as the model should see them (e.g. row-normalised).
      seed: parameter-initialisation and dropout seed.
      hidden, lr, weight_decay, dropout, epochs: overrides of the recipe's values.
      progress: show a progress bar.

    Returns:
      The :class:`FitResult`; its ``metrics`` also hold the hyper-parameters that ran
      (``hidden``, ``lr``, ``weight_decay``, ``dropout``, ``epochs``).

    Raises:
      KeyError: an unknown model name (the message lists the recipes).
    """
    if isinstance(model, str):
        if model not in RECIPES:
            raise KeyError(f"unknown model {model!r}; expected one of {sorted(RECIPES)}")
        recipe = RECIPES[model]
    else:
        recipe = model
    hparams = {
        "hidden": _pick(hidden, recipe.hidden),
        "lr": _pick(lr, recipe.lr),
        "weight_decay": _pick(weight_decay, recipe.weight_decay),
        "dropout": _pick(dropout, recipe.dropout),
        "epochs": _pick(epochs, recipe.epochs),
    }
    x = np.asarray(x)
    net = recipe.build(
        x.shape[1], data.num_classes, hparams["hidden"], hparams["dropout"], nnx.Rngs(seed)
    )
    result = fit_node_classifier(
        net,
        prepare_graph(data.graph, len(x), recipe),
        prepare_features(x, recipe),
        data.labels,
        data.train_mask,
        data.val_mask,
        data.test_mask,
        tx=adam_l2(hparams["lr"], hparams["weight_decay"], decay_paths=recipe.decay_paths),
        epochs=hparams["epochs"],
        progress=progress,
    )
    return FitResult({**hparams, **result.metrics}, result.history)
