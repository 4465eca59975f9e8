"""Generalised sampled dense-dense matrix multiplication (DGL's ``gsddmm``).

For every edge ``(u, v)`` combine an operand read at ``lhs_target`` with one read at
``rhs_target`` (each ``u`` = source node, ``v`` = destination node or ``e`` = the edge itself)
and return one row per edge. Feature shapes broadcast like NumPy, right-aligned after the
leading (node or edge) axis, as in DGL: ``[N, 3, 1]`` against ``[E, 5, 3, 4]`` gives
``[E, 5, 3, 4]``.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from jgnn.sparse import Graph, NumNodes, graph_args

__all__ = ["gsddmm"]

SDDMM_OPS = ("add", "sub", "mul", "div", "dot", "copy_lhs", "copy_rhs")
_TARGETS = ("u", "v", "e")


def check_operand(x: Any, name: str, fn: str) -> Array:
    """Returns ``x`` as an array with a leading (node or edge) axis, or raises."""
    if x is None:
        raise ValueError(f"{fn}: `{name}` is required for this op, got None.")
    x = jnp.asarray(x)
    if x.ndim == 0:
        raise ValueError(
            f"{fn}: `{name}` must have a leading node/edge axis ([N, *F] or [E, *F]), got a scalar."
        )
    return x


def check_same_dtype(a: Array, b: Array, fn: str) -> None:
    """Raises ``TypeError`` unless both operands share a dtype (DGL requires it too)."""
    if a.dtype != b.dtype:
        raise TypeError(
            f"{fn}: lhs and rhs must have the same dtype, got {a.dtype} and {b.dtype}; cast one "
            f"explicitly, e.g. rhs.astype({a.dtype})."
        )


def align_features(a: Array, b: Array) -> tuple[Array, Array]:
    """Pads the feature shapes (axes after the first) with 1s on the left to the same rank."""
    k = max(a.ndim, b.ndim) - 1
    a = a.reshape(a.shape[:1] + (1,) * (k - (a.ndim - 1)) + a.shape[1:])
    b = b.reshape(b.shape[:1] + (1,) * (k - (b.ndim - 1)) + b.shape[1:])
    return a, b


def broadcast_feature_shape(lf: tuple[int, ...], rf: tuple[int, ...], fn: str) -> tuple:
    """NumPy broadcast of two feature shapes, or a ``ValueError`` naming both."""
    try:
        return tuple(jnp.broadcast_shapes(lf, rf))
    except ValueError:
        raise ValueError(
            f"{fn}: feature shapes {lf} (lhs) and {rf} (rhs) do not broadcast (NumPy rules, "
            "right-aligned after the leading axis)."
        ) from None


def binary_op(op: str, a: Array, b: Array) -> Array:
    """``add/sub/mul/div/dot`` of two aligned ``[E, *F]`` operands (``dot`` keeps a 1 axis)."""
    a, b = align_features(a, b)
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        return a / b
    if op == "dot":
        if a.ndim < 2:
            raise ValueError(
                "dot needs a feature axis to reduce; got operands of shapes "
                f"{a.shape} and {b.shape} (use op='mul' for per-edge scalars)."
            )
        return jnp.sum(a * b, axis=-1, keepdims=True)
    raise ValueError(f"Unknown binary op {op!r}; expected add, sub, mul, div or dot.")


def gather(x: Array, target: str, src: Array, dst: Array) -> Array:
    """Reads per-edge rows of ``x`` at ``target`` (``u``: sources, ``v``: destinations)."""
    if target == "u":
        return x[src]
    if target == "v":
        return x[dst]
    return x


def check_rows(x: Array, target: str, name: str, args, fn: str) -> None:
    """Checks the leading axis of ``x`` against the count ``target`` implies, where known."""
    expected = {"u": args.num_src, "v": args.num_dst, "e": args.num_edges}[target]
    what = {"u": "source nodes", "v": "destination nodes", "e": "edges"}[target]
    if expected is not None and x.shape[0] != expected:
        raise ValueError(
            f"{fn}: `{name}` (target {target!r}) has {x.shape[0]} rows but the graph has "
            f"{expected} {what}."
        )


def sddmm_edges(
    op: str,
    lhs: Array | None,
    rhs: Array | None,
    lhs_target: str,
    rhs_target: str,
    src: Array,
    dst: Array,
) -> Array:
    """The per-edge computation of :func:`gsddmm` on validated arrays (no checks)."""
    if op == "copy_lhs":
        return gather(lhs, lhs_target, src, dst)
    if op == "copy_rhs":
        return gather(rhs, rhs_target, src, dst)
    return binary_op(op, gather(lhs, lhs_target, src, dst), gather(rhs, rhs_target, src, dst))


def check_op(op: str, ops: tuple[str, ...], fn: str) -> None:
    if op not in ops:
        raise ValueError(f"{fn}: op must be one of {ops}, got {op!r}.")


def check_target(target: str, name: str, fn: str) -> None:
    if target not in _TARGETS:
        raise ValueError(f"{fn}: {name} must be one of {_TARGETS}, got {target!r}.")


def gsddmm(
    graph: Graph,
    op: str,
    lhs: ArrayLike | None,
    rhs: ArrayLike | None,
    *,
    lhs_target: str = "u",
    rhs_target: str = "v",
    num_nodes: NumNodes = None,
) -> Array:
    """Computes one value per edge from node and/or edge operands (DGL's ``gsddmm``).

    ``out[e] = op(lhs at lhs_target of e, rhs at rhs_target of e)`` where target ``u`` reads
    row ``src[e]``, ``v`` reads row ``dst[e]`` and ``e`` reads row ``e``. Feature shapes
    broadcast (NumPy rules, right-aligned after the leading axis). ``dot`` sums the product
    over the last feature axis and keeps it with size 1 (``[E, H, D] -> [E, H, 1]``), as DGL.

    Args:
      graph: a ``jraph.GraphsTuple`` (senders = ``u``) or a ``SparseTensor`` ``adj_t`` (rows =
        ``v``, columns = ``u``, edges in COO order).
      op: ``"add"``, ``"sub"``, ``"mul"``, ``"div"``, ``"dot"``, ``"copy_lhs"`` or
        ``"copy_rhs"``.
      lhs: left operand, ``[N_src, *F1]``, ``[N_dst, *F1]`` or ``[E, *F1]`` by ``lhs_target``
        (None for ``copy_rhs``).
      rhs: right operand, shaped likewise by ``rhs_target`` (None for ``copy_lhs``).
      lhs_target: ``"u"``, ``"v"`` or ``"e"``.
      rhs_target: ``"u"``, ``"v"`` or ``"e"``.
      num_nodes: optional static node count (int, or ``(num_src, num_dst)``), only used to
        check the operands' row counts; needed for bipartite data on a GraphsTuple that has
        ``nodes``.

    Returns:
      ``[E, *F]`` with ``F`` the broadcast of ``F1`` and ``F2`` (last axis 1 for ``dot``).

    Raises:
      ValueError: unknown op/target, a required operand is None, feature shapes do not
        broadcast, or an operand's row count disagrees with the graph (where known).
      TypeError: ``lhs`` and ``rhs`` have different dtypes.

    Examples:
      >>> import jax.numpy as jnp, jraph
      >>> g = jraph.GraphsTuple(nodes=None, edges=None, senders=jnp.array([0, 1]),
      ...     receivers=jnp.array([1, 2]), globals=None, n_node=jnp.array([3]),
      ...     n_edge=jnp.array([2]))
      >>> x = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
      >>> gsddmm(g, "dot", x, x, lhs_target="u", rhs_target="v")
      Array([[11.],
             [39.]], dtype=float32)
    """
    fn = "gsddmm"
    check_op(op, SDDMM_OPS, fn)
    check_target(lhs_target, "lhs_target", fn)
    check_target(rhs_target, "rhs_target", fn)
    lhs = check_operand(lhs, "lhs", fn) if op != "copy_rhs" else None
    rhs = check_operand(rhs, "rhs", fn) if op != "copy_lhs" else None
    hints: dict[str, tuple[int, str]] = {}
    for x, t, name in ((lhs, lhs_target, "lhs"), (rhs, rhs_target, "rhs")):
        if x is not None and t != "e" and t not in hints:
            hints[t] = (x.shape[0], name)
    u_hint, u_name = hints.get("u", (None, "lhs"))
    v_hint, v_name = hints.get("v", (None, "rhs"))
    args = graph_args(
        graph,
        num_nodes=num_nodes,
        src_hint=u_hint,
        dst_hint=v_hint,
        src_data=u_name,
        dst_data=v_name,
        require_counts=False,
        fn=fn,
    )
    if lhs is not None:
        check_rows(lhs, lhs_target, "lhs", args, fn)
    if rhs is not None:
        check_rows(rhs, rhs_target, "rhs", args, fn)
    if lhs is not None and rhs is not None:
        check_same_dtype(lhs, rhs, fn)
        broadcast_feature_shape(lhs.shape[1:], rhs.shape[1:], fn)
        if op == "dot" and max(lhs.ndim, rhs.ndim) < 2:
            raise ValueError(
                f"{fn}: op='dot' needs a feature axis to reduce, got lhs {lhs.shape} and rhs "
                f"{rhs.shape}; use op='mul' for per-edge scalars."
            )
    return sddmm_edges(op, lhs, rhs, lhs_target, rhs_target, args.src, args.dst)
