"""GATConv / GATv2Conv on the fused Pallas attention kernel (interpret mode on the CPU) equal
the edge-list composition: values and gradients, with self loops stored in adj_t."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jgnn.nn import GATConv, GATv2Conv, gat_conv, gatv2_conv
from jgnn.sparse import SparseTensor

N, F, H, C = 9, 5, 2, 3


def _graph(seed=0):
    rng = np.random.default_rng(seed)
    src, dst = np.nonzero((rng.random((N, N)) < 0.3) & ~np.eye(N, dtype=bool))
    adj = SparseTensor(dst, src, None, (N, N))
    x = jnp.asarray(rng.normal(size=(N, F)), jnp.float32)
    return np.stack([src, dst]), adj, x


@pytest.mark.parametrize("layer", [GATConv, GATv2Conv])
def test_fused_layer_equals_edge_list_with_added_loops(layer):
    edge_index, adj, x = _graph(1)
    fused = layer(F, C, heads=H, add_self_loops=False, impl="pallas", rngs=nnx.Rngs(0))
    edges = layer(F, C, heads=H, add_self_loops=True, impl="segment", rngs=nnx.Rngs(0))
    want = edges(jnp.asarray(edge_index), x)
    got = fused(adj.set_diag(), x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_fused_gat_with_edge_features_values_and_gradients():
    _, adj, x = _graph(2)
    adj = adj.set_diag()
    rng = np.random.default_rng(3)
    e = jnp.asarray(rng.normal(size=(adj.nnz(), 4)), jnp.float32)
    lin = jnp.asarray(rng.normal(size=(F, H * C)), jnp.float32)
    att_src, att_dst, att_edge = (jnp.asarray(rng.normal(size=(H, C)), jnp.float32) for _ in "abc")
    lin_edge = jnp.asarray(rng.normal(size=(4, H * C)), jnp.float32)

    def loss(impl, x, lin, att_src, lin_edge):
        out = gat_conv(
            adj,
            x,
            lin,
            att_src,
            att_dst,
            edge_attr=e,
            lin_edge=lin_edge,
            att_edge=att_edge,
            add_self_loops=False,
            impl=impl,
        )
        return jnp.sum(out * jnp.cos(out)), out

    args = (x, lin, att_src, lin_edge)
    (_, want), gwant = jax.value_and_grad(lambda *a: loss("segment", *a), (0, 1, 2, 3), True)(*args)
    (_, got), ggot = jax.value_and_grad(lambda *a: loss("pallas", *a), (0, 1, 2, 3), True)(*args)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    for g, w in zip(ggot, gwant, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_fused_gatv2_gradients():
    _, adj, x = _graph(4)
    adj = adj.set_diag()
    rng = np.random.default_rng(5)
    lin_l = (jnp.asarray(rng.normal(size=(F, H * C)), jnp.float32), None)
    lin_r = (jnp.asarray(rng.normal(size=(F, H * C)), jnp.float32), None)
    att = jnp.asarray(rng.normal(size=(H, C)), jnp.float32)

    def loss(impl, x, att):
        out = gatv2_conv(adj, x, lin_l, lin_r, att, add_self_loops=False, impl=impl)
        return jnp.sum(out**2)

    want = jax.grad(lambda *a: loss("segment", *a), (0, 1))(x, att)
    got = jax.grad(lambda *a: loss("pallas", *a), (0, 1))(x, att)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_fused_attention_refuses_what_it_cannot_run():
    edge_index, adj, x = _graph(6)
    conv = GATConv(F, C, heads=H, impl="pallas", rngs=nnx.Rngs(0))
    with pytest.raises(NotImplementedError, match="add_self_loops=False"):
        conv(adj, x)
    conv = GATConv(F, C, heads=H, add_self_loops=False, impl="pallas", rngs=nnx.Rngs(0))
    with pytest.raises(NotImplementedError, match="SparseTensor adj_t"):
        conv(jnp.asarray(edge_index), x)
    with pytest.raises(NotImplementedError, match="return_attention=False"):
        conv(adj, x, return_attention=True)
    drop = GATConv(F, C, add_self_loops=False, dropout=0.5, impl="pallas", rngs=nnx.Rngs(0))
    with pytest.raises(NotImplementedError, match="attention dropout off"):
        drop(adj, x, deterministic=False)
    # auto on the CPU: the edge list, whatever the graph.
    auto = GATConv(F, C, heads=H, add_self_loops=False, rngs=nnx.Rngs(0))
    seg = GATConv(F, C, heads=H, add_self_loops=False, impl="segment", rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(auto(adj, x), seg(adj, x))
