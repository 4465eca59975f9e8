"""ChebConv: dense oracle, both aggregation paths, padding, permutation, gradients, PyG parity."""

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

from jgnn.graph import batch
from jgnn.nn import ChebConv, scaled_laplacian


def dense_cheb(graph, x, w, kernel, bias, normalization, lambda_max=None):
    """``sum_k T_k(L~^T) x W_k + b`` with ``L`` built densely on ``A[src, dst] = w``."""
    n = x.shape[0]
    a = np.zeros((n, n))
    ew = np.ones(len(graph.senders)) if w is None else np.asarray(w, np.float64)
    np.add.at(a, (np.asarray(graph.senders), np.asarray(graph.receivers)), ew)
    np.fill_diagonal(a, 0.0)
    d = a.sum(1)
    with np.errstate(divide="ignore"):
        if normalization == "sym":
            s = np.where(d > 0, d**-0.5, 0.0)
            lap = np.eye(n) - s[:, None] * a * s[None, :]
        elif normalization == "rw":
            lap = np.eye(n) - np.where(d > 0, 1.0 / d, 0.0)[:, None] * a
        else:
            lap = np.diag(d) - a
    lam = 2.0 * lap.max() if lambda_max is None else lambda_max
    op = (2.0 * lap / lam - np.eye(n)).T
    xs = [np.asarray(x, np.float64)]
    if kernel.shape[0] > 1:
        xs.append(op @ xs[0])
    for _ in range(2, kernel.shape[0]):
        xs.append(2.0 * op @ xs[-1] - xs[-2])
    kernel = np.asarray(kernel, np.float64)
    return sum(t @ kernel[k] for k, t in enumerate(xs)) + np.asarray(bias)


@pytest.mark.parametrize("normalization", ["sym", "rw", None])
def test_matches_dense_oracle(normalization):
    graph, x, w = random_graph(seed=1, edge_dim=0)
    conv = ChebConv(8, 5, K=3, normalization=normalization, rngs=nnx.Rngs(0))
    conv.bias[...] = jnp.linspace(-1.0, 1.0, 5)
    call = lambda g, x, ea: conv(g, x, ea)
    out = check_jit_matches_eager(call, graph, x, w)
    assert out.shape == (12, 5) and out.dtype == jnp.float32
    expect = dense_cheb(graph, x, w, conv.kernel[...], conv.bias[...], normalization)
    assert_close(out, expect, rtol=1e-4, atol=1e-4)
    check_sparse_path(call, graph, x, w)


def test_layer_invariances_and_grads():
    graph, x, w = random_graph(seed=2, edge_dim=0)
    conv = ChebConv(8, 4, K=4, rngs=nnx.Rngs(1))
    call = lambda g, x, ea: conv(g, x, ea)
    check_padding_invariance(call, graph, x, w)
    check_permutation_equivariance(call, graph, x, w)
    check_finite_grads(lambda m: jnp.sum(m(graph, x, w) ** 2), conv)


def test_self_loops_are_ignored_and_k1_is_linear():
    graph, x, _ = random_graph(seed=3)
    conv = ChebConv(8, 4, K=3, rngs=nnx.Rngs(0))
    n = x.shape[0]
    loops = jnp.arange(0, n, 3, dtype=jnp.int32)
    looped = graph._replace(
        senders=jnp.concatenate([graph.senders, loops]),
        receivers=jnp.concatenate([graph.receivers, loops]),
    )
    assert_close(conv(looped, x), conv(graph, x))
    lin = ChebConv(8, 4, K=1, rngs=nnx.Rngs(0))
    assert_close(lin(graph, x), x @ lin.kernel[0] + lin.bias[...])


def test_lambda_max_per_graph_in_a_batch():
    (g1, x1, _), (g2, x2, _) = random_graph(seed=4), random_graph(seed=5, num_nodes=9)
    conv = ChebConv(8, 3, K=3, normalization=None, rngs=nnx.Rngs(2))
    both = batch([g1, g2])
    out = jax.jit(lambda g, x, lam: conv(g, x, lambda_max=lam))(
        both, both.nodes, jnp.array([3.0, 5.0])
    )
    assert_close(out[:12], conv(g1, x1, lambda_max=3.0))
    assert_close(out[12:], conv(g2, x2, lambda_max=5.0))
    with pytest.raises(ValueError, match="3 values but the graph batch holds 2"):
        conv(both, both.nodes, lambda_max=jnp.ones(3))


def test_scaled_laplacian_two_node_example_and_errors():
    off, diag = scaled_laplacian(jnp.array([[0, 1], [1, 0]]), num_nodes=2, normalization=None)
    # L = [[1, -1], [-1, 1]], lambda_max = 2 * 1, so L~ = L - I.
    assert off.tolist() == [-1.0, -1.0] and diag.tolist() == [0.0, 0.0]
    graph, x, _ = random_graph()
    with pytest.raises(ValueError, match="normalization must be one of"):
        ChebConv(8, 2, K=2, normalization="row", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="K >= 1"):
        ChebConv(8, 2, K=0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        ChebConv(3, 2, K=2, rngs=nnx.Rngs(0))(graph, x)


@pytest.mark.peers
@pytest.mark.parametrize("normalization", ["sym", "rw", None])
def test_pyg_parity(normalization):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    (g1, _, w1), (g2, _, w2) = (
        random_graph(seed=6, edge_dim=0),
        random_graph(seed=7, num_nodes=7, num_edges=15, edge_dim=0),
    )
    graph, w = batch([g1, g2]), jnp.concatenate([w1, w2])
    x = graph.nodes
    conv = ChebConv(8, 6, K=3, normalization=normalization, rngs=nnx.Rngs(0))
    conv.bias[...] = jax.random.normal(jax.random.key(1), (6,))
    ref = tg.nn.ChebConv(8, 6, K=3, normalization=normalization).eval()
    with torch.no_grad():
        for k, lin in enumerate(ref.lins):
            lin.weight.copy_(torch.from_numpy(np.array(conv.kernel[k]).T.copy()))
        ref.bias.copy_(torch.from_numpy(np.array(conv.bias[...])))
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    tx, tw = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(w))
    expect = ref(tx, edge_index, tw).detach().numpy()
    assert_close(conv(graph, x, w), expect)
    # One lambda_max per graph of the batch, as PyG takes it with a batch vector.
    lam = np.array([1.5, 2.5], np.float32)
    tbatch = torch.from_numpy(np.repeat([0, 1], [12, 7]).astype(np.int64))
    expect = ref(tx, edge_index, tw, tbatch, torch.from_numpy(lam)).detach().numpy()
    assert_close(conv(graph, x, w, lambda_max=jnp.asarray(lam)), expect)
