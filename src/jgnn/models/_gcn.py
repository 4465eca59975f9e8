"""Multi-layer GCN for node classification (Kipf & Welling, 2017)."""

from __future__ import annotations

import jax
import jraph
from flax import nnx

from jgnn.nn import GCNConv

__all__ = ["GCN"]


class GCN(nnx.Module):
    """A stack of :class:`jgnn.nn.GCNConv` layers with ReLU and dropout, as in the paper.

    Dropout is applied to the input of every layer (features included), the ReLU between layers;
    the last layer returns logits.

    Shapes:
      - input: graph with ``N`` nodes, node features ``[N, in_features]``.
      - output: logits ``[N, out_features]``.

    Args:
      in_features: input feature size.
      hidden_features: hidden size of every intermediate layer.
      out_features: number of classes.
      num_layers: number of GCN layers (>= 1).
      dropout: dropout rate on each layer's input.
      normalize: passed to every layer; set False when the graph was normalised once with
        :func:`jgnn.nn.gcn_norm` (its ``edges`` then hold the weights).
      rngs: initialisation and dropout generators (keyword-only).
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        *,
        num_layers: int = 2,
        dropout: float = 0.5,
        normalize: bool = True,
        rngs: nnx.Rngs,
    ):
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        sizes = [in_features] + [hidden_features] * (num_layers - 1) + [out_features]
        self.layers = nnx.List(
            [
                GCNConv(a, b, normalize=normalize, rngs=rngs)
                for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            ]
        )
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(
        self, graph: jraph.GraphsTuple, x: jax.Array, *, deterministic: bool = False
    ) -> jax.Array:
        for i, layer in enumerate(self.layers):
            x = self.dropout(x, deterministic=deterministic)
            x = layer(graph, x)
            if i < len(self.layers) - 1:
                x = nnx.relu(x)
        return x
