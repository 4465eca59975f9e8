"""GATConv: NumPy oracle, both graph forms, self loops, dropout, invariances, PyG parity."""

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
    jitted,
    loops_with_mean_fill,
    np64,
    pyg_attention_outputs,
    random_graph,
    softmax_aggregate,
    to_torch,
)

from jgnn.nn import GATConv
from jgnn.nn._attention import add_attention_self_loops
from jgnn.sparse import to_adj_t


def dense_gat(conv, graph, x, ea, loops=True):
    src, dst = np.asarray(graph.senders), np.asarray(graph.receivers)
    x, n = np64(x), x.shape[0]
    ea = None if ea is None or conv.lin_edge is None else np64(ea).reshape(len(src), -1)
    if loops:
        src, dst, ea = loops_with_mean_fill(src, dst, ea, n)
    heads, c = conv.heads, conv.out_features
    h = (x @ np64(conv.lin.kernel[...])).reshape(n, heads, c)
    logits = (h[src] * np64(conv.att_src[...])).sum(-1) + (h[dst] * np64(conv.att_dst[...])).sum(-1)
    if ea is not None:
        he = (ea @ np64(conv.lin_edge.kernel[...])).reshape(-1, heads, c)
        logits = logits + (he * np64(conv.att_edge[...])).sum(-1)
    logits = np.where(logits > 0, logits, conv.negative_slope * logits)
    out = softmax_aggregate(src, dst, logits, h[src], n)
    out = out.reshape(n, -1) if conv.concat else out.mean(1)
    if conv.res is not None:
        out = out + x @ np64(conv.res.kernel[...])
    return out + np64(conv.bias[...])


def _randomise_bias(conv, seed=1):
    conv.bias[...] = jax.random.normal(jax.random.key(seed), conv.bias[...].shape)


def test_jit_matches_eager():
    graph, x, ea = random_graph(seed=1, edge_dim=2, self_loops=True)
    conv = GATConv(8, 4, heads=2, edge_dim=2, rngs=nnx.Rngs(0))
    out = check_jit_matches_eager(lambda g, x, ea: conv(g, x, ea), graph, x, ea)
    assert out.shape == (12, 8) and out.dtype == jnp.float32


@pytest.mark.parametrize(
    "heads,concat,edge_dim,self_loops",
    [(1, True, None, False), (3, True, 2, False), (2, False, 2, True)],
)
def test_matches_dense_oracle(heads, concat, edge_dim, self_loops):
    graph, x, ea = random_graph(seed=1, edge_dim=edge_dim, self_loops=self_loops)
    conv = GATConv(8, 4, heads=heads, concat=concat, edge_dim=edge_dim, rngs=nnx.Rngs(0))
    _randomise_bias(conv)
    call = jitted(conv)
    out = call(graph, x, ea)
    assert out.shape == (12, 4 * heads if concat else 4) and out.dtype == jnp.float32
    assert_close(out, dense_gat(conv, graph, x, ea))
    check_sparse_path(call, graph, x, ea)


def test_without_self_loops_and_with_residual():
    graph, x, _ = random_graph(seed=2)
    conv = GATConv(8, 3, heads=2, add_self_loops=False, residual=True, rngs=nnx.Rngs(3))
    _randomise_bias(conv)
    call = jitted(conv)
    out = call(graph, x, None)
    assert_close(out, dense_gat(conv, graph, x, None, loops=False))
    # Node 0 has no in-edges and no loop: only residual + bias remain.
    assert_close(out[0], x[0] @ conv.res.kernel[...] + conv.bias[...])
    check_sparse_path(call, graph, x, None)


def test_sparse_path_is_jittable_with_edge_features():
    graph, x, ea = random_graph(seed=3, edge_dim=2)
    conv = GATConv(8, 4, heads=2, edge_dim=2, rngs=nnx.Rngs(0))
    adj_t = to_adj_t(graph._replace(edges=ea))
    call = jitted(conv)
    # No edge_attr: the adj_t's values are the edge features.
    assert_close(call(adj_t, x, None), call(graph, x, ea))


def test_layer_invariances_and_grads():
    graph, x, ea = random_graph(seed=4, edge_dim=2)
    conv = GATConv(8, 4, heads=2, edge_dim=2, residual=True, rngs=nnx.Rngs(1))
    check_attention_layer(conv, graph, x, ea, dropout=False)


def test_return_attention_rows_sum_to_one_and_existing_loops_get_zero():
    graph, x, _ = random_graph(seed=5, self_loops=True)
    n, e = x.shape[0], graph.senders.shape[0]
    conv = GATConv(8, 4, heads=3, rngs=nnx.Rngs(0))
    out, (edge_index, alpha) = jitted(conv, return_attention=True)(graph, x, None)
    assert_close(out, jitted(conv)(graph, x, None))
    assert edge_index.shape == (2, e + n) and alpha.shape == (e + n, 3)
    assert_close(edge_index[:, e:], np.stack([np.arange(n)] * 2))
    sums = jax.ops.segment_sum(alpha, edge_index[1], n)
    assert_close(sums, np.ones((n, 3)))
    old_loops = np.asarray(graph.senders == graph.receivers)
    assert old_loops.any()
    assert np.all(np.asarray(alpha[:e][old_loops]) == 0)


def test_self_loop_fill_values():
    ei = jnp.array([[1, 2, 1, 0], [0, 0, 1, 2]])
    ea = jnp.array([[1.0], [3.0], [7.0], [5.0]])
    _, mean, keep = add_attention_self_loops(ei, ea, num_nodes=(3, 3))
    assert_close(mean[4:, 0], [2.0, 0.0, 5.0])  # node 1's own loop (7) is ignored
    assert np.asarray(keep).tolist() == [True, True, False, True, True, True, True]
    _, add, _ = add_attention_self_loops(ei, ea, num_nodes=(3, 3), fill_value="add")
    assert_close(add[4:, 0], [4.0, 0.0, 5.0])
    _, const, _ = add_attention_self_loops(ei, ea, num_nodes=(3, 2), fill_value=-1.0)
    assert_close(const[4:, 0], [-1.0, -1.0])
    with pytest.raises(ValueError, match="fill_value"):
        add_attention_self_loops(ei, ea, num_nodes=(3, 3), fill_value="max")


def test_attention_dropout_only_in_training():
    graph, x, _ = random_graph(seed=6)
    conv = GATConv(8, 4, heads=2, dropout=0.5, rngs=nnx.Rngs(0, dropout=1))
    eval_out = jitted(conv)(graph, x, None)
    assert_close(eval_out, jitted(GATConv(8, 4, heads=2, rngs=nnx.Rngs(0)))(graph, x, None))
    train = nnx.jit(lambda m, g, x: m(g, x, deterministic=False))
    a, b = train(conv, graph, x), train(conv, graph, x)
    assert not np.allclose(np.asarray(a), np.asarray(eval_out))
    assert not np.allclose(np.asarray(a), np.asarray(b))  # a fresh mask per call


def test_bipartite_matches_oracle():
    rng = np.random.default_rng(7)
    src = rng.integers(0, 5, 14).astype(np.int32)
    dst = rng.integers(0, 3, 14).astype(np.int32)
    x_src = jnp.asarray(rng.normal(size=(5, 6)), jnp.float32)
    x_dst = jnp.asarray(rng.normal(size=(3, 4)), jnp.float32)
    conv = GATConv((6, 4), 2, heads=2, add_self_loops=False, rngs=nnx.Rngs(0))
    out = jitted(conv)(jnp.stack([src, dst]), (x_src, x_dst), None)
    h_s = (np64(x_src) @ np64(conv.lin_src.kernel[...])).reshape(5, 2, 2)
    h_d = (np64(x_dst) @ np64(conv.lin_dst.kernel[...])).reshape(3, 2, 2)
    logits = (h_s[src] * np64(conv.att_src[...])).sum(-1)
    logits = logits + (h_d[dst] * np64(conv.att_dst[...])).sum(-1)
    logits = np.where(logits > 0, logits, 0.2 * logits)
    expect = softmax_aggregate(src, dst, logits, h_s[src], 3).reshape(3, 4)
    assert_close(out, expect)


def test_low_precision_keeps_dtype():
    graph, x, _ = random_graph(seed=8)
    conv = GATConv(8, 4, heads=2, rngs=nnx.Rngs(0))
    call = jitted(conv)
    out = call(graph, x.astype(jnp.bfloat16), None)
    assert out.dtype == jnp.bfloat16
    assert_close(out.astype(jnp.float32), call(graph, x, None), rtol=5e-2, atol=5e-2)


def test_cora_shaped_stack_trains_under_jit():
    """The paper's Cora setup in miniature: 8 heads concat -> 1 head, attention dropout."""
    graph, x, _ = random_graph(seed=9, num_nodes=16, num_edges=48)
    labels = jnp.arange(16) % 3

    class TinyGAT(nnx.Module):
        def __init__(self, rngs):
            self.conv1 = GATConv(8, 4, heads=8, dropout=0.6, rngs=rngs)
            self.conv2 = GATConv(32, 3, heads=1, concat=False, dropout=0.6, rngs=rngs)

        def __call__(self, g, x, deterministic):
            h = nnx.elu(self.conv1(g, x, deterministic=deterministic))
            return self.conv2(g, h, deterministic=deterministic)

    model = TinyGAT(nnx.Rngs(0))

    def loss_fn(m):
        logits = m(graph, x, False)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))

    loss, grads = nnx.jit(nnx.value_and_grad(loss_fn))(model)
    assert np.isfinite(float(loss))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


def test_errors_name_shapes():
    graph, x, ea = random_graph(seed=10, edge_dim=2)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        GATConv(3, 2, rngs=nnx.Rngs(0))(graph, x)
    with pytest.raises(ValueError, match="edge_dim=None"):
        GATConv(8, 2, rngs=nnx.Rngs(0))(graph, x, ea)
    with pytest.raises(ValueError, match="needs edge features"):
        GATConv(8, 2, edge_dim=2, rngs=nnx.Rngs(0))(graph, x)
    with pytest.raises(ValueError, match=r"\[E, 5\]"):
        GATConv(8, 2, edge_dim=5, rngs=nnx.Rngs(0))(graph, x, ea)


# --------------------------------------------------------------------------------------------
# PyG parity
# --------------------------------------------------------------------------------------------


def copy_gat_params(torch, conv, ref):
    """jgnn GATConv -> PyG GATConv: kernels transpose, attention vectors gain a leading 1."""
    with torch.no_grad():
        for name in ("lin", "lin_src", "lin_dst", "lin_edge", "res"):
            mine = getattr(conv, name)
            if mine is not None:
                copy_linear(torch, getattr(ref, name), mine)
        for name in ("att_src", "att_dst", "att_edge"):
            mine = getattr(conv, name)
            if mine is not None:
                getattr(ref, name).copy_(to_torch(torch, mine[...], unsqueeze=True))
        if conv.bias is not None:
            ref.bias.copy_(to_torch(torch, conv.bias[...]))


@pytest.mark.peers
@pytest.mark.parametrize(
    "heads,concat,edge_dim,residual,self_loops",
    [
        (3, True, None, True, True),
        (2, False, 3, False, True),
        (4, True, 1, True, False),
    ],
)
def test_pyg_parity(heads, concat, edge_dim, residual, self_loops):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, ea = random_graph(seed=11, edge_dim=edge_dim, self_loops=self_loops)
    kw = dict(heads=heads, concat=concat, edge_dim=edge_dim, residual=residual)
    conv = GATConv(8, 5, **kw, rngs=nnx.Rngs(2))
    _randomise_bias(conv)
    ref = tg.nn.GATConv(8, 5, **kw).eval()
    copy_gat_params(torch, conv, ref)
    (out, ei, alpha), (expect, ref_ei, ref_alpha) = pyg_attention_outputs(
        torch, conv, ref, graph, x, ea
    )
    assert_close(out, expect)
    # PyG drops existing loops, jgnn masks them (alpha 0): compare the edges PyG kept.
    kept = np.concatenate([np.asarray(graph.senders != graph.receivers), np.ones(12, bool)])
    assert_close(ei[:, kept], ref_ei)
    assert_close(alpha[kept], ref_alpha)


@pytest.mark.peers
def test_pyg_parity_bipartite():
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    conv = GATConv((5, 3), 4, heads=2, residual=True, rngs=nnx.Rngs(0))
    _randomise_bias(conv)
    ref = tg.nn.GATConv((5, 3), 4, heads=2, residual=True).eval()
    check_pyg_bipartite_parity(torch, conv, ref, copy_gat_params)


def test_sparse_input_features_match_dense():
    from jgnn.sparse import SparseTensor

    graph, x, _ = random_graph(seed=8, edge_dim=0)
    x = jnp.where(x > 0.8, x, 0.0)  # mostly zeros, like bag-of-words features
    conv = GATConv(x.shape[1], 4, heads=2, residual=True, rngs=nnx.Rngs(0))
    xs = SparseTensor.from_dense(x)
    assert_close(jax.jit(lambda g, f: conv(g, f))(graph, xs), conv(graph, x))
    grad = lambda feats: nnx.grad(lambda m: jnp.sum(m(graph, feats) ** 2))(conv)
    g_sparse, g_dense = grad(xs), grad(x)
    assert_close(g_sparse["lin"]["kernel"][...], g_dense["lin"]["kernel"][...])
    assert_close(g_sparse["res"]["kernel"][...], g_dense["res"]["kernel"][...])
