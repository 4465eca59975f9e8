"""Tests for jgnn.nn normalisation: dense NumPy oracles, masking/padding, jit, grads and PyG."""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest
from flax import nnx

from jgnn.graph import node_mask, pad_graph
from jgnn.nn import BatchNorm, GraphNorm, LayerNorm, batch_norm, graph_norm, layer_norm

SIZES = [3, 0, 4, 2]
F = 4
EPS = 1e-5


def _data(sizes=SIZES, f=F, seed=0):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    x = (rng.normal(size=(n, f)) * 2.0 + 1.0).astype(np.float32)
    g = jraph.GraphsTuple(
        nodes=jnp.asarray(x),
        edges=None,
        senders=jnp.zeros((0,), jnp.int32),
        receivers=jnp.zeros((0,), jnp.int32),
        globals=None,
        n_node=jnp.asarray(sizes, jnp.int32),
        n_edge=jnp.zeros((len(sizes),), jnp.int32),
    )
    batch = np.repeat(np.arange(len(sizes)), sizes).astype(np.int32)
    return g, x, batch


def _padded(g, x, garbage, n_total=14):
    padded = pad_graph(g, n_total, 2, len(SIZES) + 2)
    nodes = padded.nodes.at[len(x) :].set(garbage)
    return padded._replace(nodes=nodes), nodes, node_mask(padded)


def _affine(f, seed):
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(0.5, 1.5, f).astype(np.float32),
        rng.normal(size=f).astype(np.float32),
    )


# ---------------------------------------------------------------- dense oracles


def _bn_oracle(x, scale, bias):
    x = x.astype(np.float64)
    mean, var = x.mean(0), x.var(0)
    return (x - mean) / np.sqrt(var + EPS) * scale + bias, mean, x.var(0, ddof=1)


def _ln_node_oracle(x, scale, bias):
    x = x.astype(np.float64)
    mean, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * scale + bias


def _ln_graph_oracle(x, batch, scale, bias):
    out = np.zeros(x.shape, np.float64)
    for i in np.unique(batch):
        rows = x[batch == i].astype(np.float64)
        out[batch == i] = (rows - rows.mean()) / np.sqrt(rows.var() + EPS) * scale + bias
    return out


def _gn_oracle(x, batch, scale, bias, alpha):
    out = np.zeros(x.shape, np.float64)
    for i in np.unique(batch):
        rows = x[batch == i].astype(np.float64)
        c = rows - alpha * rows.mean(0)
        out[batch == i] = scale * c / np.sqrt((c * c).mean(0) + EPS) + bias
    return out


# ---------------------------------------------------------------- batch norm


def test_batch_norm_train_and_eval_against_oracle():
    _, x, _ = _data()
    scale, bias = _affine(F, 1)
    rm, rv = np.full(F, 0.5, np.float32), np.full(F, 2.0, np.float32)
    out, new_m, new_v = batch_norm(
        x, scale, bias, running_mean=rm, running_var=rv, momentum=0.3, epsilon=EPS
    )
    want, mean, unbiased = _bn_oracle(x, scale, bias)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new_m, 0.7 * rm + 0.3 * mean, rtol=1e-5)
    np.testing.assert_allclose(new_v, 0.7 * rv + 0.3 * unbiased, rtol=1e-5)
    out, m2, v2 = batch_norm(
        x, scale, bias, running_mean=rm, running_var=rv, use_running_average=True
    )
    np.testing.assert_allclose(out, (x - rm) / np.sqrt(rv + EPS) * scale + bias, rtol=1e-5)
    np.testing.assert_array_equal(m2, rm)
    np.testing.assert_array_equal(v2, rv)
    out, m3, v3 = batch_norm(x)  # no affine, no running stats
    assert m3 is None and v3 is None
    np.testing.assert_allclose(out, _bn_oracle(x, 1.0, 0.0)[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("garbage", [0.0, 1e6, np.nan])
def test_batch_norm_mask_ignores_padding(garbage):
    g, x, _ = _data()
    scale, bias = _affine(F, 2)
    rm, rv = np.zeros(F, np.float32), np.ones(F, np.float32)
    want = batch_norm(x, scale, bias, running_mean=rm, running_var=rv)
    _, nodes, mask = _padded(g, x, garbage)
    got = batch_norm(nodes, scale, bias, running_mean=rm, running_var=rv, mask=mask)
    np.testing.assert_allclose(got[0][: len(x)], want[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got[0][len(x) :], 0.0)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-6)
    # eval mode too
    ev = batch_norm(
        nodes, scale, bias, running_mean=rm, running_var=rv, mask=mask, use_running_average=True
    )[0]
    np.testing.assert_array_equal(ev[len(x) :], 0.0)
    assert np.all(np.isfinite(ev))


def test_batch_norm_all_masked_keeps_running_stats():
    _, x, _ = _data()
    rm, rv = np.full(F, 0.3, np.float32), np.full(F, 1.7, np.float32)
    out, m, v = batch_norm(x, running_mean=rm, running_var=rv, mask=np.zeros(len(x), bool))
    np.testing.assert_array_equal(out, 0.0)
    np.testing.assert_array_equal(m, rm)
    np.testing.assert_array_equal(v, rv)


def test_batch_norm_module_modes_jit_and_grads():
    _, x, _ = _data()
    bn = BatchNorm(F, momentum=0.2, rngs=nnx.Rngs(0))
    bn_jit = nnx.clone(bn)
    out = bn(jnp.asarray(x))
    out_jit = nnx.jit(lambda m, v: m(v))(bn_jit, jnp.asarray(x))
    np.testing.assert_allclose(out_jit, out, rtol=1e-6, atol=1e-6)
    _, mean, unbiased = _bn_oracle(x, 1.0, 0.0)
    np.testing.assert_allclose(bn.mean[...], 0.2 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.var[...], 0.8 + 0.2 * unbiased, rtol=1e-5)
    np.testing.assert_allclose(bn_jit.mean[...], bn.mean[...], rtol=1e-6)
    np.testing.assert_allclose(bn_jit.var[...], bn.var[...], rtol=1e-6)
    bn.eval()
    stats = (np.asarray(bn.mean[...]), np.asarray(bn.var[...]))
    ev = bn(jnp.asarray(x))
    np.testing.assert_allclose(ev, (x - stats[0]) / np.sqrt(stats[1] + EPS), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bn.mean[...], stats[0])  # eval does not update

    # gradients through the module are finite even with NaN padding, and real rows match
    bn.train()
    g, _, _ = _data()
    _, nodes, mask = _padded(g, x, np.nan)

    def loss(model, v, m):
        return jnp.sum(model(v, mask=m) ** 2 * jnp.arange(F, dtype=jnp.float32))

    gx = nnx.jit(nnx.grad(loss, argnums=1))(nnx.clone(bn), nodes, mask)
    gx_ref = nnx.jit(nnx.grad(loss, argnums=1))(nnx.clone(bn), jnp.asarray(x), None)
    assert np.all(np.isfinite(gx))
    np.testing.assert_allclose(gx[: len(x)], gx_ref, rtol=1e-4, atol=1e-5)
    gp = nnx.jit(nnx.grad(loss))(nnx.clone(bn), nodes, mask)
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(gp))


def test_batch_norm_low_precision_keeps_dtype():
    _, x, _ = _data()
    xb = jnp.asarray(x, jnp.bfloat16)
    out = BatchNorm(F, rngs=nnx.Rngs(0))(xb)
    assert out.dtype == jnp.bfloat16
    want = _bn_oracle(np.asarray(xb, np.float32), 1.0, 0.0)[0]
    np.testing.assert_allclose(np.asarray(out, np.float32), want, rtol=3e-2, atol=3e-2)


# ---------------------------------------------------------------- layer norm


def test_layer_norm_node_and_graph_against_oracle():
    g, x, batch = _data()
    scale, bias = _affine(F, 3)
    np.testing.assert_allclose(
        layer_norm(x, scale, bias), _ln_node_oracle(x, scale, bias), rtol=1e-5, atol=1e-5
    )
    want = _ln_graph_oracle(x, batch, scale, bias)
    by_graph = layer_norm(x, scale, bias, mode="graph", graph=g)
    by_batch = layer_norm(x, scale, bias, mode="graph", batch=batch, num_graphs=len(SIZES))
    np.testing.assert_allclose(by_graph, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(by_batch, want, rtol=1e-5, atol=1e-5)
    single = layer_norm(x, mode="graph")  # one graph holding every node
    np.testing.assert_allclose(single, _ln_graph_oracle(x, 0 * batch, 1.0, 0.0), rtol=1e-5)


@pytest.mark.parametrize("mode", ["node", "graph"])
def test_layer_norm_padding_invariance_and_jit(mode):
    g, x, _ = _data()
    ln = LayerNorm(F, mode=mode, rngs=nnx.Rngs(0))
    ln.scale[...], ln.bias[...] = _affine(F, 4)
    want = ln(jnp.asarray(x), g if mode == "graph" else None)
    padded, nodes, mask = _padded(g, x, np.nan)
    got = ln(nodes, padded, mask=mask)
    np.testing.assert_allclose(got[: len(x)], want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got[len(x) :], 0.0)
    jitted = nnx.jit(lambda m, gr, v, k: m(v, gr, mask=k))(ln, padded, nodes, mask)
    np.testing.assert_allclose(jitted, got, rtol=1e-6, atol=1e-6)
    loss = lambda m, v: jnp.sum(m(v, padded, mask=mask) * jnp.asarray(x[0]))
    grad = nnx.jit(nnx.grad(loss, argnums=1))(ln, nodes)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad[len(x) :], 0.0)


def test_layer_norm_without_affine():
    g, x, batch = _data()
    ln = LayerNorm(F, mode="graph", affine=False, rngs=nnx.Rngs(0))
    assert ln.scale is None
    np.testing.assert_allclose(
        ln(jnp.asarray(x), g), _ln_graph_oracle(x, batch, 1.0, 0.0), rtol=1e-5, atol=1e-5
    )


# ---------------------------------------------------------------- graph norm


def test_graph_norm_against_oracle_and_padding():
    g, x, batch = _data()
    scale, bias = _affine(F, 5)
    alpha = np.random.default_rng(6).uniform(0.0, 1.5, F).astype(np.float32)
    want = _gn_oracle(x, batch, scale, bias, alpha)
    np.testing.assert_allclose(
        graph_norm(x, scale, bias, alpha, graph=g), want, rtol=1e-5, atol=1e-5
    )
    gn = GraphNorm(F, rngs=nnx.Rngs(0))
    gn.scale[...], gn.bias[...], gn.mean_scale[...] = scale, bias, alpha
    np.testing.assert_allclose(
        gn(jnp.asarray(x), batch=batch, num_graphs=4), want, rtol=1e-5, atol=1e-5
    )
    for garbage in (0.0, 1e6, np.nan):
        padded, nodes, mask = _padded(g, x, garbage)
        got = gn(nodes, padded, mask=mask)
        np.testing.assert_allclose(got[: len(x)], want, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(got[len(x) :], 0.0)
    # zero padding: the padding graph is its own graph, so even without a mask real rows hold
    padded, nodes, _ = _padded(g, x, 0.0)
    np.testing.assert_allclose(gn(nodes, padded)[: len(x)], want, rtol=1e-5, atol=1e-5)
    jitted = nnx.jit(lambda m, gr, k: m(gr.nodes, gr, mask=k))(gn, padded, node_mask(padded))
    np.testing.assert_allclose(jitted[: len(x)], want, rtol=1e-5, atol=1e-5)
    loss = lambda m: jnp.sum(m(nodes, padded, mask=node_mask(padded)) ** 3)
    grads = nnx.jit(nnx.grad(loss))(gn)
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(grads))


# ---------------------------------------------------------------- errors


def test_errors():
    g, x, batch = _data()
    with pytest.raises(ValueError, match="mode"):
        LayerNorm(F, mode="batch", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="mode='graph'"):
        layer_norm(x, graph=g)
    with pytest.raises(ValueError, match=r"\[N, 4\], got \(9, 3\)"):
        BatchNorm(F, rngs=nnx.Rngs(0))(jnp.asarray(x[:, :3]))
    with pytest.raises(ValueError, match="running_mean"):
        batch_norm(x, use_running_average=True)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(F, momentum=1.5, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"`scale` must have shape \(4,\)"):
        graph_norm(x, np.ones(3, np.float32), graph=g)
    with pytest.raises(TypeError, match="floating"):
        layer_norm(x.astype(np.int32))
    with pytest.raises(ValueError, match="mask"):
        graph_norm(x, graph=g, mask=np.ones(2, bool))


# ---------------------------------------------------------------- PyG / torch peers


def _t(a):
    import torch

    return torch.from_numpy(np.array(a))


@pytest.mark.peers
def test_batch_norm_matches_torch_and_pyg():
    torch = pytest.importorskip("torch")
    pyg = pytest.importorskip("torch_geometric.nn")
    g, x, _ = _data(seed=7)
    bn = BatchNorm(F, rngs=nnx.Rngs(0))
    bn.scale[...], bn.bias[...] = _affine(F, 8)
    ref = pyg.BatchNorm(F)
    with torch.no_grad():
        ref.module.weight.copy_(_t(bn.scale[...]))
        ref.module.bias.copy_(_t(bn.bias[...]))
    padded, nodes, mask = _padded(g, x, 1e6)
    ref.train()
    for step in range(2):  # two steps: running stats accumulate
        xs = x * (step + 1)
        got = bn(nodes.at[: len(x)].set(xs), mask=mask)
        want = ref(torch.from_numpy(xs)).detach().numpy()
        np.testing.assert_allclose(got[: len(x)], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.mean[...], ref.module.running_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(bn.var[...], ref.module.running_var.numpy(), rtol=1e-5)
    bn.eval()
    ref.eval()
    got = bn(nodes, mask=mask)
    want = ref(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got[: len(x)], want, rtol=1e-5, atol=1e-5)


@pytest.mark.peers
@pytest.mark.parametrize("mode", ["node", "graph"])
def test_layer_norm_matches_pyg(mode):
    torch = pytest.importorskip("torch")
    pyg = pytest.importorskip("torch_geometric.nn")
    g, x, batch = _data(seed=9)
    ln = LayerNorm(F, mode=mode, rngs=nnx.Rngs(0))
    ln.scale[...], ln.bias[...] = _affine(F, 10)
    ref = pyg.LayerNorm(F, mode=mode)
    with torch.no_grad():
        ref.weight.copy_(_t(ln.scale[...]))
        ref.bias.copy_(_t(ln.bias[...]))
    tb = torch.from_numpy(batch).long()
    want = ref(torch.from_numpy(x), tb, len(SIZES)).detach().numpy()
    np.testing.assert_allclose(ln(jnp.asarray(x), g), want, rtol=1e-5, atol=1e-5)


@pytest.mark.peers
def test_graph_norm_matches_pyg():
    torch = pytest.importorskip("torch")
    pyg = pytest.importorskip("torch_geometric.nn")
    g, x, batch = _data(seed=11)
    gn = GraphNorm(F, rngs=nnx.Rngs(0))
    gn.scale[...], gn.bias[...] = _affine(F, 12)
    gn.mean_scale[...] = np.random.default_rng(13).uniform(0.0, 1.5, F).astype(np.float32)
    ref = pyg.GraphNorm(F)
    with torch.no_grad():
        ref.weight.copy_(_t(gn.scale[...]))
        ref.bias.copy_(_t(gn.bias[...]))
        ref.mean_scale.copy_(_t(gn.mean_scale[...]))
    want = ref(torch.from_numpy(x), torch.from_numpy(batch).long(), len(SIZES))
    np.testing.assert_allclose(gn(jnp.asarray(x), g), want.detach().numpy(), rtol=1e-5, atol=1e-5)
