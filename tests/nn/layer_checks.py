"""Shared checks every message-passing layer must pass (imported by tests/nn/test_*.py).

A layer is exercised through a ``call(graph, x, edge_attr) -> out`` closure so the same checks
serve layers with and without edge features. ``graph`` is a ``jraph.GraphsTuple`` or a
``SparseTensor`` ``adj_t``; ``edge_attr`` is given in that graph's edge order.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jgnn.graph import pad_graph
from jgnn.sparse import to_adj_t

Call = Callable[[object, jax.Array, jax.Array | None], jax.Array]


def random_graph(
    seed: int = 0,
    num_nodes: int = 12,
    num_edges: int = 40,
    num_features: int = 8,
    edge_dim: int | None = None,
    self_loops: bool = False,
) -> tuple[jraph.GraphsTuple, jax.Array, jax.Array | None]:
    """A random graph without duplicate edges (and without self loops unless asked).

    Returns ``(graph, x [N, F], edge_attr [E, edge_dim] | [E] (edge_dim=0) | None)``; node 0
    is left without in-edges so zero-in-degree handling is exercised.
    """
    rng = np.random.default_rng(seed)
    pairs = {
        (int(s), int(r))
        for s, r in rng.integers(0, num_nodes, size=(num_edges * 3, 2))
        if r != 0 and (self_loops or s != r)
    }
    pairs = sorted(pairs)[:num_edges]
    rng.shuffle(pairs)
    senders = np.array([p[0] for p in pairs], np.int32)
    receivers = np.array([p[1] for p in pairs], np.int32)
    x = jnp.asarray(rng.normal(size=(num_nodes, num_features)).astype(np.float32))
    edge_attr = None
    if edge_dim is not None:
        shape = (len(pairs),) if edge_dim == 0 else (len(pairs), edge_dim)
        edge_attr = jnp.asarray(rng.uniform(0.5, 1.5, size=shape).astype(np.float32))
    graph = jraph.GraphsTuple(
        nodes=x,
        edges=None,
        senders=jnp.asarray(senders),
        receivers=jnp.asarray(receivers),
        n_node=jnp.array([num_nodes], jnp.int32),
        n_edge=jnp.array([len(pairs)], jnp.int32),
        globals=None,
    )
    return graph, x, edge_attr


def assert_close(a, b, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def check_jit_matches_eager(call: Call, graph, x, edge_attr, **tol) -> jax.Array:
    eager = call(graph, x, edge_attr)
    jitted = jax.jit(call)(graph, x, edge_attr)
    assert eager.shape == jitted.shape and eager.dtype == jitted.dtype
    assert_close(eager, jitted, **tol)
    return eager


def check_sparse_path(call: Call, graph: jraph.GraphsTuple, x, edge_attr, **tol) -> None:
    """The edge-list path and the ``SparseTensor`` path give the same output."""
    adj_t = to_adj_t(graph._replace(edges=edge_attr))
    value = adj_t.coo()[2] if edge_attr is not None else None
    assert_close(call(graph, x, edge_attr), call(adj_t, x, value), **tol)


def check_padding_invariance(call: Call, graph: jraph.GraphsTuple, x, edge_attr, **tol) -> None:
    """Padding nodes and edges (filled with garbage features) leave real outputs unchanged."""
    n, e = x.shape[0], graph.senders.shape[0]
    padded = pad_graph(graph._replace(nodes=x, edges=edge_attr), n + 5, e + 7, 3)
    nodes = padded.nodes.at[n:].set(1e3)
    edges = padded.edges
    if edges is not None:
        edges = edges.at[e:].set(1.0)
    out = call(padded._replace(nodes=nodes, edges=edges), nodes, edges)
    assert_close(out[:n], call(graph, x, edge_attr), **tol)


def check_permutation_equivariance(call: Call, graph, x, edge_attr, seed: int = 0, **tol):
    """Relabelling nodes permutes the output rows the same way."""
    n = x.shape[0]
    perm = np.random.default_rng(seed).permutation(n)
    inv = np.argsort(perm)  # new id of old node i is inv[i]
    permuted = graph._replace(
        nodes=x[perm],
        senders=jnp.asarray(inv[np.asarray(graph.senders)], jnp.int32),
        receivers=jnp.asarray(inv[np.asarray(graph.receivers)], jnp.int32),
    )
    assert_close(call(permuted, x[perm], edge_attr), call(graph, x, edge_attr)[perm], **tol)


def check_finite_grads(loss: Callable[[], jax.Array], module) -> None:
    """Gradients of ``loss`` w.r.t. every parameter of ``module`` are finite and not all 0."""
    from flax import nnx

    grads = nnx.grad(lambda m: loss(m))(module)
    leaves = jax.tree.leaves(grads)
    assert leaves, "module has no parameters"
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    assert any(bool(jnp.any(g != 0)) for g in leaves)
