"""DGL-style ``update_all`` / ``apply_edges`` over builtin descriptors and user functions.

Functional form of DGL's message passing: no node/edge frames, the data is passed in as
``u`` (source-node data), ``v`` (destination-node data) and ``e`` (edge data).

* ``update_all(graph, message, reduce, u=..., e=...)`` computes a message per edge and reduces
  the messages at each destination. Builtin pairs that one :func:`gspmm` can express
  (``copy_u``, ``copy_e``, ``u_{add,sub,mul,div}_e`` and the commutative ``e_{add,mul}_u``)
  run as that single call (fused into ``spmm`` where ``gspmm`` can fuse); other builtins run
  ``gsddmm`` followed by a segment reducer.
* ``apply_edges(graph, message, ...)`` returns the per-edge messages (``gsddmm`` for builtins).
* A message may be a Python function ``msg(edges) -> [E, *F]``; ``edges`` is an
  :class:`EdgeBatch` whose ``src``/``dst`` gather node rows only when read.
* A reducer may be a Python function ``red(mailbox [B, D, *F], mask [B, D]) -> [B, *F']``
  applied over degree buckets (:mod:`jgnn.ops._mailbox`), given a :class:`MailboxPlan`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

from jgnn._checks import is_traced
from jgnn.fn import MessageFunction, ReduceFunction, as_reduce_function
from jgnn.ops._gsddmm import gsddmm
from jgnn.ops._gspmm import check_impl, gspmm
from jgnn.ops._mailbox import MailboxPlan, plan_mailbox, reduce_mailbox
from jgnn.segment import segment_reduce
from jgnn.sparse import Graph, GraphArgs, NumNodes, SparseTensor, graph_args, use_sparse_product

__all__ = ["EdgeBatch", "apply_edges", "update_all"]

MessageLike = MessageFunction | Callable[["EdgeBatch"], Any]
ReduceLike = ReduceFunction | str | Callable[[Any, Array], Any]

_GSPMM_OPS = ("add", "sub", "mul", "div")
_COMMUTATIVE = ("add", "mul")


class EdgeBatch:
    """A lazy view of every edge, passed to user-defined message functions.

    Node data is gathered per edge only when ``src``/``dst`` is first read (then cached), so a
    message that reads only ``data`` costs no gather.

    Attributes:
      src_ids: int32 ``[E]`` source ids.
      dst_ids: int32 ``[E]`` destination ids.

    Examples:
      >>> import jax.numpy as jnp
      >>> b = EdgeBatch(jnp.array([0, 1]), jnp.array([1, 1]), u=jnp.array([1.0, 2.0]))
      >>> b.src
      Array([1., 2.], dtype=float32)
    """

    def __init__(
        self, src_ids: Array, dst_ids: Array, *, u: Any = None, v: Any = None, e: Any = None
    ) -> None:
        self.src_ids = src_ids
        self.dst_ids = dst_ids
        self._u, self._v, self._e = u, v, e

    @staticmethod
    def _take(data: Any, ids: Array, name: str, attr: str) -> Any:
        if data is None:
            raise ValueError(
                f"the message function reads edges.{attr} but no `{name}` data was passed to "
                f"update_all/apply_edges; pass {name}=..."
            )
        return jax.tree_util.tree_map(lambda x: jnp.asarray(x)[ids], data)

    @functools.cached_property
    def src(self) -> Any:
        """Source-node data per edge, ``u[src_ids]`` (``[E, *F]``, or a pytree of such)."""
        return self._take(self._u, self.src_ids, "u", "src")

    @functools.cached_property
    def dst(self) -> Any:
        """Destination-node data per edge, ``v[dst_ids]``."""
        return self._take(self._v, self.dst_ids, "v", "dst")

    @property
    def data(self) -> Any:
        """Edge data ``e`` (``[E, *F]``)."""
        if self._e is None:
            raise ValueError(
                "the message function reads edges.data but no `e` data was passed to "
                "update_all/apply_edges; pass e=..."
            )
        return self._e

    def edges(self) -> tuple[Array, Array, Array]:
        """``(src_ids, dst_ids, edge_ids)``, each int32 ``[E]`` (DGL's ``EdgeBatch.edges``)."""
        return self.src_ids, self.dst_ids, jnp.arange(self.src_ids.shape[0], dtype=jnp.int32)

    def batch_size(self) -> int:
        """The number of edges ``E`` (static)."""
        return int(self.src_ids.shape[0])


def _rows(data: Any) -> int | None:
    leaves = jax.tree_util.tree_leaves(data)
    if not leaves or jnp.ndim(leaves[0]) == 0:
        return None
    return int(jnp.shape(leaves[0])[0])


def _args(graph: Graph, num_nodes: NumNodes, u: Any, v: Any, fn: str, require: bool):
    return graph_args(
        graph,
        num_nodes=num_nodes,
        src_hint=_rows(u),
        dst_hint=_rows(v),
        require_counts=require,
        fn=fn,
    )


def _operand(target: str, u: Any, v: Any, e: Any, message: MessageFunction) -> Any:
    data = {"u": u, "v": v, "e": e}[target]
    if data is None:
        raise ValueError(
            f"message {message.name} reads target {target!r}: pass {target}=... (got None)."
        )
    return data


def _builtin_edges(
    graph: Graph, message: MessageFunction, u: Any, v: Any, e: Any, num_nodes: NumNodes
) -> Array:
    lhs = _operand(message.lhs_target, u, v, e, message)
    if message.op == "copy":
        return gsddmm(
            graph, "copy_lhs", lhs, None, lhs_target=message.lhs_target, num_nodes=num_nodes
        )
    rhs = _operand(message.rhs_target, u, v, e, message)
    return gsddmm(
        graph,
        message.op,
        lhs,
        rhs,
        lhs_target=message.lhs_target,
        rhs_target=message.rhs_target,
        num_nodes=num_nodes,
    )


def _edge_messages(
    graph: Graph,
    message: MessageLike,
    args: GraphArgs,
    u: Any,
    v: Any,
    e: Any,
    num_nodes: NumNodes,
    fn: str,
) -> Any:
    if isinstance(message, MessageFunction):
        return _builtin_edges(graph, message, u, v, e, num_nodes)
    if callable(message):
        return message(EdgeBatch(args.src, args.dst, u=u, v=v, e=e))
    raise TypeError(
        f"{fn}: message must be a jgnn.fn message function or a callable msg(edges), got "
        f"{type(message).__name__}."
    )


def apply_edges(
    graph: Graph,
    message: MessageLike,
    *,
    u: Any = None,
    v: Any = None,
    e: Any = None,
    num_nodes: NumNodes = None,
) -> Any:
    """Computes one message per edge (DGL's ``apply_edges``), without reducing.

    Args:
      graph: a ``jraph.GraphsTuple`` (senders = sources) or a ``SparseTensor`` ``adj_t``
        (rows = destinations, columns = sources, edges in COO order).
      message: a :mod:`jgnn.fn` message function (computed with :func:`gsddmm`) or a callable
        ``msg(edges: EdgeBatch) -> [E, *F]``.
      u: source-node data ``[N_src, *F]`` (a pytree for callables).
      v: destination-node data ``[N_dst, *F]``.
      e: edge data ``[E, *F]``.
      num_nodes: optional static node count (int, or ``(num_src, num_dst)``), used to check
        row counts.

    Returns:
      The per-edge messages ``[E, *F]`` (whatever a callable returns).

    Raises:
      ValueError: the message reads data that was not passed, or shapes disagree.
      TypeError: ``message`` is neither a builtin nor callable.

    Examples:
      >>> import jax.numpy as jnp, jraph
      >>> from jgnn import fn
      >>> g = jraph.GraphsTuple(nodes=None, edges=None, senders=jnp.array([0, 1]),
      ...     receivers=jnp.array([1, 0]), globals=None, n_node=jnp.array([2]),
      ...     n_edge=jnp.array([2]))
      >>> x = jnp.array([1.0, 10.0])
      >>> apply_edges(g, fn.u_sub_v, u=x, v=x)
      Array([-9.,  9.], dtype=float32)
    """
    fn = "apply_edges"
    args = _args(graph, num_nodes, u, v, fn, require=False)
    return _edge_messages(graph, message, args, u, v, e, num_nodes, fn)


def _gspmm_form(message: MessageFunction) -> tuple[str, str, str] | None:
    """``(gspmm op, lhs target, rhs target)`` when one gspmm computes this builtin."""
    if message.op == "copy":
        return {"u": ("copy_lhs", "u", None), "e": ("copy_rhs", None, "e")}.get(message.lhs_target)
    pair = (message.lhs_target, message.rhs_target)
    if pair == ("u", "e") and message.op in _GSPMM_OPS:
        return message.op, "u", "e"
    if pair == ("e", "u") and message.op in _COMMUTATIVE:
        return message.op, "u", "e"
    return None


def update_all(
    graph: Graph,
    message: MessageLike,
    reduce: ReduceLike,
    *,
    u: Any = None,
    v: Any = None,
    e: Any = None,
    num_nodes: NumNodes = None,
    impl: str = "auto",
    plan: MailboxPlan | None = None,
) -> Any:
    """Sends a message along every edge and reduces them at the destinations (DGL's).

    ``out[w] = reduce({message(edge) for every edge (s, w)})``; nodes without incoming edges
    get 0 for every builtin reducer. Builtin message/reducer pairs that one :func:`gspmm`
    expresses (``copy_u``, ``copy_e``, ``u_{add,sub,mul,div}_e``, ``e_add_u``, ``e_mul_u``
    with ``sum``/``mean``/``max``/``min``/``prod``) run as that call, so they fuse into
    ``spmm`` whenever ``gspmm`` can; the others compute the messages with :func:`gsddmm` and
    reduce them with a segment reducer.

    A user-defined reducer ``red(mailbox [B, D, *F], mask [B, D]) -> [B, *F']`` runs over the
    degree buckets of ``plan`` (see :func:`plan_mailbox`). Without ``plan`` one is built from
    the graph's destinations, which needs concrete (not traced) ids and makes a new plan on
    every call: under ``jit``, build it outside and pass it.

    Args:
      graph: a ``jraph.GraphsTuple`` (senders = sources) or a ``SparseTensor`` ``adj_t``
        (rows = destinations, columns = sources, edges in COO order).
      message: a :mod:`jgnn.fn` message function or a callable ``msg(edges) -> [E, *F]``.
      reduce: a :mod:`jgnn.fn` reducer or its name (``"sum"``, ``"mean"``, ``"max"``,
        ``"min"``, ``"prod"``; ``"none"`` returns the messages, like :func:`apply_edges`),
        or a callable mailbox reducer.
      u: source-node data ``[N_src, *F]`` (a pytree for callables).
      v: destination-node data ``[N_dst, *F]``.
      e: edge data ``[E, *F]``.
      num_nodes: static node count (int, or ``(num_src, num_dst)``); by default read from
        the SparseTensor's sizes, the GraphsTuple's ``nodes``, or ``u``/``v``.
      impl: passed to :func:`gspmm` for builtin pairs it expresses (``"auto"``, ``"segment"``,
        ``"bcsr"``, ``"pallas"``); the explicit sparse ones raise for anything else.
      plan: the :class:`MailboxPlan` of the destinations, for a callable ``reduce``.

    Returns:
      ``[N_dst, *F']`` (a pytree for pytree messages); ``[E, *F]`` for ``reduce="none"``.

    Raises:
      ValueError: data a message reads is missing, shapes disagree, node counts are unknown,
        or ``plan`` does not match the graph.
      TypeError: ``message``/``reduce`` have the wrong type, or ``plan`` is needed under
        ``jit`` and missing.
      NotImplementedError: a sparse ``impl`` for a message that ``gspmm`` cannot fuse (use
        ``impl="auto"`` or ``"segment"``).

    Examples:
      >>> import jax.numpy as jnp, jraph
      >>> from jgnn import fn
      >>> g = jraph.GraphsTuple(nodes=None, edges=None, senders=jnp.array([0, 1, 2]),
      ...     receivers=jnp.array([2, 2, 0]), globals=None, n_node=jnp.array([3]),
      ...     n_edge=jnp.array([3]))
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> update_all(g, fn.copy_u, fn.max, u=x)
      Array([[3.],
             [0.],
             [2.]], dtype=float32)
    """
    fn = "update_all"
    check_impl(impl, fn)
    builtin_reduce = None
    if isinstance(reduce, (ReduceFunction, str)):
        builtin_reduce = as_reduce_function(reduce).name
    elif not callable(reduce):
        raise TypeError(
            f"{fn}: reduce must be a jgnn.fn reducer, a reducer name or a callable "
            f"red(mailbox, mask), got {type(reduce).__name__}."
        )
    if builtin_reduce == "none":
        return apply_edges(graph, message, u=u, v=v, e=e, num_nodes=num_nodes)

    args = _args(graph, num_nodes, u, v, fn, require=True)
    counts = (args.num_src, args.num_dst)
    if builtin_reduce is not None and isinstance(message, MessageFunction):
        form = _gspmm_form(message)
        if form is not None:
            op, lhs_t, rhs_t = form
            lhs = None if lhs_t is None else _operand(lhs_t, u, v, e, message)
            rhs = None if rhs_t is None else _operand(rhs_t, u, v, e, message)
            return gspmm(graph, op, builtin_reduce, lhs, rhs, num_nodes=counts, impl=impl)
    # Not one gspmm: per-edge messages, unless impl demands a sparse product (then this raises).
    use_sparse_product(impl, fusable=False, sparse_graph=isinstance(graph, SparseTensor), fn=fn)
    messages = _edge_messages(graph, message, args, u, v, e, counts, fn)
    if builtin_reduce is not None:
        return jax.tree_util.tree_map(
            lambda m: segment_reduce(builtin_reduce, m, args.dst, args.num_dst), messages
        )
    if plan is None:
        if is_traced(args.dst):
            raise TypeError(
                f"{fn}: a callable reducer needs plan=plan_mailbox(receivers, num_nodes) "
                "when the graph is traced (under jit); build the plan outside and pass it in."
            )
        plan = plan_mailbox(args.dst, args.num_dst)
    elif plan.num_edges != args.num_edges:
        raise ValueError(
            f"{fn}: the plan was built for {plan.num_edges} edges but the graph has "
            f"{args.num_edges}."
        )
    return reduce_mailbox(messages, plan, reduce, args.num_dst)
