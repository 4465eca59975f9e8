"""Graph validation: an eager host-side check and a ``checkify`` twin that runs under ``jit``.

JAX clamps out-of-range gather indices and drops out-of-range scatter indices silently, so a
graph with a bad ``senders`` entry produces wrong numbers instead of an error. ``check_graph``
inspects concrete arrays on the host and raises a ``ValueError`` naming the problem;
``checkify_graph`` expresses the value checks with :func:`jax.experimental.checkify.check` so they
survive ``jit`` when the caller wraps the function in :func:`jax.experimental.checkify.checkify`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from jax.experimental import checkify

from jgnn._checks import is_traced

__all__ = ["check_graph", "checkify_graph"]


def _leaf_name(prefix: str, path: tuple) -> str:
    return prefix + jax.tree_util.keystr(path) if path else prefix


def _check_ids(name: str, ids: Any, n_total: int) -> np.ndarray:
    ids = np.asarray(ids)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"`{name}` must hold integer node ids, got dtype {ids.dtype}.")
    if ids.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D with shape [n_edge], got shape {ids.shape}.")
    bad = np.flatnonzero((ids < 0) | (ids >= n_total))
    if bad.size:
        pos = int(bad[0])
        raise ValueError(
            f"`{name}` has {bad.size} id(s) out of range [0, {n_total}): first is "
            f"{int(ids[pos])} at edge position {pos}; the graph has {n_total} nodes."
        )
    return ids


def _check_features(
    prefix: str, tree: Any, expected: int | None, what: str, allow_nonfinite: bool
) -> None:
    if tree is None:
        return
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = _leaf_name(prefix, path)
        arr = np.asarray(leaf)
        if expected is not None:
            if arr.ndim == 0:
                raise ValueError(
                    f"`{name}` must have a leading dimension of {expected} ({what}), got a scalar."
                )
            if arr.shape[0] != expected:
                raise ValueError(
                    f"`{name}` has leading dimension {arr.shape[0]} but the graph has "
                    f"{expected} {what}."
                )
        if not allow_nonfinite and np.issubdtype(arr.dtype, np.inexact):
            n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            if n_bad:
                n_nan = int(np.count_nonzero(np.isnan(arr)))
                raise ValueError(
                    f"`{name}` has {n_bad} non-finite value(s) ({n_nan} NaN, {n_bad - n_nan} Inf); "
                    "pass allow_nonfinite=True to accept them."
                )


def check_graph(graph: jraph.GraphsTuple, *, allow_nonfinite: bool = False) -> None:
    """Validates a graph's structure and values, raising on the first problem found.

    Host-side: not jittable. Reads concrete array values (NumPy or JAX) on the host.

    Checks, in order: ``senders``/``receivers`` are present, 1-D, integer and of equal length;
    ``n_node``/``n_edge`` are 1-D, non-negative and of equal length; ``sum(n_edge)`` equals the
    number of edges; ``sum(n_node)`` equals the leading dimension of every ``nodes`` leaf (when
    ``nodes`` is given); every id lies in ``[0, sum(n_node))``; ``edges`` leaves have leading
    dimension ``sum(n_edge)`` and ``globals`` leaves ``len(n_node)``; floating features are
    finite unless ``allow_nonfinite``.

    Args:
        graph: The graph to check. ``nodes`` may be ``None`` (then ``n_node`` gives the count).
        allow_nonfinite: If True, NaN and Inf in floating features are accepted.

    Returns:
        None.

    Raises:
        TypeError: If ids or ``n_node``/``n_edge`` are not integer arrays.
        ValueError: Naming the array, the offending value and position, and the expected size.

    Examples:
        >>> import numpy as np
        >>> from jgnn.graph import from_edge_index
        >>> g = from_edge_index(np.array([[0, 1], [1, 2]]), 3, check=False)
        >>> check_graph(g)
        >>> bad = g._replace(receivers=np.array([1, 5], np.int32))
        >>> check_graph(bad)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        ValueError: `receivers` has 1 id(s) out of range [0, 3): first is 5 at edge position 1 ...
    """
    if not isinstance(graph, jraph.GraphsTuple):
        raise TypeError(f"Expected a jraph.GraphsTuple, got {type(graph).__name__}.")
    if is_traced(graph):
        raise TypeError(
            "check_graph reads concrete values and cannot run under jit/vmap/grad; "
            "use checkify_graph inside jax.experimental.checkify.checkify instead."
        )
    if graph.senders is None or graph.receivers is None:
        raise ValueError("The graph must have `senders` and `receivers` arrays, got None.")
    if graph.n_node is None or graph.n_edge is None:
        raise ValueError("The graph must have `n_node` and `n_edge` arrays, got None.")

    counts = {}
    for name in ("n_node", "n_edge"):
        arr = np.asarray(getattr(graph, name))
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"`{name}` must be an integer array, got dtype {arr.dtype}.")
        if arr.ndim != 1:
            raise ValueError(f"`{name}` must be 1-D with shape [n_graph], got shape {arr.shape}.")
        if np.any(arr < 0):
            raise ValueError(f"`{name}` must be non-negative, got {arr.tolist()}.")
        counts[name] = arr
    if counts["n_node"].shape != counts["n_edge"].shape:
        raise ValueError(
            f"`n_node` and `n_edge` must have the same length (one entry per graph), got "
            f"{counts['n_node'].shape[0]} and {counts['n_edge'].shape[0]}."
        )
    n_total = int(counts["n_node"].sum())
    e_total = int(counts["n_edge"].sum())
    n_graph = int(counts["n_node"].shape[0])

    senders = np.asarray(graph.senders)
    receivers = np.asarray(graph.receivers)
    for name, ids in (("senders", senders), ("receivers", receivers)):
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"`{name}` must hold integer node ids, got dtype {ids.dtype}.")
    if senders.shape != receivers.shape:
        raise ValueError(
            f"`senders` and `receivers` must have the same shape, got {senders.shape} and "
            f"{receivers.shape}."
        )
    if senders.ndim != 1 or senders.shape[0] != e_total:
        raise ValueError(
            f"`senders`/`receivers` have shape {senders.shape} but sum(n_edge) = {e_total}; "
            f"expected shape ({e_total},)."
        )
    if graph.nodes is not None:
        for path, leaf in jax.tree_util.tree_flatten_with_path(graph.nodes)[0]:
            shape = np.shape(leaf)
            if not shape or shape[0] != n_total:
                raise ValueError(
                    f"`{_leaf_name('nodes', path)}` has shape {shape} but sum(n_node) = {n_total}; "
                    f"expected leading dimension {n_total}."
                )
    _check_ids("senders", senders, n_total)
    _check_ids("receivers", receivers, n_total)
    _check_features("nodes", graph.nodes, n_total, "nodes", allow_nonfinite)
    _check_features("edges", graph.edges, e_total, "edges", allow_nonfinite)
    _check_features("globals", graph.globals, n_graph, "graphs", allow_nonfinite)


def checkify_graph(graph: jraph.GraphsTuple, *, allow_nonfinite: bool = False) -> None:
    """Value checks of :func:`check_graph` expressed with ``checkify.check`` (jittable).

    Shape facts (equal lengths, leading dimensions) are static and raise ``ValueError`` at trace
    time. Value facts (ids in range, ``n_node``/``n_edge`` sums, finiteness) become
    :func:`jax.experimental.checkify.check` calls: call this inside a function transformed by
    :func:`jax.experimental.checkify.checkify` and inspect the returned error. Without
    ``checkify`` the value checks raise only in eager mode.

    Args:
        graph: The graph to check. ``nodes`` may be ``None`` (ids are then checked against
            ``sum(n_node)``).
        allow_nonfinite: If True, NaN and Inf in floating features are accepted.

    Returns:
        None.

    Raises:
        ValueError: At trace time, for inconsistent static shapes.

    Examples:
        >>> import jax
        >>> from jax.experimental import checkify
        >>> from jgnn.graph import from_edge_index
        >>> def f(g):
        ...     checkify_graph(g)
        ...     return g.senders.sum()
        >>> err, out = jax.jit(checkify.checkify(f))(from_edge_index([[0], [3]], 2, check=False))
        >>> err.get() is not None
        True
    """
    senders, receivers = graph.senders, graph.receivers
    if senders is None or receivers is None:
        raise ValueError("The graph must have `senders` and `receivers` arrays, got None.")
    if jnp.shape(senders) != jnp.shape(receivers) or jnp.ndim(senders) != 1:
        raise ValueError(
            f"`senders` and `receivers` must be 1-D of equal shape, got {jnp.shape(senders)} "
            f"and {jnp.shape(receivers)}."
        )
    for name, ids in (("senders", senders), ("receivers", receivers)):
        if not jnp.issubdtype(jnp.result_type(ids), jnp.integer):
            raise TypeError(
                f"`{name}` must hold integer node ids, got dtype {jnp.result_type(ids)}."
            )
    e_total = int(jnp.shape(senders)[0])
    n_graph = int(jnp.shape(graph.n_node)[0])
    if graph.nodes is not None:
        n_leaves = jax.tree_util.tree_leaves(graph.nodes)
        n_static = int(jnp.shape(n_leaves[0])[0]) if n_leaves else None
    else:
        n_static = None

    n_node_sum = jnp.sum(graph.n_node)
    n_edge_sum = jnp.sum(graph.n_edge)
    checkify.check(
        n_edge_sum == e_total,
        "sum(n_edge) = {s} but the graph has {e} edges",
        s=n_edge_sum,
        e=jnp.asarray(e_total, n_edge_sum.dtype),
    )
    if n_static is not None:
        checkify.check(
            n_node_sum == n_static,
            "sum(n_node) = {s} but `nodes` has {n} rows",
            s=n_node_sum,
            n=jnp.asarray(n_static, n_node_sum.dtype),
        )
        n_total = jnp.asarray(n_static, jnp.int32)
    else:
        n_total = n_node_sum.astype(jnp.int32)
    checkify.check(
        jnp.all(graph.n_node >= 0) & jnp.all(graph.n_edge >= 0),
        "n_node and n_edge must be non-negative",
    )
    for name, ids in (("senders", senders), ("receivers", receivers)):
        ids32 = ids.astype(jnp.int32) if hasattr(ids, "astype") else jnp.asarray(ids, jnp.int32)
        bad = (ids32 < 0) | (ids32 >= n_total)
        pos = jnp.argmax(bad).astype(jnp.int32)
        first = ids32[pos] if e_total else jnp.asarray(0, jnp.int32)
        checkify.check(
            ~jnp.any(bad),
            name + " id {v} at edge position {p} is out of range [0, {n})",
            v=first,
            p=pos,
            n=n_total,
        )

    for prefix, tree, expected in (
        ("nodes", graph.nodes, n_static),
        ("edges", graph.edges, e_total),
        ("globals", graph.globals, n_graph),
    ):
        if tree is None:
            continue
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            name = _leaf_name(prefix, path)
            shape = jnp.shape(leaf)
            if expected is not None and (not shape or shape[0] != expected):
                raise ValueError(
                    f"`{name}` has shape {shape}; expected leading dimension {expected}."
                )
            if not allow_nonfinite and jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
                n_bad = jnp.sum(~jnp.isfinite(leaf)).astype(jnp.int32)
                checkify.check(
                    n_bad == 0,
                    "`" + name + "` has {k} non-finite value(s) (NaN or Inf)",
                    k=n_bad,
                )
