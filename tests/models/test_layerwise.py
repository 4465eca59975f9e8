"""BasicGNN one layer at a time: layer/combine recompose the model; inference is exact."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jgnn.graph import CompileCounter
from jgnn.models import GAT, GCN, GIN, GraphSAGE
from jgnn.nn import gcn_norm

N, E = 400, 2400


@pytest.fixture(scope="module")
def graph():
    rng = np.random.default_rng(0)
    src = rng.integers(0, N, E)
    dst = (src + rng.integers(1, N, E)) % N
    edges = np.stack([src, dst])
    edges = edges[:, dst % 13 != 0]  # some nodes without in-edges
    return edges, rng.normal(size=(N, 12)).astype(np.float32)


CASES = {
    "sage": lambda: GraphSAGE(12, 16, 5, num_layers=3, rngs=nnx.Rngs(0)),
    "sage-max-jk-cat": lambda: GraphSAGE(12, 16, 5, jk="cat", aggr="max", rngs=nnx.Rngs(1)),
    "gin-residual": lambda: GIN(12, 12, 12, num_layers=3, residual=True, rngs=nnx.Rngs(2)),
    "gat-jk-max": lambda: GAT(12, 16, 5, heads=2, jk="max", rngs=nnx.Rngs(3)),
    "sage-batch-norm": lambda: GraphSAGE(12, 16, 5, norm="batch_norm", rngs=nnx.Rngs(4)),
    "sage-layer-norm": lambda: GraphSAGE(12, 16, 5, norm="layer_norm", rngs=nnx.Rngs(5)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_inference_equals_the_full_graph_forward(graph, name):
    edges, x = graph
    model = CASES[name]()
    full = np.asarray(model(edges, x, deterministic=True))
    xs, h = [], jnp.asarray(x)
    for i in range(model.num_layers):
        h = model.layer(i, edges, h, deterministic=True)
        xs.append(h)
    np.testing.assert_allclose(np.asarray(model.combine(xs, deterministic=True)), full, atol=1e-6)
    out = model.inference(x, edges, batch_size=96)
    assert out.shape == full.shape
    np.testing.assert_allclose(out, full, rtol=1e-5, atol=1e-5)


def test_gcn_inference_with_the_full_graph_weights(graph):
    edges, x = graph
    model = GCN(12, 16, 5, normalize=False, rngs=nnx.Rngs(6))
    normed = gcn_norm(jnp.asarray(edges), num_nodes=N)
    full = np.asarray(model(normed, x, deterministic=True))
    looped = np.stack([np.asarray(normed.senders), np.asarray(normed.receivers)])
    out = model.inference(x, looped, edge_weight=np.asarray(normed.edges), batch_size=128)
    np.testing.assert_allclose(out, full, rtol=1e-5, atol=1e-5)
    # The weights are used: dropping them changes the result.
    plain = GCN(12, 16, 5, normalize=False, rngs=nnx.Rngs(6)).inference(x, looped, batch_size=128)
    assert not np.allclose(plain, full, atol=1e-3)


def test_new_parameters_reuse_the_compiled_layers(graph):
    edges, x = graph
    model = GraphSAGE(12, 16, 5, rngs=nnx.Rngs(7))
    model.inference(x, edges, batch_size=128)
    model.convs[0].lin_l.kernel[...] = model.convs[0].lin_l.kernel[...] * 2.0
    with CompileCounter(match="_exact_layer") as cc:
        out = model.inference(x, edges, batch_size=128)
    assert cc.count == 0
    np.testing.assert_allclose(out, np.asarray(model(edges, x, deterministic=True)), atol=1e-5)


def test_bad_uses_are_named(graph):
    edges, x = graph
    with pytest.raises(NotImplementedError, match="normalize=False"):
        GCN(12, 16, 5, rngs=nnx.Rngs(0)).inference(x, edges)
    sage = GraphSAGE(12, 16, 5, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match="GraphSAGE.*no edge weights"):
        sage.layer(0, edges, jnp.asarray(x), edge_weight=jnp.ones(edges.shape[1]))
    with pytest.raises(TypeError, match="edge weights"):
        sage.inference(x, edges, edge_weight=np.ones(edges.shape[1]))
    with pytest.raises(ValueError, match="index"):
        sage.layer(2, edges, jnp.asarray(x))
    with pytest.raises(ValueError, match="x"):
        sage.inference(x[:, 0], edges)
