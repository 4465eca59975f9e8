"""The node-classification dataset container shared by every loader and generator."""

from __future__ import annotations

from typing import NamedTuple

import jraph
import numpy as np

__all__ = ["NodeDataset"]


class NodeDataset(NamedTuple):
    """One graph with node labels and a train/validation/test split (host-side NumPy).

    Every loader in :mod:`jgnn.datasets` returns this container. All arrays are NumPy arrays on
    the host; move what you need to the device yourself (``jax.device_put(ds.graph)``). The
    container itself is a ``NamedTuple``, so ``_replace`` gives an updated copy.

    Attributes:
        graph: A single graph. ``nodes`` is the feature matrix, float32 ``[N, F]``; ``edges`` and
            ``globals`` are ``None``; ``senders``/``receivers`` are int32 ``[E]`` (message
            sources and destinations, each undirected edge stored in both directions);
            ``n_node`` is int32 ``[1]`` holding ``N`` and ``n_edge`` is int32 ``[1]`` holding
            ``E``.
        labels: Class of each node, int32 ``[N]`` with values in ``[0, num_classes)``.
        train_mask: Training nodes, bool ``[N]``.
        val_mask: Validation nodes, bool ``[N]``.
        test_mask: Test nodes, bool ``[N]``.
        num_classes: Number of classes, a Python int.
        name: Display name of the dataset, e.g. ``"Cora"``.

    Examples:
        >>> import jraph, numpy as np
        >>> g = jraph.GraphsTuple(
        ...     nodes=np.zeros((2, 3), np.float32), edges=None, globals=None,
        ...     senders=np.array([0, 1], np.int32), receivers=np.array([1, 0], np.int32),
        ...     n_node=np.array([2], np.int32), n_edge=np.array([2], np.int32))
        >>> ds = NodeDataset(g, np.array([0, 1], np.int32), np.array([True, False]),
        ...                  np.array([False, True]), np.array([False, False]), 2, "toy")
        >>> ds.num_nodes, ds.num_features, int(ds.train_mask.sum())
        (2, 3, 1)
    """

    graph: jraph.GraphsTuple  # nodes float32 [N, F]; senders/receivers int32 [E]
    labels: np.ndarray  # int32 [N]
    train_mask: np.ndarray  # bool [N]
    val_mask: np.ndarray  # bool [N]
    test_mask: np.ndarray  # bool [N]
    num_classes: int  # Python int
    name: str  # display name

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``N`` (a Python int)."""
        return int(self.labels.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of directed edges ``E`` (a Python int); an undirected edge counts twice."""
        return int(np.asarray(self.graph.senders).shape[0])

    @property
    def num_features(self) -> int:
        """Feature width ``F`` (a Python int)."""
        return int(np.asarray(self.graph.nodes).shape[1])
