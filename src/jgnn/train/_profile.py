"""Profiling one training configuration: time per epoch, peak memory, accuracy.

The jgnn side of ``jgnn profile``: one configuration (full-batch, neighbour-sampled,
neighbour-sampled in bfloat16) trained with the pure step of :func:`jgnn.train.make_train_step`,
either compiled (``jax.jit``, whole epochs timed) or uncompiled (``jax.disable_jit``: the same
step run op by op, a few steps timed and the epoch extrapolated from them), measured by
:func:`jgnn.train.measure_training`; and the datasets of the study
(:func:`load_profile_dataset`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jgnn import datasets
from jgnn.datasets import NodeDataset
from jgnn.loader import Budget, Loader
from jgnn.models import GCN, GraphSAGE
from jgnn.sampling import as_csc_graph
from jgnn.train._fit import masked_accuracy
from jgnn.train._measure import compile_clock, measure_training
from jgnn.train._minibatch import training_labels
from jgnn.train._optimizer import adam_l2
from jgnn.train._sampler_config import SamplerConfig
from jgnn.train._sources import make_source
from jgnn.train._step import (
    FullGraphBatch,
    full_graph_loss,
    init_train_state,
    make_train_step,
    predict,
    sampled_loss,
)

__all__ = ["PROFILE_CONFIGS", "ProfileSettings", "load_profile_dataset", "profile_training"]

#: Configuration -> (sampled, precision policy).
PROFILE_CONFIGS: dict[str, tuple[bool, str]] = {
    "full": (False, "fp32"),
    "sampled": (True, "fp32"),
    "sampled-bf16": (True, "bf16"),
}
_MODELS = {"gcn": GCN, "sage": GraphSAGE}


@dataclasses.dataclass(frozen=True)
class ProfileSettings:
    """The model, optimizer and sizes of a profiling run (the same for every framework).

    Attributes:
        model: ``"gcn"`` or ``"sage"``: two convolutions, dropout before each, ReLU between.
        hidden: Hidden width.
        dropout: Dropout rate.
        lr: Adam learning rate.
        weight_decay: L2 coefficient added to the gradient (PyTorch's Adam ``weight_decay``).
        full_epochs: Full-batch epochs (one step each) of a compiled run (>= 2: the first
            holds the compilation and is reported apart).
        sampled_epochs: Epochs of a compiled sampled run (>= 2).
        uncompiled_steps: Steps an uncompiled run times (>= 2; the first, which fills op
            caches, is left out of the median the epoch is extrapolated from).
        fanouts: Neighbours sampled per hop, one per layer.
        batch_size: Seed nodes per sampled batch.
        seed: Initialisation, dropout and sampling seed.

    Raises:
        ValueError: If a value is out of range, naming the field (`` `hidden` ``).
    """

    model: str = "gcn"
    hidden: int = 64
    dropout: float = 0.5
    lr: float = 0.01
    weight_decay: float = 5e-4
    full_epochs: int = 100
    sampled_epochs: int = 3
    uncompiled_steps: int = 3
    fanouts: tuple[int, ...] = (10, 5)
    batch_size: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "fanouts", tuple(self.fanouts))
        self._check()

    def _check(self) -> None:
        """Raises ``ValueError`` naming the first bad field (`` `hidden` ``)."""
        if self.model not in _MODELS:
            raise ValueError(f"`model` must be one of {sorted(_MODELS)}, got {self.model!r}.")
        minimum = {
            "hidden": 1,
            "full_epochs": 2,
            "sampled_epochs": 2,
            "uncompiled_steps": 2,
            "batch_size": 1,
            "seed": 0,
        }
        for field, low in minimum.items():
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"`{field}` must be an integer >= {low}, got {value!r}.")
        if not 0.0 <= self.dropout < 1.0:  # also rejects NaN, as the two below
            raise ValueError(f"`dropout` must be in [0, 1), got {self.dropout}.")
        if not 0.0 < self.lr < math.inf:
            raise ValueError(f"`lr` must be finite and > 0, got {self.lr}.")
        if not 0.0 <= self.weight_decay < math.inf:
            raise ValueError(f"`weight_decay` must be finite and >= 0, got {self.weight_decay}.")
        if len(self.fanouts) != 2 or any(f < 1 for f in self.fanouts):
            raise ValueError(
                f"`fanouts` must give 2 positive fanouts (one per layer of the "
                f"2-layer model), got {list(self.fanouts)}."
            )


def profile_training(
    data: NodeDataset,
    x: Any,
    config: str,
    *,
    compiled: bool = True,
    settings: ProfileSettings | None = None,
) -> dict[str, Any]:
    """Trains one configuration with jgnn and measures it (one per process, for the memory).

    Host-side setup (model, optimizer, sampler and padding budget) is not measured. The
    model is ``settings.model`` with two layers (:class:`jgnn.models.GCN` or
    :class:`jgnn.models.GraphSAGE`), trained by Adam with L2 through
    :func:`jgnn.train.make_train_step` under the configuration's precision policy. A
    compiled run (``jax.jit``) trains ``settings.full_epochs`` (full) or
    ``settings.sampled_epochs`` (sampled) epochs, then reports the test accuracy of
    full-graph inference. An uncompiled run (``jax.disable_jit``) times
    ``settings.uncompiled_steps`` steps and extrapolates the epoch (see
    :func:`measure_training`); it has no accuracy. A sampled epoch is one pass over the
    shuffled training nodes in batches of ``settings.batch_size`` seeds from a
    :class:`jgnn.loader.Loader` (sampling in a background thread, padding to at most 3
    fitted shapes plus grown ones). GCN normalises each (sub)graph inside the step.

    Args:
        data: The dataset.
        x: ``[N, F]`` float features as the model sees them.
        config: A key of :data:`PROFILE_CONFIGS`.
        compiled: ``jax.jit`` (True) or ``jax.disable_jit`` (False).
        settings: The model and sizes (default :class:`ProfileSettings`).

    Returns:
        A JSON-ready dict: ``framework`` ("jgnn"), ``config``, ``execution`` ("jit" or
        "disable_jit"), ``precision`` (the policy's name), the keys of
        :func:`measure_training`, ``test_accuracy`` (None when uncompiled) and, when
        sampled, ``num_shapes`` (batch shapes met: compilations of a jitted step).

    Raises:
        ValueError: If ``config`` is unknown or ``x`` does not have ``N`` rows.
    """
    if config not in PROFILE_CONFIGS:
        raise ValueError(f"`config` must be one of {list(PROFILE_CONFIGS)}, got {config!r}.")
    s = settings or ProfileSettings()
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.shape[0] != data.num_nodes:
        raise ValueError(f"`x` must be [{data.num_nodes}, F], got shape {x.shape}.")
    sampled, policy = PROFILE_CONFIGS[config]
    net = _MODELS[s.model](
        x.shape[1], s.hidden, data.num_classes, num_layers=2, dropout=s.dropout,
        rngs=nnx.Rngs(s.seed),
    )  # fmt: skip
    graphdef, state = init_train_state(net, adam_l2(s.lr, s.weight_decay))
    edges = np.stack([np.asarray(data.graph.senders), np.asarray(data.graph.receivers)])
    edge_index = jnp.asarray(edges, jnp.int32)
    x_dev, labels = jnp.asarray(x), jnp.asarray(data.labels, jnp.int32)
    step = make_train_step(graphdef, sampled_loss if sampled else full_graph_loss, policy=policy)
    step = jax.jit(step) if compiled else _uncompiled(step)

    def run_step(batch: Any) -> float:
        nonlocal state
        state, metrics = step(state, batch)
        jax.block_until_ready((state, metrics))  # the step's every output, kept until the next
        return float(metrics["loss"])

    row: dict[str, Any] = {
        "framework": "jgnn",
        "config": config,
        "execution": "jit" if compiled else "disable_jit",
        "precision": policy,
    }
    with contextlib.ExitStack() as stack:
        if sampled:
            loader = stack.enter_context(_neighbor_loader(data, x, s))
            batches, per_epoch, epochs = loader.epoch, len(loader), s.sampled_epochs
        else:
            batch = FullGraphBatch(edge_index, x_dev, labels, jnp.asarray(data.train_mask, bool))
            batches, per_epoch, epochs = (lambda epoch: [batch]), 1, s.full_epochs
        clock = stack.enter_context(compile_clock())
        row |= measure_training(
            run_step,
            batches,
            steps_per_epoch=per_epoch,
            epochs=epochs if compiled else None,
            steps=None if compiled else s.uncompiled_steps,
            compile_clock=clock,
        )
        if sampled:
            row["num_shapes"] = loader.report().num_shapes
    row["test_accuracy"] = None
    if compiled:
        logits = jax.jit(lambda st: predict(graphdef, st, edge_index, x_dev, policy))(state)
        row["test_accuracy"] = float(
            masked_accuracy(logits, labels, jnp.asarray(data.test_mask, bool))
        )
    return row


def _uncompiled(step: Callable[..., Any]) -> Callable[..., Any]:
    """``step`` run op by op (``jax.disable_jit``)."""

    def run(state: Any, batch: Any) -> Any:
        with jax.disable_jit():
            return step(state, batch)

    return run


def _neighbor_loader(data: NodeDataset, x: np.ndarray, s: ProfileSettings) -> Loader:
    """The training loader of the sampled configurations (closed by the caller)."""
    edges = np.stack([np.asarray(data.graph.senders), np.asarray(data.graph.receivers)])
    config = SamplerConfig(
        "neighbor", num_neighbors=s.fanouts, batch_size=s.batch_size, seed=s.seed
    ).resolve(data.num_nodes, data.num_edges)
    graph = as_csc_graph(edges, num_nodes=data.num_nodes)
    source = make_source(config, graph, np.flatnonzero(data.train_mask))
    budget = Budget.fit(source, num_batches=32, percentile=99.0, num_rungs=3)
    labels = training_labels(data.labels, data.train_mask)
    return Loader(source, budget, features=x, labels=labels, overflow="grow", seed=s.seed)


def load_profile_dataset(
    name: str,
    *,
    nodes: int = 200_000,
    seed: int = 0,
    root: str | None = None,
    verify: bool = True,
) -> tuple[NodeDataset, np.ndarray]:
    """A dataset of the profiling study and the features its models see.

    Host-side: not jittable. ``"cora"``: the Planetoid files (never downloaded; see
    :func:`jgnn.datasets.load_planetoid` for where they are looked for), row-normalised
    features as in the papers. ``"synthetic"``: the contextual SBM of the
    ``jgnn.datasets.SYNTHETIC_PRESETS`` (10 classes, 128 features, degree 10) with ``nodes``
    nodes: the cached preset when one has that size, else generated and named
    ``synthetic-<nodes>``.

    Args:
        name: ``"cora"`` or ``"synthetic"``.
        nodes: Synthetic graph size.
        seed: Synthetic generator seed.
        root: Folder holding Cora's raw files.
        verify: Check Cora's files against their pinned digests.

    Returns:
        ``(dataset, float32 features [N, F])``.

    Raises:
        ValueError: If ``name`` is not one of the two.
        DatasetError: If Cora's files are missing or corrupt.
    """
    if name == "cora":
        data = datasets.load("cora", root=root, download=False, verify=verify)
        return data, np.asarray(datasets.normalize_features(data.graph.nodes), np.float32)
    if name != "synthetic":
        raise ValueError(f"`name` must be 'cora' or 'synthetic', got {name!r}.")
    presets = datasets.SYNTHETIC_PRESETS
    preset = next((k for k, v in presets.items() if v["num_nodes"] == nodes), None)
    if preset is not None:  # cached after its first load
        data = datasets.load(preset, seed=seed)
    else:
        params = dict(next(iter(presets.values())), num_nodes=nodes)
        data = datasets.scaling_csbm(**params, seed=seed)._replace(name=f"synthetic-{nodes}")
    return data, np.asarray(data.graph.nodes, np.float32)
