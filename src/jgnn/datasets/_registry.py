"""Dataset lookup by name: ``load("cora")``, ``load("ogbn-arxiv")``, ``load("synthetic-1m")``."""

from __future__ import annotations

import os
from typing import Any

from jgnn.datasets._ogb import OGB_DATASETS, load_ogb
from jgnn.datasets._planetoid import load_planetoid
from jgnn.datasets._presets import SYNTHETIC_PRESETS, load_synthetic_preset
from jgnn.datasets._synthetic import contextual_sbm
from jgnn.datasets._types import NodeDataset

__all__ = ["DATASETS", "load"]

_PLANETOID = ("cora", "citeseer", "pubmed")

#: Names accepted by :func:`load` (case-insensitive).
DATASETS: tuple[str, ...] = (
    *_PLANETOID,
    *OGB_DATASETS,
    "synthetic",
    *SYNTHETIC_PRESETS,
)


def load(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    verify: bool = True,
    **kwargs: Any,
) -> NodeDataset:
    """Loads a node-classification dataset by name.

    Host-side NumPy. Every name takes the same ``root``, ``download`` and ``verify`` arguments,
    so a caller can pass them whatever the name; each loader uses those that apply to it:

    * ``"cora"``, ``"citeseer"``, ``"pubmed"``: :func:`load_planetoid` (all three apply);
    * ``"ogbn-arxiv"``, ``"ogbn-products"``: :func:`load_ogb` with ``root``; OGB files are never
      downloaded (the error names the archive to fetch) and have no published digests (gzip's
      CRC and consistency checks always run), so ``download`` and ``verify`` do not apply;
      ``kwargs`` may hold ``undirected`` and ``cache``;
    * ``"synthetic"``: :func:`contextual_sbm` with ``kwargs``; nothing is read from disk;
    * ``"synthetic-200k"``, ``"synthetic-1m"``: :func:`load_synthetic_preset`; ``kwargs`` may
      hold ``seed`` and ``cache``.

    Args:
        name: One of :data:`DATASETS`, case-insensitive.
        root: Folder holding the raw files (Planetoid and OGB).
        download: Download missing Planetoid files into the cache.
        verify: Check Planetoid files against their pinned digests.
        **kwargs: Other keyword arguments for the loader or generator.

    Returns:
        A :class:`NodeDataset`.

    Raises:
        ValueError: If ``name`` is unknown (the message lists the choices).
        TypeError: If ``kwargs`` does not fit the loader.
        DatasetError: If the files are missing, corrupt or malformed (see each loader).

    Examples:
        >>> ds = load("synthetic", num_nodes=500, num_classes=3, num_features=8)
        >>> ds.name, ds.graph.nodes.shape
        ('csbm', (500, 8))
    """
    key = name.lower() if isinstance(name, str) else name
    if key in _PLANETOID:
        return load_planetoid(key, root, download=download, verify=verify, **kwargs)
    if key in OGB_DATASETS:
        return load_ogb(key, root, **kwargs)
    if key == "synthetic":
        return contextual_sbm(**kwargs)
    if key in SYNTHETIC_PRESETS:
        return load_synthetic_preset(key, **kwargs)
    raise ValueError(f"Unknown dataset {name!r}; expected one of {list(DATASETS)}.")
