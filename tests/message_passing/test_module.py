"""MessagePassing (thin NNX base) against dense NumPy / jnp oracles."""

from __future__ import annotations

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _mp_oracle import dense_reduce, normal, random_topo, uniform
from flax import nnx

import jgnn.message_passing._module as module_mod
from jgnn import fn
from jgnn.graph import from_edge_index
from jgnn.message_passing import MessagePassing, aggregate_messages
from jgnn.ops import segment_sum
from jgnn.sparse import SparseTensor

TOL = {"rtol": 2e-5, "atol": 2e-5}
DIN, DOUT = 3, 4


class MeanConv(MessagePassing):
    """``x_i' = W1 mean_j x_j + b + W2 x_i`` (message and update as methods)."""

    aggregate = "mean"

    def __init__(self, din, dout, *, rngs):
        self.lin = nnx.Linear(din, dout, rngs=rngs)
        self.root = nnx.Linear(din, dout, use_bias=False, rngs=rngs)

    def message(self, edges):
        return self.lin(edges.x_j)

    def update(self, aggr_out, x):
        return aggr_out + self.root(x)


def _mean_matrix(topo):
    """Dense ``[n_dst, n_src]`` row-normalised in-adjacency (rows without edges are 0)."""
    a = np.zeros((topo.n_dst, topo.n_src))
    np.add.at(a, (topo.dst, topo.src), 1.0)
    return a / np.maximum(a.sum(1, keepdims=True), 1.0)


def _graph(topo):
    return from_edge_index(topo.edge_index, topo.n_src)


def _x(topo, seed=0):
    return normal(seed, (topo.n_src, DIN))


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_subclass_matches_dense_oracle(mode):
    topo = random_topo(20, unique=False)
    x = _x(topo)
    conv = MeanConv(DIN, DOUT, rngs=nnx.Rngs(0))
    run = nnx.jit(lambda m, g, x: m(g, x)) if mode == "jit" else (lambda m, g, x: m(g, x))
    out = run(conv, _graph(topo), x)
    k1, b1 = np.asarray(conv.lin.kernel[...]), np.asarray(conv.lin.bias[...])
    k2 = np.asarray(conv.root.kernel[...])
    xn = np.asarray(x, np.float64)
    has_in = np.isin(np.arange(topo.n_dst), topo.dst)[:, None]
    want = _mean_matrix(topo) @ (xn @ k1) + np.where(has_in, b1, 0.0) + xn @ k2
    assert out.shape == (topo.n_dst, DOUT)
    np.testing.assert_allclose(out, want, **TOL)


def test_parameter_gradients_match_dense_oracle():
    topo = random_topo(21)
    x = _x(topo, 1)
    cot = normal(2, (topo.n_dst, DOUT))
    conv = MeanConv(DIN, DOUT, rngs=nnx.Rngs(1))
    g = _graph(topo)

    @nnx.jit
    def grads(model):
        return nnx.grad(lambda m: jnp.sum(m(g, x) * cot))(model)

    got = grads(conv)
    p = jnp.asarray(_mean_matrix(topo), jnp.float32)
    has_in = jnp.asarray(np.isin(np.arange(topo.n_dst), topo.dst)[:, None], jnp.float32)

    def oracle(k1, b1, k2):
        return jnp.sum((p @ (x @ k1) + has_in * b1 + x @ k2) * cot)

    want = jax.grad(oracle, (0, 1, 2))(
        conv.lin.kernel[...], conv.lin.bias[...], conv.root.kernel[...]
    )
    np.testing.assert_allclose(got["lin"]["kernel"][...], want[0], **TOL)
    np.testing.assert_allclose(got["lin"]["bias"][...], want[1], **TOL)
    np.testing.assert_allclose(got["root"]["kernel"][...], want[2], **TOL)


def test_base_defaults_are_weighted_sum_and_own_no_state():
    topo = random_topo(22)
    x = _x(topo, 3)
    w = uniform(4, (topo.num_edges,))
    base = MessagePassing()
    assert not jax.tree_util.tree_leaves(nnx.state(base))  # no parameters, no cache
    weighted = np.zeros((topo.n_dst, topo.n_src))
    np.add.at(weighted, (topo.dst, topo.src), np.asarray(w, np.float64))
    want = weighted @ np.asarray(x, np.float64)
    np.testing.assert_allclose(base(_graph(topo), x, w), want, **TOL)
    np.testing.assert_allclose(base(topo.edge_index, x, edge_attr=w), want, **TOL)
    # The same layer on adj_t runs the fused path; the stored values are the weights.
    adj = SparseTensor(topo.dst, topo.src, w, (topo.n_dst, topo.n_src))
    np.testing.assert_allclose(base(adj, x), want, **TOL)


class WeightedMultiAggr(MessagePassing):
    """Builtin message as a class attribute; a list aggregate and fuse set per instance."""

    message = fn.u_mul_e

    def __init__(self, aggregate, fuse="auto"):
        self.aggregate = aggregate
        self.fuse = fuse


def test_class_and_instance_attributes_reach_propagate(gspmm_calls):
    topo = random_topo(23)
    x = _x(topo, 5)
    w = uniform(6, (topo.num_edges,))
    m = x[topo.src] * w[:, None]
    g = _graph(topo)

    out = WeightedMultiAggr(["sum", "max"])(g, x, w)
    want = jnp.concatenate([dense_reduce(m, topo, "sum"), dense_reduce(m, topo, "max")], -1)
    np.testing.assert_allclose(out, want, **TOL)
    assert gspmm_calls == []

    out = WeightedMultiAggr("max", fuse=True)(g, x, w)
    np.testing.assert_allclose(out, dense_reduce(m, topo, "max"), **TOL)
    assert [c[1] for c in gspmm_calls] == ["max"]


class ScaledSum(MessagePassing):
    """``aggregate`` as a method holding a learnable scale."""

    def __init__(self):
        self.scale = nnx.Param(jnp.array(2.0))

    def aggregate(self, messages, index, num_segments):
        return self.scale[...] * segment_sum(messages, index, num_segments)


def test_aggregate_method_with_parameter():
    topo = random_topo(24)
    x = _x(topo, 7)
    layer = ScaledSum()
    g = _graph(topo)
    summed = dense_reduce(x[topo.src], topo, "sum")
    np.testing.assert_allclose(layer(g, x), 2.0 * summed, **TOL)
    grads = nnx.grad(lambda m: jnp.sum(m(g, x)))(layer)
    np.testing.assert_allclose(grads["scale"][...], jnp.sum(summed), rtol=1e-5)
    # the public helper gives the same reduction
    np.testing.assert_allclose(
        aggregate_messages(x[topo.src], topo.dst, topo.n_dst, "sum"), summed, **TOL
    )


def test_call_forwards_bipartite_inputs_and_num_nodes():
    topo = random_topo(25, n_src=5, n_dst=4, num_edges=9)
    xs = normal(8, (topo.n_src, DIN))
    out = MessagePassing()(topo.edge_index, (xs, None), num_nodes=(topo.n_src, topo.n_dst))
    np.testing.assert_allclose(out, dense_reduce(xs[topo.src], topo, "sum"), **TOL)
    with pytest.raises(ValueError, match="num_nodes"):
        MessagePassing()(topo.edge_index, (xs, None))


def test_module_docstring_example_runs():
    result = doctest.testmod(module_mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
