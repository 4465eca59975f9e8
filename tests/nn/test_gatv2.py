"""GATv2Conv: NumPy oracle, both graph forms, dropout, invariances, PyG parity."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from nn.layer_checks import (
    assert_close,
    check_attention_layer,
    check_jit_matches_eager,
    check_pyg_bipartite_parity,
    check_sparse_path,
    copy_linear,
    dense_linear,
    jitted,
    loops_with_mean_fill,
    np64,
    pyg_attention_outputs,
    random_bipartite,
    random_graph,
    softmax_aggregate,
    to_torch,
)

from jgnn.nn import GATConv, GATv2Conv


def dense_gatv2(conv, graph, x, ea, loops=True):
    src, dst = np.asarray(graph.senders), np.asarray(graph.receivers)
    n, heads, c = x.shape[0], conv.heads, conv.out_features
    ea = None if ea is None else np64(ea).reshape(len(src), -1)
    if loops:
        src, dst, ea = loops_with_mean_fill(src, dst, ea, n)
    h_l = dense_linear(conv.lin_l, x).reshape(n, heads, c)
    h_r = h_l if conv.lin_r is None else dense_linear(conv.lin_r, x).reshape(n, heads, c)
    z = h_l[src] + h_r[dst]
    if ea is not None:
        z = z + (ea @ np64(conv.lin_edge.kernel[...])).reshape(-1, heads, c)
    z = np.where(z > 0, z, conv.negative_slope * z)
    logits = (z * np64(conv.att[...])).sum(-1)
    out = softmax_aggregate(src, dst, logits, h_l[src], n)
    out = out.reshape(n, -1) if conv.concat else out.mean(1)
    if conv.res is not None:
        out = out + np64(x) @ np64(conv.res.kernel[...])
    return out + np64(conv.bias[...])


def _randomise_biases(conv, seed=1):
    keys = iter(jax.random.split(jax.random.key(seed), 3))
    for p in (conv.bias, conv.lin_l.bias, None if conv.lin_r is None else conv.lin_r.bias):
        if p is not None:
            p[...] = jax.random.normal(next(keys), p[...].shape)


@pytest.mark.parametrize(
    "heads,concat,edge_dim,share,self_loops",
    [(1, True, None, False, False), (3, False, 2, False, True), (2, True, 2, True, False)],
)
def test_matches_dense_oracle(heads, concat, edge_dim, share, self_loops):
    graph, x, ea = random_graph(seed=1, edge_dim=edge_dim, self_loops=self_loops)
    conv = GATv2Conv(
        8, 4, heads=heads, concat=concat, edge_dim=edge_dim, share_weights=share, rngs=nnx.Rngs(0)
    )
    _randomise_biases(conv)
    call = lambda g, x, ea: conv(g, x, ea)
    # One configuration runs eagerly too; the others only compiled (eager runs are slow).
    out = check_jit_matches_eager(call, graph, x, ea) if share else jitted(conv)(graph, x, ea)
    assert out.shape == (12, 4 * heads if concat else 4) and out.dtype == jnp.float32
    assert_close(out, dense_gatv2(conv, graph, x, ea))
    call = jitted(conv)
    check_sparse_path(call, graph, x, ea)


def test_without_self_loops_matches_oracle():
    graph, x, _ = random_graph(seed=2)
    conv = GATv2Conv(8, 3, heads=2, add_self_loops=False, residual=True, rngs=nnx.Rngs(3))
    _randomise_biases(conv)
    call = jitted(conv)
    assert_close(call(graph, x, None), dense_gatv2(conv, graph, x, None, loops=False))
    check_sparse_path(call, graph, x, None)


def test_attention_is_dynamic_unlike_gat():
    """GATv2's neighbour ranking depends on the target; GAT's is the same for every target."""
    ei = jnp.array([[0, 1, 0, 1], [2, 2, 3, 3]])
    x = jnp.array([[1.0, 0.0], [0.0, 1.0], [2.0, -1.0], [-2.0, 1.0]])
    v2 = GATv2Conv(2, 2, add_self_loops=False, bias=False, rngs=nnx.Rngs(0))
    v2.lin_l.kernel[...] = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
    v2.lin_r.kernel[...] = jnp.array([[1.0, -1.0], [-1.0, 1.0]])
    v2.att[...] = jnp.array([[1.0, 1.0]])  # logit = 0.8 |h_j + h_i|: depends on h_i's sign
    _, (_, alpha) = v2(ei, x, return_attention=True)
    # Target 2 prefers source 0, target 3 prefers source 1.
    assert alpha[0, 0] > alpha[1, 0] and alpha[3, 0] > alpha[2, 0]
    v1 = GATConv(2, 1, add_self_loops=False, bias=False, rngs=nnx.Rngs(0))
    _, (_, a1) = v1(ei, x, return_attention=True)
    assert (a1[0, 0] > a1[1, 0]) == (a1[2, 0] > a1[3, 0])


def test_layer_invariances_grads_and_dropout():
    graph, x, ea = random_graph(seed=4, edge_dim=2)
    conv = GATv2Conv(8, 4, heads=2, edge_dim=2, residual=True, dropout=0.5, rngs=nnx.Rngs(1))
    check_attention_layer(conv, graph, x, ea)


def test_bipartite_and_errors():
    ei, x_src, x_dst = random_bipartite(5, 5, 3, 12, 6, 4)
    ei = jnp.asarray(ei)
    conv = GATv2Conv((6, 4), 2, heads=2, rngs=nnx.Rngs(0))
    assert jitted(conv)(ei, (x_src, x_dst), None).shape == (3, 4)
    with pytest.raises(ValueError, match="share_weights"):
        GATv2Conv((6, 4), 2, share_weights=True, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        conv(ei, (x_src, x_src))


def copy_gatv2_params(torch, conv, ref):
    with torch.no_grad():
        pairs = [("lin_l", conv.lin_l), ("lin_r", conv.lin_r or conv.lin_l)]
        pairs += [("lin_edge", conv.lin_edge), ("res", conv.res)]
        for name, mine in pairs:
            if mine is None:
                continue
            copy_linear(torch, getattr(ref, name), mine)
        ref.att.copy_(to_torch(torch, conv.att[...], unsqueeze=True))
        if conv.bias is not None:
            ref.bias.copy_(to_torch(torch, conv.bias[...]))


@pytest.mark.peers
@pytest.mark.parametrize(
    "heads,concat,edge_dim,share,residual,self_loops",
    [
        (1, True, None, False, False, False),
        (3, False, 3, False, True, True),
        (2, True, 1, True, False, True),
    ],
)
def test_pyg_parity(heads, concat, edge_dim, share, residual, self_loops):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, ea = random_graph(seed=11, edge_dim=edge_dim, self_loops=self_loops)
    kw = dict(heads=heads, concat=concat, edge_dim=edge_dim, share_weights=share, residual=residual)
    conv = GATv2Conv(8, 5, **kw, rngs=nnx.Rngs(2))
    _randomise_biases(conv)
    ref = tg.nn.GATv2Conv(8, 5, **kw).eval()
    copy_gatv2_params(torch, conv, ref)
    (out, _, alpha), (expect, _, ref_alpha) = pyg_attention_outputs(torch, conv, ref, graph, x, ea)
    assert_close(out, expect)
    kept = np.concatenate([np.asarray(graph.senders != graph.receivers), np.ones(12, bool)])
    assert_close(alpha[kept], ref_alpha)


@pytest.mark.peers
def test_pyg_parity_bipartite():
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    conv = GATv2Conv((5, 3), 4, heads=2, rngs=nnx.Rngs(0))
    _randomise_biases(conv)
    ref = tg.nn.GATv2Conv((5, 3), 4, heads=2).eval()
    check_pyg_bipartite_parity(torch, conv, ref, copy_gatv2_params)
