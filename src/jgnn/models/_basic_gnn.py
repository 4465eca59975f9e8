"""``BasicGNN``: a stack of message-passing layers with dropout, norm, residual and JK options.

The family mirrors PyG's ``torch_geometric.nn.models.basic_gnn`` (GCN, GraphSAGE, GIN, GAT) with
one departure, made for the Planetoid recipes of the papers (Kipf & Welling 2017, Veličković et
al. 2018): dropout is applied to the *input* of every layer, the features included, rather than
after each hidden activation only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import nnx

from jgnn.loader import Budget
from jgnn.models._layerwise import layerwise_predict
from jgnn.nn import MLP, BatchNorm, GATConv, GCNConv, GINConv, LayerNorm, SAGEConv, dropout_features
from jgnn.sparse import SparseTensor, as_graph

__all__ = ["BasicGNN", "GCN", "GAT", "GIN", "GraphSAGE"]

JK_MODES = (None, "last", "cat", "max")


class BasicGNN(nnx.Module):
    """Base class: ``num_layers`` convolutions, each preceded by dropout.

    Between layers (and after the last one when ``jk`` is set): optional norm, activation and,
    with ``residual``, a skip connection when the shapes agree. With ``jk`` ("last", "cat",
    "max"; Xu et al., ICML 2018, "Jumping Knowledge Networks") the per-layer outputs are combined
    and a final linear layer maps them to ``out_features``.

    Subclasses implement :meth:`make_conv` (build layer ``i``) and may override
    :meth:`apply_conv` (how a layer is called). :meth:`layer` runs one layer and
    :meth:`combine` the JK head, for mini-batch training with per-layer trimming;
    :meth:`inference` is exact layer-wise full-neighbourhood inference over every node.

    Shapes:
      - input: a GraphsTuple (or a ``SparseTensor`` ``adj_t``) with ``N`` nodes, node features
        ``[N, in_features]``.
      - output: ``[N, out_features]`` (``[N, hidden_features]`` when ``out_features`` is None).

    Args:
      in_features: input feature size.
      hidden_features: hidden size.
      out_features: output size (None: the last layer outputs ``hidden_features``).
      num_layers: number of message-passing layers.
      dropout: dropout rate on every layer's input (and before the JK linear layer).
      act: activation between layers.
      norm: None, "batch_norm" or "layer_norm" (node-wise), applied before the activation.
      jk: jumping-knowledge mode, or None.
      residual: add the layer input to its output where the shapes agree.
      rngs: initialisation and dropout generators (keyword-only).
      **conv_kwargs: passed to every convolution.
    """

    #: Whether the convolutions take per-edge weights (``edge_weight`` of :meth:`layer`).
    supports_edge_weight: bool = False

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int | None = None,
        *,
        num_layers: int = 2,
        dropout: float = 0.0,
        act: Callable[[jax.Array], jax.Array] = nnx.relu,
        norm: str | None = None,
        jk: str | None = None,
        residual: bool = False,
        rngs: nnx.Rngs,
        **conv_kwargs: Any,
    ):
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if jk not in JK_MODES:
            raise ValueError(f"jk must be one of {JK_MODES}, got {jk!r}")
        if norm not in (None, "batch_norm", "layer_norm"):
            raise ValueError(f"norm must be None, 'batch_norm' or 'layer_norm', got {norm!r}")
        self.num_layers = num_layers
        self.act = act
        self.jk = jk
        self.residual = residual
        last_out = hidden_features if (jk or out_features is None) else out_features
        sizes = [in_features] + [hidden_features] * (num_layers - 1) + [last_out]
        self.convs = nnx.List(
            [
                self.make_conv(a, b, i, num_layers, rngs=rngs, **conv_kwargs)
                for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
            ]
        )
        num_norms = num_layers if jk else num_layers - 1
        norm_cls = {"batch_norm": BatchNorm, "layer_norm": LayerNorm}.get(norm)
        self.norms = nnx.List(
            [norm_cls(hidden_features, rngs=rngs) for _ in range(num_norms)] if norm_cls else []
        )
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        jk_size = hidden_features * num_layers if jk == "cat" else hidden_features
        self.lin = (
            nnx.Linear(jk_size, out_features, rngs=rngs)
            if jk and out_features is not None
            else None
        )

    def make_conv(
        self, in_features: int, out_features: int, index: int, num_layers: int, **kwargs: Any
    ) -> nnx.Module:
        raise NotImplementedError

    def apply_conv(
        self,
        conv: nnx.Module,
        graph: Any,
        x: jax.Array,
        deterministic: bool,
        edge_weight: jax.Array | None = None,
    ) -> jax.Array:
        """Calls one convolution (subclasses whose convs take more arguments override this)."""
        del deterministic, edge_weight  # only models with supports_edge_weight receive weights
        return conv(graph, x)

    def layer(
        self,
        index: int,
        graph: Any,
        x: Any,
        *,
        deterministic: bool = False,
        edge_weight: jax.Array | None = None,
        node_mask: jax.Array | None = None,
    ) -> jax.Array:
        """Layer ``index`` alone: dropout, convolution, then norm, activation and residual.

        ``__call__`` is ``combine([x_1, ..., x_L])`` with ``x_{i+1} = layer(i, graph, x_i)``;
        running one layer at a time is what mini-batch training with per-layer trimming
        (:func:`jgnn.loader.trim_to_layer`) and exact layer-wise inference (:meth:`inference`)
        need. The output row of node ``i`` depends only on ``x_i`` and the edges into ``i``.

        Args:
          index: layer number, ``0 <= index < num_layers`` (a Python int).
          graph: the graph (GraphsTuple, edge index ``[2, E]`` or ``SparseTensor`` ``adj_t``)
            with ``N`` nodes.
          x: ``[N, F_index]`` layer input.
          deterministic: disable dropout, use the running statistics of batch norm.
          edge_weight: ``[E]`` per-edge weights, for models with ``supports_edge_weight``.
          node_mask: ``[N]`` bool, True on real nodes: batch norm ignores the others.

        Returns:
          ``[N, F_{index+1}]``.

        Raises:
          TypeError: ``edge_weight`` given to a model whose convolutions take none.
          ValueError: ``index`` out of range.
        """
        if not 0 <= index < self.num_layers:
            raise ValueError(f"index must be in [0, {self.num_layers}), got {index}")
        if edge_weight is not None and not self.supports_edge_weight:
            raise TypeError(
                f"{type(self).__name__} convolutions take no edge weights; pass edge_weight=None "
                "(GCN takes them)."
            )
        x_in = dropout_features(self.dropout, x, deterministic)
        h = self.apply_conv(self.convs[index], graph, x_in, deterministic, edge_weight)
        if index < self.num_layers - 1 or self.jk:
            if self.norms:
                norm = self.norms[index]
                h = (
                    norm(h, mask=node_mask, use_running_average=deterministic)
                    if isinstance(norm, BatchNorm)
                    else norm(h)
                )
            h = self.act(h)
            if self.residual and h.shape == tuple(x.shape):
                h = h + (x.to_dense(h.dtype) if isinstance(x, SparseTensor) else x)
        return h

    def combine(self, xs: Sequence[jax.Array], *, deterministic: bool = False) -> jax.Array:
        """The model output from every layer's output ``xs`` (the jumping-knowledge head).

        Without ``jk`` this is ``xs[-1]``. Outputs with more rows than the last one (layers
        run on a batch that :func:`jgnn.loader.trim_to_layer` cut further later) are cut to
        its rows, which are a prefix of theirs.

        Args:
          xs: ``num_layers`` arrays ``[N_i, F]`` with ``N_i >= N_last``.
          deterministic: disable dropout before the JK linear layer.

        Returns:
          ``[N_last, out]``.
        """
        if not self.jk:
            return xs[-1]
        rows = xs[-1].shape[0]
        xs = [h[:rows] for h in xs]
        if self.jk == "last":
            x = xs[-1]
        elif self.jk == "cat":
            x = jnp.concatenate(xs, axis=-1)
        else:
            x = jnp.max(jnp.stack(xs), axis=0)
        if self.lin is None:
            return x
        return self.lin(self.dropout(x, deterministic=deterministic))

    def __call__(
        self,
        graph: Any,
        x: Any,
        *,
        deterministic: bool = False,
        edge_weight: jax.Array | None = None,
        node_mask: jax.Array | None = None,
    ) -> jax.Array:
        """Runs every layer, then :meth:`combine` (see :meth:`layer` for the arguments)."""
        xs = []
        for i in range(self.num_layers):
            x = self.layer(
                i, graph, x, deterministic=deterministic, edge_weight=edge_weight,
                node_mask=node_mask,
            )  # fmt: skip
            xs.append(x)
        return self.combine(xs, deterministic=deterministic)

    def inference(
        self,
        x: Any,
        graph: Any,
        *,
        edge_weight: Any = None,
        batch_size: int = 1024,
        budget: Budget | None = None,
        num_workers: int = 0,
        device: Any = None,
    ) -> np.ndarray:
        """Exact output for every node, one layer and one batch of nodes at a time.

        Host loop (PyG's ``BasicGNN.inference``): for each layer, every batch of
        ``batch_size`` destination nodes is run with its *full* in-neighbourhood through a
        jitted :meth:`layer` (in eval mode) and the rows are written to a host array that is
        the next layer's input, so the result equals ``model(graph, x, deterministic=True)``
        with device memory bounded by one batch. See :func:`layerwise_predict`.

        Args:
          x: ``[N, F]`` host node features (NumPy or a memory map).
          graph: the full graph: an edge index ``[2, E]`` or anything
            ``jgnn.sampling.as_csc_graph`` takes (a shared ``CSCGraph`` for workers).
          edge_weight: ``[E]`` edge weights in ``graph``'s edge order (models with
            ``supports_edge_weight``), or None; a weighted ``CSCGraph`` carries its own.
          batch_size: destination nodes per batch.
          budget: padding budget for the batches (default: fitted to them).
          num_workers: worker processes building the neighbourhoods.
          device: ``jax.device_put`` target, or None.

        Returns:
          ``[N, out]`` NumPy array.

        Raises:
          TypeError: edge weights for a model whose convolutions take none.
          ValueError: shapes that disagree.
        """
        return layerwise_predict(
            self, x, graph, edge_weight=edge_weight, batch_size=batch_size, budget=budget,
            num_workers=num_workers, device=device,
        )  # fmt: skip


class GCN(BasicGNN):
    """Graph convolutional network (Kipf & Welling, ICLR 2017) of :class:`jgnn.nn.GCNConv`.

    ``normalize=False`` (a conv keyword) uses a graph normalised once with
    :func:`jgnn.nn.gcn_norm`, whose ``edges`` hold the weights, or ``edge_weight`` when given.
    Exact layer-wise :meth:`inference` needs ``normalize=False`` and the full graph's
    normalised weights (a batch holds only part of a source node's edges, so its degree
    cannot be recomputed per batch).
    """

    supports_edge_weight = True

    def make_conv(self, in_features, out_features, index, num_layers, **kwargs):
        return GCNConv(in_features, out_features, **kwargs)

    def apply_conv(self, conv, graph, x, deterministic, edge_weight=None):
        if not isinstance(graph, (jraph.GraphsTuple, SparseTensor)):
            graph = as_graph(graph, "GCN")  # GCNConv reads and sets weights on a GraphsTuple
        return conv(graph, x, edge_weight)

    def inference(self, x: Any, graph: Any, **kwargs: Any) -> np.ndarray:
        """:meth:`BasicGNN.inference`, for convolutions built with ``normalize=False``.

        Raises:
          NotImplementedError: a convolution normalises the graph itself.
        """
        if any(conv.normalize for conv in self.convs):
            raise NotImplementedError(
                "GCN.inference: convolutions built with normalize=True would re-normalise each "
                "batch with partial degrees. Build the GCN with normalize=False and pass the "
                "full graph's jgnn.nn.gcn_norm weights as edge_weight "
                "(jgnn.train.gcn_normalized_edges gives both the edges and the weights)."
            )
        return super().inference(x, graph, **kwargs)


class GAT(BasicGNN):
    """Graph attention network (Veličković et al., ICLR 2018) of :class:`jgnn.nn.GATConv`.

    Hidden layers have ``heads`` heads of ``hidden_features // heads`` features, concatenated;
    the last layer (when ``out_features`` is set and ``jk`` is not) has ``out_heads`` heads,
    averaged, as in the paper. ``dropout`` also drops attention coefficients unless
    ``attention_dropout`` is given. The paper uses ``act=nnx.elu``.
    """

    def __init__(
        self,
        *args: Any,
        heads: int = 8,
        out_heads: int = 1,
        attention_dropout: float | None = None,
        **kwargs: Any,
    ):
        self._heads, self._out_heads = heads, out_heads
        self._att_dropout = (
            kwargs.get("dropout", 0.0) if attention_dropout is None else (attention_dropout)
        )
        self._plain_last = kwargs.get("jk") is None and (
            len(args) > 2 and args[2] is not None or kwargs.get("out_features") is not None
        )
        super().__init__(*args, **kwargs)

    def make_conv(self, in_features, out_features, index, num_layers, **kwargs):
        if index == num_layers - 1 and self._plain_last:
            return GATConv(
                in_features,
                out_features,
                heads=self._out_heads,
                concat=False,
                dropout=self._att_dropout,
                **kwargs,
            )
        if out_features % self._heads:
            raise ValueError(f"hidden size {out_features} is not divisible by heads={self._heads}")
        return GATConv(
            in_features,
            out_features // self._heads,
            heads=self._heads,
            concat=True,
            dropout=self._att_dropout,
            **kwargs,
        )

    def apply_conv(self, conv, graph, x, deterministic, edge_weight=None):
        return conv(graph, x, deterministic=deterministic)


class GraphSAGE(BasicGNN):
    """GraphSAGE (Hamilton et al., NeurIPS 2017) of :class:`jgnn.nn.SAGEConv` (``aggr`` etc. as
    conv keywords)."""

    def make_conv(self, in_features, out_features, index, num_layers, **kwargs):
        return SAGEConv(in_features, out_features, **kwargs)


class GIN(BasicGNN):
    """Graph isomorphism network (Xu et al., ICLR 2019): :class:`jgnn.nn.GINConv` around a
    2-layer :class:`jgnn.nn.MLP` per layer (``train_eps`` etc. as conv keywords)."""

    def make_conv(self, in_features, out_features, index, num_layers, *, rngs, **kwargs):
        mlp = MLP([in_features, out_features, out_features], rngs=rngs)
        return GINConv(mlp, **kwargs)
