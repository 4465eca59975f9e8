"""RGCNConv: dense oracle, both paths, invariances, gradients, decompositions, PyG parity."""

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
from scipy.linalg import block_diag

from jgnn.nn import RGCNConv
from jgnn.sparse import to_adj_t

R = 3


def typed_graph(seed, **kw):
    graph, x, _ = random_graph(seed=seed, **kw)
    types = np.random.default_rng(seed).integers(0, R, graph.senders.shape[0])
    return graph, x, jnp.asarray(types, jnp.int32)


def relation_weights(conv):
    w = np.asarray(conv.weight[...], np.float64)
    if conv.num_bases is not None:
        return np.einsum("rb,bio->rio", np.asarray(conv.comp[...], np.float64), w)
    if conv.num_blocks is not None:
        return np.stack([block_diag(*w[r]) for r in range(w.shape[0])])
    return w


def dense_rgcn(conv, graph, x, types, aggr):
    """``x W_root + sum_r agg_r(x_j) W_r + b`` with per-relation dense adjacencies."""
    x = np.asarray(x, np.float64)
    src, dst, types = (np.asarray(a) for a in (graph.senders, graph.receivers, types))
    weights = relation_weights(conv)
    out = x @ np.asarray(conv.root[...]) + np.asarray(conv.bias[...])
    for r in range(R):
        a = np.zeros((x.shape[0], x.shape[0]))
        np.add.at(a, (dst[types == r], src[types == r]), 1.0)
        if aggr == "max":
            z = np.array([x[row > 0].max(0) if row.any() else np.zeros(x.shape[1]) for row in a])
        else:
            deg = a.sum(1, keepdims=True)
            z = (a / np.maximum(deg, 1.0) if aggr == "mean" else a) @ x
        out = out + z @ weights[r]
    return out


@pytest.mark.parametrize(
    "decomposition,aggr", [({}, "mean"), ({"num_bases": 2}, "sum"), ({"num_blocks": 2}, "max")]
)
def test_matches_dense_oracle(decomposition, aggr):
    graph, x, types = typed_graph(seed=1)
    conv = RGCNConv(8, 6, R, aggr=aggr, rngs=nnx.Rngs(0), **decomposition)
    conv.bias[...] = jnp.linspace(-1.0, 1.0, 6)
    call = lambda g, x, t: conv(g, x, t)
    out = check_jit_matches_eager(call, graph, x, types)
    assert out.shape == (12, 6) and out.dtype == jnp.float32
    assert_close(out, dense_rgcn(conv, graph, x, types, aggr))
    check_sparse_path(call, graph, x, types)  # the SparseTensor's values are the edge types
    assert_close(conv(to_adj_t(graph._replace(edges=types)), x), out)


def test_layer_invariances_and_grads():
    graph, x, types = typed_graph(seed=2)
    conv = RGCNConv(8, 4, R, num_bases=2, rngs=nnx.Rngs(1))
    call = lambda g, x, t: conv(g, x, t)
    # The shared padding check fills padding edges with the float 1.0, so hand it the types as
    # floats (relation 1 for padding edges) and cast back inside.
    check_padding_invariance(
        lambda g, x, t: conv(g, x, t.astype(jnp.int32)), graph, x, types.astype(jnp.float32)
    )
    check_permutation_equivariance(call, graph, x, types)
    check_finite_grads(nnx.jit(lambda m: jnp.sum(m(graph, x, types) ** 2)), conv)


def test_featureless_nodes_are_one_hot_ids():
    graph, _, types = typed_graph(seed=3)
    for kw in ({}, {"num_bases": 2}):
        conv = RGCNConv(12, 5, R, rngs=nnx.Rngs(0), **kw)
        assert_close(conv(graph, None, types), conv(graph, jnp.eye(12), types))


def test_errors_name_what_was_expected():
    graph, x, types = typed_graph(seed=4)
    with pytest.raises(ValueError, match="got both"):
        RGCNConv(8, 4, R, num_bases=2, num_blocks=2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="divisible by num_blocks=3"):
        RGCNConv(8, 4, R, num_blocks=3, rngs=nnx.Rngs(0))
    conv = RGCNConv(8, 4, R, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"integers in \[0, 3\)"):
        conv(graph, x, types.at[0].set(R))
    with pytest.raises(ValueError, match="needs edge_type"):
        conv(graph, x)
    with pytest.raises(ValueError, match=r"x \[N, 8\], got \(12, 3\)"):
        conv(graph, x[:, :3], types)


@pytest.mark.peers
@pytest.mark.parametrize(
    "decomposition,aggr", [({}, "mean"), ({"num_bases": 2}, "add"), ({"num_blocks": 2}, "max")]
)
def test_pyg_parity(decomposition, aggr):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, types = typed_graph(seed=5)
    conv = RGCNConv(8, 6, R, aggr=aggr, rngs=nnx.Rngs(0), **decomposition)
    conv.bias[...] = jax.random.normal(jax.random.key(1), (6,))
    ref = tg.nn.RGCNConv(8, 6, R, aggr=aggr, **decomposition).eval()
    with torch.no_grad():  # same layouts as PyG: no transposes
        for name in ("weight", "comp", "root", "bias"):
            if getattr(conv, name) is not None:
                getattr(ref, name).copy_(torch.from_numpy(np.array(getattr(conv, name)[...])))
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    t_types = torch.from_numpy(np.array(types)).long()
    expect = ref(torch.from_numpy(np.array(x)), edge_index, t_types).detach().numpy()
    assert_close(conv(graph, x, types), expect)


@pytest.mark.peers
def test_pyg_parity_bipartite():
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    rng = np.random.default_rng(6)
    edge_index = np.stack([rng.integers(0, 10, 30), rng.integers(0, 4, 30)]).astype(np.int32)
    types = jnp.asarray(rng.integers(0, R, 30), jnp.int32)
    x_src = jnp.asarray(rng.normal(size=(10, 5)), jnp.float32)
    x_dst = jnp.asarray(rng.normal(size=(4, 3)), jnp.float32)
    conv = RGCNConv((5, 3), 6, R, rngs=nnx.Rngs(0))
    ref = tg.nn.RGCNConv((5, 3), 6, R).eval()
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(np.array(conv.weight[...])))
        ref.root.copy_(torch.from_numpy(np.array(conv.root[...])))
    expect = (
        ref(
            (torch.from_numpy(np.array(x_src)), torch.from_numpy(np.array(x_dst))),
            torch.from_numpy(edge_index.astype(np.int64)),
            torch.from_numpy(np.array(types)).long(),
        )
        .detach()
        .numpy()
    )
    out = conv(jnp.asarray(edge_index), (x_src, x_dst), types)
    assert out.shape == (4, 6)
    assert_close(out, expect)
