"""Exact layer-wise inference over every node (PyG's ``inference`` with ``num_neighbors=[-1]``).

Sampled evaluation is noisy and a full-graph pass may not fit on the device. Layer-wise
inference is exact and bounded in memory: for each layer, for each batch of destination nodes,
take their *full* 1-hop in-neighbourhood, apply the layer to it, and write the destinations'
outputs into a host ``[N, F']`` array that is the next layer's input. Batches are padded to a
:class:`jgnn.loader.Budget` and run through a :class:`jgnn.loader.Loader`, so a jitted layer
compiles once per rung, not once per batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from jgnn.loader._batch import PaddedBatch
from jgnn.loader._budget import Budget
from jgnn.loader._checks import check_int
from jgnn.loader._loader import Loader
from jgnn.sampling import NeighborSampler, SeedBatches, as_csc_graph

__all__ = ["inference_batches", "layerwise_inference"]

#: ``layer(i, x_src [N_src, F], x_dst [N_dst, F], batch) -> [N_dst, F']``.
Layer = Callable[[int, Any, Any, PaddedBatch], Any]


def inference_batches(graph: Any, num_nodes: int, batch_size: int) -> SeedBatches:
    """Every node, in order, in batches of destinations with their full 1-hop in-neighbourhood.

    Host-side: not jittable. Batch ``i`` holds the destinations ``[i * batch_size, (i + 1) *
    batch_size)`` as seeds (node block 0) and their other in-neighbours (block 1): a
    ``jgnn.sampling.NeighborSampler`` with fanout ``-1`` over unshuffled
    ``jgnn.sampling.SeedBatches``.

    Args:
        graph: Anything ``jgnn.sampling.as_csc_graph`` takes (an edge index ``[2, E]``, a
            ``CSCGraph``, possibly shared, a ``GraphsTuple``, a ``SparseTensor`` ``adj_t``).
        num_nodes: ``N``.
        batch_size: Destinations per batch.

    Returns:
        The batch source.
    """
    sampler = NeighborSampler(as_csc_graph(graph, num_nodes=num_nodes), [-1])
    if sampler.graph.num_nodes != num_nodes:
        raise ValueError(
            f"the graph has {sampler.graph.num_nodes} nodes, expected num_nodes = {num_nodes} "
            "(the rows of the features)."
        )
    return SeedBatches(sampler, np.arange(num_nodes), batch_size, shuffle=False)


def layerwise_inference(
    layer: Layer,
    x: Any,
    graph: Any,
    *,
    num_layers: int,
    batch_size: int,
    budget: Budget | None = None,
    num_workers: int = 0,
    prefetch: int = 2,
    device: Any = None,
) -> np.ndarray:
    """Applies ``num_layers`` layers to every node exactly, one layer and node batch at a time.

    Host loop around a jitted ``layer``. For layer ``i`` and each batch of destination nodes
    (:func:`inference_batches`), the padded batch ``b`` holds the destinations in node block
    0 and their other in-neighbours in block 1; the call is ``layer(i, x_src, x_dst, b)``
    with ``x_src = b.x`` (``[N_src, F]``, the layer input gathered for ``b.n_id``, zeros on
    padding), ``x_dst = x_src[:b.node_blocks[0]]`` and ``b.edge_index`` indexing ``x_src`` in
    row 0 and ``x_dst`` in row 1, so a :mod:`jgnn.nn` layer runs as ``conv(b.edge_index,
    (x_src, x_dst))``; padding edges connect padding slots only. It returns ``[N_dst, F']``;
    the rows of the real destinations are written to the output. Jit ``layer`` with
    ``static_argnums=0`` (``i`` is a Python int). Each layer runs its own :class:`Loader`
    (its input features change), so ``num_workers > 0`` starts workers once per layer.

    Args:
        layer: ``layer(i, x_src, x_dst, batch) -> [N_dst, F']``; apply any activation there.
        x: ``[N, F]`` input node features (host).
        graph: The graph: an edge index ``[2, E]`` (source -> destination) or anything else
            ``jgnn.sampling.as_csc_graph`` takes; share a ``CSCGraph`` for ``num_workers``.
        num_layers: Number of layers (>= 1).
        batch_size: Destination nodes per batch.
        budget: Padding budget; by default fitted to up to 64 batches (90th percentile, 3
            rungs, growth 1.25) and grown as needed, so every batch is used.
        num_workers: Worker processes that build the neighbourhoods (see :class:`Loader`).
        prefetch: Device batches kept ready.
        device: ``jax.device_put`` target, or None.

    Returns:
        ``[N, F_out]`` NumPy array, the last layer's output for every node.

    Raises:
        ValueError: If the inputs disagree in shape or a size is out of range.

    Examples:
        >>> conv = jgnn.nn.SAGEConv(F, C, rngs=nnx.Rngs(0))  # doctest: +SKIP
        >>> layer = jax.jit(lambda i, xs, xd, b: conv(b.edge_index, (xs, xd)),
        ...                 static_argnums=0)  # doctest: +SKIP
        >>> out = layerwise_inference(layer, x, edge_index, num_layers=1,
        ...                           batch_size=1024)  # doctest: +SKIP
    """
    h = np.asarray(x)
    if h.ndim < 2:
        raise ValueError(f"`x` must be [N, F] node features, got shape {h.shape}.")
    num_layers = check_int(num_layers, "num_layers", minimum=1)
    n = h.shape[0]
    step = check_int(batch_size, "batch_size", minimum=1)
    source = inference_batches(graph, n, step)
    if budget is None:
        budget = Budget.fit(source, num_batches=64, percentile=90.0, num_rungs=3, growth=1.25)
    for i in range(num_layers):
        out: np.ndarray | None = None
        pending: tuple[int, Any] | None = None  # (first node, device output): copied one late
        with Loader(
            source,
            budget,
            features=h,
            num_workers=num_workers,
            prefetch=prefetch,
            device=device,
            overflow="grow",
        ) as loader:
            for b, batch in enumerate(loader.epoch(0)):
                result = layer(i, batch.x, batch.x[: batch.node_blocks[0]], batch)
                if pending is not None:
                    out = _write(out, pending, n, step)
                pending = (b * step, result)
            out = _write(out, pending, n, step)
        h = out
    return h


def _write(out: np.ndarray | None, pending: Any, n: int, step: int) -> np.ndarray:
    """Copies the real destination rows of one batch result into ``out`` (made on first use)."""
    lo, result = pending
    rows = np.asarray(result)
    if out is None:
        out = np.zeros((n, *rows.shape[1:]), rows.dtype)
    hi = min(lo + step, n)
    if rows.shape[0] < hi - lo:
        raise ValueError(
            f"`layer` returned {rows.shape[0]} rows for a batch with {hi - lo} destination "
            "nodes; it must return one row per destination slot [N_dst, F']."
        )
    out[lo:hi] = rows[: hi - lo]
    return out
