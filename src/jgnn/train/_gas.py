"""GNNAutoScale training (Fey et al., ICML 2021): mini-batches of METIS parts with histories.

:func:`fit_gas` is :func:`jgnn.train.fit_node_classifier` for graphs whose full-batch step does
not fit the device: every step runs the model on ``parts_per_batch`` parts plus their halo
(:mod:`jgnn.history`), so the compiled step's memory depends on the part size, not on the
graph. Evaluation is exact (:class:`jgnn.history.MiniInference`), and the histories are warmed
up by it before the first epoch, as GAS does.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from jgnn.history import (
    STORAGES,
    GASBatches,
    GASBudget,
    GASData,
    GASModel,
    History,
    MiniInference,
    TransferStats,
    forward_halos,
    gas_forward,
    init_history,
    pull,
    push,
    run_gas_steps,
)
from jgnn.loader import Loader
from jgnn.train._memory import peak_memory
from jgnn.train._optimizer import adam_l2
from jgnn.train._recipe import recipe_hparams, resolve_recipe
from jgnn.train._result import FitResult

__all__ = ["fit_gas", "train_gas_recipe"]

_SPLITS = ("train", "val", "test")


def _train_rows(batch):
    """bool ``[B_pad]``: the batch rows the loss counts (real seeds with a label ``y >= 0``)."""
    num_b = batch.node_blocks[0]
    return (batch.y[:num_b] >= 0) & batch.seed_mask[:num_b]


def _loss(program, model, batch, halos):
    """Softmax cross-entropy over the batch rows with a label (``y >= 0``)."""
    logits, pushed = gas_forward(program, model, batch, halos, deterministic=False)
    labels = batch.y[: batch.node_blocks[0]]
    train = _train_rows(batch)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.maximum(labels, 0))
    count = jnp.maximum(jnp.sum(train.astype(losses.dtype)), 1.0)
    return jnp.sum(jnp.where(train, losses, 0.0)) / count, pushed


def _loss_and_grads(graphdef: Any, program: Any, state: Any, batch: Any, halos: Any) -> tuple:
    """``(model, optimizer, loss, pushed, grads)`` of one batch (traced inside a step)."""
    model, optimizer = nnx.merge(graphdef, state)
    grad_fn = nnx.value_and_grad(lambda m: _loss(program, m, batch, halos), has_aux=True)
    (loss, pushed), grads = grad_fn(model)
    return model, optimizer, loss, pushed, grads


def _apply_grads(model: Any, optimizer: Any, grads: Any) -> Any:
    """One optimizer update; returns the new ``(model, optimizer)`` state."""
    with jax.numpy_dtype_promotion("standard"):  # optax's int32 step count, strict mode
        optimizer.update(model, grads)
    return nnx.state((model, optimizer))


def _make_steps(graphdef: Any, program: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The host-history step ``(state, batch, halos, forward, previous)`` and the device one
    ``(state, tables, batch)``, both returning ``(state, loss, pushed | tables)``."""

    def core(state, batch, halos):
        model, optimizer, loss, pushed, grads = _loss_and_grads(
            graphdef, program, state, batch, halos
        )
        return _apply_grads(model, optimizer, grads), loss, pushed

    def host_step(state, batch, halos, forward, previous):
        return core(state, batch, forward_halos(halos, forward, previous))

    def device_step(state, tables, batch):
        num_b = batch.node_blocks[0]
        halos = tuple(pull(History(t), batch.n_id[num_b:]) for t in tables)
        state, loss, pushed = core(state, batch, halos)
        ids = batch.n_id[:num_b]
        tables = tuple(push(History(t), p, ids).emb for t, p in zip(tables, pushed, strict=True))
        return state, loss, tables

    return host_step, device_step


def _stores(
    gm: GASModel, n: int, storage: str, directory: str | os.PathLike[str] | None, device: Any
) -> tuple[list[History], History | None]:
    if storage not in STORAGES:
        raise ValueError(f"`storage` must be one of {STORAGES}, got {storage!r}.")
    if storage == "memmap" and directory is None:
        raise ValueError("storage='memmap' needs `histories_dir` (a folder for the tables).")

    def make(name: str, f: int) -> History:
        path = None if storage != "memmap" else Path(directory) / f"{name}.npy"
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        return init_history(n, f, storage=storage, path=path, device=device)

    hists = [make(f"history_{i}", f) for i, f in enumerate(gm.history_sizes)]
    ctx = None if gm.context_size is None else make("context", gm.context_size)
    return hists, ctx


def _host_batch(source: GASBatches, sub: Any, xs: np.ndarray, y_train: np.ndarray) -> Any:
    """``sub`` padded to the source's budget with its features and labels (host arrays)."""
    batch = source.pad(sub)
    n = xs.shape[0]
    return batch.replace(x=pull(History(xs), batch.n_id), y=y_train[np.minimum(batch.n_id, n - 1)])


def _compile_step(
    graphdef: Any,
    state: Any,
    gm: GASModel,
    source: GASBatches,
    xs: np.ndarray,
    y_train: np.ndarray,
    storage: str,
    hists: list[History],
) -> Any:
    """The train step compiled ahead of time for the shapes of the source's budget."""
    host_step, device_step = _make_steps(graphdef, gm.program)
    example = _host_batch(source, source.get(0, 0), xs, y_train)
    num_b, num_h = example.node_blocks
    cpu = jax.default_backend() == "cpu"  # the CPU backend cannot donate
    if storage == "device":
        tables = tuple(h.emb for h in hists)
        step = jax.jit(device_step, donate_argnums=() if cpu else (0, 1))
        return step.lower(state, tables, example).compile()
    halos = tuple(np.zeros((num_h, f), np.float32) for f in gm.history_sizes)
    prev = tuple(np.zeros((num_b, f), np.float32) for f in gm.history_sizes)
    fwd = np.zeros(num_h, np.int32)
    step = jax.jit(host_step, donate_argnums=() if cpu else (0,))
    return step.lower(state, example, halos, fwd, prev).compile()


def _device_epoch(compiled: Any, state: Any, tables: tuple, batches: Any) -> tuple:
    """One epoch with device-resident histories: the step reads and writes them itself."""
    losses = []
    for batch, _ in batches:
        state, loss, tables = compiled(state, tables, batch)
        losses.append(loss)
    return state, losses, tables


def _with_train_nodes(loader: Loader, source: GASBatches, epoch: int, per_part: np.ndarray):
    """``(device batch, parts)`` of the epoch, skipping batches without a training node."""
    for i, batch in enumerate(loader.epoch(epoch)):
        parts = source.parts(epoch, i)
        if per_part[parts].sum() > 0:
            yield batch, parts


def _accuracies(logits: np.ndarray, labels: np.ndarray, masks: dict[str, np.ndarray]):
    hit = np.argmax(logits, axis=-1) == labels
    return {f"{k}_accuracy": float(hit[m].mean()) if m.any() else 0.0 for k, m in masks.items()}


def _memory(compiled: Any) -> dict[str, int]:
    try:
        m = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - backends without memory analysis
        return {}
    if m is None:
        return {}
    return {
        "step_argument_bytes": int(m.argument_size_in_bytes),
        "step_temp_bytes": int(m.temp_size_in_bytes),
        "step_output_bytes": int(m.output_size_in_bytes),
    }


class _GASInputs(NamedTuple):
    """The inputs of a GAS loop in the partition's contiguous numbering (host arrays)."""

    gm: GASModel  # the model in GAS mode
    data: GASData  # the METIS partition
    xs: np.ndarray  # [N, F] features
    ys: np.ndarray  # [N] labels
    masks: dict[str, np.ndarray]  # "train", "val", "test" -> bool [N]
    y_train: np.ndarray  # [N] labels of training nodes, -1 elsewhere
    train_per_part: np.ndarray  # [num_parts] training nodes per part


def _gas_inputs(
    model: Any,
    graph: Any,
    x: Any,
    labels: Any,
    masks: tuple[Any, Any, Any],
    num_parts: int,
    cache_dir: str | os.PathLike[str] | None,
) -> _GASInputs:
    """Partitions ``graph`` for ``model`` and renumbers features, labels and split masks.

    Host-side: not jittable.

    Args:
      model: A model :func:`jgnn.history.gas_program` supports.
      graph: The raw symmetric graph.
      x: ``[N, F]`` node features.
      labels: int ``[N]`` labels.
      masks: The bool ``[N]`` train, val and test masks.
      num_parts: METIS parts.
      cache_dir: METIS cache folder.

    Returns:
      The :class:`_GASInputs`.
    """
    x = np.asarray(x, np.float32)
    gm = GASModel(model, x.shape[1])
    data = GASData(
        graph,
        num_parts=num_parts,
        num_nodes=x.shape[0],
        normalize=gm.program.normalize,
        cache_dir=cache_dir,
    )
    ys = data.permute(np.asarray(labels, np.int32))
    named = {k: data.permute(np.asarray(m, bool)) for k, m in zip(_SPLITS, masks, strict=True)}
    train_per_part = np.bincount(data.part_of[named["train"]], minlength=data.num_parts)
    y_train = np.where(named["train"], ys, -1).astype(np.int32)
    return _GASInputs(gm, data, data.permute(x), ys, named, y_train, train_per_part)


def fit_gas(
    model: nnx.Module,
    graph: Any,
    x: Any,
    labels: Any,
    train_mask: Any,
    val_mask: Any,
    test_mask: Any,
    *,
    tx: optax.GradientTransformation,
    epochs: int,
    num_parts: int,
    parts_per_batch: int,
    eval_parts_per_batch: int | None = None,
    storage: str = "host",
    transfers: str = "async",
    histories_dir: str | os.PathLike[str] | None = None,
    eval_every: int = 1,
    seed: int = 0,
    budget: GASBudget | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    prefetch: int = 2,
    device: Any = None,
    progress: bool = False,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """Trains a node classifier with GNNAutoScale (``model`` is trained in place).

    Host setup, then one jitted step per batch: ``graph`` is partitioned into ``num_parts``
    METIS parts (cached); every epoch regroups them into batches of ``parts_per_batch`` with
    their halo (:class:`jgnn.history.GASBatches`, padded to one :class:`GASBudget`, so the
    step compiles once); batch outputs go to the histories and halo inputs come from them, with
    asynchronous transfers (:func:`jgnn.history.run_gas_steps`). GCN-type models get the GCN
    normalisation of the full graph, computed once. Batches without a training node are
    skipped, as in GAS. Evaluation runs :class:`jgnn.history.MiniInference` (exact), which also
    warms the histories up before the first epoch.

    Args:
      model: A model :func:`jgnn.history.gas_program` supports (GCN-type models with
        ``normalize=False``: the full-graph normalisation is computed here).
      graph: The raw symmetric graph (a ``GraphsTuple``, edge index, ``CSCGraph``...), not
        normalised.
      x: ``[N, F]`` node features (host; dense).
      labels: int ``[N]`` labels.
      train_mask, val_mask, test_mask: bool ``[N]``.
      tx: optax transformation (e.g. ``optax.chain(optax.clip_by_global_norm(1.0),
        jgnn.train.adam_l2(...))`` for GAS's gradient clipping).
      epochs: Training epochs (passes over all parts).
      num_parts: METIS parts.
      parts_per_batch: Parts per training batch.
      eval_parts_per_batch: Parts per evaluation batch (default ``parts_per_batch``).
      storage: Where histories live: ``"host"``, ``"memmap"`` (``histories_dir``) or
        ``"device"`` (no transfers; when they fit).
      transfers: ``"async"`` (overlapped, see :func:`jgnn.history.run_gas_steps`) or
        ``"sync"``; host storages only.
      histories_dir: Folder of the memory-mapped tables.
      eval_every: Evaluate every this many epochs (and after the last).
      seed: Seed of the part grouping (the model's own RNGs seed dropout).
      budget: Padding sizes of training batches (default: fitted exactly to the batches of
        the ``epochs`` epochs, see :class:`jgnn.history.GASBatches`).
      cache_dir: METIS cache folder.
      prefetch: Batches the loader keeps ready on the device.
      device: ``jax.device_put`` target.
      progress: Show a tqdm bar.
      on_epoch: Optional callback ``(epoch, record)``.

    Returns:
      A :class:`FitResult` whose ``metrics`` hold what :func:`fit_node_classifier` reports
      (``test_accuracy``/``val_accuracy`` at the best validation epoch, ``best_epoch``,
      ``final_train_loss``, ``epoch_time_ms`` = median training time of an epoch,
      ``compile_time_s``, peak memory) plus ``eval_time_ms``, ``warmup_time_s``, the compiled
      step's memory (``step_argument_bytes``, ``step_temp_bytes``, ``step_output_bytes``), the
      batch ``budget`` and the training transfers (``*_ms_per_step``, bytes per step,
      ``forwarded_rows``).

    Raises:
      ValueError: On bad sizes or options (the message names them).
    """
    if epochs < 1 or eval_every < 1:
        raise ValueError(f"epochs and eval_every must be >= 1, got {epochs}, {eval_every}")
    if storage == "device" and transfers != "async":
        raise ValueError("`transfers` applies to host storages; storage='device' has none.")
    gm, data, xs, ys, masks, y_train, train_per_part = _gas_inputs(
        model, graph, x, labels, (train_mask, val_mask, test_mask), num_parts, cache_dir
    )
    n = data.num_nodes
    hists, ctx = _stores(gm, n, storage, histories_dir, device)
    infer = MiniInference(
        gm, data, xs, parts_per_batch=eval_parts_per_batch or parts_per_batch, device=device
    )
    t0 = time.perf_counter()
    _, hists, ctx = infer(model, hists, ctx)  # warm-up: exact histories before epoch 0
    warmup = time.perf_counter() - t0

    source = GASBatches(
        data, parts_per_batch, shuffle=True, seed=seed, budget=budget, epochs=epochs
    )
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    t0 = time.perf_counter()
    compiled = _compile_step(graphdef, state, gm, source, xs, y_train, storage, hists)
    compile_time = time.perf_counter() - t0
    tables = tuple(h.emb for h in hists) if storage == "device" else ()

    stats = TransferStats()
    history: list[dict[str, float]] = []
    times, eval_times = [], []
    best_val, best = -1.0, {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="gas", unit="epoch")
    loader = Loader(
        source,
        source.loader_budget(),
        features=xs,
        labels=y_train,
        num_nodes=n,
        prefetch=prefetch,
        device=device,
    )
    with loader:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            batches = _with_train_nodes(loader, source, epoch, train_per_part)
            if storage == "device":
                state, losses, tables = _device_epoch(compiled, state, tables, batches)
            else:
                state, losses = run_gas_steps(
                    compiled,
                    state,
                    batches,
                    data,
                    hists,
                    transfers=transfers,
                    device=device,
                    stats=stats,
                )
            record = {"loss": float(np.mean(jax.device_get(losses))) if losses else 0.0}
            times.append((time.perf_counter() - t0) * 1e3)
            if (epoch + 1) % eval_every == 0 or epoch == epochs - 1:
                t0 = time.perf_counter()
                nnx.update((model, optimizer), state)
                if storage == "device":
                    hists = [History(t) for t in tables]
                logits, hists, ctx = infer(model, hists, ctx)
                if storage == "device":
                    tables = tuple(h.emb for h in hists)
                record.update(_accuracies(logits, ys, masks))
                eval_times.append((time.perf_counter() - t0) * 1e3)
                if record["val_accuracy"] > best_val:
                    best_val, best = record["val_accuracy"], dict(record, epoch=epoch)
            history.append(record)
            if on_epoch is not None:
                on_epoch(epoch, record)
            if bar is not None:
                bar.set_postfix(loss=f"{record['loss']:.3f}", val=f"{best_val:.3f}")
                bar.update()
    if bar is not None:
        bar.close()
    nnx.update((model, optimizer), state)
    steps = max(stats.steps, 1)
    metrics = {
        "test_accuracy": best["test_accuracy"],
        "val_accuracy": best["val_accuracy"],
        "best_epoch": best["epoch"],
        "final_train_loss": history[-1]["loss"],
        "epoch_time_ms": statistics.median(times[1:] if len(times) > 1 else times),
        "eval_time_ms": statistics.median(eval_times),
        "compile_time_s": compile_time,
        "warmup_time_s": warmup,
        "epochs": epochs,
        "num_parts": num_parts,
        "parts_per_batch": parts_per_batch,
        "storage": storage,
        "transfers": transfers if storage != "device" else "none",
        "budget": tuple(source.budget),
        **_memory(compiled),
        **stats.per_step_ms(),
        "pulled_bytes_per_step": stats.pulled_bytes // steps,
        "pushed_bytes_per_step": stats.pushed_bytes // steps,
        "forwarded_rows": stats.forwarded_rows,
        **peak_memory(),
    }
    return FitResult(metrics=metrics, history=history)


def train_gas_recipe(
    model: Any,
    data: Any,
    x: Any,
    *,
    num_parts: int,
    parts_per_batch: int,
    seed: int = 0,
    hidden: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    dropout: float | None = None,
    epochs: int | None = None,
    grad_norm: float | None = None,
    eval_every: int = 1,
    storage: str = "host",
    transfers: str = "async",
    histories_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> FitResult:
    """A recipe's model trained with GNNAutoScale on a ``NodeDataset`` (``jgnn train --gas``).

    The counterpart of :func:`jgnn.train.train_recipe`: the recipe's model and optimizer
    (:func:`adam_l2` with its decay groups), hyper-parameters left as None take the recipe's
    values, and :func:`fit_gas` trains on the raw graph (it normalises the full graph itself
    where the model needs it).

    Args:
      model: A key of :data:`jgnn.models.RECIPES` or a ``Recipe``.
      data: The ``NodeDataset``.
      x: ``[N, F]`` dense node features as the model should see them.
      num_parts: METIS parts.
      parts_per_batch: Parts per batch.
      seed: Initialisation, dropout and batch-grouping seed.
      hidden, lr, weight_decay, dropout, epochs: Overrides of the recipe's values.
      grad_norm: Clip gradients to this global norm first (GAS's ``grad_norm``), or None.
      eval_every, storage, transfers, histories_dir, progress: See :func:`fit_gas`.

    Returns:
      The :class:`FitResult`; its metrics also hold the hyper-parameters that ran.

    Raises:
      KeyError: An unknown recipe name.
    """
    recipe = resolve_recipe(model)
    hp = recipe_hparams(
        recipe, hidden=hidden, lr=lr, weight_decay=weight_decay, dropout=dropout, epochs=epochs
    )
    x = np.asarray(x, np.float32)
    net = recipe.build(x.shape[1], data.num_classes, hp["hidden"], hp["dropout"], nnx.Rngs(seed))
    tx = adam_l2(hp["lr"], hp["weight_decay"], decay_paths=recipe.decay_paths)
    if grad_norm is not None:
        tx = optax.chain(optax.clip_by_global_norm(grad_norm), tx)
    result = fit_gas(
        net, data.graph, x, data.labels, data.train_mask, data.val_mask, data.test_mask,
        tx=tx, epochs=hp["epochs"], num_parts=num_parts, parts_per_batch=parts_per_batch,
        eval_every=eval_every, storage=storage, transfers=transfers,
        histories_dir=histories_dir, seed=seed, progress=progress,
    )  # fmt: skip
    return FitResult({**hp, "grad_norm": grad_norm, **result.metrics}, result.history)
