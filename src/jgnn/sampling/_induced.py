"""Induced subgraphs: every stored edge whose two ends lie in a node set (numba kernel)."""

from __future__ import annotations

import numpy as np
from numba import njit

from jgnn.sampling._scratch import ScratchPool
from jgnn.sampling._store import CSCGraph

__all__ = ["induced_edges", "induced_edges_kernel"]


@njit(cache=True, nogil=True)
def induced_edges_kernel(indptr, indices, nodes, node_map):
    """Edges among ``nodes`` (distinct ids), in local ids ``0 .. len(nodes) - 1``.

    Args:
        indptr, indices: The CSC store.
        nodes: int64 ``[K]`` distinct node ids; local id ``k`` is ``nodes[k]``.
        node_map: int32 ``[N]`` all ``-1``; restored before returning.

    Returns:
        ``(senders, receivers, pos)``: int32 local ends and int64 CSC positions, ordered by
        receiver, then by source id.
    """
    k = nodes.shape[0]
    for i in range(k):
        node_map[nodes[i]] = i
    count = 0
    for i in range(k):
        v = nodes[i]
        for p in range(indptr[v], indptr[v + 1]):
            if node_map[indices[p]] >= 0:
                count += 1
    src = np.empty(count, np.int32)
    dst = np.empty(count, np.int32)
    pos = np.empty(count, np.int64)
    m = 0
    for i in range(k):
        v = nodes[i]
        for p in range(indptr[v], indptr[v + 1]):
            j = node_map[indices[p]]
            if j >= 0:
                src[m] = j
                dst[m] = i
                pos[m] = p
                m += 1
    for i in range(k):
        node_map[nodes[i]] = -1
    return src, dst, pos


def induced_edges(
    graph: CSCGraph, nodes: np.ndarray, pool: ScratchPool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs :func:`induced_edges_kernel` with this thread's node map from ``pool``.

    Host-side: not jittable.

    Args:
        graph: The store.
        nodes: int64 ``[K]`` distinct, in-range node ids (the caller checks them).
        pool: A :class:`ScratchPool` sized for ``graph``.

    Returns:
        ``(senders, receivers, pos)`` as in :func:`induced_edges_kernel`.
    """
    with pool.borrow() as scratch:
        return induced_edges_kernel(graph.indptr, graph.indices, nodes, scratch.node_map)
