"""propagate's builtin messages, and its fused SparseTensor path (one g-SpMM) against the
edge-list path: values, gradients and which path runs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _mp_oracle import (
    TOL,
    F,
    adj_t,
    coo_perm,
    dense_reduce,
    graphs_tuple,
    node_edge_data,
    normal,
    random_topo,
    uniform,
)

from jgnn import fn
from jgnn.message_passing import propagate

FUSABLE = ["none", "none_weighted", "copy_u", "u_mul_e", "e_mul_u"]


def _fusable_message(name):
    return {
        "none": None,
        "none_weighted": None,
        "copy_u": fn.copy_u,
        "u_mul_e": fn.u_mul_e,
        "e_mul_u": fn.e_mul_u,
    }[name]


FUSED_REDUCES = ("sum", "mean", "max", "min")


@pytest.mark.parametrize("name", FUSABLE)
def test_fused_sparse_path_matches_edge_list(name, gspmm_calls):
    topo = random_topo(13)
    x, _, cot = node_edge_data(topo, seed=13)
    w = uniform(130, (topo.num_edges,), 0.5, 1.5)
    message = _fusable_message(name)
    weighted = name != "none"
    perm = coo_perm(topo)
    adj = adj_t(topo, value=w if weighted else None)  # host-side, built once
    attr = w if weighted else None

    def sparse(x, w, reduce):
        a = adj.set_value(w[perm]) if weighted else adj
        return propagate(a, x, message=message, aggregate=reduce)

    def fused_gt(x, w, reduce):
        e = w if weighted else None
        return propagate(
            graphs_tuple(topo), x, message=message, aggregate=reduce, edge_attr=e, fuse=True
        )

    def edges(x, w, reduce):
        e = w if weighted else None
        return propagate(
            graphs_tuple(topo), x, message=message, aggregate=reduce, edge_attr=e, fuse=False
        )

    def outputs_and_grads(run):
        """Per reduce: (output, (d/dx, d/dw)); one compiled program, one trace per reduce."""

        def one(x, w, reduce):
            def loss(x, w):
                out = run(x, w, reduce)
                return jnp.sum(out * cot), out

            (_, out), grads = jax.value_and_grad(loss, (0, 1), has_aux=True)(x, w)
            return out, grads

        return jax.jit(lambda x, w: [one(x, w, r) for r in FUSED_REDUCES])(x, w)

    ref = outputs_and_grads(edges)
    assert gspmm_calls == []
    scale = attr[:, None] if attr is not None and name != "copy_u" else 1.0
    for reduce, (out, _) in zip(FUSED_REDUCES, ref, strict=True):
        want = dense_reduce(x[topo.src] * scale, topo, reduce)
        np.testing.assert_allclose(out, want, **TOL, err_msg=reduce)
    # Exactly one fused gspmm call per propagate: no per-edge messages are built.
    got = outputs_and_grads(sparse)
    assert [call[1] for call in gspmm_calls] == list(FUSED_REDUCES)
    for reduce, (out, grads), (ref_out, ref_grads) in zip(FUSED_REDUCES, got, ref, strict=True):
        np.testing.assert_allclose(out, ref_out, **TOL, err_msg=reduce)
        for g, r in zip(grads, ref_grads, strict=True):
            np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5, err_msg=reduce)
    # fuse=True on a GraphsTuple: the same single gspmm call (forward checked).
    gspmm_calls.clear()
    outs = jax.jit(lambda x, w: [fused_gt(x, w, r) for r in FUSED_REDUCES])(x, w)
    assert [call[1] for call in gspmm_calls] == list(FUSED_REDUCES)
    for reduce, out, (ref_out, _) in zip(FUSED_REDUCES, outs, ref, strict=True):
        np.testing.assert_allclose(out, ref_out, **TOL, err_msg=reduce)


@pytest.mark.parametrize(
    ("message", "oracle"),
    [
        (fn.u_add_v, lambda xs, xd, e: xs + xd),
        (fn.u_dot_v, lambda xs, xd, e: jnp.sum(xs * xd, -1, keepdims=True)),
        (fn.v_sub_e, lambda xs, xd, e: xd - e),
        (fn.copy_e, lambda xs, xd, e: e),
        (fn.u_mul_e, lambda xs, xd, e: xs * e),  # [E, F] edge data: not fusable
    ],
)
def test_non_fusable_builtins_use_edge_list(message, oracle, gspmm_calls):
    topo = random_topo(14)
    x, _, _ = node_edge_data(topo, seed=14)
    ea = normal(140, (topo.num_edges, F))
    want = dense_reduce(oracle(x[topo.src], x[topo.dst], ea), topo, "sum")
    out = propagate(graphs_tuple(topo), x, message=message, edge_attr=ea)
    np.testing.assert_allclose(out, want, **TOL)
    out_sp = propagate(adj_t(topo), x, message=message, edge_attr=ea[coo_perm(topo)])
    np.testing.assert_allclose(out_sp, want, **TOL)
    assert gspmm_calls == []


def test_non_fusable_aggregate_on_sparse_tensor_uses_edge_list(gspmm_calls):
    topo = random_topo(15)
    x, _, _ = node_edge_data(topo, seed=15)
    out = propagate(adj_t(topo), x, aggregate="std")
    np.testing.assert_allclose(out, dense_reduce(x[topo.src], topo, "std"), **TOL)
    out = propagate(adj_t(topo), x, aggregate=["sum", "min"])
    assert out.shape == (topo.n_dst, 2 * F) and gspmm_calls == []
