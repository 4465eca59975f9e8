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


# --------------------------------------------------------------------------------------------
# Attention layers (GATConv, GATv2Conv, TransformerConv): NumPy oracles and PyG parity
# --------------------------------------------------------------------------------------------


def np64(a) -> np.ndarray:
    """``a`` as a float64 NumPy array (the dense oracles run in float64)."""
    return np.asarray(a, np.float64)


def jitted(conv, **kw) -> Call:
    """``call(graph, x, edge_attr)`` compiled once per input structure (eager runs are slow)."""
    return jax.jit(lambda g, x, ea: conv(g, x, ea, **kw))


def dense_linear(layer, x) -> np.ndarray:
    """An ``nnx.Linear`` applied in float64 NumPy: ``x @ kernel (+ bias)``."""
    out = np64(x) @ np64(layer.kernel[...])
    return out if layer.bias is None else out + np64(layer.bias[...])


def softmax_aggregate(src, dst, logits, values, n_dst) -> np.ndarray:
    """``out_i = sum_j softmax(logits over edges into i) * values[e]``, edge by edge."""
    out = np.zeros((n_dst,) + values.shape[1:])
    for i in range(n_dst):
        idx = np.flatnonzero(dst == i)
        if idx.size:
            w = np.exp(logits[idx] - logits[idx].max(0))
            w = w / w.sum(0)
            out[i] = np.sum(w[..., None] * values[idx], axis=0)
    return out


def loops_with_mean_fill(src, dst, ea, n):
    """PyG's remove_self_loops + add_self_loops(fill_value="mean"), in NumPy."""
    keep = src != dst
    src, dst = src[keep], dst[keep]
    loops = np.arange(n)
    if ea is not None:
        ea = ea[keep]
        fill = np.zeros((n, ea.shape[1]))
        cnt = np.zeros(n)
        np.add.at(fill, dst, ea)
        np.add.at(cnt, dst, 1.0)
        ea = np.concatenate([ea, fill / np.maximum(cnt, 1.0)[:, None]])
    return np.concatenate([src, loops]), np.concatenate([dst, loops]), ea


def check_attention_layer(
    conv, graph: jraph.GraphsTuple, x, edge_attr, dropout: bool = True
) -> None:
    """Padding invariance, permutation equivariance, finite gradients and, with ``dropout``
    (``conv`` built with a dropout rate > 0), a training-mode output that differs."""
    from flax import nnx

    call = jitted(conv)
    check_padding_invariance(call, graph, x, edge_attr)
    check_permutation_equivariance(call, graph, x, edge_attr)
    check_finite_grads(nnx.jit(lambda m: jnp.sum(m(graph, x, edge_attr) ** 2)), conv)
    if not dropout:
        return
    train = nnx.jit(lambda m, g, x, ea: m(g, x, ea, deterministic=False))
    out = train(conv, graph, x, edge_attr)
    assert not np.allclose(np.asarray(out), np.asarray(call(graph, x, edge_attr)))


def to_torch(torch, a, transpose: bool = False, unsqueeze: bool = False):
    """``a`` as a torch tensor, optionally transposed and/or with a leading axis of 1."""
    a = np.asarray(a)
    a = a.T if transpose else a
    a = a[None] if unsqueeze else a
    return torch.from_numpy(np.array(a, order="C"))


def copy_linear(torch, ref_layer, mine) -> None:
    """An ``nnx.Linear`` into a torch ``Linear`` (kernel transposed; bias when present)."""
    ref_layer.weight.copy_(to_torch(torch, mine.kernel[...], transpose=True))
    if mine.bias is not None:
        ref_layer.bias.copy_(to_torch(torch, mine.bias[...]))


def pyg_attention_outputs(torch, conv, ref, graph: jraph.GraphsTuple, x, edge_attr):
    """Runs ``conv`` (jitted) and the PyG layer ``ref`` with attention weights returned.

    Returns ``((out, edge_index, alpha), (ref_out, ref_edge_index, ref_alpha))``, the PyG side
    as NumPy arrays.
    """
    edge_index = torch.from_numpy(np.stack([graph.senders, graph.receivers]).astype(np.int64))
    t_ea = None if edge_attr is None else to_torch(torch, edge_attr)
    expect, (ref_ei, ref_alpha) = ref(
        to_torch(torch, x), edge_index, t_ea, return_attention_weights=True
    )
    out, (ei, alpha) = jitted(conv, return_attention=True)(graph, x, edge_attr)
    return (out, ei, alpha), (expect.detach().numpy(), ref_ei.numpy(), ref_alpha.detach().numpy())


def random_bipartite(
    seed: int, num_src: int, num_dst: int, num_edges: int, f_src: int, f_dst: int
) -> tuple[np.ndarray, jax.Array, jax.Array]:
    """``(edge_index [2, E] int32 NumPy, x_src [N_src, F_src], x_dst [N_dst, F_dst])`` of a
    random bipartite graph (duplicate edges allowed)."""
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, num_src, num_edges), rng.integers(0, num_dst, num_edges)
    ei = np.stack([src, dst]).astype(np.int32)
    x_src = jnp.asarray(rng.normal(size=(num_src, f_src)), jnp.float32)
    x_dst = jnp.asarray(rng.normal(size=(num_dst, f_dst)), jnp.float32)
    return ei, x_src, x_dst


def check_pyg_bipartite_parity(torch, conv, ref, copy_params, seed: int = 12) -> None:
    """``conv`` and the PyG layer ``ref``, both built for ``in_features=(5, 3)``, agree on a
    random bipartite graph of 6 sources and 4 targets; ``copy_params(torch, conv, ref)``
    copies the parameters over first."""
    ei, x_src, x_dst = random_bipartite(seed, 6, 4, 20, 5, 3)
    copy_params(torch, conv, ref)
    t_ei = torch.from_numpy(ei.astype(np.int64))
    expect = ref((to_torch(torch, x_src), to_torch(torch, x_dst)), t_ei)
    assert_close(jitted(conv)(jnp.asarray(ei), (x_src, x_dst), None), expect.detach().numpy())
