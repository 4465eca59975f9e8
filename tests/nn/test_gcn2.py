"""GCN2Conv and the GCNII model: dense oracle, both paths, invariances, gradients, PyG parity."""

import math

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

from jgnn.models import GCNII
from jgnn.nn import GCN2Conv, gcn_norm
from jgnn.sparse import gcn_norm as sparse_gcn_norm
from jgnn.sparse import to_adj_t


def dense_gcn2(graph, x, x_0, w, alpha, beta, k1, k2):
    n = x.shape[0]
    a = np.zeros((n, n))
    ew = np.ones(len(graph.senders)) if w is None else np.asarray(w, np.float64)
    np.add.at(a, (np.asarray(graph.receivers), np.asarray(graph.senders)), ew)
    a += np.eye(n)
    d = a.sum(1) ** -0.5
    p = d[:, None] * a * d[None, :]
    eye = np.eye(k1.shape[0])
    m1 = (1 - beta) * eye + beta * np.asarray(k1, np.float64)
    m2 = (1 - beta) * eye + beta * np.asarray(k2, np.float64)
    return (1 - alpha) * p @ np.asarray(x) @ m1 + alpha * np.asarray(x_0) @ m2


def _x0(x, seed=3):
    return jax.random.normal(jax.random.key(seed), x.shape)


@pytest.mark.parametrize("shared_weights", [True, False])
def test_matches_dense_oracle(shared_weights):
    graph, x, w = random_graph(seed=1, edge_dim=0)
    x_0 = _x0(x)
    conv = GCN2Conv(8, 0.2, theta=0.5, layer=3, shared_weights=shared_weights, rngs=nnx.Rngs(0))
    assert conv.beta == pytest.approx(math.log(0.5 / 3 + 1))
    call = lambda g, x, ea: conv(g, x, x_0, ea)
    out = check_jit_matches_eager(call, graph, x, w)
    assert out.shape == (12, 8) and out.dtype == jnp.float32
    k2 = conv.kernel1[...] if shared_weights else conv.kernel2[...]
    expect = dense_gcn2(graph, x, x_0, w, 0.2, conv.beta, conv.kernel1[...], k2)
    assert_close(out, expect)
    check_sparse_path(call, graph, x, w)


def test_layer_invariances_and_grads():
    graph, x, w = random_graph(seed=2, edge_dim=0)
    conv = GCN2Conv(8, 0.1, theta=1.0, layer=1, shared_weights=False, rngs=nnx.Rngs(1))
    # x_0 travels with x: padding rows and the permutation must apply to it as well.
    call = lambda g, x, ea: conv(g, x, jnp.tanh(x), ea)
    check_padding_invariance(call, graph, x, w)
    check_permutation_equivariance(call, graph, x, w)
    check_finite_grads(lambda m: jnp.sum(m(graph, x, _x0(x), w) ** 2), conv)


def test_precomputed_normalisation_equals_on_the_fly():
    graph, x, _ = random_graph(seed=3)
    x_0 = _x0(x)
    conv = GCN2Conv(8, 0.1, rngs=nnx.Rngs(0))
    cached = GCN2Conv(8, 0.1, normalize=False, rngs=nnx.Rngs(0))
    assert conv.beta == 1.0
    expect = conv(graph, x, x_0)
    assert_close(cached(gcn_norm(graph), x, x_0), expect)
    assert_close(cached(sparse_gcn_norm(to_adj_t(graph)), x, x_0), expect)


def test_errors_name_what_was_expected():
    graph, x, _ = random_graph()
    with pytest.raises(ValueError, match="theta and layer together"):
        GCN2Conv(8, 0.1, theta=0.5, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="counts from 1"):
        GCN2Conv(8, 0.1, theta=0.5, layer=0, rngs=nnx.Rngs(0))
    conv = GCN2Conv(8, 0.1, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"x_0 \[N, 8\], got \(12, 3\)"):
        conv(graph, x, x[:, :3])


def test_gcnii_model_shapes_dropout_and_grads():
    graph, x, _ = random_graph(seed=4)
    model = GCNII(8, 16, 3, num_layers=4, dropout=0.5, rngs=nnx.Rngs(0))
    normed = gcn_norm(graph)
    a = model(normed, x, deterministic=True)
    assert a.shape == (12, 3) and a.dtype == jnp.float32
    assert_close(a, jax.jit(lambda g, x: model(g, x, deterministic=True))(normed, x))
    assert not np.allclose(np.asarray(model(normed, x)), np.asarray(a))
    assert [c.beta for c in model.convs] == pytest.approx(
        [math.log(0.5 / i + 1) for i in (1, 2, 3, 4)]
    )
    check_finite_grads(lambda m: jnp.sum(m(normed, x, deterministic=True) ** 2), model)
    # The same model on a normalised SparseTensor adj_t (the fused path).
    assert_close(model(sparse_gcn_norm(to_adj_t(graph)), x, deterministic=True), a)


@pytest.mark.peers
@pytest.mark.parametrize("shared_weights", [True, False])
def test_pyg_parity(shared_weights):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, w = random_graph(seed=5, edge_dim=0)
    x_0 = _x0(x)
    conv = GCN2Conv(8, 0.1, theta=0.5, layer=2, shared_weights=shared_weights, rngs=nnx.Rngs(0))
    ref = tg.nn.GCN2Conv(8, 0.1, theta=0.5, layer=2, shared_weights=shared_weights).eval()
    with torch.no_grad():
        ref.weight1.copy_(torch.from_numpy(np.array(conv.kernel1[...])))
        if not shared_weights:
            ref.weight2.copy_(torch.from_numpy(np.array(conv.kernel2[...])))
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    args = (torch.from_numpy(np.array(x)), torch.from_numpy(np.array(x_0)), edge_index)
    for weight in (None, w):
        tw = None if weight is None else torch.from_numpy(np.array(weight))
        expect = ref(*args, tw).detach().numpy()
        assert_close(conv(graph, x, x_0, weight), expect)


def test_edge_index_without_normalisation_uses_unit_weights():
    """An edge index has no weights: normalize=False propagates with weight 1 (was a crash)."""
    import jgnn
    from jgnn.nn import gcn2_conv

    ei = jnp.array([[0, 1, 2, 2], [1, 0, 0, 1]])
    x = jnp.arange(6.0).reshape(3, 2)
    k = jnp.eye(2)
    got = gcn2_conv(ei, x, x, k, alpha=0.5, beta=0.0, normalize=False)
    adj = np.zeros((3, 3))
    adj[np.asarray(ei[1]), np.asarray(ei[0])] = 1.0
    want = 0.5 * adj @ np.asarray(x) + 0.5 * np.asarray(x)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    g = jgnn.from_edge_index(ei, 3)
    np.testing.assert_allclose(gcn2_conv(g, x, x, k, alpha=0.5, beta=0.0, normalize=False), want)
