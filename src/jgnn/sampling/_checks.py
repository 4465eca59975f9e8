"""Argument checks shared by the samplers: integers, node ids, fanouts (host-side NumPy).

Thin adapters over jgnn's ground-floor checks (:mod:`jgnn._checks`) that put the sampler
argument names in backticks; only what is specific to sampling (node-id positions, fanouts,
flags, graphs without edges) lives here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jgnn._checks import host_ints, is_traced, static_int

__all__ = [
    "as_host_array",
    "check_flag",
    "check_int",
    "check_node_ids",
    "check_num_neighbors",
    "require_edges",
]


def as_host_array(value: Any, name: str) -> np.ndarray:
    """Returns ``value`` as a NumPy array; rejects JAX tracers with a ``TypeError``.

    Host-side: not jittable.

    Args:
        value: A NumPy/JAX array or a nested sequence.
        name: Argument name used in error messages.

    Returns:
        A NumPy array (no copy when ``value`` already is one).

    Raises:
        TypeError: If ``value`` is a JAX tracer.
    """
    if is_traced(value):
        raise TypeError(
            f"`{name}` is a traced JAX value; samplers are host-side and need concrete arrays "
            "(call them outside jit)."
        )
    return np.asarray(value)


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Checks that ``value`` is an integer (not a bool) at least ``minimum``.

    Args:
        value: The value to check.
        name: Argument name used in error messages.
        minimum: Smallest allowed value, or None.

    Returns:
        ``value`` as a Python int.

    Raises:
        TypeError: If ``value`` is not an integer.
        ValueError: If ``value < minimum``.
    """
    return static_int(value, f"`{name}`", minimum=minimum)


def check_node_ids(ids: Any, num_nodes: int, name: str) -> np.ndarray:
    """Validates a 1-D array of node ids in ``[0, num_nodes)`` and returns it as int64.

    Host-side: not jittable.

    Args:
        ids: Integer array-like ``[K]`` (NumPy, JAX or a sequence).
        num_nodes: Number of nodes of the graph.
        name: Argument name used in error messages.

    Returns:
        int64 ``[K]`` (a new array).

    Raises:
        TypeError: If ``ids`` is not an integer array (floats and bools are rejected).
        ValueError: If ``ids`` is not 1-D or holds an id outside ``[0, num_nodes)``.
    """
    arr = as_host_array(ids, name)
    if arr.size == 0 and arr.dtype == np.float64:  # an empty list
        arr = arr.astype(np.int64)
    arr = host_ints(arr, f"`{name}` (node ids)")
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D, got shape {arr.shape}.")
    bad = np.flatnonzero((arr < 0) | (arr >= num_nodes))
    if bad.size:
        pos = int(bad[0])
        raise ValueError(
            f"`{name}` has node id {int(arr[pos])} at position {pos}, out of range "
            f"[0, {num_nodes}); the graph has {num_nodes} nodes."
        )
    return arr.astype(np.int64)  # always a copy: callers may keep it


def check_num_neighbors(num_neighbors: Any) -> tuple[int, ...]:
    """Validates a fanout list: a non-empty sequence of ints, each positive or ``-1``.

    Args:
        num_neighbors: Sequence of per-hop fanouts (``-1`` = the whole neighbourhood).

    Returns:
        The fanouts as a tuple of Python ints.

    Raises:
        TypeError: If it is not a sequence of ints.
        ValueError: If it is empty or an entry is ``0`` or below ``-1``.
    """
    if isinstance(num_neighbors, str | bytes) or not hasattr(num_neighbors, "__len__"):
        raise TypeError(
            "`num_neighbors` must be a list of ints (one fanout per hop), got "
            f"{type(num_neighbors).__name__} {num_neighbors!r}."
        )
    fanouts = list(num_neighbors)
    if not fanouts:
        raise ValueError("`num_neighbors` must list at least one hop, got an empty sequence.")
    out = []
    for hop, f in enumerate(fanouts):
        f = check_int(f, f"num_neighbors[{hop}]")
        if f == 0 or f < -1:
            raise ValueError(
                f"`num_neighbors[{hop}]` must be a positive fanout or -1 (whole "
                f"neighbourhood), got {f}."
            )
        out.append(f)
    return tuple(out)


def check_flag(value: Any, name: str) -> bool:
    """Checks that ``value`` is a bool (NumPy bools included).

    Raises:
        TypeError: If it is not.
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"`{name}` must be a bool, got {type(value).__name__} {value!r}.")
    return bool(value)


def require_edges(graph: Any, who: str) -> None:
    """Raises a ``ValueError`` naming ``who`` when the store ``graph`` has no edges."""
    if graph.num_edges == 0:
        raise ValueError(
            f"{who}: `graph` has no edges ({graph.num_nodes} nodes, 0 edges); there is nothing "
            "to sample."
        )
