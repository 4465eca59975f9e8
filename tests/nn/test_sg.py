"""SGConv: dense oracle, both graph forms (jitted too), precomputed propagation, padding,
permutation, gradients, PyG parity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from nn.layer_checks import (
    assert_close,
    check_finite_grads,
    check_jit_matches_eager,
    check_padding_invariance,
    check_permutation_equivariance,
    check_sparse_path,
    random_graph,
)

from jgnn.nn import SGConv, gcn_norm, sg_propagate
from jgnn.sparse import gcn_norm as sparse_gcn_norm
from jgnn.sparse import to_adj_t


def dense_s(graph, w, n, loops=True):
    """``D^-1/2 (A [+ I]) D^-1/2`` with zero-degree nodes scaled by 0."""
    a = np.zeros((n, n))
    ew = np.ones(len(graph.senders)) if w is None else np.asarray(w, np.float64)
    np.add.at(a, (np.asarray(graph.receivers), np.asarray(graph.senders)), ew)
    a += np.eye(n) if loops else 0.0
    deg = a.sum(1)
    d = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
    return d[:, None] * a * d[None, :]


def dense_sg(graph, x, w, conv, loops=True):
    s = dense_s(graph, w, x.shape[0], loops)
    h = np.linalg.matrix_power(s, conv.k) @ np.asarray(x, np.float64)
    return h @ np.asarray(conv.lin.kernel[...]) + np.asarray(conv.lin.bias[...])


CONFIGS = [(1, 12, False, True), (3, 5, True, True), (2, 5, True, False)]  # k, out, w, loops


@pytest.mark.parametrize(("k", "out", "weighted", "loops"), CONFIGS)
def test_matches_dense_oracle(k, out, weighted, loops):
    graph, x, w = random_graph(seed=1, edge_dim=0)
    w = w if weighted else None
    conv = SGConv(8, out, k=k, add_self_loops=loops, rngs=nnx.Rngs(0))
    conv.lin.bias[...] = jnp.linspace(-1.0, 1.0, out)
    call = lambda g, x, ea: conv(g, x, ea)
    y = check_jit_matches_eager(call, graph, x, w)
    assert y.shape == (12, out) and y.dtype == jnp.float32
    assert_close(y, dense_sg(graph, x, w, conv, loops))
    check_sparse_path(call, graph, x, w)
    adj_t = to_adj_t(graph._replace(edges=w))
    check_jit_matches_eager(call, adj_t, x, None)  # the SparseTensor path is jittable


def test_layer_invariances_and_grads():
    graph, x, w = random_graph(seed=2, edge_dim=0)
    conv = SGConv(8, 4, k=2, rngs=nnx.Rngs(1))
    call = jax.jit(lambda g, x, ea: conv(g, x, ea))
    check_padding_invariance(call, graph, x, w)
    check_permutation_equivariance(call, graph, x, w)
    check_finite_grads(lambda m: jnp.sum(m(graph, x, w) ** 2), conv)


def test_precomputed_propagation_and_normalisation():
    graph, x, w = random_graph(seed=3, edge_dim=0)
    conv = SGConv(8, 4, k=2, rngs=nnx.Rngs(0))
    expect = conv(graph, x, w)
    linear = SGConv(8, 4, k=0, rngs=nnx.Rngs(0))  # PyG's cached=True
    assert_close(linear(graph, sg_propagate(graph, x, k=2, edge_weight=w)), expect)
    cached = SGConv(8, 4, k=2, normalize=False, rngs=nnx.Rngs(0))
    assert_close(cached(gcn_norm(graph, w), x), expect)
    assert_close(cached(sparse_gcn_norm(to_adj_t(graph._replace(edges=w))), x), expect)
    edge_index = jnp.stack([graph.senders, graph.receivers])
    assert_close(conv(edge_index, x, w), expect)


def test_bad_inputs_are_named():
    graph, x, _ = random_graph()
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        SGConv(3, 2, rngs=nnx.Rngs(0))(graph, x)
    with pytest.raises(ValueError, match="non-negative"):
        SGConv(8, 2, k=-1, rngs=nnx.Rngs(0))


@pytest.mark.peers
@pytest.mark.parametrize(("k", "weighted", "loops"), [(2, False, True), (3, True, False)])
def test_pyg_parity(k, weighted, loops):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, w = random_graph(seed=5, edge_dim=0)
    w = w if weighted else None
    conv = SGConv(8, 6, k=k, add_self_loops=loops, rngs=nnx.Rngs(0))
    conv.lin.bias[...] = jnp.linspace(-1.0, 1.0, 6)
    ref = tg.nn.SGConv(8, 6, K=k, add_self_loops=loops).eval()
    with torch.no_grad():
        ref.lin.weight.copy_(torch.from_numpy(np.array(conv.lin.kernel[...]).T.copy()))
        ref.lin.bias.copy_(torch.from_numpy(np.array(conv.lin.bias[...])))
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    tw = None if w is None else torch.from_numpy(np.array(w))
    expect = ref(torch.from_numpy(np.array(x)), edge_index, tw).detach().numpy()
    assert_close(conv(graph, x, w), expect)
