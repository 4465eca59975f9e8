"""Edge softmax: normalise edge logits over each node's incoming (or outgoing) edges."""

from __future__ import annotations

from jax import Array
from jax.typing import ArrayLike

from jgnn.ops._gsddmm import check_operand
from jgnn.segment import segment_softmax
from jgnn.sparse import Graph, NumNodes, graph_args

__all__ = ["edge_softmax"]


def edge_softmax(
    graph: Graph,
    logits: ArrayLike,
    *,
    norm_by: str = "dst",
    num_nodes: NumNodes = None,
) -> Array:
    """Softmax of edge logits over the edges sharing a destination (or a source).

    With ``norm_by="dst"`` (the default, GAT-style attention)
    ``out[e] = exp(logits[e]) / sum(exp(logits[f]) for f with dst[f] == dst[e])``; with
    ``norm_by="src"`` the edges are grouped by source instead. Each group's maximum is
    subtracted first (gradient stopped, which leaves the gradient exact), so large logits do
    not overflow; ``bfloat16``/``float16`` logits are computed in ``float32`` and returned in
    their own dtype. Heads (trailing axes) are normalised independently.

    Args:
      graph: a ``jraph.GraphsTuple`` (senders = sources) or a ``SparseTensor`` ``adj_t``
        (rows = destinations, columns = sources, edges in COO order).
      logits: floating edge scores, ``[E]`` or ``[E, *H]`` (e.g. ``[E, heads]``).
      norm_by: ``"dst"`` (normalise over incoming edges) or ``"src"`` (outgoing edges).
      num_nodes: static node count (int, or ``(num_src, num_dst)``); by default read from
        the SparseTensor's sizes or the GraphsTuple's ``nodes``.

    Returns:
      ``[E, *H]`` in the dtype of ``logits``; sums to 1 over each node's group of edges.

    Raises:
      ValueError: ``norm_by`` is not ``"dst"``/``"src"``, ``logits`` does not have one row per
        edge, or the node count cannot be determined.
      TypeError: ``logits`` is not floating.

    Examples:
      >>> import jax.numpy as jnp, jraph
      >>> g = jraph.GraphsTuple(nodes=None, edges=None, senders=jnp.array([0, 1, 2]),
      ...     receivers=jnp.array([2, 2, 0]), globals=None, n_node=jnp.array([3]),
      ...     n_edge=jnp.array([3]))
      >>> edge_softmax(g, jnp.array([0.0, 0.0, 5.0]), num_nodes=3)
      Array([0.5, 0.5, 1. ], dtype=float32)
    """
    fn = "edge_softmax"
    if norm_by not in ("dst", "src"):
        raise ValueError(f"{fn}: norm_by must be 'dst' or 'src', got {norm_by!r}.")
    logits = check_operand(logits, "logits", fn)
    args = graph_args(graph, num_nodes=num_nodes, fn=fn)
    if logits.shape[0] != args.num_edges:
        raise ValueError(
            f"{fn}: `logits` has {logits.shape[0]} rows but the graph has {args.num_edges} edges."
        )
    if norm_by == "dst":
        return segment_softmax(logits, args.dst, args.num_dst)
    return segment_softmax(logits, args.src, args.num_src)
