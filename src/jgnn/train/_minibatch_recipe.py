"""``train_minibatch_recipe``: a recipe trained with a sampler, evaluated exactly.

The mini-batch counterpart of :func:`jgnn.train.train_recipe`, shared by ``jgnn train
--loader ...``, ``benchmarks/bench_minibatch.py`` and the sampling notebook: the same model,
optimizer and hyper-parameters, batches from a :class:`jgnn.train.SamplerConfig`, and test
accuracy read from exact full-neighbourhood inference at the best validation epoch.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx

from jgnn.datasets import NodeDataset
from jgnn.loader import Budget, Loader
from jgnn.models import BasicGNN, Recipe
from jgnn.sampling import as_csc_graph
from jgnn.sparse import SparseTensor
from jgnn.train._evaluate import ExactEvaluator
from jgnn.train._minibatch import fit_minibatch, training_labels
from jgnn.train._optimizer import adam_l2
from jgnn.train._recipe import recipe_hparams, resolve_recipe
from jgnn.train._result import FitResult
from jgnn.train._sampler_config import SamplerConfig
from jgnn.train._sources import gcn_normalized_edges, make_source

__all__ = ["train_minibatch_recipe"]


def train_minibatch_recipe(
    model: str | Recipe,
    data: NodeDataset,
    x: Any,
    sampler: SamplerConfig,
    *,
    seed: int = 0,
    hidden: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    dropout: float | None = None,
    epochs: int | None = None,
    eval_every: int = 1,
    eval_batch_size: int = 2048,
    overflow: str = "skip",
    budget_percentile: float = 99.0,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> FitResult:
    """Builds the recipe's model and trains it on sampled mini-batches of ``data``.

    Host-side setup, then :func:`jgnn.train.fit_minibatch`. Recipes with a normalised graph
    (GCN, GCNII) train on the full graph's GCN weights (:func:`jgnn.train.gcn_normalized_edges`)
    carried by every batch with the sampler's estimator correction
    (:class:`jgnn.train.WeightedBatches`); the others on the plain graph. The padding budget
    is fitted to 32 batches of epoch 0 (``budget_percentile``, 3 rungs, growth 1.25), and a
    batch beyond its last rung is skipped (``overflow="skip"``, counted) or padded to a grown
    rung (``"grow"``). Every ``eval_every`` epochs the model is evaluated exactly
    (:class:`jgnn.train.ExactEvaluator`). Hyper-parameters left as None take the recipe's.

    Args:
        model: A key of :data:`jgnn.models.RECIPES` or a :class:`jgnn.models.Recipe`.
        data: The dataset.
        x: ``[N, F]`` node features as the model should see them (dense or ``SparseTensor``).
        sampler: The loader and its settings (not ``"full"``: use ``train_recipe``).
        seed: Initialisation, dropout and sampling seed (overrides ``sampler.seed``).
        hidden, lr, weight_decay, dropout, epochs: Overrides of the recipe's values.
        eval_every: Evaluation period in epochs.
        eval_batch_size: Destination nodes per exact-inference batch.
        overflow: ``"skip"`` or ``"grow"`` (see :class:`jgnn.loader.Loader`).
        budget_percentile: Percentile of batch sizes the smallest rung covers.
        cache_dir: METIS cache folder for ``"cluster"`` (default in ``jgnn.datasets.cache_dir``).
        progress: Show a progress bar per epoch.

    Returns:
        The :class:`jgnn.train.FitResult` of :func:`jgnn.train.fit_minibatch`; its metrics
        also hold the hyper-parameters, ``loader`` (the loader name) and ``sampler`` (its
        resolved settings).

    Raises:
        KeyError: An unknown model name.
        ValueError: A ``"full"`` sampler, or fanouts that do not match the model's layers.
    """
    recipe = resolve_recipe(model)
    if not isinstance(sampler, SamplerConfig) or sampler.loader == "full":
        raise ValueError(
            f"`sampler` must be a SamplerConfig with a sampling loader (for 'full' use "
            f"jgnn.train.train_recipe), got {sampler!r}."
        )
    hparams = recipe_hparams(
        recipe, hidden=hidden, lr=lr, weight_decay=weight_decay, dropout=dropout, epochs=epochs
    )
    if isinstance(x, SparseTensor):
        x = x.to_dense()
    x = np.asarray(x, np.float32)
    n = data.num_nodes
    config = dataclasses.replace(sampler, seed=seed).resolve(n, data.num_edges)
    net = recipe.build(
        x.shape[1], data.num_classes, hparams["hidden"], hparams["dropout"], nnx.Rngs(seed)
    )
    if config.num_neighbors is not None and isinstance(net, BasicGNN):
        if len(config.num_neighbors) != net.num_layers:
            raise ValueError(
                f"`num_neighbors` {list(config.num_neighbors)} samples {len(config.num_neighbors)} "
                f"hops but the {type(net).__name__} has {net.num_layers} layers; give one fanout "
                "per layer."
            )
    edges = np.stack([np.asarray(data.graph.senders), np.asarray(data.graph.receivers)])
    weight = None
    if recipe.normalized_graph:
        edges, weight = gcn_normalized_edges(edges, n)
    graph = as_csc_graph(edges, num_nodes=n)
    if config.num_workers:
        graph = graph.share()
    source = make_source(
        config, graph, np.flatnonzero(data.train_mask), weight=weight, cache_dir=cache_dir
    )
    budget = Budget.fit(source, num_batches=32, percentile=budget_percentile, num_rungs=3)
    evaluate = ExactEvaluator(
        x,
        edges,
        data.labels,
        {"train": data.train_mask, "val": data.val_mask, "test": data.test_mask},
        edge_weight=weight,
        batch_size=eval_batch_size,
    )
    with Loader(
        source,
        budget,
        features=x,
        labels=training_labels(data.labels, data.train_mask),
        num_workers=config.num_workers,
        overflow=overflow,
        seed=seed,
    ) as loader:
        result = fit_minibatch(
            net,
            loader,
            tx=adam_l2(hparams["lr"], hparams["weight_decay"], decay_paths=recipe.decay_paths),
            epochs=hparams["epochs"],
            evaluate=evaluate,
            eval_every=eval_every,
            trim=bool(config.trim),
            progress=progress,
        )
    sampler_settings = {k: v for k, v in config.options().items() if v is not None}
    metrics = {
        **hparams,
        "loader": config.loader,
        "sampler": {**sampler_settings, "seed": config.seed},
        **result.metrics,
    }
    return FitResult(metrics, result.history)
