"""jgnn.datasets: node-classification datasets as host-side NumPy.

Planetoid citation graphs (read through a restricted unpickler, verified against pinned SHA-256
digests wherever they come from, downloaded atomically), OGB node-property datasets read from
their raw CSV files without torch or the ``ogb`` package, synthetic generators (contextual SBM,
Chung-Lu power-law graphs) and cached synthetic presets. Every loader returns a
:class:`NodeDataset` whose ``graph`` is a ``jraph.GraphsTuple`` holding NumPy arrays; see
``ARCHITECTURE.md`` for the graph conventions. Every expected problem with data files raises a
:class:`DatasetError`.
"""

from jgnn.datasets._download import cache_dir as cache_dir
from jgnn.datasets._download import download as download
from jgnn.datasets._download import sha256_file as sha256_file
from jgnn.datasets._errors import ChecksumError as ChecksumError
from jgnn.datasets._errors import DatasetError as DatasetError
from jgnn.datasets._errors import DatasetFormatError as DatasetFormatError
from jgnn.datasets._errors import DatasetNotFoundError as DatasetNotFoundError
from jgnn.datasets._normalize import normalize_features as normalize_features
from jgnn.datasets._ogb import OGB_DATASETS as OGB_DATASETS
from jgnn.datasets._ogb import OgbSpec as OgbSpec
from jgnn.datasets._ogb import load_ogb as load_ogb
from jgnn.datasets._ogb import read_ogb as read_ogb
from jgnn.datasets._planetoid import load_planetoid as load_planetoid
from jgnn.datasets._planetoid import read_planetoid as read_planetoid
from jgnn.datasets._planetoid_files import PLANETOID_SHA256 as PLANETOID_SHA256
from jgnn.datasets._planetoid_files import PLANETOID_URL as PLANETOID_URL
from jgnn.datasets._planetoid_files import verify_planetoid_file as verify_planetoid_file
from jgnn.datasets._presets import SYNTHETIC_PRESETS as SYNTHETIC_PRESETS
from jgnn.datasets._presets import load_synthetic_preset as load_synthetic_preset
from jgnn.datasets._registry import DATASETS as DATASETS
from jgnn.datasets._registry import load as load
from jgnn.datasets._safe_pickle import PickleFormatError as PickleFormatError
from jgnn.datasets._safe_pickle import safe_load as safe_load
from jgnn.datasets._synthetic import SCALING_SIZES as SCALING_SIZES
from jgnn.datasets._synthetic import contextual_sbm as contextual_sbm
from jgnn.datasets._synthetic import planetoid_like_split as planetoid_like_split
from jgnn.datasets._synthetic import power_law_graph as power_law_graph
from jgnn.datasets._synthetic import random_split as random_split
from jgnn.datasets._synthetic import scaling_csbm as scaling_csbm
from jgnn.datasets._types import NodeDataset as NodeDataset

__all__ = [
    "DATASETS",
    "OGB_DATASETS",
    "PLANETOID_SHA256",
    "PLANETOID_URL",
    "SCALING_SIZES",
    "SYNTHETIC_PRESETS",
    "ChecksumError",
    "DatasetError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "NodeDataset",
    "OgbSpec",
    "PickleFormatError",
    "cache_dir",
    "contextual_sbm",
    "download",
    "load",
    "load_ogb",
    "load_planetoid",
    "load_synthetic_preset",
    "normalize_features",
    "planetoid_like_split",
    "power_law_graph",
    "random_split",
    "read_ogb",
    "read_planetoid",
    "safe_load",
    "scaling_csbm",
    "sha256_file",
    "verify_planetoid_file",
]
