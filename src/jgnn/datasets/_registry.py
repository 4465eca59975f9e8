"""Dataset lookup by name: ``load("cora")``, ``load("synthetic", num_nodes=10_000)``."""

from __future__ import annotations

import os
from typing import Any

from jgnn.datasets._planetoid import load_planetoid
from jgnn.datasets._synthetic import contextual_sbm
from jgnn.datasets._types import NodeDataset

__all__ = ["DATASETS", "load"]

#: Names accepted by :func:`load` (case-insensitive).
DATASETS: tuple[str, ...] = ("cora", "citeseer", "pubmed", "synthetic")


def load(name: str, root: str | os.PathLike[str] | None = None, **kwargs: Any) -> NodeDataset:
    """Loads a node-classification dataset by name.

    Host-side NumPy. ``"cora"``, ``"citeseer"`` and ``"pubmed"`` go to :func:`load_planetoid`
    (``kwargs`` may hold ``download``); ``"synthetic"`` goes to :func:`contextual_sbm` with
    ``kwargs`` (``root`` is ignored, nothing is read from disk).

    Args:
        name: One of :data:`DATASETS`, case-insensitive.
        root: Folder holding the raw files (Planetoid only).
        **kwargs: Keyword arguments for the loader or generator.

    Returns:
        A :class:`NodeDataset`.

    Raises:
        ValueError: If ``name`` is unknown (the message lists the choices).
        TypeError: If ``kwargs`` does not fit the loader.

    Examples:
        >>> ds = load("synthetic", num_nodes=500, num_classes=3, num_features=8)
        >>> ds.name, ds.graph.nodes.shape
        ('csbm', (500, 8))
    """
    key = name.lower() if isinstance(name, str) else name
    if key == "synthetic":
        return contextual_sbm(**kwargs)
    if key in DATASETS:
        return load_planetoid(key, root, **kwargs)
    raise ValueError(f"Unknown dataset {name!r}; expected one of {list(DATASETS)}.")
