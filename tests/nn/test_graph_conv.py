"""GraphConv: dense oracle, both aggregation paths, padding, permutation, gradients, PyG parity."""

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

from jgnn.nn import GraphConv, graph_conv
from jgnn.sparse import to_adj_t


def dense_graph_conv(graph, x, w, conv, aggr):
    """NumPy oracle: ``W_root x_i + W_rel aggr_j (w_ji x_j) + b`` with a per-node loop."""
    x = np.asarray(x, np.float64)
    src, dst = np.asarray(graph.senders), np.asarray(graph.receivers)
    w = np.ones(len(src)) if w is None else np.asarray(w, np.float64)
    agg = np.zeros_like(x)
    reduce = {"sum": np.sum, "mean": np.mean, "max": np.max}[aggr]
    for i in range(x.shape[0]):
        sel = dst == i
        if sel.any():
            agg[i] = reduce(w[sel, None] * x[src[sel]], axis=0)
    lin_rel, lin_root = conv.lin_rel, conv.lin_root
    return (
        agg @ np.asarray(lin_rel.kernel[...])
        + np.asarray(lin_rel.bias[...])
        + x @ np.asarray(lin_root.kernel[...])
    )


@pytest.mark.parametrize(("aggr", "out"), [("sum", 5), ("mean", 12), ("max", 5)])
def test_matches_dense_oracle(aggr, out):
    graph, x, w = random_graph(seed=1, edge_dim=0)
    conv = GraphConv(8, out, aggr=aggr, rngs=nnx.Rngs(0))
    conv.lin_rel.bias[...] = jnp.linspace(-1.0, 1.0, out)
    call = lambda g, x, ea: conv(g, x, ea)
    y = check_jit_matches_eager(call, graph, x, w)
    assert y.shape == (12, out) and y.dtype == jnp.float32
    assert_close(y, dense_graph_conv(graph, x, w, conv, aggr))
    assert_close(conv(graph, x), dense_graph_conv(graph, x, None, conv, aggr))
    check_sparse_path(call, graph, x, w)
    check_sparse_path(call, graph, x, None)


def test_layer_invariances_and_grads():
    graph, x, w = random_graph(seed=2, edge_dim=0)
    conv = GraphConv(8, 4, aggr="max", rngs=nnx.Rngs(1))
    call = jax.jit(lambda g, x, ea: conv(g, x, ea))
    check_padding_invariance(call, graph, x, w)
    check_permutation_equivariance(call, graph, x, w)
    check_finite_grads(lambda m: jnp.sum(m(graph, x, w) ** 2), conv)


def test_edge_index_bipartite_and_pure_function():
    graph, x, _ = random_graph(seed=3)
    conv = GraphConv((8, 3), 4, use_bias=False, rngs=nnx.Rngs(0))
    x_dst = x[:5, :3]
    keep = np.asarray(graph.receivers) < 5
    edge_index = jnp.stack([graph.senders[keep], graph.receivers[keep]])
    y = conv(edge_index, (x, x_dst))
    assert y.shape == (5, 4)
    # Oracle: the bipartite sum equals the dense product restricted to the kept rows.
    a = np.zeros((5, 12))
    np.add.at(a, (np.asarray(edge_index[1]), np.asarray(edge_index[0])), 1.0)
    expect = a @ np.asarray(x) @ np.asarray(conv.lin_rel.kernel[...])
    expect += np.asarray(x_dst) @ np.asarray(conv.lin_root.kernel[...])
    assert_close(y, expect)
    adj_t = to_adj_t(graph._replace(senders=edge_index[0], receivers=edge_index[1]))
    assert_close(
        graph_conv(adj_t[:5], (x, x_dst), conv.lin_rel.kernel[...], conv.lin_root.kernel[...]), y
    )


def test_bad_inputs_are_named():
    graph, x, _ = random_graph()
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        GraphConv(3, 2, rngs=nnx.Rngs(0))(graph, x)
    with pytest.raises(ValueError, match="aggr"):
        GraphConv(8, 2, aggr="lstm", rngs=nnx.Rngs(0))


@pytest.mark.peers
@pytest.mark.parametrize("aggr", ["add", "mean", "max"])
def test_pyg_parity(aggr):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, w = random_graph(seed=5, edge_dim=0)
    conv = GraphConv(8, 6, aggr=aggr, rngs=nnx.Rngs(0))
    conv.lin_rel.bias[...] = jnp.linspace(-1.0, 1.0, 6)
    ref = tg.nn.GraphConv(8, 6, aggr=aggr).eval()
    with torch.no_grad():
        ref.lin_rel.weight.copy_(torch.from_numpy(np.array(conv.lin_rel.kernel[...]).T.copy()))
        ref.lin_rel.bias.copy_(torch.from_numpy(np.array(conv.lin_rel.bias[...])))
        ref.lin_root.weight.copy_(torch.from_numpy(np.array(conv.lin_root.kernel[...]).T.copy()))
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    tx, tw = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(w))
    assert_close(conv(graph, x, w), ref(tx, edge_index, tw).detach().numpy())
    assert_close(conv(graph, x), ref(tx, edge_index).detach().numpy())
