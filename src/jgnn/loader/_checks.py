"""Argument checks of :mod:`jgnn.loader` (private): ints, hop counts of a sampled subgraph.

Host-side: not jittable. Messages name the argument, what was expected and what was received.
Integer and id-range checks are jgnn's ground-floor ones (:mod:`jgnn._checks`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jgnn._checks import check_id_range, static_int

__all__ = ["check_int", "hop_counts"]


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """``value`` as a Python int (bools rejected), at least ``minimum``.

    Args:
        value: The value to check.
        name: Argument name for the message.
        minimum: Smallest accepted value, or None.

    Returns:
        The int.

    Raises:
        TypeError: If ``value`` is not an integer.
        ValueError: If ``value < minimum``.
    """
    return static_int(value, f"`{name}`", minimum=minimum)


def _counts(value: Any, name: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(c) for c in value)
    except TypeError:
        raise TypeError(
            f"`{name}` must be a sequence of ints, got {type(value).__name__} {value!r}."
        ) from None
    if any(c < 0 for c in counts):
        raise ValueError(f"`{name}` must hold counts >= 0, got {counts}.")
    return counts


def hop_counts(subgraph: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Checks a ``SampledSubgraph`` and returns its real ``(nodes per hop, edges per hop)``.

    Host-side: not jittable. Reads the fields by name, so any object with the fields of
    ``jgnn.sampling.SampledSubgraph`` is accepted.

    Args:
        subgraph: A sampled subgraph (``n_id``, ``senders``, ``receivers``, ``batch_size``,
            ``num_sampled_nodes``, ``num_sampled_edges`` and the optional weights).

    Returns:
        ``(num_sampled_nodes, num_sampled_edges)`` as tuples of ints.

    Raises:
        TypeError: If a field is missing or has the wrong kind.
        ValueError: If the per-hop counts disagree with the array lengths, the seeds do not
            fit hop 0, or a local id is out of range.
    """
    fields = ("n_id", "senders", "receivers", "batch_size", "num_sampled_nodes")
    missing = [f for f in fields + ("num_sampled_edges",) if not hasattr(subgraph, f)]
    if missing:
        raise TypeError(
            f"a batch source must return jgnn.sampling.SampledSubgraph, got "
            f"{type(subgraph).__name__} without the fields {missing}."
        )
    nodes = _counts(subgraph.num_sampled_nodes, "num_sampled_nodes")
    edges = _counts(subgraph.num_sampled_edges, "num_sampled_edges")
    n, e = int(np.shape(subgraph.n_id)[0]), int(np.shape(subgraph.senders)[0])
    if not nodes or sum(nodes) != n:
        raise ValueError(
            f"num_sampled_nodes {nodes} must be non-empty and sum to the {n} entries of n_id."
        )
    if sum(edges) != e or int(np.shape(subgraph.receivers)[0]) != e:
        raise ValueError(
            f"num_sampled_edges {edges} must sum to the number of edges, got {e} senders and "
            f"{int(np.shape(subgraph.receivers)[0])} receivers."
        )
    batch_size = check_int(subgraph.batch_size, "batch_size", minimum=0)
    if batch_size > nodes[0]:
        raise ValueError(
            f"batch_size {batch_size} exceeds the {nodes[0]} hop-0 nodes; the seeds must be the "
            "first nodes of n_id."
        )
    for name in ("senders", "receivers"):
        check_id_range(
            np.asarray(getattr(subgraph, name)),
            n,
            f"{name} (local)",
            f" The subgraph has {n} nodes.",
        )
    return nodes, edges
