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
from jax.typing import ArrayLike

from jgnn.nn._graph_index import graph_ids
from jgnn.segment import segment_max, segment_mean, segment_sum

__all__ = ["global_add_pool", "global_max_pool", "global_mean_pool"]


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
    ids, g = graph_ids(x.shape[0], graph, batch, num_graphs, mask, fn)
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
