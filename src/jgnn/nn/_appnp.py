"""Approximate personalised propagation of Klicpera, Bojchevski & Günnemann, "Predict then
Propagate: Graph Neural Networks meet Personalized PageRank" (ICLR 2019).

``H^0 = X``, ``H^{k+1} = (1 - alpha) S H^k + alpha X`` for ``K`` steps, with
``S = D^-1/2 (A + I) D^-1/2``. The math is :func:`appnp`; :class:`APPNP` has no parameters
and only owns the optional edge dropout.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.nn._dropout import Dropout
from jgnn.nn._gcn_operator import gcn_hop, gcn_operator
from jgnn.sparse import Graph

__all__ = ["APPNP", "appnp"]


def _check(k: int, alpha: float, fn: str) -> None:
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"{fn}: k must be a non-negative int, got {k!r}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"{fn}: alpha (teleport probability) must be in [0, 1], got {alpha!r}")


def appnp(
    graph: Graph,
    x: jax.Array,
    *,
    k: int,
    alpha: float,
    edge_weight: jax.Array | None = None,
    normalize: bool = True,
    add_self_loops: bool = True,
    dropout: Dropout | None = None,
) -> jax.Array:
    """``K`` steps of personalised-PageRank propagation (see :class:`APPNP`).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a square SparseTensor ``adj_t``
        (fused sparse products). Assumed to hold no self loops.
      x: node features (predictions) ``[N, *F]``.
      k: number of steps ``K >= 0``.
      alpha: teleport probability in ``[0, 1]``.
      edge_weight: optional ``[E]`` edge weights (a SparseTensor's values by default).
      normalize: apply the symmetric GCN normalisation; False uses the weights as given.
      add_self_loops: add ``I`` before normalising.
      dropout: optional function applied to the operator's weights at every step (edge
        dropout; self-loop weights included).

    Returns:
      ``[N, *F]``.
    """
    _check(k, alpha, "appnp")
    if k == 0:
        return x
    op = gcn_operator(
        graph,
        edge_weight,
        num_nodes=x.shape[0],
        normalize=normalize,
        add_self_loops=add_self_loops,
    )
    h = x
    for _ in range(k):
        x = (1.0 - alpha) * gcn_hop(op, x, dropout) + alpha * h
    return x


class APPNP(nnx.Module):
    """APPNP propagation (Klicpera et al., ICLR 2019), in the layout of PyG's ``APPNP``.

    ``H^{k+1} = (1 - alpha) D^-1/2 (A + I) D^-1/2 H^k + alpha H^0``, ``H^0 = X``, for ``K``
    steps: personalised PageRank applied to the predictions of any network. The layer has no
    parameters. With ``dropout > 0`` the normalised edge weights (self loops included) are
    dropped at every step in training, as in PyG. Departures: PyG's ``cached`` normalisation
    is ``normalize=False`` on a graph normalised once outside (``jgnn.nn.gcn_norm`` /
    ``jgnn.sparse.gcn_norm``). On a ``SparseTensor`` ``adj_t`` each step is one fused sparse
    product and the self loops are a dense term. Both paths assume no self loops in the graph.

    Shapes:
      - input: a GraphsTuple, edge index ``[2, E]`` or square ``SparseTensor`` ``adj_t``; node
        features ``[N, F]``; optional edge weights ``[E]`` (COO order for a SparseTensor).
      - output: ``[N, F]``.

    Args:
      k: number of propagation steps ``K``.
      alpha: teleport probability.
      dropout: edge-dropout rate.
      normalize: normalise on every call (False: the graph carries normalised weights).
      add_self_loops: add ``I`` before normalising.
      rngs: random number generators (stream ``dropout``), needed when ``dropout > 0``
        unless passed at call time (keyword-only).

    Examples:
      >>> import jax.numpy as jnp
      >>> prop = APPNP(k=10, alpha=0.1)
      >>> prop(jnp.array([[0, 1], [1, 2]]), jnp.ones((3, 4))).shape
      (3, 4)
    """

    def __init__(
        self,
        k: int,
        alpha: float,
        *,
        dropout: float = 0.0,
        normalize: bool = True,
        add_self_loops: bool = True,
        rngs: nnx.Rngs | None = None,
    ):
        _check(k, alpha, "APPNP")
        self.k = k
        self.alpha = float(alpha)
        self.normalize = normalize
        self.add_self_loops = add_self_loops
        self.dropout = nnx.Dropout(dropout, rngs=rngs) if dropout > 0 else None

    def __call__(
        self,
        graph: Graph,
        x: jax.Array,
        edge_weight: jax.Array | None = None,
        *,
        deterministic: bool | None = None,
    ) -> jax.Array:
        drop = None
        if self.dropout is not None:
            drop = lambda w: self.dropout(w, deterministic=deterministic)
        return appnp(
            graph,
            jnp.asarray(x),
            k=self.k,
            alpha=self.alpha,
            edge_weight=edge_weight,
            normalize=self.normalize,
            add_self_loops=self.add_self_loops,
            dropout=drop,
        )
