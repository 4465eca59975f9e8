"""TransformerConv: NumPy oracle, both graph forms, beta gate, invariances, PyG parity."""

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
    np64,
    pyg_attention_outputs,
    random_bipartite,
    random_graph,
    softmax_aggregate,
)

from jgnn.nn import TransformerConv


def dense_transformer(conv, graph, x, ea):
    src, dst = np.asarray(graph.senders), np.asarray(graph.receivers)
    n, heads, c = x.shape[0], conv.heads, conv.out_features
    q = dense_linear(conv.lin_query, x).reshape(n, heads, c)
    k = dense_linear(conv.lin_key, x).reshape(n, heads, c)[src]
    v = dense_linear(conv.lin_value, x).reshape(n, heads, c)[src]
    if conv.lin_edge is not None:
        e = (np64(ea).reshape(len(src), -1) @ np64(conv.lin_edge.kernel[...])).reshape(-1, heads, c)
        k, v = k + e, v + e
    logits = (q[dst] * k).sum(-1) / np.sqrt(c)
    out = softmax_aggregate(src, dst, logits, v, n)
    out = out.reshape(n, -1) if conv.concat else out.mean(1)
    if conv.lin_skip is not None:
        root = dense_linear(conv.lin_skip, x)
        if conv.lin_beta is not None:
            z = np.concatenate([out, root, out - root], -1) @ np64(conv.lin_beta.kernel[...])
            b = 1 / (1 + np.exp(-z))
            out = b * root + (1 - b) * out
        else:
            out = out + root
    return out


def _randomise_biases(conv, seed=1):
    layers = [conv.lin_query, conv.lin_key, conv.lin_value, conv.lin_skip]
    keys = iter(jax.random.split(jax.random.key(seed), len(layers)))
    for layer in layers:
        if layer is not None and layer.bias is not None:
            layer.bias[...] = jax.random.normal(next(keys), layer.bias[...].shape)


CONFIGS = [
    dict(heads=1, concat=True, beta=False, edge_dim=None, root_weight=True),
    dict(heads=3, concat=True, beta=True, edge_dim=2, root_weight=True),
    dict(heads=2, concat=False, beta=True, edge_dim=None, root_weight=True),
    dict(heads=2, concat=True, beta=False, edge_dim=3, root_weight=False),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=range(len(CONFIGS)))
def test_matches_dense_oracle(cfg):
    graph, x, ea = random_graph(seed=1, edge_dim=cfg["edge_dim"])
    conv = TransformerConv(8, 4, **cfg, rngs=nnx.Rngs(0))
    _randomise_biases(conv)
    call = lambda g, x, ea: conv(g, x, ea)
    # One configuration runs eagerly too; the others only compiled (eager runs are slow).
    out = check_jit_matches_eager(call, graph, x, ea) if cfg is CONFIGS[1] else None
    call = jitted(conv)
    out = call(graph, x, ea) if out is None else out
    heads = cfg["heads"]
    assert out.shape == (12, 4 * heads if cfg["concat"] else 4) and out.dtype == jnp.float32
    assert_close(out, dense_transformer(conv, graph, x, ea))
    check_sparse_path(call, graph, x, ea)


def test_no_self_loops_isolated_node_gets_root_only():
    graph, x, _ = random_graph(seed=2)
    conv = TransformerConv(8, 3, heads=2, rngs=nnx.Rngs(0))
    _randomise_biases(conv)
    out, (edge_index, alpha) = jitted(conv, return_attention=True)(graph, x, None)
    assert edge_index.shape == (2, graph.senders.shape[0])  # nothing appended
    assert_close(out[0], x[0] @ conv.lin_skip.kernel[...] + conv.lin_skip.bias[...])
    sums = np.asarray(jax.ops.segment_sum(alpha, edge_index[1], 12))
    has_in = np.isin(np.arange(12), np.asarray(graph.receivers))
    assert_close(sums[has_in], np.ones((has_in.sum(), 2)))


def test_layer_invariances_grads_and_dropout():
    graph, x, ea = random_graph(seed=4, edge_dim=2)
    conv = TransformerConv(8, 4, heads=2, beta=True, edge_dim=2, dropout=0.5, rngs=nnx.Rngs(1))
    check_attention_layer(conv, graph, x, ea)


def test_bipartite_and_errors():
    ei, x_src, x_dst = random_bipartite(5, 5, 3, 12, 6, 4)
    ei = jnp.asarray(ei)
    conv = TransformerConv((6, 4), 2, heads=2, rngs=nnx.Rngs(0))
    assert jitted(conv)(ei, (x_src, x_dst), None).shape == (3, 4)
    with pytest.raises(ValueError, match=r"\[N, 6\]"):
        conv(ei, (x_dst, x_dst))
    assert TransformerConv(4, 2, beta=True, root_weight=False, rngs=nnx.Rngs(0)).lin_beta is None


def copy_transformer_params(torch, conv, ref):
    with torch.no_grad():
        for name in ("lin_query", "lin_key", "lin_value", "lin_edge", "lin_skip", "lin_beta"):
            mine = getattr(conv, name)
            if mine is None:
                continue
            copy_linear(torch, getattr(ref, name), mine)


@pytest.mark.peers
@pytest.mark.parametrize("cfg", CONFIGS, ids=range(len(CONFIGS)))
def test_pyg_parity(cfg):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, ea = random_graph(seed=11, edge_dim=cfg["edge_dim"])
    conv = TransformerConv(8, 5, **cfg, rngs=nnx.Rngs(2))
    _randomise_biases(conv)
    ref = tg.nn.TransformerConv(8, 5, **cfg).eval()
    copy_transformer_params(torch, conv, ref)
    (out, _, alpha), (expect, _, ref_alpha) = pyg_attention_outputs(torch, conv, ref, graph, x, ea)
    assert_close(out, expect)
    assert_close(alpha, ref_alpha)


@pytest.mark.peers
def test_pyg_parity_bipartite():
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    conv = TransformerConv((5, 3), 4, heads=2, beta=True, rngs=nnx.Rngs(0))
    _randomise_biases(conv)
    ref = tg.nn.TransformerConv((5, 3), 4, heads=2, beta=True).eval()
    check_pyg_bipartite_parity(torch, conv, ref, copy_transformer_params)
