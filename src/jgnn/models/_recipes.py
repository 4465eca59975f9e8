"""Paper hyper-parameters for Planetoid node classification, shared by the CLI and benchmarks."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jgnn.models._appnp import APPNPNet
from jgnn.models._basic_gnn import GAT, GCN, GIN, GraphSAGE
from jgnn.models._gcn2 import GCNII
from jgnn.nn import gcn_norm
from jgnn.sparse import SparseTensor, to_adj_t

__all__ = ["Recipe", "RECIPES", "prepare_features", "prepare_graph"]

SPARSE_FEATURE_DENSITY = 0.1  # below this fraction of non-zeros, features go sparse


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a model is trained on Planetoid in its paper.

    Attributes:
      build: ``build(in_features, num_classes, hidden, dropout, rngs) -> nnx.Module``; the
        module is called as ``model(graph, x, deterministic=...)``.
      hidden: hidden size.
      lr: Adam learning rate.
      weight_decay: L2 coefficient, or a mapping from parameter-path prefix to coefficient.
      decay_paths: parameter-path prefixes that are decayed (None: all).
      dropout: dropout rate.
      epochs: full-batch training steps.
      normalized_graph: the model expects a graph pre-normalised with ``gcn_norm``.
      paper: citation.
      sparse_features: the model accepts a ``SparseTensor`` of node features, used by
        :func:`prepare_features` when the features are sparse.
      sparse_adjacency: :func:`prepare_graph` hands the model a ``SparseTensor`` ``adj_t``
        (fused sparse products in every layer) instead of a GraphsTuple.
    """

    build: Callable[..., nnx.Module]
    hidden: int
    lr: float
    weight_decay: float | dict[str, float]
    decay_paths: tuple[str, ...] | None
    dropout: float
    epochs: int
    normalized_graph: bool
    paper: str
    sparse_features: bool = False
    sparse_adjacency: bool = False


def _gcn(in_features, num_classes, hidden, dropout, rngs):
    return GCN(in_features, hidden, num_classes, dropout=dropout, normalize=False, rngs=rngs)


def _gat(in_features, num_classes, hidden, dropout, rngs):
    return GAT(in_features, hidden, num_classes, heads=8, dropout=dropout, act=nnx.elu, rngs=rngs)


def _gcn2(in_features, num_classes, hidden, dropout, rngs):
    return GCNII(
        in_features,
        hidden,
        num_classes,
        num_layers=64,
        alpha=0.1,
        theta=0.5,
        dropout=dropout,
        rngs=rngs,
    )


def _appnp(in_features, num_classes, hidden, dropout, rngs):
    return APPNPNet(in_features, hidden, num_classes, k=10, alpha=0.1, dropout=dropout, rngs=rngs)


def _sage(in_features, num_classes, hidden, dropout, rngs):
    return GraphSAGE(in_features, hidden, num_classes, dropout=dropout, aggr="mean", rngs=rngs)


def _gin(in_features, num_classes, hidden, dropout, rngs):
    return GIN(in_features, hidden, num_classes, dropout=dropout, rngs=rngs)


# GraphSAGE and GIN were not evaluated on Planetoid in their papers; their recipes use the
# common full-batch settings of PyG's examples (hidden 64, dropout 0.5, lr 0.01, wd 5e-4).
RECIPES: dict[str, Recipe] = {
    "gcn": Recipe(
        build=_gcn,
        hidden=16,
        lr=0.01,
        weight_decay=5e-4,
        decay_paths=("convs/0/",),
        dropout=0.5,
        epochs=200,
        normalized_graph=True,
        paper="Kipf & Welling, ICLR 2017",
        sparse_features=True,
    ),
    "gat": Recipe(
        build=_gat,
        hidden=64,
        lr=0.005,
        weight_decay=5e-4,
        decay_paths=None,
        dropout=0.6,
        epochs=200,
        normalized_graph=False,
        paper="Veličković et al., ICLR 2018",
        sparse_features=True,
    ),
    "gcn2": Recipe(
        build=_gcn2,
        hidden=64,
        lr=0.01,
        weight_decay={"convs/": 0.01, "lins/": 5e-4},
        decay_paths=None,
        dropout=0.6,
        epochs=1000,
        normalized_graph=True,
        paper="Chen et al., ICML 2020 (GCNII, 64 layers)",
        sparse_features=True,
        sparse_adjacency=True,
    ),
    "appnp": Recipe(
        build=_appnp,
        hidden=64,
        lr=0.01,
        weight_decay=5e-3,
        decay_paths=("mlp/linears/0/",),
        dropout=0.5,
        epochs=200,
        normalized_graph=False,
        paper="Klicpera et al., ICLR 2019 (K=10, alpha=0.1, L2 5e-3 on the first layer only)",
        sparse_features=True,
    ),
    "sage": Recipe(
        build=_sage,
        hidden=64,
        lr=0.01,
        weight_decay=5e-4,
        decay_paths=None,
        dropout=0.5,
        epochs=200,
        normalized_graph=False,
        paper="Hamilton et al., NeurIPS 2017 (mean aggregator)",
        sparse_features=True,
    ),
    "gin": Recipe(
        build=_gin,
        hidden=64,
        lr=0.01,
        weight_decay=5e-4,
        decay_paths=None,
        dropout=0.5,
        epochs=200,
        normalized_graph=False,
        paper="Xu et al., ICLR 2019",
    ),
}


def prepare_graph(graph: Any, num_nodes: int, recipe: Recipe) -> Any:
    """Moves a host graph to the device (features dropped), normalises it if the recipe asks,
    and turns it into a ``SparseTensor`` ``adj_t`` for recipes with ``sparse_adjacency``.

    Host-side: run once before training; the result is passed to every jitted step.
    """
    graph = jax.tree.map(lambda a: jnp.asarray(a, np.asarray(a).dtype), graph._replace(nodes=None))
    if recipe.normalized_graph:
        graph = gcn_norm(graph, num_nodes=num_nodes)
    return to_adj_t(graph, num_nodes) if recipe.sparse_adjacency else graph


def prepare_features(x: Any, recipe: Recipe) -> jax.Array | SparseTensor:
    """Node features for the device: a ``SparseTensor`` when sparse and the model allows it.

    Host-side. Planetoid's bag-of-words features are about 1% non-zero; multiplying them as a
    sparse matrix removes most of a GCN epoch's work.
    """
    x = np.asarray(x)
    if recipe.sparse_features and np.count_nonzero(x) < SPARSE_FEATURE_DENSITY * x.size:
        return SparseTensor.from_dense(x)
    return jnp.asarray(x, x.dtype)
