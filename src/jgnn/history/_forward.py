"""The GAS forward pass of one batch, and :class:`GASModel`, a model with its program.

Layer ``l`` runs on every row of the batch (batch nodes, then halo, then padding); its batch
rows are the ones that count. They are kept for the next layer and returned for history ``l``;
the next layer's halo rows come from ``halos[l]`` (pulled from history ``l``):

    h_0 = encode(x)                                  # [B + H, F]: features are known
    out_l = layer_l(graph, h_l)[:B]                  # batch rows only
    h_{l+1} = concat(out_l, halos[l])                # halo rows from history l
    logits = decode(out_0 .. out_{L-1})              # [B, C]

The batch graph has every in-edge of the batch nodes and none into the halo, so the batch
rows are exact whenever the halo rows are; see :mod:`jgnn.history._program` for the cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import nnx

from jgnn.history._program import GASProgram, gas_program
from jgnn.loader import PaddedBatch

__all__ = ["GASModel", "batch_graph", "gas_forward"]


def batch_graph(batch: PaddedBatch, weighted: bool) -> jraph.GraphsTuple:
    """The batch as the graph argument of the layers (jittable).

    Args:
      batch: A padded GAS batch.
      weighted: Put ``batch.edge_weight`` (the full-graph GCN weights) in ``edges``.

    Returns:
      A ``GraphsTuple`` over all ``N_pad`` slots; ``nodes`` is None.
    """
    n, e = batch.num_nodes, batch.num_edges
    return jraph.GraphsTuple(
        nodes=None,
        edges=batch.edge_weight if weighted else None,
        senders=batch.senders,
        receivers=batch.receivers,
        n_node=jnp.array([n], jnp.int32),
        n_edge=jnp.array([e], jnp.int32),
        globals=None,
    )


def gas_forward(
    program: GASProgram,
    model: Any,
    batch: PaddedBatch,
    halos: Sequence[jax.Array],
    *,
    deterministic: bool,
) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """Runs a model on one GAS batch (jittable; see the module docstring).

    Args:
      program: The model's :class:`GASProgram`.
      model: The model (inside ``jit``, the merged copy).
      batch: The padded batch; ``batch.x`` holds the input features of every slot.
      halos: ``L - 1`` arrays ``[H_pad, F_l]``: history ``l``'s rows of the halo slots.
      deterministic: Evaluation mode (no dropout, running norm statistics).

    Returns:
      ``(logits [B_pad, C], pushed)``; ``pushed`` holds ``L - 1`` arrays ``[B_pad, F_l]``, the
      batch rows of every layer but the last, under ``stop_gradient``: what histories store.

    Raises:
      ValueError: If ``halos`` does not hold ``L - 1`` arrays of the halo block's size.
    """
    num_b, num_h = batch.node_blocks[0], batch.node_blocks[1]
    if len(halos) != program.num_layers - 1:
        raise ValueError(
            f"gas_forward: the model has {program.num_layers} layers, so it needs "
            f"{program.num_layers - 1} halo arrays (one per history), got {len(halos)}."
        )
    for i, halo in enumerate(halos):
        if halo.ndim != 2 or halo.shape[0] != num_h:
            raise ValueError(
                f"gas_forward: halos[{i}] must be [{num_h}, F] (the halo block), got "
                f"{tuple(halo.shape)}."
            )
    graph = batch_graph(batch, program.normalize)
    mask = batch.seed_mask
    h, ctx = program.encode(model, batch.x, deterministic)
    outs = []
    for index in range(program.num_layers):
        out = program.layer(model, index, graph, h, ctx, deterministic, mask)[:num_b]
        outs.append(out)
        if index < program.num_layers - 1:
            halo = jax.lax.stop_gradient(halos[index]).astype(out.dtype)
            h = jnp.concatenate([out, halo], axis=0)
    logits = program.decode(model, outs if program.all_outputs else outs[-1:], deterministic)
    return logits, tuple(jax.lax.stop_gradient(o) for o in outs[:-1])


class GASModel:
    """A jgnn model ready for GNNAutoScale: the model, its program and its history sizes.

    Args:
      model: A model :func:`gas_program` knows (or any model with ``program``).
      in_features: Input feature size (fixes the history sizes).
      program: The program; default ``gas_program(model)``.

    Attributes:
      model: The model.
      program: Its :class:`GASProgram`.
      history_sizes: Feature size of every history (the outputs of layers ``0 .. L - 2``).
      context_size: Feature size of the context (None: the model has none).
      num_layers: ``L``.
    """

    def __init__(self, model: Any, in_features: int, *, program: GASProgram | None = None):
        self.model = model
        self.program = program if program is not None else gas_program(model)
        self.num_layers = self.program.num_layers
        self.history_sizes, self.context_size = _probe_sizes(self.program, model, in_features)

    def __call__(
        self, batch: PaddedBatch, halos: Sequence[jax.Array], *, deterministic: bool = True
    ) -> tuple[jax.Array, tuple[jax.Array, ...]]:
        """:func:`gas_forward` with this model (eager or under ``nnx.jit``)."""
        return gas_forward(self.program, self.model, batch, halos, deterministic=deterministic)

    def __repr__(self) -> str:
        return (
            f"GASModel({type(self.model).__name__}, layers={self.num_layers}, "
            f"history_sizes={self.history_sizes}, context_size={self.context_size})"
        )


def _probe_sizes(
    program: GASProgram, model: Any, in_features: int
) -> tuple[tuple[int, ...], int | None]:
    """Output sizes of layers ``0 .. L - 2`` and of the context, by abstract evaluation."""
    graphdef, state = nnx.split(model)
    x = jax.ShapeDtypeStruct((2, int(in_features)), jnp.float32)
    graph = jraph.GraphsTuple(
        nodes=None,
        edges=jnp.ones((2,), jnp.float32) if program.normalize else None,
        senders=jnp.array([0, 1], jnp.int32),
        receivers=jnp.array([1, 0], jnp.int32),
        n_node=jnp.array([2], jnp.int32),
        n_edge=jnp.array([2], jnp.int32),
        globals=None,
    )

    def run(state, x):
        m = nnx.merge(graphdef, state)
        h, ctx = program.encode(m, x, True)
        shapes = []
        for index in range(program.num_layers - 1):
            h = program.layer(m, index, graph, h, ctx, True, jnp.ones((2,), bool))
            shapes.append(h)
        return shapes, ctx

    shapes, ctx = jax.eval_shape(run, state, x)
    for i, s in enumerate(shapes):
        if len(s.shape) != 2:
            raise ValueError(f"GAS: layer {i} outputs shape {s.shape}; histories need [N, F].")
    sizes = tuple(int(s.shape[1]) for s in shapes)
    return sizes, None if ctx is None else int(np.prod(ctx.shape[1:]))
