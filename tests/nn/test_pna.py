"""PNAConv: a per-node loop oracle, both paths, invariances, gradients, PyG parity."""

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
from jgnn.nn import PNAConv, degree_histogram
from jgnn.sparse import to_adj_t

AGGREGATORS = ["mean", "min", "max", "std", "var", "sum"]
SCALERS = ["identity", "amplification", "attenuation", "linear", "inverse_linear"]


def loop_pna(conv, graph, x, edge_attr, deg_hist):
    """PNA written per node and per tower with NumPy, straight from the definition."""
    x = np.asarray(x, np.float64)
    p = lambda v: np.asarray(v[...], np.float64)
    src, dst = np.asarray(graph.senders), np.asarray(graph.receivers)
    hist = np.asarray(deg_hist, np.float64)
    bins = np.arange(len(hist))
    avg_lin = (bins * hist).sum() / hist.sum()
    avg_log = (np.log(bins + 1) * hist).sum() / hist.sum()
    t_count, f_in = conv.towers, conv.pre_nns[0].kernel.shape[-1]
    relu = lambda v: np.maximum(v, 0)

    def mlp(layers, t, h):
        for i, layer in enumerate(layers):
            h = (relu(h) if i else h) @ p(layer.kernel)[t] + p(layer.bias)[t]
        return h

    outs = []
    for t in range(t_count):
        xt = x[:, t * f_in : (t + 1) * f_in] if conv.divide_input else x
        rows = []
        for i in range(x.shape[0]):
            msgs = []
            for e in np.flatnonzero(dst == i):
                parts = [xt[i], xt[src[e]]]
                if edge_attr is not None:
                    ea = np.asarray(edge_attr[e], np.float64)
                    parts.append(ea @ p(conv.edge_encoder.kernel) + p(conv.edge_encoder.bias))
                msgs.append(mlp(conv.pre_nns, t, np.concatenate(parts)))
            m = np.array(msgs).reshape(-1, f_in)
            d = len(msgs)
            if d:
                stats = {
                    "mean": m.mean(0),
                    "min": m.min(0),
                    "max": m.max(0),
                    "std": m.std(0),
                    "var": m.var(0),
                    "sum": m.sum(0),
                }
            else:
                stats = dict.fromkeys(AGGREGATORS, np.zeros(f_in))
            agg = np.concatenate([stats[a] for a in conv.aggregators])
            scale = {
                "identity": 1.0,
                "amplification": np.log(d + 1) / avg_log,
                "attenuation": avg_log / np.log(max(d, 1) + 1),
                "linear": d / avg_lin,
                "inverse_linear": avg_lin / max(d, 1),
            }
            scaled = np.concatenate([scale[s] * agg for s in conv.scalers])
            rows.append(mlp(conv.post_nns, t, np.concatenate([xt[i], scaled])))
        outs.append(np.array(rows))
    return np.concatenate(outs, axis=1) @ p(conv.lin.kernel) + p(conv.lin.bias)


@pytest.mark.parametrize("edge_dim,divide_input", [(None, False), (3, True)])
def test_matches_loop_oracle(edge_dim, divide_input):
    graph, x, ea = random_graph(seed=1, edge_dim=edge_dim)
    deg = degree_histogram(graph)
    conv = PNAConv(
        8,
        6,
        AGGREGATORS,
        SCALERS,
        deg,
        edge_dim=edge_dim,
        towers=2,
        pre_layers=2,
        post_layers=2,
        divide_input=divide_input,
        rngs=nnx.Rngs(0),
    )
    for layer in [*conv.pre_nns, *conv.post_nns]:  # non-zero biases, so they are tested too
        layer.bias[...] = 0.1 * jax.random.normal(jax.random.key(7), layer.bias.shape)
    call = lambda g, x, e: conv(g, x, e)
    out = check_jit_matches_eager(call, graph, x, ea)
    assert out.shape == (12, 6) and out.dtype == jnp.float32
    assert_close(out, loop_pna(conv, graph, x, ea, deg), rtol=1e-4, atol=1e-4)
    check_sparse_path(call, graph, x, ea)


def test_layer_invariances_and_grads():
    graph, x, ea = random_graph(seed=2, edge_dim=2)
    conv = PNAConv(
        8,
        4,
        ["mean", "max", "std"],
        ["identity", "attenuation"],
        degree_histogram(graph),
        edge_dim=2,
        towers=2,
        train_norm=True,
        rngs=nnx.Rngs(1),
    )
    call = lambda g, x, e: conv(g, x, e)
    check_padding_invariance(call, graph, x, ea)
    check_permutation_equivariance(call, graph, x, ea)
    loss = nnx.jit(lambda m: jnp.sum(m(graph, x, ea) ** 2))
    check_finite_grads(loss, conv)
    grads = nnx.grad(loss)(conv)
    assert float(jnp.abs(grads.avg_deg_log[...])) > 0  # train_norm learns the average


def test_degree_histogram_of_several_graphs():
    g1 = random_graph(seed=3)[0]
    g2 = random_graph(seed=4, num_nodes=6, num_edges=20)[0]
    expect = np.bincount(
        np.concatenate([np.bincount(g.receivers, minlength=n) for g, n in ((g1, 12), (g2, 6))])
    )
    assert degree_histogram([g1, g2]).tolist() == expect.tolist()
    assert degree_histogram(batch([g1, g2])).tolist() == expect.tolist()
    assert degree_histogram(to_adj_t(g1)).tolist() == degree_histogram(g1).tolist()


def test_errors_name_what_was_expected():
    graph, x, ea = random_graph(edge_dim=2)
    deg = degree_histogram(graph)
    with pytest.raises(ValueError, match="scaler must be one of"):
        PNAConv(8, 4, ["mean"], ["log"], deg, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="divisible by towers=3"):
        PNAConv(8, 4, ["mean"], ["identity"], deg, towers=3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="histogram"):
        PNAConv(8, 4, ["mean"], ["identity"], np.zeros(3), rngs=nnx.Rngs(0))
    conv = PNAConv(8, 4, ["mean"], ["identity"], deg, edge_dim=3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"edge_attr \[E, 3\]"):
        conv(graph, x, ea)


@pytest.mark.peers
@pytest.mark.parametrize("edge_dim,divide_input", [(None, False), (3, True)])
def test_pyg_parity(edge_dim, divide_input):
    torch = pytest.importorskip("torch")
    tg = pytest.importorskip("torch_geometric")
    graph, x, ea = random_graph(seed=5, edge_dim=edge_dim)
    deg = degree_histogram(graph)
    kw = dict(edge_dim=edge_dim, towers=2, pre_layers=2, post_layers=2, divide_input=divide_input)
    conv = PNAConv(8, 6, AGGREGATORS, SCALERS, deg, rngs=nnx.Rngs(0), **kw)
    ref = tg.nn.PNAConv(8, 6, AGGREGATORS, SCALERS, torch.from_numpy(deg), **kw).eval()

    def copy(dst, kernel, bias):  # jgnn kernels are [in, out], torch weights [out, in]
        dst.weight.copy_(torch.from_numpy(np.array(kernel).T.copy()))
        dst.bias.copy_(torch.from_numpy(np.array(bias)))

    with torch.no_grad():
        for t in range(2):
            for i in range(2):
                for ours, theirs in (
                    (conv.pre_nns[i], ref.pre_nns),
                    (conv.post_nns[i], ref.post_nns),
                ):
                    copy(theirs[t][2 * i], ours.kernel[t], ours.bias[t])
        copy(ref.lin, conv.lin.kernel[...], conv.lin.bias[...])
        if edge_dim is not None:
            copy(ref.edge_encoder, conv.edge_encoder.kernel[...], conv.edge_encoder.bias[...])
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    t_ea = None if ea is None else torch.from_numpy(np.array(ea))
    expect = ref(torch.from_numpy(np.array(x)), edge_index, t_ea).detach().numpy()
    assert_close(conv(graph, x, ea), expect)
    hist = tg.nn.PNAConv.get_degree_histogram([tg.data.Data(edge_index=edge_index, num_nodes=12)])
    assert deg.tolist() == hist.tolist()
