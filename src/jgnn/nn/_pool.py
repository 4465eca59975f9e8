"""Global (graph-level) pooling: reduce the node features of each graph in a batch to one row.

A batch of ``G`` graphs with ``N`` nodes in total is described either by a
:class:`jraph.GraphsTuple` (``n_node [G]`` gives each graph's node count, nodes are stored graph
after graph) or, as in PyG, by a ``batch`` vector ``[N]`` holding each node's graph index plus a
static ``num_graphs``. Both give the same segment ids, and every readout is a segment reduction
from :mod:`jgnn.ops`, so empty graphs give 0.

Padding (see :func:`jgnn.graph.pad_graph`) never changes the rows of real graphs: padding nodes
belong to the padding graph. The padding graph's own row is the reduction of the padding rows
(0 when they are zeros, as ``pad_graph`` leaves them); pass ``mask=jgnn.graph.node_mask(graph)``
to make it 0 whatever the padding rows hold.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from jax.typing import ArrayLike

from jgnn.ops import segment_max, segment_mean, segment_sum

__all__ = ["global_add_pool", "global_max_pool", "global_mean_pool"]


def _is_traced(x: object) -> bool:
    return isinstance(x, jax.core.Tracer)


def _check_mask(mask: ArrayLike, num_nodes: int, fn: str) -> jax.Array:
    """Returns ``mask`` as a bool ``[N]`` array or raises ``ValueError``/``TypeError``."""
    mask = jnp.asarray(mask)
    if mask.shape != (num_nodes,):
        raise ValueError(
            f"{fn}: `mask` must have shape ({num_nodes},) (one entry per node), got {mask.shape}."
        )
    if mask.dtype != jnp.bool_ and not jnp.issubdtype(mask.dtype, jnp.integer):
        raise TypeError(f"{fn}: `mask` must be a bool (or 0/1 integer) array, got {mask.dtype}.")
    return mask.astype(jnp.bool_)


def _graph_ids(
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
        if not _is_traced(graph.n_node):
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
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise TypeError(f"{fn}: `batch` must be an integer array, got dtype {ids.dtype}.")
        if num_graphs is None:
            if _is_traced(batch):
                raise TypeError(
                    f"{fn}: `num_graphs` (a static Python int) is required with a traced "
                    "`batch`; it fixes the output shape and cannot be read from data under jit."
                )
            num_graphs = int(np.asarray(batch).max()) + 1 if num_nodes else 0
        if isinstance(num_graphs, bool) or not isinstance(num_graphs, int | np.integer):
            raise TypeError(
                f"{fn}: `num_graphs` must be a Python int, got {type(num_graphs).__name__} "
                f"({num_graphs!r})."
            )
        g = int(num_graphs)
        ids = ids.astype(jnp.int32)
    else:
        g = 1 if num_graphs is None else int(num_graphs)
        if g != 1:
            raise ValueError(
                f"{fn}: without `graph` or `batch` all nodes form one graph, got num_graphs={g}."
            )
        ids = jnp.zeros((num_nodes,), jnp.int32)
    if mask is not None:
        ids = jnp.where(_check_mask(mask, num_nodes, fn), ids, jnp.int32(g))
    return ids, g


def _pool(
    reducer,
    x: ArrayLike,
    graph: jraph.GraphsTuple | None,
    batch: ArrayLike | None,
    num_graphs: int | None,
    mask: ArrayLike | None,
    fn: str,
) -> jax.Array:
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"{fn}: `x` must have shape [N, ...], got a scalar.")
    ids, g = _graph_ids(x.shape[0], graph, batch, num_graphs, mask, fn)
    if mask is not None:
        # Masked rows are dropped by the reducer; zero them too so that NaN/Inf garbage there
        # cannot leak into gradients.
        keep = ids < g
        x = jnp.where(keep.reshape(keep.shape + (1,) * (x.ndim - 1)), x, jnp.zeros((), x.dtype))
    return reducer(x, ids, g)


def global_add_pool(
    x: ArrayLike,
    graph: jraph.GraphsTuple | None = None,
    *,
    batch: ArrayLike | None = None,
    num_graphs: int | None = None,
    mask: ArrayLike | None = None,
) -> jax.Array:
    """Sum of the node features of each graph: ``out[g] = sum_{i in g} x_i``.

    Jittable: ``G`` and ``N`` are read from static shapes (or the static ``num_graphs``).
    Shapes: ``x [N, F]`` -> ``[G, F]``; graphs with no (unmasked) nodes give 0.

    Args:
      x: node features ``[N, F]`` (any trailing feature shape ``[N, ...]`` works).
      graph: a (batched, possibly padded) graph whose ``n_node [G]`` sums to ``N``; nodes are
        stored graph after graph.
      batch: alternative to ``graph``, PyG style: graph index of every node, ``[N]`` int.
      num_graphs: static number of graphs ``G`` with ``batch``; read from a concrete ``batch``
        as ``max(batch) + 1`` when omitted (outside ``jit`` only). Without ``graph`` and
        ``batch`` all nodes form one graph.
      mask: optional ``[N]`` bool, True for nodes to pool; others are ignored (pass
        ``jgnn.graph.node_mask(graph)`` to make the padding graph's row 0).

    Returns:
      ``[G, F]`` in the dtype of ``x`` (bf16/fp16 accumulate in float32).

    Raises:
      ValueError: ``x``, ``graph``/``batch`` and ``mask`` sizes disagree, or both ``graph`` and
        ``batch`` are given.
      TypeError: ``batch`` is not integer, or ``num_graphs`` is missing under ``jit``.

    Examples:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[1.0], [2.0], [4.0]])
      >>> global_add_pool(x, batch=jnp.array([0, 0, 2]), num_graphs=3).tolist()
      [[3.0], [0.0], [4.0]]
    """
    return _pool(segment_sum, x, graph, batch, num_graphs, mask, "global_add_pool")


def global_mean_pool(
    x: ArrayLike,
    graph: jraph.GraphsTuple | None = None,
    *,
    batch: ArrayLike | None = None,
    num_graphs: int | None = None,
    mask: ArrayLike | None = None,
) -> jax.Array:
    """Mean of the node features of each graph: ``out[g] = mean_{i in g} x_i``.

    Jittable. Shapes: ``x [N, F]`` (floating) -> ``[G, F]``; graphs with no (unmasked) nodes
    give 0.

    Args:
      x: node features ``[N, F]`` (any trailing feature shape ``[N, ...]`` works).
      graph: a (batched, possibly padded) graph whose ``n_node [G]`` sums to ``N``; nodes are
        stored graph after graph.
      batch: alternative to ``graph``, PyG style: graph index of every node, ``[N]`` int.
      num_graphs: static number of graphs ``G`` with ``batch``; read from a concrete ``batch``
        as ``max(batch) + 1`` when omitted (outside ``jit`` only). Without ``graph`` and
        ``batch`` all nodes form one graph.
      mask: optional ``[N]`` bool, True for nodes to pool; others are ignored (pass
        ``jgnn.graph.node_mask(graph)`` to make the padding graph's row 0).

    Returns:
      ``[G, F]`` in the dtype of ``x`` (bf16/fp16 accumulate in float32).

    Raises:
      ValueError: sizes disagree, or both ``graph`` and ``batch`` are given.
      TypeError: ``x`` is not floating, ``batch`` is not integer, or ``num_graphs`` is missing
        under ``jit``.

    Examples:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[1.0], [3.0], [4.0]])
      >>> global_mean_pool(x, batch=jnp.array([0, 0, 2]), num_graphs=3).tolist()
      [[2.0], [0.0], [4.0]]
    """
    return _pool(segment_mean, x, graph, batch, num_graphs, mask, "global_mean_pool")


def global_max_pool(
    x: ArrayLike,
    graph: jraph.GraphsTuple | None = None,
    *,
    batch: ArrayLike | None = None,
    num_graphs: int | None = None,
    mask: ArrayLike | None = None,
) -> jax.Array:
    """Feature-wise maximum over the nodes of each graph: ``out[g] = max_{i in g} x_i``.

    Jittable. Shapes: ``x [N, F]`` -> ``[G, F]``; graphs with no (unmasked) nodes give 0 (not
    ``-inf``; PyG's scatter-max also gives 0). Gradients split evenly among tied maxima.

    Args:
      x: node features ``[N, F]`` (any trailing feature shape ``[N, ...]`` works).
      graph: a (batched, possibly padded) graph whose ``n_node [G]`` sums to ``N``; nodes are
        stored graph after graph.
      batch: alternative to ``graph``, PyG style: graph index of every node, ``[N]`` int.
      num_graphs: static number of graphs ``G`` with ``batch``; read from a concrete ``batch``
        as ``max(batch) + 1`` when omitted (outside ``jit`` only). Without ``graph`` and
        ``batch`` all nodes form one graph.
      mask: optional ``[N]`` bool, True for nodes to pool; others are ignored (pass
        ``jgnn.graph.node_mask(graph)`` to make the padding graph's row 0).

    Returns:
      ``[G, F]`` in the dtype of ``x``.

    Raises:
      ValueError: sizes disagree, or both ``graph`` and ``batch`` are given.
      TypeError: ``batch`` is not integer, or ``num_graphs`` is missing under ``jit``.

    Examples:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[1.0], [-3.0], [-4.0]])
      >>> global_max_pool(x, batch=jnp.array([0, 0, 2]), num_graphs=3).tolist()
      [[1.0], [0.0], [-4.0]]
    """
    return _pool(segment_max, x, graph, batch, num_graphs, mask, "global_max_pool")
