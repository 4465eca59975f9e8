"""``to_adj_t``: the transposed adjacency of a ``jraph.GraphsTuple``, for aggregation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jgnn._checks import host_ints, static_int
from jgnn.graph import num_nodes as _num_nodes
from jgnn.sparse._buffers import INT32_MAX
from jgnn.sparse._tensor import SparseTensor

__all__ = ["to_adj_t"]


def to_adj_t(graph: jraph.GraphsTuple, num_nodes: int | None = None) -> SparseTensor:
    """The transposed adjacency of a graph, used for aggregation: ``out = adj_t @ x``.

    Host-side: not jittable. Rows are receivers and columns senders, so ``adj_t @ x`` sums the
    features of each node's in-neighbours, like ``segment_sum(x[senders], receivers)``. Edge
    features ``[E]`` or ``[E, D]`` become the values (parallel edges are summed). Without edge
    features, parallel edges become a value equal to their multiplicity, so the product still
    equals the edge-list sum; a graph without parallel edges gets no values.

    Args:
      graph: a ``jraph.GraphsTuple`` with concrete ``senders``/``receivers`` ``[E]``.
      num_nodes: number of nodes (default: ``jgnn.graph.num_nodes(graph)``, or the sum of
        ``n_node`` when ``graph.nodes`` is ``None``).

    Returns:
      A ``[num_nodes, num_nodes]`` ``SparseTensor``.

    Raises:
      TypeError: ``graph.edges`` is not an array, or ids are traced/non-integer.
      ValueError: ids are out of range.

    Examples:
      >>> import jraph
      >>> g = jraph.GraphsTuple(nodes=jnp.ones((3, 1)), edges=None, senders=jnp.array([0, 0]),
      ...     receivers=jnp.array([1, 2]), n_node=jnp.array([3]), n_edge=jnp.array([2]),
      ...     globals=None)
      >>> to_adj_t(g).coo()[:2]
      (Array([1, 2], dtype=int32), Array([0, 0], dtype=int32))
    """
    fn = "to_adj_t"
    if num_nodes is None:
        if graph.nodes is not None:
            num_nodes = _num_nodes(graph)
        else:
            num_nodes = int(np.sum(np.asarray(graph.n_node)))
    n = static_int(num_nodes, f"{fn}: num_nodes", maximum=INT32_MAX)
    senders = host_ints(graph.senders, f"{fn}: senders")
    receivers = host_ints(graph.receivers, f"{fn}: receivers")
    value = graph.edges
    if value is not None and not isinstance(value, (jax.Array, np.ndarray)):
        raise TypeError(
            f"{fn}: graph.edges must be None or an array [E] / [E, D], got "
            f"{type(value).__name__}; pass the array of edge weights you aggregate with."
        )
    if value is None and senders.size:
        key = receivers * max(n, 1) + senders
        if np.unique(key).size != key.size:
            value = jnp.ones(senders.shape, jnp.float32)
    return SparseTensor._coo(receivers, senders, value, (n, n), fn)
