"""Full-batch node classification: one jitted step per epoch over the whole graph."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jgnn.train._memory import peak_memory

__all__ = ["FitResult", "fit_node_classifier", "adam_l2"]


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What :func:`fit_node_classifier` reports.

    Attributes:
      metrics: ``test_accuracy`` and ``val_accuracy`` (at the epoch of best validation
        accuracy, PyG's example convention), ``best_epoch``, ``final_train_loss``, median
        ``epoch_time_ms`` (train step + evaluation, after compilation), ``compile_time_s``
        and ``peak_memory_bytes``/``peak_memory_source``.
      history: one dict per epoch with ``loss``, ``train_accuracy``, ``val_accuracy``,
        ``test_accuracy``.
    """

    metrics: dict[str, Any]
    history: list[dict[str, float]]


def adam_l2(
    learning_rate: float,
    weight_decay: float | Mapping[str, float],
    decay_paths: Sequence[str] | None = None,
) -> optax.GradientTransformation:
    """Adam with L2 regularisation added to the gradient (PyTorch ``Adam(weight_decay=...)``).

    Args:
      learning_rate: Adam step size.
      weight_decay: L2 coefficient ``wd`` (``wd * p`` is added to the gradient of ``p``), or a
        mapping from parameter-path prefix to coefficient for per-group decay (GCNII decays its
        convolutions with 0.01 and its linear layers with 5e-4: ``{"convs/": 0.01, "lins/":
        5e-4}``).
      decay_paths: with a float ``weight_decay``, only parameters whose ``/``-joined path starts
        with one of these prefixes are decayed (Kipf & Welling decay the first layer only:
        ``["convs/0/"]``); None decays every parameter.

    Returns:
      An optax transformation.
    """

    def prefix_mask(prefixes):
        def mask(params):
            def keep(path, _):
                name = "/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path)
                return any(name.startswith(p) for p in prefixes)

            return jax.tree_util.tree_map_with_path(keep, params)

        return mask

    if isinstance(weight_decay, Mapping):
        if decay_paths is not None:
            raise ValueError("pass decay_paths only with a single float weight_decay")
        groups = [
            optax.add_decayed_weights(wd, mask=prefix_mask((prefix,)))
            for prefix, wd in weight_decay.items()
        ]
    else:
        mask = prefix_mask(tuple(decay_paths)) if decay_paths else None
        groups = [optax.add_decayed_weights(weight_decay, mask=mask)]
    return optax.chain(*groups, optax.adam(learning_rate))


def _accuracy(logits: jax.Array, labels: jax.Array, mask: jax.Array) -> jax.Array:
    hit = (jnp.argmax(logits, axis=-1) == labels) & mask
    return jnp.sum(hit.astype(jnp.float32)) / jnp.maximum(jnp.sum(mask.astype(jnp.float32)), 1.0)


def fit_node_classifier(
    model: nnx.Module,
    graph: Any,
    x: jax.Array,
    labels: jax.Array,
    train_mask: jax.Array,
    val_mask: jax.Array,
    test_mask: jax.Array,
    *,
    tx: optax.GradientTransformation,
    epochs: int,
    progress: bool = True,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """Trains ``model(graph, x, deterministic=...) -> logits`` with softmax cross-entropy.

    The model and optimizer state are split once (``nnx.split``) and threaded through one
    ``jax.jit``-compiled step, so the Python overhead per epoch is a single dispatch. The step is
    compiled ahead of time and that time is reported separately from the epoch times.

    Args:
      model: an NNX module called as ``model(graph, x, deterministic=bool)``.
      graph: the graph pytree passed to the model (e.g. a pre-normalised ``GraphsTuple``).
      x: node features ``[N, F]``.
      labels: int labels ``[N]``.
      train_mask, val_mask, test_mask: bool ``[N]``.
      tx: optax transformation (see :func:`adam_l2`).
      epochs: number of full-batch steps.
      progress: show a tqdm bar.
      on_epoch: optional callback ``(epoch, record)``.

    Returns:
      A :class:`FitResult`.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    labels = jnp.asarray(labels, jnp.int32)
    masks = tuple(jnp.asarray(m, bool) for m in (train_mask, val_mask, test_mask))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))

    def step(state, graph, x, labels, masks):
        model, optimizer = nnx.merge(graphdef, state)
        train, val, test = masks

        def loss_fn(model):
            logits = model(graph, x, deterministic=False)
            losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
            count = jnp.maximum(jnp.sum(train.astype(losses.dtype)), 1.0)
            return jnp.sum(jnp.where(train, losses, 0.0)) / count

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        # optax's Adam mixes its int32 step count with float scalars; keep it working when the
        # caller runs with jax_numpy_dtype_promotion="strict" (as jgnn's tests do).
        with jax.numpy_dtype_promotion("standard"):
            optimizer.update(model, grads)
        logits = model(graph, x, deterministic=True)
        record = {
            "loss": loss,
            "train_accuracy": _accuracy(logits, labels, train),
            "val_accuracy": _accuracy(logits, labels, val),
            "test_accuracy": _accuracy(logits, labels, test),
        }
        return nnx.state((model, optimizer)), record

    args = (graph, x, labels, masks)
    t0 = time.perf_counter()
    donate = () if jax.default_backend() == "cpu" else (0,)  # the CPU backend cannot donate
    compiled = jax.jit(step, donate_argnums=donate).lower(state, *args).compile()
    compile_time = time.perf_counter() - t0

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="train", unit="epoch")
    history, times = [], []
    best_val, best = -1.0, {}
    for epoch in range(epochs):
        t0 = time.perf_counter()
        state, record = compiled(state, *args)
        record = {k: float(v) for k, v in jax.device_get(record).items()}
        times.append((time.perf_counter() - t0) * 1e3)
        history.append(record)
        if record["val_accuracy"] > best_val:
            best_val, best = record["val_accuracy"], dict(record, epoch=epoch)
        if on_epoch is not None:
            on_epoch(epoch, record)
        if bar is not None:
            bar.set_postfix(loss=f"{record['loss']:.3f}", val=f"{record['val_accuracy']:.3f}")
            bar.update()
    if bar is not None:
        bar.close()
    nnx.update((model, optimizer), state)
    metrics = {
        "test_accuracy": best["test_accuracy"],
        "val_accuracy": best["val_accuracy"],
        "best_epoch": best["epoch"],
        "final_train_loss": history[-1]["loss"],
        "epoch_time_ms": statistics.median(times[1:] if len(times) > 1 else times),
        "compile_time_s": compile_time,
        "epochs": epochs,
        **peak_memory(),
    }
    return FitResult(metrics=metrics, history=history)
