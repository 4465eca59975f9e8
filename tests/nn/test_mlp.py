"""Tests for jgnn.nn.MLP: dense oracle, PyG's MLP with copied weights, dropout, padding, jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jgnn.nn import MLP, BatchNorm, LayerNorm

CHANNELS = [4, 8, 6, 3]


def _x(n=7, f=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, f)).astype(np.float32)


def _dense_forward(mlp, x, act=lambda v: np.maximum(v, 0.0)):
    """NumPy oracle for an MLP without norms or dropout."""
    h = x.astype(np.float64)
    for i, lin in enumerate(mlp.linears):
        h = h @ np.asarray(lin.kernel[...], np.float64) + np.asarray(lin.bias[...], np.float64)
        if i < len(mlp.linears) - 1 or not mlp.plain_last:
            h = act(h)
    return h


def test_constructors_agree():
    a = MLP(CHANNELS, rngs=nnx.Rngs(0))
    b = MLP(in_features=4, hidden_features=8, out_features=3, num_layers=3, rngs=nnx.Rngs(0))
    c = MLP(4, hidden_features=8, out_features=3, num_layers=1, rngs=nnx.Rngs(0))
    assert a.channel_list == (4, 8, 6, 3) and a.num_layers == 3
    assert b.channel_list == (4, 8, 8, 3)
    assert (c.in_features, c.out_features, c.num_layers) == (4, 3, 1)
    assert [lin.kernel[...].shape for lin in a.linears] == [(4, 8), (8, 6), (6, 3)]


@pytest.mark.parametrize("plain_last", [True, False])
def test_matches_dense_oracle_jit_and_grads(plain_last):
    x = _x()
    mlp = MLP(CHANNELS, plain_last=plain_last, rngs=nnx.Rngs(1))
    for lin in mlp.linears:  # non-zero biases so the oracle checks them
        lin.bias[...] = jnp.linspace(-0.5, 0.5, lin.bias[...].shape[0], dtype=jnp.float32)
    want = _dense_forward(mlp, x)
    np.testing.assert_allclose(mlp(jnp.asarray(x)), want, rtol=1e-5, atol=1e-5)
    jitted = nnx.jit(lambda m, v: m(v, deterministic=True))(mlp, jnp.asarray(x))
    np.testing.assert_allclose(jitted, want, rtol=1e-5, atol=1e-5)
    grads = nnx.jit(nnx.grad(lambda m: jnp.sum(m(jnp.asarray(x)) ** 2)))(mlp)
    leaves = jax.tree_util.tree_leaves(grads)
    assert leaves and all(np.all(np.isfinite(leaf)) for leaf in leaves)
    assert any(np.any(leaf != 0) for leaf in leaves)


def test_act_first_and_string_activation():
    x = _x()
    mlp = MLP([4, 8, 6], act="tanh", act_first=True, rngs=nnx.Rngs(2))
    np.testing.assert_allclose(
        mlp(jnp.asarray(x)), _dense_forward(mlp, x, np.tanh), rtol=1e-5, atol=1e-5
    )


def test_dropout_train_and_deterministic():
    x = _x(n=40)
    mlp = MLP([4, 8], dropout=0.5, plain_last=False, act=None, rngs=nnx.Rngs(0))
    ref = _dense_forward(mlp, x, act=lambda v: v)
    np.testing.assert_allclose(mlp(jnp.asarray(x), deterministic=True), ref, rtol=1e-5, atol=1e-6)
    out = np.asarray(mlp(jnp.asarray(x)))
    dropped = out == 0.0
    assert 0.3 < dropped.mean() < 0.7
    np.testing.assert_allclose(out[~dropped], 2.0 * ref[~dropped], rtol=1e-5, atol=1e-6)
    mlp.eval()
    np.testing.assert_allclose(mlp(jnp.asarray(x)), ref, rtol=1e-5, atol=1e-6)
    # float dropout with plain_last leaves the last layer without dropout
    plain = MLP([4, 8, 6], dropout=0.5, rngs=nnx.Rngs(0))
    assert [d.rate for d in plain.dropouts] == [0.5, 0.0]


@pytest.mark.parametrize("norm", ["batch_norm", "layer_norm", "graph_norm"])
def test_padding_invariance_with_norms(norm):
    x = _x(n=7)
    batch = np.array([0, 0, 0, 1, 1, 1, 1], np.int32)
    mlp = MLP(CHANNELS, norm=norm, rngs=nnx.Rngs(3))
    ref_model = nnx.clone(mlp)
    fwd = nnx.jit(lambda m, v, b, k: m(v, batch=b, num_graphs=3, mask=k))
    want = fwd(ref_model, jnp.asarray(x), batch, None)
    xp = np.concatenate([x, np.full((3, 4), np.nan, np.float32)])  # garbage padding rows
    bp = np.concatenate([batch, np.full(3, 2, np.int32)])  # padding graph 2
    mask = np.arange(10) < 7
    got = fwd(mlp, jnp.asarray(xp), bp, mask)
    np.testing.assert_allclose(got[:7], want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got[7:], 0.0)
    if norm == "batch_norm":
        for a, b in zip(mlp.norms, ref_model.norms):
            np.testing.assert_allclose(a.mean[...], b.mean[...], rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(a.var[...], b.var[...], rtol=1e-6)
    loss = lambda m: jnp.sum(m(jnp.asarray(xp), batch=bp, num_graphs=3, mask=mask))
    grads = nnx.jit(nnx.grad(loss))(nnx.clone(mlp))
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(grads))


def test_batch_norm_modes():
    x = jnp.asarray(_x())
    mlp = MLP(CHANNELS, norm="batch_norm", norm_kwargs={"momentum": 0.5}, rngs=nnx.Rngs(4))
    assert isinstance(mlp.norms[0], BatchNorm) and mlp.norms[0].momentum == 0.5
    assert len(mlp.norms) == 2  # plain_last: no norm on the last layer
    before = np.asarray(mlp.norms[0].mean[...])
    mlp(x, deterministic=True)  # evaluation mode: running stats untouched
    np.testing.assert_array_equal(mlp.norms[0].mean[...], before)
    mlp(x)
    assert not np.allclose(mlp.norms[0].mean[...], before)
    ln = MLP(CHANNELS, norm="layer_norm", plain_last=False, rngs=nnx.Rngs(0))
    assert isinstance(ln.norms[2], LayerNorm) and ln.norms[2].mode == "node"


def test_errors():
    with pytest.raises(ValueError, match="num_layers"):
        MLP(in_features=4, out_features=2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="hidden_features"):
        MLP(in_features=4, out_features=2, num_layers=3, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="not both"):
        MLP([4, 2], in_features=4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="at least two"):
        MLP([4], rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="norm"):
        MLP([4, 2], norm="instance_norm", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="2 dropout rates for 3 layers"):
        MLP(CHANNELS, dropout=[0.1, 0.2], rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="act"):
        MLP([4, 2], act="not_an_activation", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"\[N, 4\], got \(7, 5\)"):
        MLP(CHANNELS, rngs=nnx.Rngs(0))(jnp.asarray(_x(f=5)))


# ---------------------------------------------------------------- PyG peers


def _copy_to_pyg(mlp, ref, torch):
    def t(a):
        return torch.from_numpy(np.array(a))

    with torch.no_grad():
        for lin, rlin in zip(mlp.linears, ref.lins):
            rlin.weight.copy_(t(lin.kernel[...]).T)  # [in, out] -> torch's [out, in]
            rlin.bias.copy_(t(lin.bias[...]))
        for norm, rnorm in zip(mlp.norms or [], ref.norms):
            target = rnorm.module if hasattr(rnorm, "module") else rnorm
            target.weight.copy_(t(norm.scale[...]))
            target.bias.copy_(t(norm.bias[...]))


@pytest.mark.peers
@pytest.mark.parametrize(
    "norm, mode",
    [(None, None), ("batch_norm", None), ("layer_norm", "node"), ("layer_norm", "graph")],
)
def test_matches_pyg_mlp(norm, mode):
    torch = pytest.importorskip("torch")
    pyg = pytest.importorskip("torch_geometric.nn")
    x = _x(n=9, seed=5)
    batch = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2], np.int32)
    kwargs = None if mode is None else {"mode": mode}
    mlp = MLP(CHANNELS, norm=norm, norm_kwargs=kwargs, rngs=nnx.Rngs(6))
    rng = np.random.default_rng(7)
    for n in mlp.norms or []:  # random affine parameters
        n.scale[...] = rng.uniform(0.5, 1.5, n.num_features).astype(np.float32)
        n.bias[...] = rng.normal(size=n.num_features).astype(np.float32)
    ref = pyg.MLP(CHANNELS, norm=norm, norm_kwargs=kwargs, act="relu", dropout=0.0)
    _copy_to_pyg(mlp, ref, torch)
    tx, tb = torch.from_numpy(x), torch.from_numpy(batch).long()
    ref.train()
    for step in range(2):
        want = ref(tx * (step + 1), batch=tb, batch_size=3).detach().numpy()
        got = mlp(jnp.asarray(x * (step + 1)), batch=batch, num_graphs=3, deterministic=False)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    ref.eval()
    mlp.eval()
    want = ref(tx, batch=tb, batch_size=3).detach().numpy()
    np.testing.assert_allclose(
        mlp(jnp.asarray(x), batch=batch, num_graphs=3), want, rtol=1e-5, atol=1e-5
    )


def test_sparse_input_features_match_dense():
    from jgnn.sparse import SparseTensor

    x = np.random.default_rng(4).normal(size=(10, 6)).astype(np.float32)
    x = jnp.asarray(np.where(x > 1.0, x, 0.0))
    mlp = MLP([6, 8, 3], norm="batch_norm", rngs=nnx.Rngs(0))
    xs = SparseTensor.from_dense(x)
    run = lambda m, f: m(f, deterministic=True)
    np.testing.assert_allclose(jax.jit(run)(mlp, xs), run(mlp, x), rtol=1e-5, atol=1e-6)
    grad = lambda f: nnx.grad(lambda m: jnp.sum(m(f, deterministic=True) ** 2))(mlp)
    gs, gd = grad(xs), grad(x)
    for i in range(2):
        np.testing.assert_allclose(
            gs["linears"][i]["kernel"][...], gd["linears"][i]["kernel"][...], rtol=1e-5, atol=1e-6
        )
    with pytest.raises(ValueError, match="mask"):
        mlp(xs, mask=jnp.ones((10,), bool), deterministic=True)
