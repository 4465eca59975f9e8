"""Full-batch node classification: :func:`fit_full_graph` and :func:`fit_node_classifier`.

One jitted step per epoch with the evaluation in the same call, the test accuracy at the best
validation epoch, built on :func:`jgnn.train.make_train_step`, so it takes a mixed-precision
:class:`jgnn.train.Policy`, a loss scale and a :class:`jgnn.train.Checkpointer`;
:func:`fit_node_classifier` is the same loop with the model's own dtypes. A run of
``N`` epochs equals, bit for bit on CPU, a run of ``k`` epochs, a checkpoint, and a resumed
run (in a new process) of the remaining ``N - k``: the checkpoint holds the whole train state
(RNG keys and counters included) and the per-epoch records.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jgnn.train._checkpoint import Checkpointer, CheckpointError
from jgnn.train._loss_scale import LossScale, dynamic_loss_scale, no_loss_scale
from jgnn.train._memory import peak_memory
from jgnn.train._precision import Policy, apply_policy, precision_policy
from jgnn.train._result import FitResult
from jgnn.train._step import (
    FullGraphBatch,
    full_graph_loss,
    init_train_state,
    make_train_step,
    merge_model,
    predict,
)

__all__ = ["default_loss_scale", "fit_full_graph", "fit_node_classifier", "masked_accuracy"]


def masked_accuracy(logits: jax.Array, labels: jax.Array, mask: jax.Array) -> jax.Array:
    """Fraction of masked nodes whose argmax matches the label (0 for an empty mask)."""
    hit = (jnp.argmax(logits, axis=-1) == labels) & mask
    count = jnp.maximum(jnp.sum(mask.astype(jnp.float32)), 1.0)
    return jnp.sum(hit.astype(jnp.float32)) / count


def default_loss_scale(policy: Policy | str) -> LossScale:
    """:func:`dynamic_loss_scale` for a float16 compute dtype, :func:`no_loss_scale` otherwise."""
    policy = precision_policy(policy)
    return dynamic_loss_scale() if policy.compute_dtype == jnp.float16 else no_loss_scale()


def fit_full_graph(
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
    policy: Policy | str = "fp32",
    loss_scale: LossScale | None = None,
    checkpointer: Checkpointer | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    progress: bool = False,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """Trains ``model(graph, x, deterministic=...) -> logits`` full-batch, like
    :func:`jgnn.train.fit_node_classifier`, under a precision policy, with checkpoints.

    Args:
        model: An NNX module; it is switched to ``policy`` (:func:`apply_policy`) and holds
            the trained parameters on return.
        graph: The graph argument of the model.
        x: Node features ``[N, F]``.
        labels: int labels ``[N]``.
        train_mask: bool ``[N]``, the nodes of the loss.
        val_mask: bool ``[N]``.
        test_mask: bool ``[N]``.
        tx: The optax transformation.
        epochs: Total number of epochs (also when resuming).
        policy: A :class:`Policy` or a name (``"fp32"``, ``"tf32"``, ``"bf16"``, ``"fp16"``).
        loss_scale: None: :func:`default_loss_scale` of the policy.
        checkpointer: Where to save (None: no checkpoints).
        checkpoint_every: Save every this many epochs (0: only after the last epoch); the
            step number of a checkpoint is the number of epochs done.
        resume: Restore the newest complete checkpoint of ``checkpointer`` and continue.
        progress: Show a tqdm bar.
        on_epoch: Optional callback ``(epoch, record)`` for the epochs run by this call.

    Returns:
        A :class:`jgnn.train.FitResult` over all ``epochs`` (restored epochs included); its
        metrics add ``precision`` (the policy), ``skipped_steps`` (non-finite steps under
        loss scaling), ``final_loss_scale`` and ``resumed_from`` (epochs restored, 0 if none).

    Raises:
        ValueError: If ``epochs`` < 1, ``checkpoint_every`` < 0, or ``resume`` without a
            ``checkpointer``.
        CheckpointError: If resuming fails (missing, corrupt or foreign directory), or the
            checkpoint already has more epochs than ``epochs``.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be an int >= 1, got {epochs!r}.")
    if checkpoint_every < 0:
        raise ValueError(f"`checkpoint_every` must be >= 0, got {checkpoint_every}.")
    if resume and checkpointer is None:
        raise ValueError("`resume=True` needs a `checkpointer` to restore from.")
    policy = precision_policy(policy)
    loss_scale = default_loss_scale(policy) if loss_scale is None else loss_scale
    apply_policy(model, policy)
    graphdef, state = init_train_state(model, tx, loss_scale=loss_scale)
    step = make_train_step(graphdef, full_graph_loss, policy=policy, loss_scale=loss_scale)
    labels = jnp.asarray(labels, jnp.int32)
    masks = tuple(jnp.asarray(m, bool) for m in (train_mask, val_mask, test_mask))
    batch = FullGraphBatch(graph, x, labels, masks[0])

    def epoch_fn(state, batch, masks):
        state, metrics = step(state, batch)
        logits = predict(graphdef, state, batch.graph, batch.x, policy)
        record = {
            "loss": metrics["loss"],
            "finite": metrics["finite"],
            "loss_scale": metrics["loss_scale"],
        }
        for name, mask in zip(("train", "val", "test"), masks, strict=True):
            record[f"{name}_accuracy"] = masked_accuracy(logits, batch.labels, mask)
        return state, record

    history: list[dict[str, float]] = []
    start = 0
    if resume:
        restored = checkpointer.restore(state)
        state, history = restored.state, list(restored.metadata["history"])
        start = len(history)
        if start > epochs:
            raise CheckpointError(
                f"checkpoint directory {checkpointer.directory} holds {start} epochs, more than "
                f"`epochs` = {epochs}; pass epochs >= {start} or another directory."
            )
    t0 = time.perf_counter()
    compiled = jax.jit(epoch_fn).lower(state, batch, masks).compile()
    compile_time = time.perf_counter() - t0

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, initial=start, desc="train", unit="epoch")
    times = []
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        state, record = compiled(state, batch, masks)
        record = {k: float(v) for k, v in jax.device_get(record).items()}
        times.append((time.perf_counter() - t0) * 1e3)
        history.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record)
        if bar is not None:
            bar.set_postfix(loss=f"{record['loss']:.3f}", val=f"{record['val_accuracy']:.3f}")
            bar.update()
        done = epoch + 1
        if checkpointer is not None and (
            done == epochs or (checkpoint_every and done % checkpoint_every == 0)
        ):
            checkpointer.save(done, state, metadata={"history": history})
    if bar is not None:
        bar.close()
    nnx.update(model, nnx.state(merge_model(graphdef, state)))
    best = max(range(len(history)), key=lambda i: (history[i]["val_accuracy"], -i))
    metrics = {
        "test_accuracy": history[best]["test_accuracy"],
        "val_accuracy": history[best]["val_accuracy"],
        "best_epoch": best,
        "final_train_loss": history[-1]["loss"],
        "epoch_time_ms": statistics.median(times[1:] if len(times) > 1 else times or [0.0]),
        "compile_time_s": compile_time,
        "epochs": epochs,
        "precision": policy.to_dict(),
        "skipped_steps": sum(1 for r in history if not r["finite"]),
        "final_loss_scale": history[-1]["loss_scale"],
        "resumed_from": start,
        **peak_memory(),
    }
    return FitResult(metrics=metrics, history=history)


#: The policy of :func:`fit_node_classifier`: float32 everywhere, JAX's default matmul precision.
_AS_IS = Policy()


def fit_node_classifier(
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
    progress: bool = True,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """Trains ``model(graph, x, deterministic=...) -> logits`` with softmax cross-entropy.

    :func:`fit_full_graph` in float32 with JAX's default matmul precision and no checkpoints:
    the model and optimizer state are threaded through one jitted step per epoch, compiled
    ahead of time (reported separately from the epoch times).

    Args:
      model: an NNX module called as ``model(graph, x, deterministic=bool)``.
      graph: the graph pytree passed to the model (e.g. a pre-normalised ``GraphsTuple``).
      x: node features ``[N, F]``.
      labels: int labels ``[N]``.
      train_mask: bool ``[N]``, the nodes of the loss.
      val_mask: bool ``[N]``.
      test_mask: bool ``[N]``.
      tx: optax transformation (see :func:`jgnn.train.adam_l2`).
      epochs: number of full-batch steps.
      progress: show a tqdm bar.
      on_epoch: optional callback ``(epoch, record)``.

    Returns:
      A :class:`FitResult`.
    """
    return fit_full_graph(
        model,
        graph,
        x,
        labels,
        train_mask,
        val_mask,
        test_mask,
        tx=tx,
        epochs=epochs,
        policy=_AS_IS,
        progress=progress,
        on_epoch=on_epoch,
    )
