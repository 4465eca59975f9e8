"""SAGEConv: dense oracle, both aggregation paths, bipartite blocks, padding, permutation,
gradients, PyG parity."""

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

from jgnn.nn import SAGEConv
from jgnn.sparse import to_adj_t

_REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max}


def dense_sage(src, dst, x_src, x_dst, conv, aggr, normalize):
    """NumPy oracle of PyG's SAGEConv with a per-node loop over in-neighbours."""
    p = lambda v: np.asarray(v[...], np.float64)
    h = np.asarray(x_src, np.float64)
    if conv.lin is not None:
        h = np.maximum(h @ p(conv.lin.kernel) + p(conv.lin.bias), 0.0)
    parts = []
    for a in [aggr] if isinstance(aggr, str) else aggr:
        agg = np.zeros((x_dst.shape[0], h.shape[1]))
        for i in range(x_dst.shape[0]):
            if (dst == i).any():
                agg[i] = _REDUCE[a](h[src[dst == i]], axis=0)
        parts.append(agg)
    out = np.concatenate(parts, axis=1) @ p(conv.lin_l.kernel) + p(conv.lin_l.bias)
    if conv.lin_r is not None:
        out += np.asarray(x_dst, np.float64) @ p(conv.lin_r.kernel)
    if normalize:
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


CONFIGS = [  # aggr, normalize, root_weight, project, out_features
    ("mean", False, True, False, 5),
    ("max", True, False, True, 12),
    ("sum", False, True, False, 12),
    (["mean", "max"], True, True, False, 5),
]


@pytest.mark.parametrize(("aggr", "normalize", "root", "project", "out"), CONFIGS)
def test_matches_dense_oracle(aggr, normalize, root, project, out):
    graph, x, _ = random_graph(seed=1)
    conv = SAGEConv(
        8, out, aggr=aggr, normalize=normalize, root_weight=root, project=project, rngs=nnx.Rngs(0)
    )
    conv.lin_l.bias[...] = jnp.linspace(-1.0, 1.0, out)
    call = lambda g, x, ea: conv(g, x)
    y = check_jit_matches_eager(call, graph, x, None)
    assert y.shape == (12, out) and y.dtype == jnp.float32
    src, dst = np.asarray(graph.senders), np.asarray(graph.receivers)
    assert_close(y, dense_sage(src, dst, x, x, conv, aggr, normalize))
    check_sparse_path(call, graph, x, None)


def test_layer_invariances_and_grads():
    graph, x, _ = random_graph(seed=2)
    conv = SAGEConv(8, 4, aggr="max", project=True, rngs=nnx.Rngs(1))
    call = jax.jit(lambda g, x, ea: conv(g, x))
    check_padding_invariance(call, graph, x, None)
    check_permutation_equivariance(call, graph, x, None)
    check_finite_grads(lambda m: jnp.sum(m(graph, x) ** 2), conv)


def test_sparse_values_are_ignored():
    graph, x, w = random_graph(seed=3, edge_dim=0)
    conv = SAGEConv(8, 4, rngs=nnx.Rngs(0))
    assert_close(conv(to_adj_t(graph._replace(edges=w)), x), conv(graph, x))


def test_bipartite_block():
    """A sampled block: 12 source nodes, the first 5 of them are the destinations."""
    graph, x, _ = random_graph(seed=4)
    keep = np.asarray(graph.receivers) < 5
    src, dst = np.asarray(graph.senders)[keep], np.asarray(graph.receivers)[keep]
    x_dst = x[:5, :3]
    conv = SAGEConv((8, 3), 6, rngs=nnx.Rngs(0))
    y = conv(jnp.stack([jnp.asarray(src), jnp.asarray(dst)]), (x, x_dst))
    assert y.shape == (5, 6)
    assert_close(y, dense_sage(src, dst, x, x_dst, conv, "mean", False))
    adj_t = to_adj_t(graph._replace(senders=jnp.asarray(src), receivers=jnp.asarray(dst)))[:5]
    assert_close(conv(adj_t, (x, x_dst)), y)


def test_bad_inputs_are_named():
    graph, x, _ = random_graph()
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        SAGEConv(3, 2, rngs=nnx.Rngs(0))(graph, x)
    with pytest.raises(ValueError, match="aggr"):
        SAGEConv(8, 2, aggr="lstm", rngs=nnx.Rngs(0))


def _to_torch(torch, a, transpose=False):
    a = np.array(a[...])
    return torch.from_numpy((a.T if transpose else a).copy())


@pytest.mark.peers
@pytest.mark.parametrize(("aggr", "normalize", "root", "project", "out"), CONFIGS[:2] + CONFIGS[3:])
def test_pyg_parity(aggr, normalize, root, project, out):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, _ = random_graph(seed=5)
    conv = SAGEConv(
        8, out, aggr=aggr, normalize=normalize, root_weight=root, project=project, rngs=nnx.Rngs(0)
    )
    conv.lin_l.bias[...] = jnp.linspace(-1.0, 1.0, out)
    ref = tg.nn.SAGEConv(
        8, out, aggr=aggr, normalize=normalize, root_weight=root, project=project
    ).eval()
    with torch.no_grad():
        ref.lin_l.weight.copy_(_to_torch(torch, conv.lin_l.kernel, True))
        ref.lin_l.bias.copy_(_to_torch(torch, conv.lin_l.bias))
        if root:
            ref.lin_r.weight.copy_(_to_torch(torch, conv.lin_r.kernel, True))
        if project:
            ref.lin.weight.copy_(_to_torch(torch, conv.lin.kernel, True))
            ref.lin.bias.copy_(_to_torch(torch, conv.lin.bias))
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    expect = ref(torch.from_numpy(np.array(x)), edge_index).detach().numpy()
    assert_close(conv(graph, x), expect)


@pytest.mark.parametrize("aggr, out", [("mean", 4), ("sum", 16)])
def test_sparse_input_features_match_dense(aggr, out):
    from jgnn.sparse import SparseTensor

    graph, x, _ = random_graph(seed=9, edge_dim=0)
    x = jnp.where(x > 0.8, x, 0.0)  # mostly zeros, like bag-of-words features
    conv = SAGEConv(8, out, aggr=aggr, normalize=True, rngs=nnx.Rngs(0))
    xs = SparseTensor.from_dense(x)
    for g in (graph, to_adj_t(graph)):
        assert_close(jax.jit(lambda g, f: conv(g, f))(g, xs), conv(g, x))
    grad = lambda feats: nnx.grad(lambda m: jnp.sum(m(graph, feats) ** 2))(conv)
    g_sparse, g_dense = grad(xs), grad(x)
    for name in ("lin_l", "lin_r"):
        assert_close(g_sparse[name]["kernel"][...], g_dense[name]["kernel"][...])
    with pytest.raises(TypeError, match="sum or mean"):
        SAGEConv(8, 4, aggr="max", rngs=nnx.Rngs(0))(graph, xs)
