"""Host-side edge-list helpers for dataset builders: undirect, drop self loops, coalesce.

These are private to :mod:`jgnn.datasets` so that loaders do not depend on :mod:`jgnn.graph`;
they only build the canonical edge list every dataset ships with.
"""

from __future__ import annotations

import jraph
import numpy as np

__all__ = ["build_graph", "undirected_coalesced"]

_INT32_MAX = np.iinfo(np.int32).max


def undirected_coalesced(
    senders: np.ndarray, receivers: np.ndarray, num_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Makes an edge list undirected, removes self loops and merges duplicates.

    Host-side: not jittable. The result is sorted by receiver, then by sender (the order PyG's
    ``coalesce(..., sort_by_row=False)`` produces), so segment reductions over receivers see
    sorted indices.

    Args:
        senders: Integer array ``[E]`` of source node ids.
        receivers: Integer array ``[E]`` of target node ids.
        num_nodes: Number of nodes ``N``; every id must lie in ``[0, N)``.

    Returns:
        ``(senders, receivers)``, two int32 arrays ``[E']`` holding each undirected edge in both
        directions exactly once, with no self loops.

    Raises:
        ValueError: If the arrays differ in length, an id is out of range, or ``N`` does not fit
            in int32.
    """
    senders = np.asarray(senders).astype(np.int64, copy=False).reshape(-1)
    receivers = np.asarray(receivers).astype(np.int64, copy=False).reshape(-1)
    if senders.shape != receivers.shape:
        raise ValueError(
            f"`senders` has {senders.shape[0]} entries but `receivers` has {receivers.shape[0]}."
        )
    if not 0 <= num_nodes <= _INT32_MAX:
        raise ValueError(f"num_nodes must be in [0, {_INT32_MAX}] for int32 ids, got {num_nodes}.")
    if senders.size:
        lo = min(int(senders.min()), int(receivers.min()))
        hi = max(int(senders.max()), int(receivers.max()))
        if lo < 0 or hi >= num_nodes:
            raise ValueError(f"Edge ids must lie in [0, {num_nodes}) but range over [{lo}, {hi}].")
    keep = senders != receivers
    senders, receivers = senders[keep], receivers[keep]
    # One int64 key per directed edge, receiver-major, covering both directions.
    keys = np.concatenate([receivers * num_nodes + senders, senders * num_nodes + receivers])
    # Sort + neighbour comparison: much faster than np.unique on large int64 inputs here.
    keys.sort()
    if keys.size:
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    out_receivers, out_senders = np.divmod(keys, num_nodes)
    return out_senders.astype(np.int32), out_receivers.astype(np.int32)


def build_graph(nodes: np.ndarray, senders: np.ndarray, receivers: np.ndarray) -> jraph.GraphsTuple:
    """Wraps host arrays into a single-graph ``jraph.GraphsTuple`` (no edge or global features).

    Host-side: not jittable.

    Args:
        nodes: Node features ``[N, F]``.
        senders: int32 ``[E]`` source ids.
        receivers: int32 ``[E]`` target ids.

    Returns:
        A graph with ``n_node = [N]`` and ``n_edge = [E]`` (int32).
    """
    return jraph.GraphsTuple(
        nodes=nodes,
        edges=None,
        globals=None,
        senders=senders,
        receivers=receivers,
        n_node=np.array([nodes.shape[0]], dtype=np.int32),
        n_edge=np.array([senders.shape[0]], dtype=np.int32),
    )
