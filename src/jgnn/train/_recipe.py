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
from jgnn.train._fit import fit_node_classifier
from jgnn.train._optimizer import adam_l2
from jgnn.train._result import FitResult

__all__ = ["recipe_fit_args", "recipe_hparams", "resolve_recipe", "train_recipe"]


def resolve_recipe(model: str | Recipe) -> Recipe:
    """The :class:`Recipe` named ``model`` (or ``model`` itself).

    Raises:
      KeyError: an unknown model name (the message lists the recipes).
    """
    if isinstance(model, str):
        if model not in RECIPES:
            raise KeyError(f"unknown model {model!r}; expected one of {sorted(RECIPES)}")
        return RECIPES[model]
    return model


def recipe_hparams(recipe: Recipe, **overrides: Any) -> dict[str, Any]:
    """``hidden``, ``lr``, ``weight_decay``, ``dropout``, ``epochs``: the recipe's, or the
    overrides that are not None."""
    names = ("hidden", "lr", "weight_decay", "dropout", "epochs")
    unknown = set(overrides) - set(names)
    if unknown:
        raise TypeError(f"unknown hyper-parameters {sorted(unknown)}; expected {list(names)}")
    return {k: getattr(recipe, k) if overrides.get(k) is None else overrides[k] for k in names}


def recipe_fit_args(
    recipe: Recipe, data: NodeDataset, x: Any, hparams: dict[str, Any], seed: int
) -> tuple[tuple[Any, ...], Any]:
    """The recipe's model, built for ``data``, and the inputs of a full-batch fit.

    Args:
      recipe: the :class:`Recipe`.
      data: the dataset (graph, labels and split masks).
      x: node features ``[N, F]`` as the model should see them.
      hparams: the resolved hyper-parameters (:func:`recipe_hparams`).
      seed: parameter-initialisation and dropout seed.

    Returns:
      ``(args, tx)``: the positional arguments ``(model, graph, x, labels, train_mask,
      val_mask, test_mask)`` of :func:`fit_full_graph` / :func:`fit_node_classifier` (the
      graph and features prepared as the recipe asks) and the recipe's optimizer.
    """
    x = np.asarray(x)
    net = recipe.build(
        x.shape[1], data.num_classes, hparams["hidden"], hparams["dropout"], nnx.Rngs(seed)
    )
    args = (
        net,
        prepare_graph(data.graph, len(x), recipe),
        prepare_features(x, recipe),
        data.labels,
        data.train_mask,
        data.val_mask,
        data.test_mask,
    )
    return args, adam_l2(hparams["lr"], hparams["weight_decay"], decay_paths=recipe.decay_paths)


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
    recipe = resolve_recipe(model)
    hparams = recipe_hparams(
        recipe, hidden=hidden, lr=lr, weight_decay=weight_decay, dropout=dropout, epochs=epochs
    )
    fit_args, tx = recipe_fit_args(recipe, data, x, hparams, seed)
    result = fit_node_classifier(*fit_args, tx=tx, epochs=hparams["epochs"], progress=progress)
    return FitResult({**hparams, **result.metrics}, result.history)
