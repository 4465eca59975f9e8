"""APPNP: dense oracle, both graph forms (jitted too), edge dropout, padding, permutation,
gradients with respect to the input (the layer has no parameters), PyG parity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from nn.layer_checks import (
    assert_close,
    check_jit_matches_eager,
    check_padding_invariance,
    check_permutation_equivariance,
    check_sparse_path,
    random_graph,
)

from jgnn.nn import APPNP, appnp, gcn_norm
from jgnn.sparse import to_adj_t


def dense_appnp(graph, x, w, k, alpha):
    n = x.shape[0]
    a = np.zeros((n, n))
    ew = np.ones(len(graph.senders)) if w is None else np.asarray(w, np.float64)
    np.add.at(a, (np.asarray(graph.receivers), np.asarray(graph.senders)), ew)
    a += np.eye(n)
    d = a.sum(1) ** -0.5
    s = d[:, None] * a * d[None, :]
    h = z = np.asarray(x, np.float64)
    for _ in range(k):
        z = (1 - alpha) * s @ z + alpha * h
    return z


@pytest.mark.parametrize(("k", "alpha", "weighted"), [(10, 0.1, False), (3, 0.5, True)])
def test_matches_dense_oracle(k, alpha, weighted):
    graph, x, w = random_graph(seed=1, edge_dim=0)
    w = w if weighted else None
    prop = APPNP(k, alpha)
    call = lambda g, x, ea: prop(g, x, ea)
    y = check_jit_matches_eager(call, graph, x, w)
    assert y.shape == x.shape and y.dtype == jnp.float32
    assert_close(y, dense_appnp(graph, x, w, k, alpha))
    check_sparse_path(call, graph, x, w)
    check_jit_matches_eager(call, to_adj_t(graph._replace(edges=w)), x, None)


def test_invariances_and_input_grads():
    graph, x, w = random_graph(seed=2, edge_dim=0)
    call = jax.jit(lambda g, x, ea: appnp(g, x, k=4, alpha=0.2, edge_weight=ea))
    check_padding_invariance(call, graph, x, w)
    check_permutation_equivariance(call, graph, x, w)
    for g in (graph, to_adj_t(graph._replace(edges=w))):
        grad = jax.grad(lambda x: jnp.sum(call(g, x, w if g is graph else None) ** 2))(x)
        assert bool(jnp.all(jnp.isfinite(grad))) and bool(jnp.any(grad != 0))


def test_edge_dropout_and_precomputed_normalisation():
    graph, x, w = random_graph(seed=3, edge_dim=0)
    expect = APPNP(3, 0.1)(graph, x, w)
    prop = APPNP(3, 0.1, dropout=0.5, rngs=nnx.Rngs(0))
    assert_close(prop(graph, x, w, deterministic=True), expect)
    dropped = prop(graph, x, w)
    assert bool(jnp.all(jnp.isfinite(dropped)))
    assert not np.allclose(np.asarray(dropped), np.asarray(expect))
    dropped_sparse = prop(to_adj_t(graph._replace(edges=w)), x)
    assert not np.allclose(np.asarray(dropped_sparse), np.asarray(expect))
    assert_close(APPNP(3, 0.1, normalize=False)(gcn_norm(graph, w), x), expect)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="alpha"):
        APPNP(2, 1.5)
    with pytest.raises(ValueError, match="non-negative"):
        APPNP(-1, 0.1)


@pytest.mark.peers
@pytest.mark.parametrize("weighted", [False, True])
def test_pyg_parity(weighted):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, w = random_graph(seed=5, edge_dim=0)
    w = w if weighted else None
    ref = tg.nn.APPNP(K=5, alpha=0.15).eval()
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    tw = None if w is None else torch.from_numpy(np.array(w))
    expect = ref(torch.from_numpy(np.array(x)), edge_index, tw).detach().numpy()
    assert_close(APPNP(5, 0.15)(graph, x, w), expect)
