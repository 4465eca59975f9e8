"""``trim_to_layer``: drop the hops a deeper layer no longer needs (PyG's ``trim_to_layer``).

In an ``L``-layer model over an ``L``-hop sample, layer ``l`` (0-based) only has to be right on
the nodes of hops ``0..L-l-1``; it reads the nodes of hops ``0..L-l`` through the edges of hops
``1..L-l``. In the hop-block layout of :class:`jgnn.loader.PaddedBatch` those are prefixes of
static length, so trimming is a static slice and stays jittable.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np

from jgnn.loader._batch import PaddedBatch
from jgnn.loader._checks import check_int

__all__ = ["trim_to_layer"]

_NODE_FIELDS = ("n_id", "node_mask", "seed_mask", "x", "y", "node_weight", "batch")
_EDGE_FIELDS = ("senders", "receivers", "edge_mask", "edge_weight")


def trim_to_layer(
    batch: PaddedBatch, x: Any, layer: int, num_layers: int
) -> tuple[PaddedBatch, Any]:
    """Slices a batch and its current node features to what layer ``layer`` needs.

    Jittable (all sizes come from the batch's static block sizes). Layer ``layer`` of
    ``num_layers`` keeps the edges of hops ``1..min(num_layers - layer, H_e)`` and the nodes
    of hops ``0..`` one further (at most ``H_n - 1``); the output of a layer on the trimmed
    batch is exact on the nodes the next layer keeps. Trimming an already trimmed batch (or
    features with fewer rows, from the previous layer) is fine: every cut is a prefix.
    Sources without hop structure (one node block) are left unchanged.

    Args:
        batch: A padded batch (or a batch trimmed for an earlier layer).
        x: Current node features ``[N', ...]``, ``N'`` the number of slots of a prefix of
            ``batch``'s node blocks that contains the kept ones.
        layer: 0-based layer index, ``0 <= layer < num_layers``.
        num_layers: Number of message-passing layers of the model.

    Returns:
        ``(trimmed batch, x[:N_kept])``: node fields cut to the kept node blocks, edge fields
        to the kept edge blocks, ``node_blocks``/``edge_blocks`` shortened accordingly.

    Raises:
        ValueError: If ``layer`` is out of range, or ``x`` does not end on a node-block
            boundary of ``batch`` that holds the kept blocks.
        TypeError: If ``batch`` is not a :class:`PaddedBatch`.

    Examples:
        A 2-layer model: layer 0 sees every hop, layer 1 only hop 0's nodes and hop 1's edges.

        >>> import numpy as np
        >>> n, e = np.zeros(6, np.int32), np.zeros(9, np.int32)
        >>> b = PaddedBatch(n_id=n, senders=e, receivers=e, node_mask=n > 0, edge_mask=e > 0,
        ...                 seed_mask=n > 0, num_sampled_nodes=np.zeros(3, np.int32),
        ...                 num_sampled_edges=np.zeros(2, np.int32), node_blocks=(2, 2, 2),
        ...                 edge_blocks=(4, 5))
        >>> t, h = trim_to_layer(b, np.ones((6, 3)), 1, 2)
        >>> t.node_blocks, t.edge_blocks, h.shape, t.senders.shape
        ((2, 2), (4,), (4, 3), (4,))
    """
    if not isinstance(batch, PaddedBatch):
        raise TypeError(f"`batch` must be a jgnn.loader.PaddedBatch, got {type(batch).__name__}.")
    num_layers = check_int(num_layers, "num_layers", minimum=1)
    layer = check_int(layer, "layer", minimum=0)
    if layer >= num_layers:
        raise ValueError(f"`layer` must be in [0, {num_layers}), got {layer}.")
    keep_e = min(num_layers - layer, len(batch.edge_blocks))
    keep_n = min(keep_e + 1, len(batch.node_blocks))
    n, e = sum(batch.node_blocks[:keep_n]), sum(batch.edge_blocks[:keep_e])
    rows = int(jnp.shape(x)[0])
    ends = set(np.cumsum(batch.node_blocks).tolist())
    if rows < n or rows not in ends:
        raise ValueError(
            f"`x` has {rows} rows; expected the slots of a prefix of the node blocks "
            f"{batch.node_blocks} holding at least the {n} kept ones (one of "
            f"{sorted(v for v in ends if v >= n)})."
        )
    changes: dict[str, Any] = {
        name: getattr(batch, name)[:n] for name in _NODE_FIELDS if getattr(batch, name) is not None
    }
    changes.update(
        {
            name: getattr(batch, name)[:e]
            for name in _EDGE_FIELDS
            if getattr(batch, name) is not None
        }
    )
    changes["num_sampled_nodes"] = batch.num_sampled_nodes[:keep_n]
    changes["num_sampled_edges"] = batch.num_sampled_edges[:keep_e]
    changes["node_blocks"] = batch.node_blocks[:keep_n]
    changes["edge_blocks"] = batch.edge_blocks[:keep_e]
    return dataclasses.replace(batch, **changes), x[:n]
