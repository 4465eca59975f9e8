"""Exact layer-wise inference for models that run one layer at a time (PyG's ``inference``).

A sampled forward pass gives a noisy estimate; a full-graph pass may not fit on the device.
Layer-wise inference is exact and bounded in memory: layer ``i`` runs on batches of
destination nodes with their *full* in-neighbourhood (:func:`jgnn.loader.layerwise_inference`)
and its outputs for every node, kept on the host, are the input of layer ``i + 1``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np
from flax import nnx

from jgnn._checks import static_int
from jgnn.loader import Budget, inference_batches, layerwise_inference
from jgnn.sampling import as_csc_graph
from jgnn.sparse import SparseTensor

__all__ = ["layerwise_predict"]

_HEAD_ROWS = 65_536  # rows per call of the jumping-knowledge head


@functools.partial(jax.jit, static_argnums=(0, 2))
def _exact_layer(graphdef: Any, state: Any, index: int, x_src: jax.Array, batch: Any) -> jax.Array:
    """Layer ``index`` in eval mode on one inference batch; the destination rows."""
    model = nnx.merge(graphdef, state)
    out = model.layer(
        index, batch.edge_index, x_src, deterministic=True, edge_weight=batch.edge_weight,
        node_mask=batch.node_mask,
    )  # fmt: skip
    return out[: batch.node_blocks[0]]


@functools.partial(jax.jit, static_argnums=0)
def _head(graphdef: Any, state: Any, xs: list[jax.Array]) -> jax.Array:
    return nnx.merge(graphdef, state).combine(xs, deterministic=True)


def layerwise_predict(
    model: Any,
    x: Any,
    graph: Any,
    *,
    edge_weight: Any = None,
    batch_size: int = 1024,
    budget: Budget | None = None,
    num_workers: int = 0,
    device: Any = None,
) -> np.ndarray:
    """Exact ``model(graph, x, deterministic=True)`` for every node, layer by layer.

    Host loop around jitted steps; the model is split once (``nnx.split``) and its state
    passed as an argument, so later calls with new parameters reuse the compiled layers (one
    compilation per layer and padding rung). ``model`` needs ``num_layers``,
    ``layer(i, graph, x, *, deterministic, edge_weight, node_mask)`` whose output row of node
    ``i`` depends only on ``x_i`` and the edges into ``i``, and ``combine(xs, *,
    deterministic)`` (:class:`jgnn.models.BasicGNN` has all three). Each layer runs on the
    batches of :func:`jgnn.loader.inference_batches`: the destinations are the first rows of
    the batch, so the layer runs on the batch's square graph and the destination rows are
    kept, which is what a bipartite call computes for every layer type (self loops included).

    Args:
        model: The model.
        x: ``[N, F]`` host node features (a ``SparseTensor`` is densified).
        graph: The full graph: an edge index ``[2, E]`` or anything
            ``jgnn.sampling.as_csc_graph`` takes; a shared ``CSCGraph`` for ``num_workers``.
        edge_weight: ``[E]`` weights in ``graph``'s edge order (models with
            ``supports_edge_weight``), or None. A weighted ``CSCGraph`` carries its own.
        batch_size: Destination nodes per batch (>= 1).
        budget: Padding budget of the batches; default fitted to up to 64 of them (90th
            percentile, 3 rungs) and grown as needed. Pass one to reuse across calls.
        num_workers: Worker processes that build the neighbourhoods.
        device: ``jax.device_put`` target, or None.

    Returns:
        ``[N, out]`` NumPy array.

    Raises:
        TypeError: If the graph carries edge weights and the model takes none.
        ValueError: If ``x`` and the graph disagree on ``N``, or a size is out of range.
    """
    if isinstance(x, SparseTensor):
        x = x.to_dense()
    h = np.asarray(x)
    if h.ndim != 2:
        raise ValueError(f"`x` must be [N, F] node features, got shape {h.shape}.")
    n = h.shape[0]
    batch_size = static_int(batch_size, "`batch_size`", minimum=1)
    store = as_csc_graph(graph, num_nodes=n, edge_weight=edge_weight)
    if store.weight is not None and not getattr(model, "supports_edge_weight", False):
        raise TypeError(
            f"the graph carries edge weights but {type(model).__name__} takes none; pass a graph "
            "without weights."
        )
    if num_workers:
        store = store.share()
    if budget is None:
        budget = Budget.fit(
            inference_batches(store, n, batch_size),
            num_batches=64,
            percentile=90.0,
            num_rungs=3,
            growth=1.25,
        )
    graphdef, state = nnx.split(model)
    xs = []
    for index in range(model.num_layers):

        def layer(_: int, x_src: Any, x_dst: Any, batch: Any, index: int = index) -> Any:
            return _exact_layer(graphdef, state, index, x_src, batch)

        h = layerwise_inference(
            layer,
            h,
            store,
            num_layers=1,
            batch_size=batch_size,
            budget=budget,
            num_workers=num_workers,
            device=device,
        )
        xs.append(h)
    if not getattr(model, "jk", None):
        return xs[-1]
    rows = [
        np.asarray(_head(graphdef, state, [a[lo : lo + _HEAD_ROWS] for a in xs]))
        for lo in range(0, n, _HEAD_ROWS)
    ]
    return np.concatenate(rows)
