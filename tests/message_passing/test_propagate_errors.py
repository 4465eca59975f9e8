"""propagate's error messages for wrong inputs, its docstring examples and the public
``aggregate_messages`` helper."""

from __future__ import annotations

import doctest
import functools
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest
from _mp_oracle import D, F, adj_t, graphs_tuple, msg, node_edge_data, random_topo

import jgnn.message_passing._aggregate as aggregate_mod
import jgnn.message_passing._edges as edges_mod
import jgnn.message_passing._propagate as propagate_mod
from jgnn import fn
from jgnn.message_passing import aggregate_messages, propagate

_N, _E = 7, 14  # sizes of the graph the error cases run on


@functools.cache
def _ctx():
    topo = random_topo(19, n_src=_N, num_edges=_E)
    x, ea, _ = node_edge_data(topo)
    return SimpleNamespace(topo=topo, g=graphs_tuple(topo), ei=topo.edge_index, x=x, ea=ea)


BAD_CALLS = {
    "x_rows_vs_graph_nodes": (
        lambda c: propagate(c.g, jnp.ones((_N + 1, F))),
        ValueError,
        f"`x` has {_N + 1} rows but the graph has {_N}",
    ),
    "x_rows_vs_sparse_sizes": (
        lambda c: propagate(adj_t(c.topo), jnp.ones((_N - 1, F))),
        ValueError,
        f"{_N - 1} rows but the graph has {_N}",
    ),
    "x_rows_vs_num_nodes": (
        lambda c: propagate(c.ei, c.x, num_nodes=_N + 2),
        ValueError,
        f"{_N} rows but the graph has {_N + 2}",
    ),
    "edge_attr_rows": (
        lambda c: propagate(c.g, c.x, message=msg, edge_attr=c.ea[1:]),
        ValueError,
        rf"shape \({_E - 1}, {D}\) but the graph has {_E} edges",
    ),
    "message_rows": (
        lambda c: propagate(c.g, c.x, message=lambda e: e.x_j[1:]),
        ValueError,
        rf"E = {_E} edges.*\({_E - 1}, {F}\)",
    ),
    "unknown_aggregate": (
        lambda c: propagate(c.g, c.x, aggregate="median"),
        ValueError,
        "must be one of .* got 'median'",
    ),
    "empty_aggregate_list": (lambda c: propagate(c.g, c.x, aggregate=[]), ValueError, "empty"),
    "bad_aggregate_entry": (
        lambda c: propagate(c.g, c.x, aggregate=["sum", 3]),
        TypeError,
        r"got int \(3\)",
    ),
    "fn_none_aggregate": (
        lambda c: propagate(c.g, c.x, aggregate=fn.none),
        NotImplementedError,
        "apply_edges",
    ),
    "bad_fuse": (lambda c: propagate(c.g, c.x, fuse="yes"), ValueError, "fuse must be"),
    "int_fuse": (lambda c: propagate(c.g, c.x, fuse=1), ValueError, "got 1"),
    "bad_impl": (lambda c: propagate(c.g, c.x, impl="cuda"), ValueError, "impl must be"),
    "bad_message": (lambda c: propagate(c.g, c.x, message=42), TypeError, "got int"),
    "bad_update": (lambda c: propagate(c.g, c.x, update=3), TypeError, "update must"),
    "fuse_true_unfusable_aggregate": (
        lambda c: propagate(c.g, c.x, aggregate="std", fuse=True),
        NotImplementedError,
        "cannot fuse.*fuse='auto'",
    ),
    "fuse_true_callable_message": (
        lambda c: propagate(c.g, c.x, message=msg, edge_attr=c.ea, fuse=True),
        NotImplementedError,
        "cannot fuse",
    ),
    "sparse_impl_without_fusion": (
        lambda c: propagate(c.g, c.x, impl="bcsr", fuse=False),
        NotImplementedError,
        "fuse=False",
    ),
    "sparse_impl_unfusable": (
        lambda c: propagate(c.g, c.x, aggregate="var", impl="bcsr"),
        NotImplementedError,
        "impl='bcsr'",
    ),
    "unknown_destination_count": (
        lambda c: propagate(c.ei, (c.x, None)),
        ValueError,
        r"num_nodes=\(num_src, num_dst\)",
    ),
    "x_i_without_x_dst": (
        lambda c: propagate(c.ei, (c.x, None), message=lambda e: e.x_i, num_nodes=(_N, _N)),
        ValueError,
        "x_i is unavailable",
    ),
    "edge_attr_missing_for_callable": (
        lambda c: propagate(c.g, c.x, message=lambda e: e.edge_attr),
        ValueError,
        "edge_attr is unavailable",
    ),
    "edge_attr_missing_for_builtin": (
        lambda c: propagate(c.g, c.x, message=fn.u_mul_e),
        ValueError,
        "u_mul_e reads edge_attr",
    ),
    "default_message_vector_edge_attr": (
        lambda c: propagate(c.g, c.x, edge_attr=c.ea),
        ValueError,
        rf"\[E\] or \[E, 1\]; got \({_E}, {D}\)",
    ),
    "weight_dtype": (
        lambda c: propagate(c.g, c.x, edge_attr=c.ea[:, 0].astype(jnp.bfloat16)),
        TypeError,
        "bfloat16 but x has dtype float32",
    ),
    "tuple_message_not_softmax": (
        lambda c: propagate(c.g, c.x, message=lambda e: (e.x_j, e.x_j)),
        TypeError,
        "aggregate='softmax'",
    ),
    "softmax_shape_mismatch": (
        lambda c: propagate(c.g, c.x, message=lambda e: (e.x_j, e.x_j[:, :1]), aggregate="softmax"),
        ValueError,
        "logits must have shape",
    ),
    "edge_index_shape": (
        lambda c: propagate(jnp.zeros((3, 4), jnp.int32), c.x),
        ValueError,
        r"\[2, E\], got \(3, 4\)",
    ),
    "edge_index_dtype": (
        lambda c: propagate(jnp.zeros((2, 4)), c.x),
        TypeError,
        "must be integer, got dtype float32",
    ),
    "graph_type": (lambda c: propagate("graph", c.x), TypeError, "got str"),
    "x_tuple_length": (lambda c: propagate(c.g, (c.x, c.x, c.x)), ValueError, "length 3"),
    "x_scalar": (lambda c: propagate(c.g, jnp.float32(1.0)), ValueError, "leading node axis"),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_wrong_inputs_raise_clear_errors(case):
    call, exc, match = BAD_CALLS[case]
    with pytest.raises(exc, match=match):
        call(_ctx())


def test_docstring_examples_run():
    for mod in (aggregate_mod, edges_mod, propagate_mod):
        result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, mod.__name__


def test_aggregate_messages_public_helper():
    msg = jnp.array([[1.0], [3.0], [5.0]])
    out = aggregate_messages(msg, jnp.array([0, 0, 1]), 2, ["sum", "max"])
    np.testing.assert_array_equal(out, [[4.0, 3.0], [5.0, 5.0]])
