"""GINConv and GINEConv: dense oracle, both graph forms, padding, permutation, gradients (eps
included), PyG parity."""

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

from jgnn.nn import MLP, GINConv, GINEConv, gin_conv
from jgnn.sparse import to_adj_t


def mlp(rngs, sizes=(8, 16, 4)):
    return MLP(list(sizes), rngs=rngs)


def dense_pre_nn(graph, x, eps, messages=None):
    """``(1 + eps) x_i + sum_j m_ji`` with ``m_ji = x_j`` unless per-edge messages are given."""
    x = np.asarray(x, np.float64)
    src, dst = np.asarray(graph.senders), np.asarray(graph.receivers)
    m = x[src] if messages is None else messages
    out = (1.0 + eps) * x
    np.add.at(out, dst, m)
    return out


def test_gin_matches_dense_oracle():
    graph, x, w = random_graph(seed=1, edge_dim=0)
    conv = GINConv(mlp(nnx.Rngs(0)), eps=0.3)
    call = lambda g, x, ea: conv(g, x)
    y = check_jit_matches_eager(call, graph, x, None)
    assert y.shape == (12, 4) and y.dtype == jnp.float32
    pre = dense_pre_nn(graph, x, 0.3)
    assert_close(y, conv.nn(jnp.asarray(pre, jnp.float32)))
    assert_close(gin_conv(graph, x, eps=0.3), pre)
    check_sparse_path(call, graph, x, None)
    # A SparseTensor's values are ignored (every edge counts once), as in PyG.
    assert_close(conv(to_adj_t(graph._replace(edges=w)), x), y)


def test_gin_invariances_grads_and_nn_kwargs():
    graph, x, _ = random_graph(seed=2)
    conv = GINConv(mlp(nnx.Rngs(1)), train_eps=True)
    call = jax.jit(lambda g, x, ea: conv(g, x))
    check_padding_invariance(call, graph, x, None)
    check_permutation_equivariance(call, graph, x, None)
    check_finite_grads(lambda m: jnp.sum(m(graph, x) ** 2), conv)
    grads = nnx.grad(lambda m: jnp.sum(m(graph, x) ** 2))(conv)
    assert float(jnp.abs(grads.eps[...])) > 0
    mask = jnp.arange(12) < 7
    assert not np.any(np.asarray(conv(graph, x, mask=mask))[7:])


def gine_messages(graph, x, e, conv):
    e = np.asarray(e, np.float64)
    if conv.lin is not None:
        e = e @ np.asarray(conv.lin.kernel[...]) + np.asarray(conv.lin.bias[...])
    return np.maximum(np.asarray(x, np.float64)[np.asarray(graph.senders)] + e, 0.0)


@pytest.mark.parametrize("edge_dim", [3, None])
def test_gine_matches_dense_oracle(edge_dim):
    graph, x, e = random_graph(seed=3, edge_dim=edge_dim or 8)
    conv = GINEConv(mlp(nnx.Rngs(0)), eps=-0.2, edge_dim=edge_dim, rngs=nnx.Rngs(1))
    call = lambda g, x, ea: conv(g, x, ea)
    y = check_jit_matches_eager(call, graph, x, e)
    assert y.shape == (12, 4) and y.dtype == jnp.float32
    pre = dense_pre_nn(graph, x, -0.2, gine_messages(graph, x, e, conv))
    assert_close(y, conv.nn(jnp.asarray(pre, jnp.float32)))
    check_sparse_path(call, graph, x, e)
    assert_close(conv(graph._replace(edges=e), x), y)  # edge features read from the graph


def test_gine_invariances_and_grads():
    graph, x, e = random_graph(seed=4, edge_dim=3)
    conv = GINEConv(mlp(nnx.Rngs(0)), train_eps=True, edge_dim=3, rngs=nnx.Rngs(1))
    call = jax.jit(lambda g, x, ea: conv(g, x, ea))
    check_padding_invariance(call, graph, x, e)
    check_permutation_equivariance(call, graph, x, e)
    grads = nnx.grad(lambda m: jnp.sum(m(graph, x, e) ** 2))(conv)
    for g in (grads.eps[...], grads.lin.kernel[...], grads.nn.linears[0].kernel[...]):
        assert bool(jnp.all(jnp.isfinite(g))) and bool(jnp.any(g != 0))


def test_bad_inputs_are_named():
    graph, x, e = random_graph(edge_dim=3)
    with pytest.raises(ValueError, match="edge_dim=3"):
        GINEConv(mlp(nnx.Rngs(0)))(graph, x, e)
    with pytest.raises(ValueError, match="needs edge features"):
        GINEConv(mlp(nnx.Rngs(0)))(graph, x)
    with pytest.raises(ValueError, match="in_features="):
        GINEConv(jax.nn.relu, edge_dim=3, rngs=nnx.Rngs(0))


def copy_mlp(torch, ref, m):
    """Copies a jgnn MLP's weights into a torch Sequential of Linear/ReLU."""
    linears = [t for t in ref if isinstance(t, torch.nn.Linear)]
    with torch.no_grad():
        for t, lin in zip(linears, m.linears, strict=True):
            t.weight.copy_(torch.from_numpy(np.array(lin.kernel[...]).T.copy()))
            t.bias.copy_(torch.from_numpy(np.array(lin.bias[...])))


def torch_mlp(torch):
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))


@pytest.mark.peers
def test_pyg_parity():
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, e = random_graph(seed=5, edge_dim=3)
    gin = GINConv(mlp(nnx.Rngs(0)), eps=0.25, train_eps=True)
    gine = GINEConv(mlp(nnx.Rngs(1)), eps=0.5, edge_dim=3, rngs=nnx.Rngs(2))
    # PyG re-initialises `nn` when the layer is built: copy the weights afterwards.
    ref_gin = tg.nn.GINConv(torch_mlp(torch), eps=0.25, train_eps=True).eval()
    ref_gine = tg.nn.GINEConv(torch_mlp(torch), eps=0.5, edge_dim=3).eval()
    copy_mlp(torch, ref_gin.nn, gin.nn)
    copy_mlp(torch, ref_gine.nn, gine.nn)
    with torch.no_grad():
        ref_gine.lin.weight.copy_(torch.from_numpy(np.array(gine.lin.kernel[...]).T.copy()))
        ref_gine.lin.bias.copy_(torch.from_numpy(np.array(gine.lin.bias[...])))
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    tx, te = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(e))
    assert_close(gin(graph, x), ref_gin(tx, edge_index).detach().numpy())
    assert_close(gine(graph, x, e), ref_gine(tx, edge_index, te).detach().numpy())
