"""Generalised sparse-dense matrix multiplication (DGL's ``gspmm``).

Message ``op(lhs[src[e]], rhs[e])`` on every edge, reduced over each destination's incoming
edges. Two paths; which one runs is :func:`jgnn.sparse.use_sparse_product`'s decision (and
the kernel inside the first is :func:`jgnn.sparse.resolve_impl`'s):

* **one sparse product**: the edge scalars become ``adj_t``'s values and
  ``spmm(adj_t, lhs, reduce)`` runs without ever building the ``[E, *F]`` messages;
* **gather + segment reduce**: messages are gathered per edge (``[E, *F]``) and reduced with
  :func:`jgnn.segment.segment_reduce`.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from jgnn._checks import is_traced
from jgnn.ops._gsddmm import (
    broadcast_feature_shape,
    check_op,
    check_operand,
    check_same_dtype,
    sddmm_edges,
)
from jgnn.segment import segment_reduce
from jgnn.sparse import (
    IMPLS,
    Graph,
    GraphArgs,
    NumNodes,
    SparseTensor,
    graph_args,
    sparse_product_form,
    spmm,
    use_sparse_product,
)

__all__ = ["gspmm"]

SPMM_OPS = ("add", "sub", "mul", "div", "copy_lhs", "copy_rhs")
#: The reducers gspmm accepts (DGL's), all from :data:`jgnn.segment.REDUCERS`.
GSPMM_REDUCES = ("sum", "mean", "max", "min", "prod")


def check_reduce(reduce: str, fn: str) -> None:
    if reduce not in GSPMM_REDUCES:
        raise ValueError(f"{fn}: reduce must be one of {GSPMM_REDUCES}, got {reduce!r}.")


def check_impl(impl: str, fn: str) -> None:
    if impl not in IMPLS:
        raise ValueError(f"{fn}: impl must be one of {IMPLS}, got {impl!r}.")


def _fused(
    graph: Graph,
    args: GraphArgs,
    op: str,
    reduce: str,
    lhs: Array,
    rhs: Array | None,
    out_feat: tuple[int, ...],
    impl: str,
) -> Array:
    """``spmm`` over ``adj_t`` with the edge scalars (if any) as its values."""
    weight = None if op == "copy_lhs" else rhs.reshape(rhs.shape[0])
    if isinstance(graph, SparseTensor):
        adj = graph.set_value(weight)
    else:
        adj = _adj_t_from_edges(args, weight, reduce, lhs.dtype)
    out = spmm(adj, lhs.reshape(lhs.shape[0], -1), reduce=reduce, impl=impl)
    return out.reshape((out.shape[0],) + out_feat)


def _adj_t_from_edges(args: GraphArgs, weight: Array | None, reduce: str, dtype) -> SparseTensor:
    """Host-side: builds ``adj_t`` from a GraphsTuple's concrete edge list."""
    if is_traced(args.src, args.dst):
        raise TypeError(
            "gspmm: a sparse impl on a GraphsTuple builds the SparseTensor on the host and "
            "needs concrete senders/receivers, got traced ones. Build adj_t outside jit "
            "(jgnn.sparse.to_adj_t) and pass it as the graph, or use impl='auto'/'segment'."
        )
    src, dst = np.asarray(args.src), np.asarray(args.dst)
    key = dst.astype(np.int64) * max(args.num_src, 1) + src
    if np.unique(key).size != key.size:
        if reduce != "sum":
            raise NotImplementedError(
                f"gspmm: the graph has parallel edges, which a SparseTensor merges; "
                f"reduce={reduce!r} then differs from the edge-list result. Use "
                "impl='auto'/'segment' on the GraphsTuple."
            )
        if weight is None:
            weight = jnp.ones(src.shape, dtype)
    return SparseTensor(dst, src, weight, (args.num_dst, args.num_src))


def gspmm(
    graph: Graph,
    op: str,
    reduce: str,
    lhs: ArrayLike | None,
    rhs: ArrayLike | None,
    *,
    num_nodes: NumNodes = None,
    impl: str = "auto",
) -> Array:
    """Computes messages on edges and reduces them at the destinations (DGL's ``gspmm``).

    ``out[v] = reduce_{e = (u, v)} op(lhs[u], rhs[e])``. Feature shapes of ``lhs`` and ``rhs``
    broadcast (NumPy rules, right-aligned after the leading axis), so a per-edge scalar
    ``rhs`` of shape ``[E]`` or ``[E, 1]`` scales whole rows of ``lhs``. Nodes without
    incoming edges get 0 for every reducer (not ``-inf``/``+inf`` for ``max``/``min``, and
    not 1 for ``prod``). Gradients flow to ``lhs`` and ``rhs``.

    When ``graph`` is a ``SparseTensor`` (or ``impl`` is ``"bcsr"``/``"pallas"``), ``op`` is
    ``copy_lhs`` or ``mul`` with a per-edge scalar ``rhs``, and ``reduce`` is ``sum``, ``mean``,
    ``max`` or ``min``, the computation is one fused :func:`jgnn.sparse.spmm` that never builds
    the ``[E, *F]`` messages. Every other combination gathers the messages and reduces them
    with the segment reducers.

    With a ``SparseTensor`` the edges are its stored entries in COO order and its own values
    are ignored (pass them as ``rhs`` with ``op="mul"`` to weight by them). With a
    ``GraphsTuple`` and ``impl="bcsr"``/``"pallas"`` the SparseTensor is built on the host on
    every call (concrete ids needed, not jittable; parallel edges are merged, which is exact
    for ``sum`` only): build ``adj_t`` once with :func:`jgnn.sparse.to_adj_t` instead where
    speed matters.

    Args:
      graph: a ``jraph.GraphsTuple`` (senders = sources) or a ``SparseTensor`` ``adj_t``
        (rows = destinations, columns = sources, edges in COO order).
      op: ``"add"``, ``"sub"``, ``"mul"``, ``"div"``, ``"copy_lhs"`` or ``"copy_rhs"``.
      reduce: ``"sum"``, ``"mean"``, ``"max"``, ``"min"`` or ``"prod"``.
      lhs: source-node data ``[N_src, *F1]`` (None for ``copy_rhs``).
      rhs: edge data ``[E, *F2]`` (None for ``copy_lhs``).
      num_nodes: static node count (int, or ``(num_src, num_dst)``); by default read from the
        SparseTensor's sizes, the GraphsTuple's ``nodes``, or ``lhs`` (same node set on both
        ends).
      impl: ``"auto"`` (``spmm``'s dispatcher decides for a SparseTensor, gather + segment
        for a GraphsTuple), ``"segment"``, ``"bcsr"`` or ``"pallas"``; the last two require a
        fusable combination.

    Returns:
      ``[N_dst, *F]`` with ``F`` the broadcast of ``F1`` and ``F2``.

    Raises:
      ValueError: unknown op/reduce/impl, missing operand, shapes that disagree with the graph
        or do not broadcast, or node counts that cannot be determined.
      TypeError: ``lhs`` and ``rhs`` have different dtypes.
      NotImplementedError: ``op="dot"`` (use ``gsddmm(..., op="dot")`` then a segment
        reducer, or ``update_all(graph, fn.u_dot_e, ...)``), or a sparse ``impl`` with a
        combination that cannot be fused (use ``impl="auto"``/``"segment"``).

    Examples:
      >>> import jax.numpy as jnp, jraph
      >>> g = jraph.GraphsTuple(nodes=None, edges=None, senders=jnp.array([0, 1, 2]),
      ...     receivers=jnp.array([2, 2, 0]), globals=None, n_node=jnp.array([3]),
      ...     n_edge=jnp.array([3]))
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> gspmm(g, "mul", "sum", x, jnp.array([1.0, 10.0, 100.0]))
      Array([[300.],
             [  0.],
             [ 21.]], dtype=float32)
    """
    fn = "gspmm"
    if op == "dot":
        raise NotImplementedError(
            "gspmm: op='dot' is not a gspmm message; use gsddmm(graph, 'dot', lhs, rhs, "
            "lhs_target='u', rhs_target='e') followed by a segment reducer, or "
            "update_all(graph, jgnn.fn.u_dot_e, reduce, u=..., e=...)."
        )
    check_op(op, SPMM_OPS, fn)
    check_reduce(reduce, fn)
    check_impl(impl, fn)
    lhs = check_operand(lhs, "lhs", fn) if op != "copy_rhs" else None
    rhs = check_operand(rhs, "rhs", fn) if op != "copy_lhs" else None
    args = graph_args(
        graph,
        num_nodes=num_nodes,
        src_hint=None if lhs is None else lhs.shape[0],
        src_data="lhs",
        fn=fn,
    )
    if rhs is not None and rhs.shape[0] != args.num_edges:
        raise ValueError(
            f"{fn}: `rhs` (edge data) has {rhs.shape[0]} rows but the graph has "
            f"{args.num_edges} edges."
        )
    if lhs is not None and rhs is not None:
        check_same_dtype(lhs, rhs, fn)
        out_feat = broadcast_feature_shape(lhs.shape[1:], rhs.shape[1:], fn)
    else:
        out_feat = (lhs if lhs is not None else rhs).shape[1:]

    fusable = sparse_product_form(op, reduce, None if rhs is None else rhs.shape)
    sparse_graph = isinstance(graph, SparseTensor)
    if use_sparse_product(impl, fusable=fusable, sparse_graph=sparse_graph, fn=fn):
        return _fused(graph, args, op, reduce, lhs, rhs, out_feat, impl)
    messages = sddmm_edges(op, lhs, rhs, "u", "e", args.src, args.dst)
    return segment_reduce(reduce, messages, args.dst, args.num_dst, fn=fn)
