"""jgnn.datasets: node-classification datasets as host-side NumPy.

Planetoid citation graphs (read through a restricted unpickler, downloaded atomically with
pinned SHA-256 digests) and synthetic generators (contextual SBM, Chung-Lu power-law graphs).
Every loader returns a :class:`NodeDataset` whose ``graph`` is a ``jraph.GraphsTuple`` holding
NumPy arrays; see ``ARCHITECTURE.md`` for the graph conventions.
"""

from jgnn.datasets._download import ChecksumError as ChecksumError
from jgnn.datasets._download import cache_dir as cache_dir
from jgnn.datasets._download import download as download
from jgnn.datasets._download import sha256_file as sha256_file
from jgnn.datasets._normalize import normalize_features as normalize_features
from jgnn.datasets._planetoid import PLANETOID_SHA256 as PLANETOID_SHA256
from jgnn.datasets._planetoid import PLANETOID_URL as PLANETOID_URL
from jgnn.datasets._planetoid import load_planetoid as load_planetoid
from jgnn.datasets._planetoid import read_planetoid as read_planetoid
from jgnn.datasets._registry import DATASETS as DATASETS
from jgnn.datasets._registry import load as load
from jgnn.datasets._safe_pickle import safe_load as safe_load
from jgnn.datasets._synthetic import contextual_sbm as contextual_sbm
from jgnn.datasets._synthetic import planetoid_like_split as planetoid_like_split
from jgnn.datasets._synthetic import power_law_graph as power_law_graph
from jgnn.datasets._types import NodeDataset as NodeDataset

__all__ = [
    "DATASETS",
    "PLANETOID_SHA256",
    "PLANETOID_URL",
    "ChecksumError",
    "NodeDataset",
    "cache_dir",
    "contextual_sbm",
    "download",
    "load",
    "load_planetoid",
    "normalize_features",
    "planetoid_like_split",
    "power_law_graph",
    "read_planetoid",
    "safe_load",
    "sha256_file",
]
