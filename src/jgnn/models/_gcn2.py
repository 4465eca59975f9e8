"""``GCNII``: the deep GCN of Chen et al., "Simple and Deep Graph Convolutional Networks" (ICML
2020), in the layout of PyG's ``examples/gcn2_cora.py``.

``dropout -> Linear -> relu`` gives ``x_0``; then ``num_layers`` times ``dropout -> GCN2Conv(x,
x_0) -> relu`` with ``beta_l = log(theta / l + 1)``; then ``dropout -> Linear``. Logits are
returned (no ``log_softmax``): the training loop applies the softmax cross-entropy.
"""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from jgnn.nn import GCN2Conv, dropout_features, linear_on_features

__all__ = ["GCNII"]


class GCNII(nnx.Module):
    """GCNII (Chen et al., ICML 2020): a linear encoder, ``num_layers`` GCN2Conv, a linear head.

    The paper's Cora setting is ``num_layers=64``, ``hidden_features=64``, ``alpha=0.1``,
    ``theta=0.5`` (its ``lambda``), ``dropout=0.6``, trained with Adam (lr 0.01) and L2 decay
    0.01 on the convolutions and 5e-4 on the two linear layers: their parameters live under
    ``convs/`` and ``lins/`` so the two groups can be decayed separately.

    ``normalize`` is passed to every :class:`jgnn.nn.GCN2Conv`; the default False expects a
    graph normalised once with :func:`jgnn.nn.gcn_norm` (or a normalised SparseTensor
    ``adj_t``), as in the paper's code and PyG's example.

    Shapes:
      - input: a GraphsTuple (or a SparseTensor ``adj_t``) with ``N`` nodes, node features
        ``[N, in_features]`` (dense or a ``SparseTensor``).
      - output: logits ``[N, out_features]``.

    Args:
      in_features: input feature size.
      hidden_features: hidden size (every GCN2Conv is ``hidden -> hidden``).
      out_features: number of classes.
      num_layers: number of GCN2Conv layers.
      alpha: initial-residual strength.
      theta: identity-mapping hyper-parameter (``beta_l = log(theta / l + 1)``).
      shared_weights: False gives GCNII*.
      dropout: dropout rate before every linear layer and convolution.
      normalize: normalise the graph inside every convolution.
      rngs: initialisation and dropout generators (keyword-only).
      **conv_kwargs: passed to every GCN2Conv (e.g. ``dtype``).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import jgnn
      >>> g = jgnn.nn.gcn_norm(jgnn.from_edge_index(jnp.array([[0, 1], [1, 0]]), 2), num_nodes=2)
      >>> model = GCNII(5, 8, 3, num_layers=4, rngs=nnx.Rngs(0))
      >>> model(g, jnp.ones((2, 5)), deterministic=True).shape
      (2, 3)
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        *,
        num_layers: int = 64,
        alpha: float = 0.1,
        theta: float = 0.5,
        shared_weights: bool = True,
        dropout: float = 0.6,
        normalize: bool = False,
        rngs: nnx.Rngs,
        **conv_kwargs: Any,
    ):
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.lins = nnx.List(
            [
                nnx.Linear(in_features, hidden_features, rngs=rngs),
                nnx.Linear(hidden_features, out_features, rngs=rngs),
            ]
        )
        self.convs = nnx.List(
            [
                GCN2Conv(
                    hidden_features,
                    alpha,
                    theta,
                    layer + 1,
                    shared_weights=shared_weights,
                    normalize=normalize,
                    rngs=rngs,
                    **conv_kwargs,
                )
                for layer in range(num_layers)
            ]
        )
        self.dropout = nnx.Dropout(dropout, rngs=rngs)

    def __call__(self, graph: Any, x: jax.Array, *, deterministic: bool = False) -> jax.Array:
        x = dropout_features(self.dropout, x, deterministic)
        x = x_0 = nnx.relu(linear_on_features(self.lins[0], x))
        for conv in self.convs:
            x = self.dropout(x, deterministic=deterministic)
            x = nnx.relu(conv(graph, x, x_0))
        x = self.dropout(x, deterministic=deterministic)
        return self.lins[1](x)
