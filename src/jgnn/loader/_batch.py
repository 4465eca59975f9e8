"""``PaddedBatch``: a sampled subgraph padded to a :class:`Rung`, laid out hop block by hop block.

Layout (static, from the rung): node block ``k`` holds hop ``k``'s real nodes, in
``SampledSubgraph`` order, then its padding nodes; blocks follow each other, hop 0 (the
seeds) first. Edge block ``k`` holds hop ``k``'s real edges then its padding edges. So the
nodes of hops ``0..m`` and the edges of hops ``1..m`` are *prefixes* of the node and edge
arrays with static lengths, which is what :func:`jgnn.loader.trim_to_layer` slices.

Padding never touches real nodes: a padding edge of hop ``k`` goes from a padding node of
blocks ``0..k`` to a padding node of blocks ``0..k-1`` (the prefix that hop's real edges live
in, so trimming keeps it consistent), and consecutive padding edges are dealt round-robin
over those padding nodes rather than piled onto one (a scatter hot spot). Block 0 always
keeps at least one padding node, so every hop's padding edges have somewhere to go.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jgnn.loader._budget import Rung
from jgnn.loader._checks import check_int, hop_counts

__all__ = ["PaddedBatch", "pad_subgraph"]


@dataclasses.dataclass(frozen=True)
class PaddedBatch:
    """A fixed-shape batch (a pytree; the block sizes are static metadata, not leaves).

    ``N = sum(node_blocks)`` and ``E = sum(edge_blocks)`` are fixed by the rung, so every batch
    of a rung has the same shapes and the same tree structure: a jitted step compiles once
    per rung. Leaves are NumPy arrays on the host and ``jax.Array`` s once the loader has put
    them on the device.

    Attributes:
        n_id: int32 ``[N]`` global node id of every slot; padding slots hold the loader's
            ``pad_id`` (one past the last node by default), never to be read unmasked.
        senders: int32 ``[E]`` source slot of every edge (messages flow senders -> receivers).
        receivers: int32 ``[E]`` destination slot of every edge.
        node_mask: bool ``[N]``, True on real nodes.
        edge_mask: bool ``[E]``, True on real edges.
        seed_mask: bool ``[N]``, True on the real seed nodes (the first ``batch_size`` slots).
        num_sampled_nodes: int32 ``[H_n]`` real nodes per hop block.
        num_sampled_edges: int32 ``[H_e]`` real edges per hop block.
        x: ``[N, F]`` node features gathered for ``n_id`` (zeros on padding), or None.
        y: ``[N, ...]`` labels gathered for ``n_id`` (zeros on padding), or None.
        edge_weight: float32 ``[E]`` (zeros on padding), or None.
        node_weight: float32 ``[N]`` (zeros on padding), or None.
        batch: int32 ``[N]`` seed each node was sampled for (``node_blocks[0] - 1``, a
            padding seed slot, on padding), or None.
        node_blocks: Static padded size of each node hop block.
        edge_blocks: Static padded size of each edge hop block.
    """

    n_id: Any
    senders: Any
    receivers: Any
    node_mask: Any
    edge_mask: Any
    seed_mask: Any
    num_sampled_nodes: Any
    num_sampled_edges: Any
    x: Any = None
    y: Any = None
    edge_weight: Any = None
    node_weight: Any = None
    batch: Any = None
    node_blocks: tuple[int, ...] = dataclasses.field(default=(), metadata={"static": True})
    edge_blocks: tuple[int, ...] = dataclasses.field(default=(), metadata={"static": True})

    @property
    def num_nodes(self) -> int:
        """Static ``N``."""
        return sum(self.node_blocks)

    @property
    def num_edges(self) -> int:
        """Static ``E``."""
        return sum(self.edge_blocks)

    @property
    def rung(self) -> Rung:
        """The :class:`Rung` this batch was padded to."""
        return Rung(self.node_blocks, self.edge_blocks)

    @property
    def edge_index(self) -> Any:
        """``[2, E]`` ``(senders, receivers)``, the graph argument of :mod:`jgnn.nn` layers."""
        xp = np if isinstance(self.senders, np.ndarray) else jnp
        return xp.stack([self.senders, self.receivers])

    def replace(self, **changes: Any) -> PaddedBatch:
        """A copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


jax.tree_util.register_dataclass(PaddedBatch)


def _starts(sizes: np.ndarray) -> np.ndarray:
    """``[0, s0, s0+s1, ...]`` (length ``len(sizes) + 1``)."""
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])


def _pad_values(values: Any, positions: np.ndarray, size: int, dtype: Any) -> np.ndarray | None:
    if values is None:
        return None
    values = np.asarray(values)
    out = np.zeros((size, *values.shape[1:]), dtype)
    out[positions] = values
    return out


def pad_subgraph(subgraph: Any, rung: Rung, *, pad_id: int = 0) -> PaddedBatch:
    """Pads a ``jgnn.sampling.SampledSubgraph`` to ``rung`` in the hop-block layout.

    Host-side: not jittable. ``x`` and ``y`` are left None (the loader gathers them). See
    the module docstring for the layout and where padding edges go.

    Args:
        subgraph: The sampled subgraph (local ids, hop-ordered nodes and edges).
        rung: Target shape; it must fit the subgraph (:meth:`Rung.fits`).
        pad_id: Global id written into ``n_id`` on padding slots.

    Returns:
        The padded batch, NumPy leaves.

    Raises:
        ValueError: If the subgraph is inconsistent, or does not fit ``rung``.
        TypeError: If ``subgraph`` is not a ``SampledSubgraph`` or ``rung`` not a ``Rung``.

    Examples:
        >>> from jgnn.sampling import SampledSubgraph
        >>> sub = SampledSubgraph(np.array([7, 3, 5]), np.array([0, 1]), np.array([2, 2], np.int32),
        ...                       np.array([0, 1], np.int32), 2, (2, 1), (2,))
        >>> b = pad_subgraph(sub, Rung((3, 2), (4,)), pad_id=9)
        >>> b.n_id.tolist(), b.senders.tolist(), b.receivers.tolist()
        ([7, 3, 9, 5, 9], [3, 3, 2, 4], [0, 1, 2, 2])
    """
    if not isinstance(rung, Rung):
        raise TypeError(f"`rung` must be a jgnn.loader.Rung, got {type(rung).__name__}.")
    pad_id = check_int(pad_id, "pad_id")
    nodes, edges = hop_counts(subgraph)
    if not rung.fits(nodes, edges):
        raise ValueError(
            f"a batch with nodes per hop {nodes} and edges per hop {edges} does not fit the "
            f"rung {rung.to_dict()} (block 0 also needs one padding node)."
        )
    nc, ec = np.asarray(nodes, np.int64), np.asarray(edges, np.int64)
    nb, eb = np.asarray(rung.nodes, np.int64), np.asarray(rung.edges, np.int64)
    node_start, edge_start = _starts(nb), _starts(eb)
    # Slot of every real node / edge: its index plus the padding of the blocks before it.
    pos = np.arange(int(nc.sum())) + np.repeat(node_start[:-1] - _starts(nc)[:-1], nc)
    epos = np.arange(int(ec.sum())) + np.repeat(edge_start[:-1] - _starts(ec)[:-1], ec)
    n_pad, e_pad = int(nb.sum()), int(eb.sum())

    node_mask = np.zeros(n_pad, bool)
    node_mask[pos] = True
    seed_mask = np.zeros(n_pad, bool)
    seed_mask[: int(subgraph.batch_size)] = True  # block 0 starts at slot 0 in both layouts
    n_id = np.full(n_pad, pad_id, np.int32)
    n_id[pos] = np.asarray(subgraph.n_id)
    edge_mask = np.zeros(e_pad, bool)
    edge_mask[epos] = True
    senders = np.empty(e_pad, np.int32)
    receivers = np.empty(e_pad, np.int32)
    senders[epos] = pos[np.asarray(subgraph.senders)]
    receivers[epos] = pos[np.asarray(subgraph.receivers)]

    # Padding slots of blocks 0..k, in slot order, for every k.
    free = [np.arange(node_start[k] + nc[k], node_start[k + 1]) for k in range(len(nb))]
    pools = [np.concatenate(free[: k + 1]) for k in range(len(nb))]
    last = len(nb) - 1
    dealt = 0
    for j in range(len(eb)):  # edge block j holds hop j + 1
        m = int(eb[j] - ec[j])
        if m == 0:
            continue
        slots = np.arange(edge_start[j] + ec[j], edge_start[j + 1])
        turn = dealt + np.arange(m)
        to_pool, from_pool = pools[min(j, last)], pools[min(j + 1, last)]
        receivers[slots] = to_pool[turn % to_pool.shape[0]]
        senders[slots] = from_pool[turn % from_pool.shape[0]]
        dealt += m

    batch = _pad_values(subgraph.batch, pos, n_pad, np.int32)
    if batch is not None:
        batch[~node_mask] = int(nb[0]) - 1
    return PaddedBatch(
        n_id=n_id,
        senders=senders,
        receivers=receivers,
        node_mask=node_mask,
        edge_mask=edge_mask,
        seed_mask=seed_mask,
        num_sampled_nodes=nc.astype(np.int32),
        num_sampled_edges=ec.astype(np.int32),
        edge_weight=_pad_values(subgraph.edge_weight, epos, e_pad, np.float32),
        node_weight=_pad_values(subgraph.node_weight, pos, n_pad, np.float32),
        batch=batch,
        node_blocks=rung.nodes,
        edge_blocks=rung.edges,
    )
