"""One training step as a pure function of ``(TrainState, batch)``, for every way of training.

The same step runs full-batch, on a sampled :class:`jgnn.loader.PaddedBatch`, data-parallel
inside ``jax.shard_map`` or ``jax.pmap`` (``axis_name`` set: the losses and gradients of the
devices are summed with ``psum``), on edge-sharded graphs under ``jax.jit`` and across
processes. It applies a mixed-precision :class:`jgnn.train.Policy` and a
:class:`jgnn.train.LossScale`.

A loss function ``loss_fn(model, batch, policy) -> (loss_sum, weight)`` returns float32
scalars: the *sum* of the per-node losses of this batch (or device) and their total weight.
The step minimises ``sum of loss_sum / sum of weight`` over every device, so a data-parallel
step over batches ``b_1..b_D`` has exactly the loss and gradients of one device seeing all of
them, whatever the number of seeds in each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jgnn.train._loss_scale import LossScale, LossScaleState, no_loss_scale
from jgnn.train._minibatch import forward_batch
from jgnn.train._precision import Policy, precision_policy

__all__ = [
    "FullGraphBatch",
    "TrainState",
    "cross_entropy_sum",
    "full_graph_loss",
    "init_train_state",
    "make_train_step",
    "merge_model",
    "predict",
    "sampled_loss",
]

LossFn = Callable[[nnx.Module, Any, Policy], tuple[jax.Array, jax.Array]]


class TrainState(NamedTuple):
    """Everything a step reads and writes (a pytree; checkpoint it whole).

    Attributes:
        model: ``nnx.State`` of ``(model, optimizer)``: parameters (``param_dtype``), optimizer
            state (same dtypes), step count, the model's RNG streams (dropout keys and
            counters) and batch statistics.
        loss_scale: The :class:`jgnn.train.LossScaleState`.
    """

    model: Any
    loss_scale: LossScaleState


class FullGraphBatch(NamedTuple):
    """The arguments of :func:`full_graph_loss`: the whole graph and a node mask.

    Attributes:
        graph: The graph handed to the model (GraphsTuple, edge index or ``adj_t``).
        x: Node features ``[N, F]``.
        labels: int32 ``[N]`` labels.
        mask: bool ``[N]``, the nodes in the loss.
    """

    graph: Any
    x: Any
    labels: jax.Array
    mask: jax.Array


def cross_entropy_sum(
    logits: jax.Array, labels: jax.Array, mask: jax.Array, weight: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """Softmax cross-entropy summed over masked nodes, in float32, and the summed weight.

    Args:
        logits: ``[N, C]`` (cast to float32 first).
        labels: int ``[N]``.
        mask: bool ``[N]``.
        weight: Optional float ``[N]`` per-node weights (GraphSAINT's loss norm).

    Returns:
        ``(sum_i w_i * CE_i, sum_i w_i)`` over the masked nodes, ``w_i = 1`` without weights.
    """
    losses = optax.softmax_cross_entropy_with_integer_labels(
        logits.astype(jnp.float32), labels.astype(jnp.int32)
    )
    w = mask.astype(jnp.float32)
    if weight is not None:
        w = w * weight.astype(jnp.float32)
    return jnp.sum(losses * w), jnp.sum(w)


def full_graph_loss(
    model: nnx.Module, batch: FullGraphBatch, policy: Policy
) -> tuple[jax.Array, jax.Array]:
    """Cross-entropy of ``model(graph, x)`` on ``batch.mask`` (a ``loss_fn`` for the step).

    Args:
        model: Called as ``model(graph, x, deterministic=False)``.
        batch: A :class:`FullGraphBatch`.
        policy: Features and graph values are cast to its compute dtype, logits to its
            output dtype.

    Returns:
        ``(loss_sum, weight)``, float32.
    """
    graph, x = policy.cast_to_compute((batch.graph, batch.x))
    logits = policy.cast_to_output(model(graph, x, deterministic=False))
    return cross_entropy_sum(logits, batch.labels, batch.mask)


def sampled_loss(model: nnx.Module, batch: Any, policy: Policy) -> tuple[jax.Array, jax.Array]:
    """Cross-entropy on the labelled seed nodes of a :class:`jgnn.loader.PaddedBatch`.

    The model runs through :func:`jgnn.train.forward_batch` (a ``BasicGNN`` layer by layer
    with the batch's node mask; padding edges connect padding nodes only, so real nodes are
    exact). The loss covers the seeds whose label is ``>= 0`` (a loader built on
    :func:`jgnn.train.training_labels` marks every other node ``-1``), weighted by
    ``node_weight`` when the source provides one (a self-normalised weighted mean, where
    :func:`jgnn.train.fit_minibatch` uses GraphSAINT's unbiased sum).

    Args:
        model: The model.
        batch: A padded batch with ``x`` and ``y``.
        policy: Features are cast to its compute dtype, logits to its output dtype.

    Returns:
        ``(loss_sum, weight)``, float32.
    """
    x = policy.cast_to_compute(batch.x)
    logits = forward_batch(model, batch.replace(x=x), deterministic=False)
    logits = policy.cast_to_output(logits)
    mask = batch.seed_mask & (batch.y >= 0)
    labels = jnp.maximum(batch.y, 0)
    return cross_entropy_sum(logits, labels, mask, batch.node_weight)


def init_train_state(
    model: nnx.Module,
    tx: optax.GradientTransformation,
    *,
    loss_scale: LossScale | None = None,
) -> tuple[nnx.GraphDef, TrainState]:
    """Splits ``model`` and a fresh ``nnx.Optimizer`` into a graph definition and a state.

    Args:
        model: The model (after :func:`jgnn.train.apply_policy`, for mixed precision).
        tx: The optax transformation (e.g. :func:`jgnn.train.adam_l2`).
        loss_scale: The loss scale whose state to create (None: :func:`no_loss_scale`).

    Returns:
        ``(graphdef, state)``; pass ``graphdef`` to :func:`make_train_step`.
    """
    loss_scale = no_loss_scale() if loss_scale is None else loss_scale
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    return graphdef, TrainState(state, loss_scale.init())


def merge_model(graphdef: nnx.GraphDef, state: TrainState) -> nnx.Module:
    """The model of a :class:`TrainState` (its optimizer dropped)."""
    model, _ = nnx.merge(graphdef, state.model, copy=True)
    return model


def _is_key(leaf: Any) -> bool:
    return jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key)


def _per_device(tree: Any, axis_name: Any) -> Any:
    """This device's copy of a replicated state: keys folded with the device index (its own
    dropout masks) and floating leaves made device-varying (``+ 0 * index``), so that their
    gradients are this device's alone under ``shard_map`` (with or without ``check_vma``)
    and under ``pmap`` alike; the step then sums them explicitly."""
    index = jax.lax.axis_index(axis_name)

    def one(leaf: Any) -> Any:
        if _is_key(leaf):
            return jax.random.fold_in(leaf, index)
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            return leaf + (index * 0).astype(leaf.dtype)
        return leaf

    return jax.tree_util.tree_map(one, tree)


def _device_mean(tree: Any, axis_name: Any) -> Any:
    return jax.tree_util.tree_map(
        lambda a: jax.lax.pmean(a, axis_name) if jnp.issubdtype(a.dtype, jnp.floating) else a,
        tree,
    )


def make_train_step(
    graphdef: nnx.GraphDef,
    loss_fn: LossFn,
    *,
    policy: Policy | str = "fp32",
    loss_scale: LossScale | None = None,
    axis_name: Any = None,
    return_grads: bool = False,
) -> Callable[[TrainState, Any], tuple[TrainState, dict[str, jax.Array]]]:
    """A pure ``step(state, batch) -> (state, metrics)`` for ``jax.jit``, ``jax.shard_map``
    or ``jax.pmap``.

    The step traces under ``policy.matmul_scope()``, differentiates the scaled mean loss of
    its batch, and (with ``axis_name``) all-reduces: every device's gradient is weighted by
    its loss weight and summed with ``psum`` over ``axis_name``, then divided by the total
    weight, so the update is the one a single device would make on all the batches
    together. Then the loss scale unscales and checks the gradients and the optimizer
    applies them. When the loss scale is guarded and a gradient is not finite, the whole
    model state (parameters, optimizer state, RNG counters, batch statistics) is left as it
    was and only the loss scale changes. With ``axis_name``, each device folds its index into
    the RNG keys (its own dropout masks; the stored keys do not change) and batch statistics
    are averaged over the devices (each device normalises with its own batch's statistics,
    as PyTorch's DDP without SyncBatchNorm).

    Args:
        graphdef: From :func:`init_train_state`.
        loss_fn: ``loss_fn(model, batch, policy) -> (loss_sum, weight)`` (see the module
            docstring), e.g. :func:`full_graph_loss` or :func:`sampled_loss`.
        policy: A :class:`jgnn.train.Policy` or its name.
        loss_scale: The :class:`jgnn.train.LossScale` whose state the ``TrainState`` holds
            (None: :func:`no_loss_scale`).
        axis_name: The mapped axis to reduce over (data parallelism), or None.
        return_grads: Also return the (unscaled, reduced) gradients as ``metrics["grads"]``.

    Returns:
        The step. ``metrics``: ``loss`` (float32, the unscaled mean loss over every device),
        ``weight`` (its total weight), ``finite`` (bool), ``loss_scale`` (the scale used).
    """
    policy = precision_policy(policy)
    loss_scale = no_loss_scale() if loss_scale is None else loss_scale

    def objective(model: nnx.Module, batch: Any, scale_state: LossScaleState):
        total, weight = loss_fn(model, batch, policy)
        total = total.astype(jnp.float32)
        weight = jax.lax.stop_gradient(weight.astype(jnp.float32))
        mean = total / jnp.maximum(weight, 1e-12)
        return loss_scale.scale(mean, scale_state), (total, weight)

    grad_fn = nnx.value_and_grad(objective, has_aux=True)

    def step(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, jax.Array]]:
        with policy.matmul_scope():
            # copy=True: the update below must not write into the caller's state (it is the
            # "old" side of the non-finite guard, and a caller's array when run eagerly).
            model, optimizer = nnx.merge(graphdef, state.model, copy=True)
            if axis_name is None:
                (_, (total, weight)), grads = grad_fn(model, batch, state.loss_scale)
            else:
                local, _ = nnx.merge(graphdef, _per_device(state.model, axis_name), copy=True)
                (_, (total, weight)), grads = grad_fn(local, batch, state.loss_scale)
                grads = jax.tree_util.tree_map(lambda g: g * weight, grads)
                total, weight, grads = jax.lax.psum((total, weight, grads), axis_name)
                grads = jax.tree_util.tree_map(lambda g: g / jnp.maximum(weight, 1e-12), grads)
                # RNG counters and averaged batch statistics of the forward pass (the keys
                # stay those of the replicated state).
                rest = nnx.state(local, nnx.Not(nnx.Any(nnx.Param, nnx.RngKey)))
                nnx.update(model, _device_mean(rest, axis_name))
            loss = total / jnp.maximum(weight, 1e-12)
            grads, finite, scale_state = loss_scale.update(grads, state.loss_scale)
            # optax mixes int32 counts with float scalars; keep it working under the strict
            # dtype promotion jgnn's tests run with.
            with jax.numpy_dtype_promotion("standard"):
                optimizer.update(model, grads)
            new_state = nnx.state((model, optimizer))
            if loss_scale.guarded:
                new_state = jax.tree_util.tree_map(
                    lambda new, old: jnp.where(finite, new, old), new_state, state.model
                )
        metrics = {
            "loss": loss,
            "weight": weight,
            "finite": finite,
            "loss_scale": state.loss_scale.scale,
        }
        if return_grads:
            metrics["grads"] = grads
        return TrainState(new_state, scale_state), metrics

    return step


def predict(
    graphdef: nnx.GraphDef, state: TrainState, graph: Any, x: Any, policy: Policy | str = "fp32"
) -> jax.Array:
    """Logits of the model in ``state`` (``deterministic=True``), in the policy's output dtype.

    Args:
        graphdef: From :func:`init_train_state`.
        state: The :class:`TrainState`.
        graph: The graph argument of the model.
        x: Node features.
        policy: The policy the model was trained with.

    Returns:
        ``[N, C]`` logits.
    """
    policy = precision_policy(policy)
    with policy.matmul_scope():
        model = merge_model(graphdef, state)
        graph, x = policy.cast_to_compute((graph, x))
        return policy.cast_to_output(model(graph, x, deterministic=True))
