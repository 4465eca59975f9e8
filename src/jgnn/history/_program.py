"""How a jgnn model runs layer by layer in GNNAutoScale mode: one program per model family.

GAS needs a model cut at every message-passing layer: the output of layer ``l`` (after its
activation) is what history ``l`` stores, and the input of layer ``l + 1`` is that output on
the batch nodes with the history's rows on the halo. A :class:`GASProgram` states the cut:

* ``encode(model, x)``: the node-wise part before the first message passing, on every row
  (batch and halo: their input features are known), and an optional per-node *context* that
  later layers read (GCNII's initial representation ``x_0``, APPNP's predictions ``h``);
* ``layer(model, l, graph, h, ctx)``: message-passing layer ``l`` with what follows it up to
  the next layer's input (normalisation, activation, residual);
* ``decode(model, outs)``: the node-wise head on the batch rows.

Each program mirrors its model's ``__call__`` step for step, so GAS with exact histories
equals the full-batch model; ``tests/history`` checks that against the models themselves.
:func:`gas_program` picks the program of a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
from flax import nnx

from jgnn.models import GCNII, APPNPNet, BasicGNN
from jgnn.nn import GCNConv, appnp, dropout_features, linear_on_features

__all__ = ["APPNPProgram", "BasicGNNProgram", "GASProgram", "GCNIIProgram", "gas_program"]


class GASProgram:
    """Base class: a model family cut into encode / layers / decode (see the module docstring).

    Attributes:
      num_layers: Message-passing layers ``L``; GAS keeps ``L - 1`` histories.
      normalize: The layers read full-graph GCN weights (``GASData(normalize=True)``).
      all_outputs: ``decode`` reads every layer's batch output (jumping knowledge), not only
        the last one.
    """

    num_layers: int
    normalize: bool = False
    all_outputs: bool = False

    def encode(self, model: Any, x: jax.Array, deterministic: bool) -> tuple[jax.Array, Any]:
        """``(h, ctx)``: the first layer's input and the context (None) on every row."""
        raise NotImplementedError

    def layer(
        self,
        model: Any,
        index: int,
        graph: Any,
        h: jax.Array,
        ctx: Any,
        deterministic: bool,
        mask: jax.Array,
    ) -> jax.Array:
        """Layer ``index`` on every row of ``h`` (``mask``: the real batch rows, for norms)."""
        raise NotImplementedError

    def decode(self, model: Any, outs: Sequence[jax.Array], deterministic: bool) -> jax.Array:
        """Logits of the batch rows from the layers' batch outputs (``outs[-1]`` the last)."""
        return outs[-1]


class BasicGNNProgram(GASProgram):
    """:class:`jgnn.models.BasicGNN` (GCN, GAT, GIN, GraphSAGE and subclasses, e.g. PNA).

    The model's own ``layer`` (dropout, convolution, norm, activation, residual) and
    ``combine`` (the jumping-knowledge head). Batch norm takes its training statistics over
    the real batch rows only (the halo rows of a layer's output are not computed exactly).

    Raises:
      ValueError: If a ``GCNConv`` normalises its input itself (``normalize=True``): GAS
        feeds it the full-graph normalisation; build the model with ``normalize=False``.
    """

    def __init__(self, model: BasicGNN) -> None:
        self.num_layers = model.num_layers
        gcn = [c for c in model.convs if isinstance(c, GCNConv)]
        if any(c.normalize for c in gcn):
            raise ValueError(
                "GAS computes the GCN normalisation once on the full graph and feeds it to "
                "every batch; build the model with normalize=False (as the 'gcn' recipe does)."
            )
        self.normalize = bool(gcn)
        self.all_outputs = model.jk is not None

    def encode(self, model, x, deterministic):
        return x, None

    def layer(self, model, index, graph, h, ctx, deterministic, mask):
        # The batch graph carries the full-graph GCN weights in ``edges``.
        return model.layer(index, graph, h, deterministic=deterministic, node_mask=mask)

    def decode(self, model, outs, deterministic):
        return model.combine(list(outs), deterministic=deterministic)


class GCNIIProgram(GASProgram):
    """:class:`jgnn.models.GCNII`: the context is the initial representation ``x_0``.

    Raises:
      ValueError: If the convolutions normalise their input (``normalize=True``).
    """

    normalize = True

    def __init__(self, model: GCNII) -> None:
        if any(c.normalize for c in model.convs):
            raise ValueError(
                "GAS computes the GCN normalisation once on the full graph; build GCNII with "
                "normalize=False (its default)."
            )
        self.num_layers = len(model.convs)

    def encode(self, model, x, deterministic):
        x = dropout_features(model.dropout, x, deterministic)
        x_0 = nnx.relu(linear_on_features(model.lins[0], x))
        return x_0, x_0

    def layer(self, model, index, graph, h, ctx, deterministic, mask):
        x = model.dropout(h, deterministic=deterministic)
        return nnx.relu(model.convs[index](graph, x, ctx))

    def decode(self, model, outs, deterministic):
        return model.lins[1](model.dropout(outs[-1], deterministic=deterministic))


class APPNPProgram(GASProgram):
    """:class:`jgnn.models.APPNPNet`: each of the ``K`` propagation steps is one GAS layer.

    The context is the MLP's prediction ``h``; step ``l`` computes ``(1 - alpha) S x + alpha h``
    with ``S`` the full-graph GCN operator, as ``jgnn.nn.appnp`` does.

    Raises:
      NotImplementedError: For ``K = 0`` (no propagation: train the MLP alone) or a
        propagation without normalisation or self loops.
    """

    normalize = True

    def __init__(self, model: APPNPNet) -> None:
        prop = model.propagation
        if prop.k < 1 or not prop.normalize or not prop.add_self_loops:
            raise NotImplementedError(
                "GAS runs APPNP with K >= 1 steps of the normalised operator with self loops, "
                f"got k={prop.k}, normalize={prop.normalize}, "
                f"add_self_loops={prop.add_self_loops}; train such a model full-batch."
            )
        self.num_layers = prop.k

    def encode(self, model, x, deterministic):
        x = dropout_features(model.dropout, x, deterministic)
        h = model.mlp(x, deterministic=deterministic)
        return h, h

    def layer(self, model, index, graph, h, ctx, deterministic, mask):
        prop = model.propagation
        drop = None
        if prop.dropout is not None:
            drop = lambda w: prop.dropout(w, deterministic=deterministic)  # noqa: E731
        sh = appnp(graph, h, k=1, alpha=0.0, normalize=False, dropout=drop)
        return (1.0 - prop.alpha) * sh + prop.alpha * ctx


def gas_program(model: Any) -> GASProgram:
    """The :class:`GASProgram` of a jgnn model.

    Args:
      model: A :class:`jgnn.models.BasicGNN` (GCN, GAT, GIN, GraphSAGE, or a subclass such as
        a PNA stack), :class:`jgnn.models.GCNII` or :class:`jgnn.models.APPNPNet`.

    Returns:
      The program.

    Raises:
      TypeError: For any other model (write a :class:`GASProgram` subclass for it).
      ValueError, NotImplementedError: For settings GAS cannot run exactly (see the programs).
    """
    if isinstance(model, BasicGNN):
        return BasicGNNProgram(model)
    if isinstance(model, GCNII):
        return GCNIIProgram(model)
    if isinstance(model, APPNPNet):
        return APPNPProgram(model)
    raise TypeError(
        "gas_program: expected a jgnn.models BasicGNN (GCN, GAT, GIN, GraphSAGE, ...), GCNII "
        f"or APPNPNet, got {type(model).__name__}; subclass jgnn.history.GASProgram for it."
    )
