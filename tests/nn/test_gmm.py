"""GMMConv: NumPy oracle, fused and per-edge paths, invariances, PyG parity."""

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
    jitted,
    np64,
    random_graph,
    to_torch,
)

from jgnn.nn import GMMConv
from jgnn.sparse import to_adj_t


def dense_gmm(conv, graph, x, ea):
    """Edge-by-edge MoNet with a mean (or sum/max) over each node's in-edges."""
    src, dst = np.asarray(graph.senders), np.asarray(graph.receivers)
    x, u = np64(x), np64(ea).reshape(len(src), -1)
    g, mu, sigma = np64(conv.g[...]), np64(conv.mu[...]), np64(conv.sigma[...])
    f, m, k = x.shape[1], conv.out_features, conv.kernel_size
    msgs = np.zeros((len(src), m))
    for e in range(len(src)):
        if conv.separate_gaussians:
            w = np.exp((-0.5 * (u[e] - mu) ** 2 / (1e-15 + sigma**2)).sum(-1))  # [F, M, K]
            msgs[e] = np.einsum("f,fm->m", x[src[e]], (w * g.reshape(f, m, k)).sum(-1))
        else:
            w = np.exp((-0.5 * (u[e] - mu) ** 2 / (1e-15 + sigma**2)).sum(-1))  # [K]
            msgs[e] = (w[:, None] * (x[src[e]] @ g).reshape(k, m)).sum(0)
    out = np.zeros((x.shape[0], m))
    for i in range(x.shape[0]):
        idx = np.flatnonzero(dst == i)
        if idx.size:
            reduce = {"mean": np.mean, "sum": np.sum, "max": np.max}[conv.aggr]
            out[i] = reduce(msgs[idx], axis=0)
    if conv.root is not None:
        out = out + x @ np64(conv.root.kernel[...])
    return out if conv.bias is None else out + np64(conv.bias[...])


def _make(seed=0, **kw):
    conv = GMMConv(8, 4, **kw, rngs=nnx.Rngs(seed))
    # Sigmas of order 1 keep the Gaussians away from 0 so the check is not trivially 0 == 0.
    conv.sigma[...] = 1.0 + jnp.abs(conv.sigma[...])
    if conv.bias is not None:
        conv.bias[...] = jax.random.normal(jax.random.key(seed + 1), conv.bias[...].shape)
    return conv


CONFIGS = [
    dict(dim=2, kernel_size=3),
    dict(dim=1, kernel_size=2, aggr="sum", root_weight=False),
    dict(dim=3, kernel_size=2, aggr="max"),
    dict(dim=2, kernel_size=2, separate_gaussians=True),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=range(len(CONFIGS)))
def test_matches_dense_oracle(cfg):
    graph, x, ea = random_graph(seed=1, edge_dim=cfg["dim"])
    conv = _make(**cfg)
    call = lambda g, x, ea: conv(g, x, ea)
    # One configuration runs eagerly too; the others only compiled (eager runs are slow).
    out = check_jit_matches_eager(call, graph, x, ea) if cfg is CONFIGS[0] else None
    call = jitted(conv)
    out = call(graph, x, ea) if out is None else out
    assert out.shape == (12, 4) and out.dtype == jnp.float32
    assert_close(out, dense_gmm(conv, graph, x, ea))
    check_sparse_path(call, graph, x, ea)


def test_one_dimensional_pseudo_coordinates_may_be_flat():
    graph, x, ea = random_graph(seed=2, edge_dim=1)
    conv = _make(dim=1, kernel_size=2)
    call = jitted(conv)
    assert_close(call(graph, x, ea[:, 0]), call(graph, x, ea))


def test_sparse_tensor_values_are_the_pseudo_coordinates_under_jit():
    graph, x, ea = random_graph(seed=3, edge_dim=2)
    conv = _make(dim=2, kernel_size=3)
    adj_t = to_adj_t(graph._replace(edges=ea))
    call = jitted(conv)
    assert_close(call(adj_t, x, None), call(graph, x, ea))


def test_layer_invariances_and_grads():
    graph, x, ea = random_graph(seed=4, edge_dim=2)
    conv = _make(dim=2, kernel_size=3)
    call = jitted(conv)
    check_padding_invariance(call, graph, x, ea)
    check_permutation_equivariance(call, graph, x, ea)
    loss = nnx.jit(lambda m: jnp.sum(m(graph, x, ea) ** 2))
    check_finite_grads(loss, conv)
    grads = nnx.grad(loss)(conv)
    assert bool(jnp.any(grads.mu[...] != 0)) and bool(jnp.any(grads.sigma[...] != 0))


def test_bipartite_and_errors():
    rng = np.random.default_rng(5)
    ei = jnp.asarray(np.stack([rng.integers(0, 5, 12), rng.integers(0, 3, 12)]), jnp.int32)
    x_src = jnp.asarray(rng.normal(size=(5, 6)), jnp.float32)
    x_dst = jnp.asarray(rng.normal(size=(3, 4)), jnp.float32)
    pseudo = jnp.asarray(rng.uniform(size=(12, 2)), jnp.float32)
    conv = GMMConv((6, 4), 2, dim=2, kernel_size=2, rngs=nnx.Rngs(0))
    assert jitted(conv)(ei, (x_src, x_dst), pseudo).shape == (3, 2)
    with pytest.raises(ValueError, match="pseudo-coordinates"):
        conv(ei, (x_src, x_dst))
    with pytest.raises(ValueError, match=r"\[E, 2\]"):
        conv(ei, (x_src, x_dst), pseudo[:, :1])


def copy_gmm_params(torch, conv, ref):
    with torch.no_grad():
        for name in ("g", "mu", "sigma", "bias"):
            mine = getattr(conv, name)
            if mine is not None:
                getattr(ref, name).copy_(to_torch(torch, mine[...]))
        if conv.root is not None:
            ref.root.weight.copy_(to_torch(torch, conv.root.kernel[...], transpose=True))


@pytest.mark.peers
@pytest.mark.parametrize("cfg", CONFIGS, ids=range(len(CONFIGS)))
def test_pyg_parity(cfg):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, ea = random_graph(seed=11, edge_dim=cfg["dim"])
    conv = _make(seed=2, **cfg)
    ref = tg.nn.GMMConv(8, 4, **cfg)
    if not cfg.get("root_weight", True):
        ref.root = None  # PyG 2.8 never sets `root` when root_weight=False, then reads it
    copy_gmm_params(torch, conv, ref)
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    expect = ref(to_torch(torch, x), edge_index, to_torch(torch, ea))
    assert_close(jitted(conv)(graph, x, ea), expect.detach().numpy())
