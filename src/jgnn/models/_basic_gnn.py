"""``BasicGNN``: a stack of message-passing layers with dropout, norm, residual and JK options.

The family mirrors PyG's ``torch_geometric.nn.models.basic_gnn`` (GCN, GraphSAGE, GIN, GAT) with
one departure, made for the Planetoid recipes of the papers (Kipf & Welling 2017, Veličković et
al. 2018): dropout is applied to the *input* of every layer, the features included, rather than
after each hidden activation only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.nn import MLP, BatchNorm, GATConv, GCNConv, GINConv, LayerNorm, SAGEConv, dropout_features
from jgnn.sparse import SparseTensor

__all__ = ["BasicGNN", "GCN", "GAT", "GIN", "GraphSAGE"]

JK_MODES = (None, "last", "cat", "max")


class BasicGNN(nnx.Module):
    """Base class: ``num_layers`` convolutions, each preceded by dropout.

    Between layers (and after the last one when ``jk`` is set): optional norm, activation and,
    with ``residual``, a skip connection when the shapes agree. With ``jk`` ("last", "cat",
    "max"; Xu et al., ICML 2018, "Jumping Knowledge Networks") the per-layer outputs are combined
    and a final linear layer maps them to ``out_features``.

    Subclasses implement :meth:`make_conv` (build layer ``i``) and may override
    :meth:`apply_conv` (how a layer is called).

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

    def apply_conv(self, conv: nnx.Module, graph: Any, x: jax.Array, deterministic: bool):
        return conv(graph, x)

    def __call__(self, graph: Any, x: Any, *, deterministic: bool = False) -> jax.Array:
        xs = []
        for i, conv in enumerate(self.convs):
            x_in = dropout_features(self.dropout, x, deterministic)
            h = self.apply_conv(conv, graph, x_in, deterministic)
            if i < self.num_layers - 1 or self.jk:
                if self.norms:
                    norm = self.norms[i]
                    h = (
                        norm(h, use_running_average=deterministic)
                        if isinstance(norm, BatchNorm)
                        else norm(h)
                    )
                h = self.act(h)
                if self.residual and h.shape == tuple(x.shape):
                    h = h + (x.to_dense(h.dtype) if isinstance(x, SparseTensor) else x)
            x = h
            xs.append(x)
        if not self.jk:
            return x
        if self.jk == "last":
            x = xs[-1]
        elif self.jk == "cat":
            x = jnp.concatenate(xs, axis=-1)
        else:
            x = jnp.max(jnp.stack(xs), axis=0)
        if self.lin is None:
            return x
        return self.lin(self.dropout(x, deterministic=deterministic))


class GCN(BasicGNN):
    """Graph convolutional network (Kipf & Welling, ICLR 2017) of :class:`jgnn.nn.GCNConv`.

    ``normalize=False`` (a conv keyword) uses a graph normalised once with
    :func:`jgnn.nn.gcn_norm`, whose ``edges`` hold the weights.
    """

    def make_conv(self, in_features, out_features, index, num_layers, **kwargs):
        return GCNConv(in_features, out_features, **kwargs)


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

    def apply_conv(self, conv, graph, x, deterministic):
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
