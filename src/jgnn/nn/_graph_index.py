"""The graph index of every node of a batch, shared by pooling and normalisation (private)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from jax.typing import ArrayLike

from jgnn._checks import int_array, is_traced, static_int

__all__ = ["check_mask", "graph_ids"]


def check_mask(mask: ArrayLike, num_nodes: int, fn: str) -> jax.Array:
    """Returns ``mask`` as a bool ``[N]`` array or raises ``ValueError``/``TypeError``."""
    mask = jnp.asarray(mask)
    if mask.shape != (num_nodes,):
        raise ValueError(
            f"{fn}: `mask` must have shape ({num_nodes},) (one entry per node), got {mask.shape}."
        )
    if mask.dtype != jnp.bool_ and not jnp.issubdtype(mask.dtype, jnp.integer):
        raise TypeError(f"{fn}: `mask` must be a bool (or 0/1 integer) array, got {mask.dtype}.")
    return mask.astype(jnp.bool_)


def graph_ids(
    num_nodes: int,
    graph: jraph.GraphsTuple | None,
    batch: ArrayLike | None,
    num_graphs: int | None,
    mask: ArrayLike | None,
    fn: str,
) -> tuple[jax.Array, int]:
    """Graph index of every node, ``[N]`` int32, and the static number of graphs ``G``.

    Nodes excluded by ``mask`` get the out-of-range id ``G``, which every segment reducer drops,
    so they count neither in sums nor in node counts. Without ``graph`` and ``batch`` all nodes
    form one graph (``G = 1``).

    Raises:
      ValueError: inconsistent sizes, or both ``graph`` and ``batch`` given.
      TypeError: ``num_graphs`` missing under ``jit`` or not an int.
    """
    if graph is not None and batch is not None:
        raise ValueError(f"{fn}: pass either `graph` or `batch`, not both.")
    if graph is not None:
        if not isinstance(graph, jraph.GraphsTuple):
            raise TypeError(
                f"{fn}: `graph` must be a jraph.GraphsTuple, got {type(graph).__name__}."
            )
        if graph.n_node is None:
            raise ValueError(f"{fn}: `graph.n_node` is None; it gives each graph's node count.")
        n_node = jnp.asarray(graph.n_node)
        if n_node.ndim != 1:
            raise ValueError(f"{fn}: `graph.n_node` must be 1-D [G], got shape {n_node.shape}.")
        g = int(n_node.shape[0])
        if num_graphs is not None and num_graphs != g:
            raise ValueError(
                f"{fn}: num_graphs={num_graphs} but the graph holds {g} graphs (len(n_node))."
            )
        if not is_traced(graph.n_node):
            total = int(np.asarray(graph.n_node).sum())
            if total != num_nodes:
                raise ValueError(
                    f"{fn}: `x` has {num_nodes} rows but sum(graph.n_node) = {total}; they must "
                    "agree (padded graphs included)."
                )
        ids = jnp.repeat(jnp.arange(g, dtype=jnp.int32), n_node, total_repeat_length=num_nodes)
    elif batch is not None:
        ids = jnp.asarray(batch)
        if ids.shape != (num_nodes,):
            raise ValueError(
                f"{fn}: `batch` must have shape ({num_nodes},) to match `x`, got {ids.shape}."
            )
        int_array(ids, f"{fn}: `batch`")
        if num_graphs is None:
            if is_traced(batch):
                raise TypeError(
                    f"{fn}: `num_graphs` (a static Python int) is required with a traced "
                    "`batch`; it fixes the output shape and cannot be read from data under jit."
                )
            num_graphs = int(np.asarray(batch).max()) + 1 if num_nodes else 0
        g = static_int(num_graphs, f"{fn}: `num_graphs`")
        ids = ids.astype(jnp.int32)
    else:
        g = 1 if num_graphs is None else int(num_graphs)
        if g != 1:
            raise ValueError(
                f"{fn}: without `graph` or `batch` all nodes form one graph, got num_graphs={g}."
            )
        ids = jnp.zeros((num_nodes,), jnp.int32)
    if mask is not None:
        ids = jnp.where(check_mask(mask, num_nodes, fn), ids, jnp.int32(g))
    return ids, g
