"""Mini-batch node classification: one jitted step per padded batch from a ``jgnn.loader``.

The step compiles once per padding rung (a batch's block sizes are static metadata of the
:class:`jgnn.loader.PaddedBatch` pytree), so an epoch costs as many compilations as rungs it
meets, the first time only. The loss is softmax cross-entropy over the batch's real seed
nodes that are training nodes (labels ``-1`` elsewhere, :func:`training_labels`); batches
with GraphSAINT's loss norm (``node_weight``) are weighted by it instead of averaged.
Evaluation is a callable on the model, typically exact (:class:`jgnn.train.ExactEvaluator`),
and the reported test accuracy is the one at the best validation epoch, as in
:func:`jgnn.train.fit_node_classifier`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jgnn._checks import static_int
from jgnn.loader import Loader, PaddedBatch, trim_to_layer
from jgnn.models import BasicGNN
from jgnn.sparse import as_graph
from jgnn.train._memory import peak_memory
from jgnn.train._result import FitResult

__all__ = ["fit_minibatch", "forward_batch", "training_labels"]

_POSTFIX_S = 0.5  # progress-bar refresh period


def training_labels(labels: Any, train_mask: Any) -> np.ndarray:
    """int32 ``[N]`` labels of the training nodes and ``-1`` on every other node.

    Host-side: not jittable. The label table a training :class:`jgnn.loader.Loader` gathers:
    the loss counts only nodes with a label ``>= 0``, so validation and test labels never
    reach the training step.

    Args:
        labels: int ``[N]`` class of every node.
        train_mask: bool ``[N]``.

    Returns:
        The table.

    Raises:
        ValueError: If the shapes differ.
    """
    labels, mask = np.asarray(labels), np.asarray(train_mask, bool)
    if labels.shape != mask.shape or labels.ndim != 1:
        raise ValueError(
            f"`labels` and `train_mask` must both be [N], got {labels.shape} and {mask.shape}."
        )
    return np.where(mask, labels, -1).astype(np.int32)


def forward_batch(
    model: Any,
    batch: PaddedBatch,
    *,
    deterministic: bool,
    trim: bool = False,
    edge_weight: bool = False,
) -> jax.Array:
    """Logits of a model on a padded batch (jittable; the batch's block sizes are static).

    A :class:`jgnn.models.BasicGNN` runs layer by layer (:meth:`~jgnn.models.BasicGNN.layer`)
    on ``batch.edge_index``, with its node mask for batch norm and, with ``trim``, the batch
    cut to the hops each layer still needs (:func:`jgnn.loader.trim_to_layer`); the logits
    then have the rows of the last layer's nodes (a prefix of the batch, seeds first). Any
    other model is called as ``model(graph, batch.x, deterministic=...)`` with ``graph`` the
    batch as a ``GraphsTuple`` whose ``edges`` hold ``batch.edge_weight`` when
    ``edge_weight`` (e.g. a GCNII built with ``normalize=False``), and returns ``[N, C]``.

    Args:
        model: The model.
        batch: The padded batch on the device.
        deterministic: Eval mode (no dropout).
        trim: Trim finished hops (BasicGNN only).
        edge_weight: Pass ``batch.edge_weight`` to the model.

    Returns:
        ``[R, C]`` logits for the first ``R`` slots of the batch.

    Raises:
        ValueError: If ``trim`` is asked of a model that is not a BasicGNN, or
            ``edge_weight`` of a batch without weights.
    """
    weight = batch.edge_weight if edge_weight else None
    if edge_weight and weight is None:
        raise ValueError("edge_weight=True but the batch carries no edge_weight.")
    if isinstance(model, BasicGNN):
        xs, b, h = [], batch, batch.x
        for i in range(model.num_layers):
            if trim:
                b, h = trim_to_layer(b, h, i, model.num_layers)
            h = model.layer(
                i,
                b.edge_index,
                h,
                deterministic=deterministic,
                edge_weight=b.edge_weight if edge_weight else None,
                node_mask=b.node_mask,
            )
            xs.append(h)
        return model.combine(xs, deterministic=deterministic)
    if trim:
        raise ValueError(
            f"trim=True needs a model that runs one layer at a time (a jgnn.models.BasicGNN), "
            f"got {type(model).__name__}."
        )
    graph = as_graph(batch.edge_index, "forward_batch")
    if weight is not None:
        graph = graph._replace(edges=weight)
    return model(graph, batch.x, deterministic=deterministic)


def _batch_loss(
    logits: jax.Array, batch: PaddedBatch, loss_scale: float
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Loss over the real training seeds, ``(seed count, correct predictions)``."""
    rows = logits.shape[0]
    y = batch.y[:rows]
    mask = batch.seed_mask[:rows] & (y >= 0)
    losses = optax.softmax_cross_entropy_with_integer_labels(
        logits.astype(jnp.float32), jnp.maximum(y, 0)
    )
    count = jnp.sum(mask.astype(jnp.float32))
    if batch.node_weight is None:
        loss = jnp.sum(jnp.where(mask, losses, 0.0)) / jnp.maximum(count, 1.0)
    else:  # GraphSAINT: sum_v lambda_v^-1 L_v estimates the mean over the nodes
        loss = loss_scale * jnp.sum(jnp.where(mask, batch.node_weight[:rows] * losses, 0.0))
    hits = jnp.sum(((jnp.argmax(logits, axis=-1) == y) & mask).astype(jnp.float32))
    return loss, (count, hits)


def fit_minibatch(
    model: nnx.Module,
    loader: Loader,
    *,
    tx: optax.GradientTransformation,
    epochs: int,
    evaluate: Callable[[nnx.Module], Mapping[str, float]] | None = None,
    eval_every: int = 1,
    trim: bool = False,
    edge_weight: bool | None = None,
    progress: bool = True,
    on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
) -> FitResult:
    """Trains a node classifier on the batches of ``loader``, one jitted step per batch.

    Each step runs :func:`forward_batch` and softmax cross-entropy over the batch's real seed
    nodes whose label (gathered from ``loader.labels``, see :func:`training_labels`) is
    ``>= 0``: the seeds of neighbour sampling; every training node of a Cluster-GCN or
    GraphSAINT batch (all their nodes are seeds). The loss is their mean, or for batches
    with ``node_weight`` (GraphSAINT's loss norm ``1 / lambda_v``) the sum of
    ``node_weight * loss`` times ``N / N_train``, an unbiased estimate of the mean training
    loss (so learning rate and weight decay mean what they mean full-batch). Each step's
    loss is waited for before the next batch is taken, so the loader's ``host_wait_s`` is
    time the step really stalled on the host pipeline. A failure in the loader (a sampler
    that raises, a worker that dies or hangs past the loader's timeout) propagates out of
    this function with its own type.

    Args:
        model: An NNX model; see :func:`forward_batch` for how it is called.
        loader: The training :class:`jgnn.loader.Loader`, with ``features`` and ``labels``
            (``-1`` on nodes that are not training nodes).
        tx: The optax transformation (e.g. :func:`jgnn.train.adam_l2`).
        epochs: Number of epochs (>= 1).
        evaluate: ``evaluate(model) -> {"val_accuracy": ..., "test_accuracy": ..., ...}``,
            run after every ``eval_every``-th epoch and after the last (e.g.
            :class:`jgnn.train.ExactEvaluator`), or None.
        eval_every: Evaluation period in epochs (>= 1).
        trim: Trim finished hops layer by layer (BasicGNN models).
        edge_weight: Pass the batches' ``edge_weight`` to the model; default: when the model
            declares ``supports_edge_weight`` (GCN) and the batches carry weights.
        progress: Show a progress bar per epoch with batches/s and sampled edges/s.
        on_epoch: Optional callback ``(epoch, record)`` after each epoch.

    Returns:
        A :class:`jgnn.train.FitResult`. ``metrics``: ``test_accuracy``/``val_accuracy`` at
        the best evaluated validation accuracy (when ``evaluate`` gives them),
        ``best_epoch``, ``final_train_loss``, median ``epoch_time_ms`` (training only,
        epochs after the first, which holds the compilations) and ``eval_time_ms``,
        ``first_epoch_s``, and over the same epochs ``host_wait_share`` (host wait over
        training time), ``batches_per_s`` and ``sampled_edges_per_s`` (real sampled edges per
        second of training); over every epoch ``node_waste``/``edge_waste`` (padded over real
        slots), ``skipped_batches``, ``num_shapes`` (rungs used: compilations of
        the step), ``loader_report`` (the loader's full report) and peak memory. ``history``: one
        record per epoch with the same per-epoch fields and the evaluation's.

    Raises:
        ValueError: If an argument is out of range or the loader has no labels.
        TypeError: If ``loader`` is not a :class:`jgnn.loader.Loader`.
    """
    if not isinstance(loader, Loader):
        raise TypeError(f"`loader` must be a jgnn.loader.Loader, got {type(loader).__name__}.")
    epochs = static_int(epochs, "`epochs`", minimum=1)
    eval_every = static_int(eval_every, "`eval_every`", minimum=1)
    if loader.labels is None or loader.features is None:
        raise ValueError(
            "`loader` needs features and labels (jgnn.train.training_labels: -1 on nodes that "
            "are not training nodes)."
        )
    if trim and not isinstance(model, BasicGNN):
        raise ValueError(
            f"trim=True needs a jgnn.models.BasicGNN (it runs one layer at a time), got "
            f"{type(model).__name__}."
        )
    labels = np.asarray(loader.labels)
    num_train = int(np.count_nonzero(labels >= 0))
    if num_train == 0:
        raise ValueError("`loader.labels` has no training node (every label is -1).")
    loss_scale = labels.shape[0] / num_train
    supports_weight = bool(getattr(model, "supports_edge_weight", False))

    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    def step(state: Any, batch: PaddedBatch) -> tuple[Any, dict[str, jax.Array]]:
        model, optimizer = nnx.merge(graphdef, state)
        if edge_weight is None:
            use_weight = supports_weight and batch.edge_weight is not None
        else:
            use_weight = edge_weight

        def loss_fn(model: Any) -> tuple[jax.Array, Any]:
            logits = forward_batch(
                model, batch, deterministic=False, trim=trim, edge_weight=use_weight
            )
            return _batch_loss(logits, batch, loss_scale)

        (loss, (count, hits)), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        with jax.numpy_dtype_promotion("standard"):  # optax's int32 step count, as full-batch
            optimizer.update(model, grads)
        # An epoch's loss averages batch means by their seeds, GraphSAINT estimates uniformly.
        weight = count if batch.node_weight is None else jnp.float32(1.0)
        out = {"loss": loss, "weight": weight, "seeds": count, "hits": hits}
        return nnx.state((model, optimizer)), out

    donate = () if jax.default_backend() == "cpu" else (0,)  # the CPU backend cannot donate
    train_step = jax.jit(step, donate_argnums=donate)

    history: list[dict[str, Any]] = []
    best_val, best = -1.0, {}
    for epoch in range(epochs):
        record, state = _run_epoch(train_step, state, loader, epoch, progress)
        nnx.update((model, optimizer), state)
        if evaluate is not None and (epoch % eval_every == 0 or epoch == epochs - 1):
            t0 = time.perf_counter()
            scores = {k: float(v) for k, v in evaluate(model).items()}
            record.update(scores, eval_time_s=time.perf_counter() - t0)
            if scores.get("val_accuracy", -1.0) > best_val:
                best_val, best = scores["val_accuracy"], dict(record, epoch=epoch)
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
    return FitResult(metrics=_summary(history, best, loader), history=history)


def _run_epoch(
    train_step: Callable[..., Any], state: Any, loader: Loader, epoch: int, progress: bool
) -> tuple[dict[str, Any], Any]:
    """One pass over ``loader.epoch(epoch)``; the epoch's record and the new state."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(loader), desc=f"epoch {epoch}", unit="batch", leave=False)
    it = loader.epoch(epoch)
    outs = []
    t0 = last = time.perf_counter()
    try:
        for batch in it:
            state, out = train_step(state, batch)
            out["loss"].block_until_ready()  # the next wait is then a real stall on the host
            outs.append(out)
            if bar is not None:
                bar.update()
                if time.perf_counter() - last > _POSTFIX_S:
                    last = time.perf_counter()
                    rep = it.report()
                    rates = {"batch/s": rep.batches_per_s, "edges/s": rep.sampled_edges_per_s}
                    bar.set_postfix({k: f"{v:.3g}" for k, v in rates.items()})
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    rep = it.report()
    outs = jax.device_get(outs)
    seeds = sum(float(o["seeds"]) for o in outs)
    total = sum(float(o["weight"]) for o in outs)
    loss = sum(float(o["loss"]) * float(o["weight"]) for o in outs) / max(total, 1e-12)
    record = {
        "epoch": epoch,
        "loss": loss,
        "train_batch_accuracy": sum(float(o["hits"]) for o in outs) / max(seeds, 1.0),
        "epoch_time_s": seconds,
        "host_wait_s": rep.host_wait_s,
        "host_wait_share": rep.host_wait_s / seconds if seconds > 0 else float("nan"),
        "batches": rep.batches,
        "sampled_edges": rep.real_edges,
        "skipped_batches": rep.skipped,
        "batches_per_s": rep.batches_per_s,
        "sampled_edges_per_s": rep.sampled_edges_per_s,
        "node_waste": rep.node_waste,
        "edge_waste": rep.edge_waste,
        "num_shapes": rep.num_shapes,
    }
    return record, state


def _summary(history: list[dict[str, Any]], best: dict[str, Any], loader: Loader) -> dict[str, Any]:
    """The run's metrics from the per-epoch records (see :func:`fit_minibatch`)."""
    steady = history[1:] or history  # epoch 0 holds the compilations
    train_s = sum(r["epoch_time_s"] for r in steady)
    evals = [r["eval_time_s"] * 1e3 for r in history if "eval_time_s" in r]
    report = loader.report()
    metrics: dict[str, Any] = {
        "final_train_loss": history[-1]["loss"],
        "epoch_time_ms": statistics.median(r["epoch_time_s"] * 1e3 for r in steady),
        "first_epoch_s": history[0]["epoch_time_s"],
        "eval_time_ms": statistics.median(evals) if evals else None,
        "host_wait_share": sum(r["host_wait_s"] for r in steady) / train_s if train_s else None,
        "batches_per_s": sum(r["batches"] for r in steady) / train_s if train_s else None,
        "sampled_edges_per_s": (
            sum(r["sampled_edges"] for r in steady) / train_s if train_s else None
        ),
        "node_waste": report.node_waste,
        "edge_waste": report.edge_waste,
        "skipped_batches": report.skipped,
        "num_shapes": report.num_shapes,
        "epochs": len(history),
        "loader_report": report.as_dict(),
        **peak_memory(),
    }
    if best:
        metrics.update(
            test_accuracy=best.get("test_accuracy"),
            val_accuracy=best["val_accuracy"],
            best_epoch=best["epoch"],
        )
    return metrics
