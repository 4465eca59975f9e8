"""``propagate``: one message-passing step, message -> aggregate -> update, as a pure function.

``out_i = update(aggregate_{j -> i} message(x_i, x_j, e_ji), x_i)``, PyG's decomposition
without its signature introspection: the message receives a lazy :class:`Edges` view and
gathers only what it reads.

Two paths. ``propagate`` only translates its message into a ``gspmm`` op where one exists;
which path runs is :func:`jgnn.sparse.use_sparse_product`'s decision (and the kernel behind the
fused path :func:`jgnn.sparse.resolve_impl`'s), never made here:

* **fused**: a message that one sparse product expresses (``None``, ``jgnn.fn.copy_u``,
  ``jgnn.fn.u_mul_e``/``e_mul_u`` with a scalar per edge) with a ``sum``/``mean``/``max``/
  ``min`` aggregate becomes a single :func:`jgnn.ops.gspmm` call, which never builds the
  ``[E, *F]`` messages.
* **edge list** otherwise: per-edge messages ``[E, *F']`` are built (gathering lazily), then
  reduced with :func:`aggregate_messages`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from jax import Array

from jgnn.fn import MessageFunction
from jgnn.message_passing._aggregate import Aggregate, aggregate_messages, normalize_aggregate
from jgnn.message_passing._edges import Edges
from jgnn.ops import apply_edges, gspmm
from jgnn.sparse import (
    Graph,
    GraphArgs,
    SparseTensor,
    as_graph,
    graph_args,
    sparse_product_form,
    use_sparse_product,
)

__all__ = ["propagate"]

_FN = "propagate"

Message = MessageFunction | Callable[[Edges], Any] | None


# --------------------------------------------------------------------------------------------
# Argument normalisation
# --------------------------------------------------------------------------------------------


def _node_array(x: Any, what: str) -> Array:
    x = jnp.asarray(x)
    if x.ndim == 0:
        raise ValueError(f"{_FN}: `{what}` must have a leading node axis [N, *F], got a scalar.")
    return x


def _split_x(x: Any) -> tuple[Array, Array | None, bool]:
    """``(x_src, x_dst, bipartite)``; a tuple is a bipartite pair ``(x_src, x_dst)``."""
    if isinstance(x, tuple):
        if len(x) != 2:
            raise ValueError(
                f"{_FN}: a tuple x must be the bipartite pair (x_src, x_dst), got a tuple of "
                f"length {len(x)}."
            )
        if x[0] is None:
            raise ValueError(f"{_FN}: x=(x_src, x_dst) needs source features, got x_src=None.")
        x_dst = None if x[1] is None else _node_array(x[1], "x[1]")
        return _node_array(x[0], "x[0]"), x_dst, True
    x = _node_array(x, "x")
    return x, x, False


def _edge_attr(edge_attr: Any, graph: Any, num_edges: int) -> Array | None:
    """Explicit ``edge_attr``, else the SparseTensor's values, checked against ``E``."""
    if edge_attr is None and isinstance(graph, SparseTensor):
        edge_attr = graph.coo()[2]
    if edge_attr is None:
        return None
    edge_attr = jnp.asarray(edge_attr)
    if edge_attr.ndim == 0 or edge_attr.shape[0] != num_edges:
        raise ValueError(
            f"{_FN}: `edge_attr` has shape {edge_attr.shape} but the graph has {num_edges} "
            f"edges; expected [{num_edges}, *D]."
        )
    return edge_attr


def _check_weight(x: Array, weight: Array | None) -> None:
    """The default message's edge weight: one scalar per edge, in the features' dtype."""
    if weight is None:
        return
    if not sparse_product_form("mul", "sum", weight.shape):
        raise ValueError(
            f"{_FN}: message=None scales x_j by one weight per edge, so edge_attr (or the "
            f"SparseTensor's values) must have shape [E] or [E, 1]; got {weight.shape}. Pass "
            "a message callable to use multi-dimensional edge features."
        )
    if weight.dtype != x.dtype:
        raise TypeError(
            f"{_FN}: the edge weights (edge_attr) have dtype {weight.dtype} but x has dtype "
            f"{x.dtype}; cast one explicitly, e.g. edge_attr.astype({x.dtype})."
        )


def _builtin_operands(
    message: MessageFunction, x_src: Array, x_dst: Array | None, edge_attr: Array | None
) -> dict[str, Array]:
    data = {"u": x_src, "v": x_dst, "e": edge_attr}
    names = {"u": "x (source features)", "v": "x_dst", "e": "edge_attr"}
    for target in message.targets:
        if data[target] is None:
            raise ValueError(
                f"{_FN}: message jgnn.fn.{message.name} reads {names[target]} (target "
                f"{target!r}), which is None; pass it to propagate."
            )
    return {t: data[t] for t in message.targets}


def _gspmm_form(message: Message, edge_attr: Array | None) -> tuple[str, Array | None] | None:
    """``(gspmm op, edge operand)`` when the message is one ``gspmm`` message, else None.

    A translation only: whether the step then runs as one sparse product is decided by
    :func:`jgnn.sparse.use_sparse_product`.
    """
    if message is None:
        return ("copy_lhs", None) if edge_attr is None else ("mul", edge_attr)
    if isinstance(message, MessageFunction):
        if message.op == "copy" and message.lhs_target == "u":
            return "copy_lhs", None
        if message.op == "mul" and {message.lhs_target, message.rhs_target} == {"u", "e"}:
            if edge_attr is not None:
                return "mul", edge_attr
    return None


def _check_messages(messages: Any, num_edges: int) -> None:
    parts = messages if isinstance(messages, tuple) else (messages,)
    for m in parts:
        shape = jnp.shape(m)
        if not shape or shape[0] != num_edges:
            raise ValueError(
                f"{_FN}: the message must return [E, *F] with E = {num_edges} edges (or a "
                f"(logits, values) pair of such for aggregate='softmax'), got shape {shape}."
            )


# --------------------------------------------------------------------------------------------
# propagate
# --------------------------------------------------------------------------------------------


def propagate(
    graph: Graph,
    x: Array | tuple[Array, Array | None],
    *,
    message: Message = None,
    aggregate: Aggregate = "sum",
    update: Callable[[Array, Array | None], Array] | None = None,
    edge_attr: Array | None = None,
    num_nodes: int | tuple[int, int] | None = None,
    impl: str = "auto",
    fuse: bool | str = "auto",
) -> Array:
    """One message-passing step: ``update(aggregate_{j -> i} message(edge j -> i), x_i)``.

    Messages flow from sources ``j`` to destinations ``i`` (senders to receivers; for a
    ``SparseTensor`` ``adj_t``, from columns to rows). Nodes without incoming edges aggregate
    to 0 for every built-in reducer. Jittable when the node counts are static (they are read
    from shapes, the SparseTensor's sizes or ``num_nodes``).

    Shapes:
      * ``x``: ``[N, *F]``, or ``(x_src [N_src, *F], x_dst [N_dst, *F2] | None)``.
      * ``edge_attr``: ``[E, *D]``, in the graph's edge order (the COO order for a
        ``SparseTensor``).
      * output: ``[N_dst, *F']``, with ``F'`` set by the message, aggregate and update.

    Args:
      graph: a ``jraph.GraphsTuple`` (senders -> receivers), an integer edge index ``[2, E]``
        (row 0 sources, row 1 destinations), or a ``jgnn.sparse.SparseTensor`` ``adj_t``
        (rows = destinations, columns = sources), PyG's transposed adjacency.
      x: node features, or a pair ``(x_src, x_dst)`` for a bipartite graph, where ``x_dst``
        may be ``None`` (then ``edges.x_i`` and builtin ``v`` operands are unavailable).
      message: what each edge sends:

        * ``None`` (default): the source features ``x_j``, times ``edge_attr`` when it is one
          scalar per edge (``[E]`` or ``[E, 1]``; for a SparseTensor without ``edge_attr`` its
          stored values), i.e. ``out = adj_t @ x`` for ``"sum"``;
        * a :mod:`jgnn.fn` builtin such as ``jgnn.fn.copy_u`` or ``jgnn.fn.u_mul_e`` (targets
          ``u`` = ``x_src``, ``v`` = ``x_dst``, ``e`` = ``edge_attr``);
        * a callable ``message(edges: Edges) -> [E, *F']`` reading ``edges.x_j``,
          ``edges.x_i``, ``edges.edge_attr``, ``edges.index_j``, ``edges.index_i``; node
          features are gathered only when read.
      aggregate: ``"sum"`` (alias ``"add"``), ``"mean"``, ``"max"``, ``"min"``, ``"prod"``,
        ``"std"``, ``"var"``, ``"softmax"`` (the message returns ``(logits [E, *H], values
        [E, *H, *F])`` and the values are summed with per-destination softmax weights; a
        single array is used as both, per channel), a ``jgnn.fn`` reducer, a callable
        ``(messages, index, num_segments) -> [N_dst, ...]``, or a list of those whose results
        are concatenated on the last axis. See :func:`aggregate_messages`.
      update: optional ``update(aggr_out [N_dst, *F'], x_dst) -> out``.
      edge_attr: optional edge features ``[E, *D]``; with a SparseTensor graph it overrides
        the stored values.
      num_nodes: static node count: an int, or ``(num_src, num_dst)``, needed when
        ``x=(x_src, None)`` on a GraphsTuple or edge index. Checked against ``x`` and the
        graph where those fix it.
      impl: passed to :func:`jgnn.ops.gspmm` on the fused path (``"auto"``, ``"segment"``,
        ``"bcsr"``, ``"pallas"``; ``jgnn.sparse.resolve_impl`` decides for ``"auto"``). An
        explicit sparse implementation selects the fused path.
      fuse: ``"auto"`` fuses fusable steps on a SparseTensor graph (or with a sparse
        ``impl``); ``True`` fuses on any graph form (raising if the step is not fusable);
        ``False`` always builds the per-edge messages.

    Returns:
      Destination node features ``[N_dst, *F']``.

    Raises:
      ValueError: row counts of ``x``/``edge_attr``/messages disagree with the graph (the
        message names both numbers), an unknown reducer or ``fuse``/``impl`` value, an
        unavailable operand, or a node count that cannot be determined.
      TypeError: wrong argument types, or edge weights whose dtype differs from ``x``'s.
      NotImplementedError: ``fuse=True`` (or a sparse ``impl``) for a step that cannot be
        fused (use ``fuse="auto"``/``impl="auto"``), or a sparse ``impl`` with ``fuse=False``.

    Examples:
      Mean of the neighbours' features, then a residual update:

      >>> import jax.numpy as jnp
      >>> edge_index = jnp.array([[0, 1, 2], [1, 2, 1]])
      >>> x = jnp.array([[1.0], [2.0], [4.0]])
      >>> propagate(edge_index, x, aggregate="mean", update=lambda aggr, x: aggr + x)
      Array([[1. ],
             [4.5],
             [6. ]], dtype=float32)

      A message that reads both endpoints, with two aggregates:

      >>> propagate(edge_index, x, message=lambda e: e.x_j - e.x_i, aggregate=["sum", "max"])
      Array([[ 0.,  0.],
             [ 1.,  2.],
             [-2., -2.]], dtype=float32)
    """
    if update is not None and not callable(update):
        raise TypeError(f"{_FN}: update must be callable or None, got {type(update).__name__}.")
    if not (message is None or isinstance(message, MessageFunction) or callable(message)):
        raise TypeError(
            f"{_FN}: message must be None, a jgnn.fn message function or a callable "
            f"message(edges), got {type(message).__name__}."
        )
    reducer = normalize_aggregate(aggregate)

    x_src, x_dst, bipartite = _split_x(x)
    g = as_graph(graph, _FN)
    if bipartite and x_dst is None and num_nodes is None and not isinstance(g, SparseTensor):
        raise ValueError(
            f"{_FN}: x=(x_src, None) leaves the number of destination nodes unknown; pass "
            "num_nodes=(num_src, num_dst) or x=(x_src, x_dst), or use a SparseTensor adj_t."
        )
    args = graph_args(
        g,
        num_nodes=num_nodes,
        src_hint=x_src.shape[0],
        dst_hint=None if x_dst is None else x_dst.shape[0],
        src_data="x[0]" if bipartite else "x",
        dst_data="x[1]" if bipartite else "x",
        fn=_FN,
    )
    edge_attr = _edge_attr(edge_attr, g, args.num_edges)
    if message is None:
        _check_weight(x_src, edge_attr)

    form = _gspmm_form(message, edge_attr)
    fusable = form is not None and (
        isinstance(reducer, str)
        and sparse_product_form(form[0], reducer, None if form[1] is None else form[1].shape)
    )
    sparse_graph = isinstance(g, SparseTensor)
    if use_sparse_product(impl, fusable=fusable, sparse_graph=sparse_graph, fuse=fuse, fn=_FN):
        op, weight = form
        out = gspmm(
            g, op, reducer, x_src, weight, num_nodes=(args.num_src, args.num_dst), impl=impl
        )
    else:
        messages = _edge_messages(g, message, x_src, x_dst, edge_attr, args)
        out = aggregate_messages(messages, args.dst, args.num_dst, reducer)
    if update is not None:
        out = update(out, x_dst)
    return out


def _edge_messages(
    graph: Graph,
    message: Message,
    x_src: Array,
    x_dst: Array | None,
    edge_attr: Array | None,
    args: GraphArgs,
) -> Any:
    """Per-edge messages ``[E, *F']`` (or a ``(logits, values)`` pair) on the edge-list path."""
    counts = (args.num_src, args.num_dst)
    if message is None:
        edges = Edges(args.src, args.dst, x_src=x_src, num_src=counts[0], num_dst=counts[1])
        if edge_attr is None:
            return edges.x_j
        weight = edge_attr.reshape((edge_attr.shape[0],) + (1,) * (x_src.ndim - 1))
        return edges.x_j * weight
    if isinstance(message, MessageFunction):
        ops = _builtin_operands(message, x_src, x_dst, edge_attr)
        return apply_edges(
            graph, message, u=ops.get("u"), v=ops.get("v"), e=ops.get("e"), num_nodes=counts
        )
    edges = Edges(
        args.src,
        args.dst,
        x_src=x_src,
        x_dst=x_dst,
        edge_attr=edge_attr,
        num_src=counts[0],
        num_dst=counts[1],
    )
    messages = message(edges)
    if isinstance(messages, list):
        messages = tuple(messages)
    _check_messages(messages, args.num_edges)
    return messages
