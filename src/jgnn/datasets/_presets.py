"""Named synthetic datasets for large-graph benchmarks, generated once and cached.

Each preset is a fixed set of :func:`scaling_csbm` arguments. The first load generates it
(seconds) and writes it to ``cache_dir()/synthetic/`` as a verified ``.npz``; later loads read
the cache and check its SHA-256 digest, and a corrupt cache is reported, deleted and
regenerated. The cache file name holds the preset, the seed and a digest of the generator
arguments and version, so a changed preset never reads an old file.
"""

from __future__ import annotations

import hashlib
import json
from types import MappingProxyType
from typing import Any

from jgnn.datasets._download import cache_dir
from jgnn.datasets._npz_cache import cached_dataset
from jgnn.datasets._synthetic import scaling_csbm
from jgnn.datasets._types import NodeDataset

__all__ = ["SYNTHETIC_PRESETS", "load_synthetic_preset"]

# Bump when the generator's output for the same arguments changes, to retire old cache files.
_GENERATOR_VERSION = 1

#: Preset name -> :func:`scaling_csbm` arguments (besides ``seed``).
SYNTHETIC_PRESETS: MappingProxyType[str, MappingProxyType[str, Any]] = MappingProxyType(
    {
        # CPU end-to-end benchmarks: about 2M directed edges, 100 MB of features.
        "synthetic-200k": MappingProxyType(
            dict(num_nodes=200_000, avg_degree=10.0, num_classes=10, num_features=128)
        ),
        # Large-graph runs: about 10M directed edges, 512 MB of features.
        "synthetic-1m": MappingProxyType(
            dict(num_nodes=1_000_000, avg_degree=10.0, num_classes=10, num_features=128)
        ),
    }
)


def _cache_name(name: str, params: dict[str, Any], seed: int) -> str:
    text = json.dumps([_GENERATOR_VERSION, params], sort_keys=True)
    return f"{name}-seed{seed}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.npz"


def load_synthetic_preset(name: str, *, seed: int = 0, cache: bool = True) -> NodeDataset:
    """Loads a named synthetic dataset, generating and caching it on first use.

    Host-side NumPy. The presets (see :data:`SYNTHETIC_PRESETS`) are contextual SBMs from
    :func:`scaling_csbm` with 10 classes, 128 features, expected degree 10, homophily 0.8 and a
    10% / 10% / 80% random split:

    ==============  =========  ==============  =============  ============
    name            nodes      directed edges  first load     cached load
    ==============  =========  ==============  =============  ============
    synthetic-200k  200,000    about 2.0M      about 0.7-1 s  about 0.15 s
    synthetic-1m    1,000,000  about 10M       about 3.5-5 s  about 1.5 s
    ==============  =========  ==============  =============  ============

    (Measured on a shared 2-core machine; the first load generates and writes the cache.)

    Args:
        name: A key of :data:`SYNTHETIC_PRESETS`, case-insensitive.
        seed: Generator seed; the same seed gives the same dataset on every machine.
        cache: Read and write the cache in ``cache_dir()/synthetic/``.

    Returns:
        A :class:`NodeDataset` named ``name``.

    Raises:
        ValueError: If ``name`` is not a preset.

    Examples:
        >>> ds = load_synthetic_preset("synthetic-200k", cache=False)  # doctest: +SKIP
        >>> ds.num_nodes, ds.num_features, ds.num_classes  # doctest: +SKIP
        (200000, 128, 10)
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in SYNTHETIC_PRESETS:
        raise ValueError(
            f"Unknown synthetic preset {name!r}; expected one of {list(SYNTHETIC_PRESETS)}."
        )
    params = dict(SYNTHETIC_PRESETS[key])
    folder = cache_dir() / "synthetic"
    path = folder / _cache_name(key, params, seed)
    stale = folder.glob(f"{key}-seed{seed}-*.npz") if cache else ()
    return cached_dataset(
        path,
        lambda: scaling_csbm(**params, seed=seed)._replace(name=key),
        enabled=cache,
        stale=list(stale),
    )
