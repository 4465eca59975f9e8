"""Shared layer prologue: sparse node features are rejected, naming the layer, where unsupported."""

import jax.numpy as jnp
import pytest
from flax import nnx

from jgnn.nn import GATv2Conv, GraphConv
from jgnn.sparse import SparseTensor


@pytest.mark.parametrize("layer", [GATv2Conv, GraphConv])
def test_sparse_node_features_rejected_by_dense_only_layers(layer):
    conv = layer(3, 2, rngs=nnx.Rngs(0))
    x = SparseTensor.from_dense(jnp.eye(4, 3))
    with pytest.raises(TypeError, match=layer.__name__):
        conv(jnp.array([[0, 1], [1, 2]]), x)


def test_sparse_features_inside_a_bipartite_pair_are_rejected():
    from jgnn.nn import GATConv

    conv = GATConv((3, 3), 2, rngs=nnx.Rngs(0))
    x = SparseTensor.from_dense(jnp.eye(4, 3))
    with pytest.raises(TypeError, match="pair"):
        conv(jnp.array([[0, 1], [1, 2]]), (x, jnp.ones((4, 3))))
