"""EdgeConv: per-edge oracle, both graph forms, padding, permutation, gradients, PyG parity."""

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

from jgnn.nn import MLP, EdgeConv
from jgnn.sparse import to_adj_t


def loop_oracle(graph, x, nn, aggr):
    """``aggr_j nn([x_i, x_j - x_i])`` with a Python loop over destination nodes."""
    x = np.asarray(x)
    src, dst = np.asarray(graph.senders), np.asarray(graph.receivers)
    msg = np.asarray(nn(jnp.asarray(np.concatenate([x[dst], x[src] - x[dst]], axis=1))))
    out = np.zeros((x.shape[0], msg.shape[1]))
    for i in range(x.shape[0]):
        if (dst == i).any():
            out[i] = {"max": np.max, "mean": np.mean}[aggr](msg[dst == i], axis=0)
    return out


@pytest.mark.parametrize("aggr", ["max", "mean"])
def test_matches_loop_oracle(aggr):
    graph, x, w = random_graph(seed=1, edge_dim=0)
    conv = EdgeConv(MLP([16, 16, 4], rngs=nnx.Rngs(0)), aggr=aggr)
    call = lambda g, x, ea: conv(g, x)
    y = check_jit_matches_eager(call, graph, x, None)
    assert y.shape == (12, 4) and y.dtype == jnp.float32
    assert_close(y, loop_oracle(graph, x, conv.nn, aggr))
    assert not np.any(np.asarray(y)[0])  # node 0 has no in-edges
    check_sparse_path(call, graph, x, None)
    assert_close(conv(to_adj_t(graph._replace(edges=w)), x), y)  # values are ignored


def test_layer_invariances_and_grads():
    graph, x, _ = random_graph(seed=2)
    conv = EdgeConv(MLP([16, 8, 4], rngs=nnx.Rngs(1)))
    call = jax.jit(lambda g, x, ea: conv(g, x))
    check_padding_invariance(call, graph, x, None)
    check_permutation_equivariance(call, graph, x, None)
    check_finite_grads(lambda m: jnp.sum(m(graph, x) ** 2), conv)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="aggr"):
        EdgeConv(MLP([16, 4], rngs=nnx.Rngs(0)), aggr="std")
    with pytest.raises(TypeError, match="callable"):
        EdgeConv(3)


@pytest.mark.peers
def test_pyg_parity():
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, _ = random_graph(seed=5)
    conv = EdgeConv(MLP([16, 16, 4], rngs=nnx.Rngs(0)))
    seq = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    ref = tg.nn.EdgeConv(seq, aggr="max").eval()
    # PyG re-initialises `nn` when the layer is built: copy the weights afterwards.
    with torch.no_grad():
        for t, lin in zip([ref.nn[0], ref.nn[2]], conv.nn.linears, strict=True):
            t.weight.copy_(torch.from_numpy(np.array(lin.kernel[...]).T.copy()))
            t.bias.copy_(torch.from_numpy(np.array(lin.bias[...])))
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    expect = ref(torch.from_numpy(np.array(x)), edge_index).detach().numpy()
    assert_close(conv(graph, x), expect)
