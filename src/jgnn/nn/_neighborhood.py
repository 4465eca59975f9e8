"""Neighbourhood aggregation shared by GraphConv, SAGEConv and EdgeConv (private).

:func:`aggregate_linear` aggregates neighbours and projects them, projecting first when that is
exact and cheaper; :func:`check_aggregate` validates a layer's ``aggr`` argument.
"""

from __future__ import annotations

from typing import Any

import jax

from jgnn.fn import MessageFunction
from jgnn.message_passing import propagate
from jgnn.sparse import Graph, SparseTensor

__all__ = ["aggregate_linear", "check_aggregate"]

#: Aggregates that commute with a linear map of the features (project first when cheaper).
_LINEAR_AGGREGATES = ("sum", "add", "mean")


def aggregate_linear(
    graph: Graph,
    x_src: jax.Array,
    x_dst: jax.Array,
    kernel: jax.Array,
    *,
    bipartite: bool,
    aggregate: Any,
    message: MessageFunction | None = None,
    edge_weight: jax.Array | None = None,
) -> jax.Array:
    """``aggregate_{j -> i}(message(x_j)) @ kernel`` through :func:`propagate`.

    For the linear aggregates (sum, mean) and a kernel that shrinks the features, the kernel
    is applied to ``x_src`` before aggregation (``[N_src, out]`` messages instead of
    ``[N_src, in]``); the result is the same up to rounding. ``message`` is ``None`` (``x_j``
    times ``edge_weight`` when given, or a SparseTensor's stored values) or a builtin such as
    ``jgnn.fn.copy_u`` (the values are ignored). A ``SparseTensor`` ``x_src`` (sparse node
    features) is always projected first, so it needs a linear aggregate.
    """
    linear = isinstance(aggregate, str) and aggregate in _LINEAR_AGGREGATES
    sparse = isinstance(x_src, SparseTensor)
    if sparse and not linear:
        raise TypeError(
            f"sparse node features need a sum or mean aggregate (the projection is applied "
            f"before aggregating), got {aggregate!r}; densify them with .to_dense()"
        )
    first = linear and (sparse or kernel.shape[1] < kernel.shape[0])
    h = x_src @ kernel if first else x_src
    if edge_weight is None and message is None and isinstance(graph, SparseTensor):
        edge_weight = graph.coo()[2]
    if edge_weight is not None:
        edge_weight = edge_weight.astype(h.dtype)
    out = propagate(
        graph,
        (h, x_dst) if bipartite else h,
        message=message,
        aggregate=aggregate,
        edge_attr=edge_weight,
    )
    return out if first else out @ kernel


def check_aggregate(aggr: str, allowed: tuple[str, ...], layer: str) -> str:
    """Returns ``aggr`` (``"add"`` read as ``"sum"``) or raises naming the allowed values."""
    if not isinstance(aggr, str) or aggr not in allowed + ("add",):
        raise ValueError(f"{layer}: aggr must be one of {allowed}, got {aggr!r}")
    return "sum" if aggr == "add" else aggr
