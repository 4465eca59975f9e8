"""GNNAutoScale on several devices: one GAS batch per device, one shared set of histories.

The reference implementation trains GAS on one device only (pyg_autoscale issue #1). Here a
step takes ``D`` GAS batches (``D`` = devices of a 1-D mesh), stacks them on a leading device
axis (every batch is padded to the one :class:`jgnn.history.GASBudget` of its source) and runs
the single-device GAS loss of :mod:`jgnn.train._gas` on each device under ``jax.shard_map``,
with the parameters and optimizer state replicated.

**Loss and gradients.** Device ``d`` computes the single-device loss ``L_d`` (mean softmax
cross-entropy over its ``c_d`` labelled batch rows) and its gradient ``g_d``. The step uses

    L = sum_d c_d L_d / sum_d c_d,        g = sum_d c_d g_d / sum_d c_d   (``psum``)

that is, the mean cross-entropy over every labelled row of the ``D`` batches, each batch seeing
the halo rows it pulled; a batch without a labelled row weighs nothing. One optimizer update
per step follows, the same on every device.

**Shared histories.** There is one table per history for all devices, never one per device:
host (NumPy or memory-mapped) tables, or one device table replicated over the mesh. Before
the step, every device's halo rows are pulled from the same tables; after it, every device's
batch rows are pushed to them. The batches of a step hold disjoint METIS parts (checked), so
the pushes never overlap. Staleness: within a step, no device sees another device's pushes of
that step (as ``D`` sequential steps whose pushes all land after the ``D`` pulls); across
steps the push-before-pull rule holds (every push of step ``t`` has landed before step
``t + 1`` pulls). Host transfers are synchronous (no overlap, no forwarding).

**Dropout and statistics** as :func:`jgnn.train.make_train_step` under data parallelism: each
device folds its mesh index into the model's RNG keys, so the devices draw different masks
(the stored keys and counters stay replicated), and batch statistics are averaged over the
devices.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jgnn.history import (
    GASBatches,
    GASData,
    GASModel,
    History,
    MiniInference,
    check_histories,
    pull,
    push,
)
from jgnn.loader import PaddedBatch
from jgnn.train._gas import (
    _accuracies,
    _apply_grads,
    _gas_inputs,
    _host_batch,
    _loss_and_grads,
    _stores,
    _train_rows,
)
from jgnn.train._parallel import data_mesh, put_global, replicate, shard_batch, stack_batches
from jgnn.train._result import FitResult
from jgnn.train._step import _device_mean, _per_device

__all__ = ["GASParallelStep", "fit_gas_parallel"]

_REST = nnx.Not(nnx.Any(nnx.Param, nnx.RngKey))  # what a forward pass may change


def _gather(value: jax.Array, axis: str) -> jax.Array:
    """Every device's ``value`` ``[K, ...]`` concatenated, ``[D * K, ...]``, replicated.

    A ``psum`` of one-hot slots rather than ``all_gather``, whose result shard_map types as
    device-varying; adding zeros is exact, so the rows equal the devices' own.
    """
    size = jax.lax.axis_size(axis)
    slots = jnp.zeros((size, *value.shape), value.dtype).at[jax.lax.axis_index(axis)].set(value)
    return jax.lax.psum(slots, axis).reshape(-1, *value.shape[1:])


def _make_parallel_fn(graphdef: Any, program: Any, mesh: Mesh, axis: str, device: bool) -> Any:
    """The jitted shard-mapped step (see :class:`GASParallelStep`)."""

    def core(state, batch, halos):
        # As make_train_step: this device's copy (its own dropout keys; floating leaves made
        # device-varying, so their gradients are this device's alone), explicit weighted psum.
        local = _per_device(state, axis)
        local_model, _, loss, pushed, grads = _loss_and_grads(
            graphdef, program, local, batch, halos
        )
        count = jnp.sum(_train_rows(batch).astype(loss.dtype))
        grads = jax.tree.map(lambda g: g * count, grads)
        grads, loss, total = jax.lax.psum((grads, loss * count, count), axis)
        total = jnp.maximum(total, 1.0)
        grads = jax.tree.map(lambda g: g / total, grads)
        model, optimizer = nnx.merge(graphdef, state)
        # RNG counters and averaged batch statistics; the keys stay the replicated ones.
        nnx.update(model, _device_mean(nnx.state(local_model, _REST), axis))
        return _apply_grads(model, optimizer, grads), loss / total, pushed

    def host_body(state, batch, halos):
        batch = jax.tree.map(lambda leaf: leaf[0], batch)
        state, loss, pushed = core(state, batch, tuple(h[0] for h in halos))
        return state, loss, tuple(p[None] for p in pushed)

    def device_body(state, tables, batch):
        batch = jax.tree.map(lambda leaf: leaf[0], batch)
        num_b = batch.node_blocks[0]
        halos = tuple(pull(History(t), batch.n_id[num_b:]) for t in tables)
        state, loss, pushed = core(state, batch, halos)
        ids = _gather(batch.n_id[:num_b], axis)  # [D * B_pad]
        tables = tuple(
            push(History(t), _gather(p, axis), ids).emb for t, p in zip(tables, pushed, strict=True)
        )
        return state, loss, tables

    rep, split = PartitionSpec(), PartitionSpec(axis)
    if device:
        specs = dict(in_specs=(rep, rep, split), out_specs=(rep, rep, rep))
        return jax.jit(jax.shard_map(device_body, mesh=mesh, **specs))
    specs = dict(in_specs=(rep, split, split), out_specs=(rep, rep, split))
    return jax.jit(jax.shard_map(host_body, mesh=mesh, **specs))


@dataclasses.dataclass(frozen=True)
class GASParallelStep:
    """One data-parallel GAS step over ``D`` batches and one shared set of histories.

    See the module docstring for the loss, gradient and staleness semantics. Build it with
    :meth:`create`; call it with host batches.

    Attributes:
      gas_model: The :class:`jgnn.history.GASModel`.
      data: The :class:`jgnn.history.GASData` the batches come from.
      mesh: The 1-D mesh (:func:`jgnn.train.data_mesh`).
      axis: Its axis name.
      device_histories: Histories are replicated device tables (pulled and pushed inside the
        step) instead of host tables (pulled and pushed around it).
      fn: The jitted shard-mapped step.
    """

    gas_model: GASModel
    data: GASData
    mesh: Mesh
    axis: str
    device_histories: bool
    fn: Callable[..., Any]

    @classmethod
    def create(
        cls,
        gas_model: GASModel,
        graphdef: Any,
        data: GASData,
        mesh: Mesh,
        *,
        axis: str = "data",
        device_histories: bool = False,
    ) -> GASParallelStep:
        """Builds the step for the state ``nnx.split((model, optimizer))``.

        Args:
          gas_model: The model with its program.
          graphdef: The graph definition of ``nnx.split((model, optimizer))``.
          data: The partition.
          mesh: A 1-D mesh.
          axis: The mesh axis the batches are split over.
          device_histories: See the class attributes.

        Returns:
          The step.

        Raises:
          TypeError: If ``gas_model`` or ``data`` has the wrong type.
          ValueError: If ``axis`` is not the mesh's one axis.
        """
        if not isinstance(gas_model, GASModel):
            raise TypeError(f"`gas_model` must be a GASModel, got {type(gas_model).__name__}.")
        if not isinstance(data, GASData):
            raise TypeError(f"`data` must be a GASData, got {type(data).__name__}.")
        if tuple(mesh.axis_names) != (axis,):
            raise ValueError(f"`mesh` must have the one axis {axis!r}, got {mesh.axis_names}.")
        fn = _make_parallel_fn(graphdef, gas_model.program, mesh, axis, device_histories)
        return cls(gas_model, data, mesh, axis, bool(device_histories), fn)

    @property
    def num_devices(self) -> int:
        """``D``."""
        return int(self.mesh.shape[self.axis])

    def _check(self, batches: Sequence[PaddedBatch], parts: Sequence[Any], histories) -> None:
        d = self.num_devices
        if len(batches) != d or len(parts) != d:
            raise ValueError(
                f"the step runs on {d} devices and needs exactly {d} batches and {d} part "
                f"lists, got {len(batches)} batches and {len(parts)} part lists."
            )
        real = [self.data.check_parts(p) for p in parts if p is not None]
        ids = np.concatenate(real) if real else np.zeros(0, np.int64)
        if np.unique(ids).size != ids.size:
            raise ValueError(
                "the batches of one step must hold disjoint parts (their pushes to the shared "
                f"histories would overlap), got parts {[np.asarray(p).tolist() for p in parts]}."
            )
        n, size = self.data.num_nodes, self.gas_model.context_size
        # The step reads no context store; a zero-copy view of the right shape stands in.
        ctx = None if size is None else History(np.broadcast_to(np.float32(0), (n, size)))
        check_histories(self.gas_model, histories, ctx, n)
        for i, h in enumerate(histories):
            if h.on_device != self.device_histories:
                where = "device" if self.device_histories else "host"
                raise ValueError(f"histories[{i}] must be a {where} history for this step.")

    def __call__(
        self,
        state: Any,
        batches: Sequence[PaddedBatch],
        parts: Sequence[Any],
        histories: Sequence[History],
    ) -> tuple[Any, jax.Array, tuple[History, ...]]:
        """Runs one step: pull for every batch, ``D`` losses and gradients, one update, push.

        Host-side around the jitted step: not jittable.

        Args:
          state: The replicated state (:func:`jgnn.train.replicate` of
            ``nnx.split((model, optimizer))[1]``).
          batches: ``D`` host batches padded to one budget, with ``x`` and ``y`` (labels
            ``-1`` where a row must not count).
          parts: The sorted part ids of every batch (disjoint), or None for a filler batch
            whose batch rows carry the padding id (nothing pushed).
          histories: The shared histories in layer order: host tables, or (with
            ``device_histories``) device tables, which are replicated over the mesh here.

        Returns:
          ``(state, loss, histories)``: the new replicated state, the combined loss (see the
          module docstring) and the histories after the pushes (host tables are written in
          place).

        Raises:
          ValueError: If the number of batches is not ``D``, parts repeat across batches, or
            the histories do not match the model or the storage.
          TypeError: If a history is not a ``History``.
        """
        self._check(batches, parts, histories)
        stacked = shard_batch(stack_batches(batches), self.mesh, axis=self.axis)
        if self.device_histories:
            whole = NamedSharding(self.mesh, PartitionSpec())
            tables = tuple(jax.device_put(h.emb, whole) for h in histories)
            state, loss, tables = self.fn(state, tables, stacked)
            return state, loss, tuple(History(t) for t in tables)
        num_b = batches[0].node_blocks[0]
        halos = tuple(
            np.stack([pull(h, np.asarray(b.n_id)[num_b:]) for b in batches]) for h in histories
        )
        halos = put_global(halos, NamedSharding(self.mesh, PartitionSpec(self.axis)))
        state, loss, pushed = self.fn(state, stacked, halos)
        pushed = jax.device_get(pushed)
        for d, p in enumerate(parts):
            if p is not None:
                ranges = self.data.ranges(p)
                for h, rows in zip(histories, pushed, strict=True):
                    push(h, rows[d], ranges=ranges)
        return state, loss, tuple(histories)


def _filler(batch: PaddedBatch, num_nodes: int) -> PaddedBatch:
    """A batch that counts for nothing: no labels, batch rows on the padding id."""
    num_b = batch.node_blocks[0]
    n_id = np.asarray(batch.n_id).copy()
    n_id[:num_b] = num_nodes
    return batch.replace(n_id=n_id, y=np.full_like(np.asarray(batch.y), -1))


def _epoch_steps(
    source: GASBatches, epoch: int, per_part: np.ndarray, devices: int
) -> list[list[tuple[Any, np.ndarray | None]]]:
    """The epoch's ``(subgraph, parts)`` pairs with a training node, ``devices`` per step."""
    pairs = []
    for i in range(len(source)):
        parts = source.parts(epoch, i)
        if per_part[parts].sum() > 0:
            pairs.append((source.get(epoch, i), parts))
    return [pairs[i : i + devices] for i in range(0, len(pairs), devices)]


def fit_gas_parallel(
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
    mesh: Mesh | None = None,
    axis: str = "data",
    storage: str = "host",
    histories_dir: str | os.PathLike[str] | None = None,
    eval_every: int = 1,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
) -> FitResult:
    """Trains a node classifier with data-parallel GNNAutoScale (``model`` trained in place).

    :func:`jgnn.train.fit_gas` on ``D`` devices: every step trains ``D`` batches of one epoch
    at once with :class:`GASParallelStep` (one batch per device, one shared set of
    histories; see the module docstring). The epoch's batches with a training node are taken
    ``D`` at a time in their shuffled order; when their number is not a multiple of ``D``, the
    last step fills the free devices with batches that count for nothing (no label, nothing
    pushed). Histories are warmed up and evaluation is exact
    (:class:`jgnn.history.MiniInference`, on the default device), as in ``fit_gas``.

    Args:
      model: A model :func:`jgnn.history.gas_program` supports.
      graph: The raw symmetric graph (not normalised).
      x: ``[N, F]`` node features (host; dense).
      labels: int ``[N]`` labels.
      train_mask, val_mask, test_mask: bool ``[N]``.
      tx: optax transformation.
      epochs: Training epochs.
      num_parts: METIS parts.
      parts_per_batch: Parts per batch (per device).
      mesh: A 1-D mesh (default :func:`jgnn.train.data_mesh` over every device).
      axis: The mesh axis.
      storage: ``"host"``, ``"memmap"`` (``histories_dir``) or ``"device"`` (one table per
        history, replicated over the mesh).
      histories_dir: Folder of memory-mapped tables.
      eval_every: Evaluate every this many epochs (and after the last).
      seed: Seed of the part grouping.
      cache_dir: METIS cache folder.

    Returns:
      A :class:`FitResult`: ``history`` holds per epoch the mean step ``loss`` (and the
      accuracies when evaluated); ``metrics`` hold ``test_accuracy``/``val_accuracy`` at the
      best validation epoch, ``best_epoch``, ``final_train_loss``, ``epoch_time_ms`` (median),
      ``num_devices``, ``steps_per_epoch`` and the ``budget``.

    Raises:
      ValueError: On bad options, or more devices than batches in an epoch.
    """
    if epochs < 1 or eval_every < 1:
        raise ValueError(f"epochs and eval_every must be >= 1, got {epochs}, {eval_every}")
    mesh = data_mesh(axis=axis) if mesh is None else mesh
    gm, data, xs, ys, masks, y_train, per_part = _gas_inputs(
        model, graph, x, labels, (train_mask, val_mask, test_mask), num_parts, cache_dir
    )
    n = data.num_nodes
    source = GASBatches(data, parts_per_batch, shuffle=True, seed=seed, epochs=epochs)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    step = GASParallelStep.create(
        gm, graphdef, data, mesh, axis=axis, device_histories=storage == "device"
    )
    if step.num_devices > len(source):
        raise ValueError(
            f"{step.num_devices} devices but an epoch has {len(source)} batches "
            f"({num_parts} parts, {parts_per_batch} per batch); use fewer devices or smaller "
            "batches."
        )
    hists, ctx = _stores(gm, n, storage, histories_dir, None)
    infer = MiniInference(gm, data, xs, parts_per_batch=parts_per_batch)
    _, hists, ctx = infer(model, hists, ctx)  # warm-up: exact histories before epoch 0
    state = replicate(state, mesh)
    history: list[dict[str, float]] = []
    times: list[float] = []
    best_val, best, steps = -1.0, {}, 0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        losses = []
        for group in _epoch_steps(source, epoch, per_part, step.num_devices):
            batches = [_host_batch(source, sub, xs, y_train) for sub, _ in group]
            parts: list[np.ndarray | None] = [p for _, p in group]
            while len(batches) < step.num_devices:
                batches.append(_filler(batches[0], n))
                parts.append(None)
            state, loss, hists = step(state, batches, parts, hists)
            losses.append(loss)
        steps = len(losses)
        record = {"loss": float(np.mean(jax.device_get(losses))) if losses else 0.0}
        times.append((time.perf_counter() - t0) * 1e3)
        if (epoch + 1) % eval_every == 0 or epoch == epochs - 1:
            nnx.update((model, optimizer), jax.device_put(state, jax.devices()[0]))
            if storage == "device":
                hists = [History(jax.device_put(h.emb, jax.devices()[0])) for h in hists]
            logits, hists, ctx = infer(model, hists, ctx)
            record.update(_accuracies(logits, ys, masks))
            if record["val_accuracy"] > best_val:
                best_val, best = record["val_accuracy"], dict(record, epoch=epoch)
        history.append(record)
    nnx.update((model, optimizer), jax.device_put(state, jax.devices()[0]))
    metrics = {
        "test_accuracy": best["test_accuracy"],
        "val_accuracy": best["val_accuracy"],
        "best_epoch": best["epoch"],
        "final_train_loss": history[-1]["loss"],
        "epoch_time_ms": float(np.median(times[1:] if len(times) > 1 else times)),
        "num_devices": step.num_devices,
        "steps_per_epoch": steps,
        "epochs": epochs,
        "storage": storage,
        "budget": tuple(source.budget),
    }
    return FitResult(metrics=metrics, history=history)
