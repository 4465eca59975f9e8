"""APPNP network: predict with an MLP, then propagate (Klicpera et al., ICLR 2019)."""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from jgnn.nn import APPNP, MLP, dropout_features

__all__ = ["APPNPNet"]


class APPNPNet(nnx.Module):
    """ "Predict then propagate": a 2-layer MLP followed by ``K`` steps of personalised PageRank.

    Shapes:
      - input: a GraphsTuple (or ``SparseTensor`` ``adj_t``) with ``N`` nodes, features
        ``[N, in_features]`` (dense or a ``SparseTensor``, see :class:`jgnn.nn.MLP`).
      - output: logits ``[N, out_features]``.

    Args:
      in_features: input size.
      hidden_features: MLP hidden size.
      out_features: number of classes.
      k: propagation steps.
      alpha: teleport probability.
      dropout: dropout on the MLP's input and hidden layer.
      rngs: initialisation and dropout generators (keyword-only).
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        *,
        k: int = 10,
        alpha: float = 0.1,
        dropout: float = 0.5,
        rngs: nnx.Rngs,
    ):
        self.mlp = MLP([in_features, hidden_features, out_features], dropout=dropout, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs)
        self.propagation = APPNP(k, alpha)

    def __call__(self, graph: Any, x: jax.Array, *, deterministic: bool = False) -> jax.Array:
        h = self.mlp(dropout_features(self.dropout, x, deterministic), deterministic=deterministic)
        return self.propagation(graph, h)
