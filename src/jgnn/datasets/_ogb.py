"""OGB node-property datasets (ogbn-arxiv, ogbn-products) read from their raw CSV files.

Reads the raw layout that the Open Graph Benchmark (Hu et al., "Open Graph Benchmark: Datasets
for Machine Learning on Graphs", NeurIPS 2020) ships in ``https://snap.stanford.edu/ogb/data/
nodeproppred/<download_name>.zip``, without torch, pandas or the ``ogb`` package::

    <dataset folder>/raw/edge.csv.gz           one "source,target" line per edge
    <dataset folder>/raw/num-node-list.csv.gz  one line: the number of nodes N
    <dataset folder>/raw/num-edge-list.csv.gz  one line: the number of edges E
    <dataset folder>/raw/node-feat.csv.gz      N lines of F comma-separated floats
    <dataset folder>/raw/node-label.csv.gz     N lines: the class of each node
    <dataset folder>/split/<split>/{train,valid,test}.csv.gz   one node id per line

For datasets flagged ``add_inverse_edge`` (ogbn-products) the file stores each undirected edge
once and the reverse edge is added after it, as OGB's ``read_csv_graph_raw`` does. The
other OGB node datasets do not fit :class:`NodeDataset`: ogbn-proteins has 112 binary tasks
per node and no node features, ogbn-mag is heterogeneous, and ogbn-papers100M ships a binary
``data.npz`` whose features alone (111M x 128 floats) exceed this machine's memory.

No SHA-256 digests are published for the raw files; gzip's CRC-32 check guards each file, and
the contents are checked for consistency (node count against OGB's metadata, line counts
against ``num-edge-list``, ids and labels in range, disjoint splits). Parsing ogbn-products
takes minutes, so the result is cached as a verified ``.npz`` (:mod:`jgnn.datasets._npz_cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jgnn.datasets._csv import csv_width, read_csv_gz
from jgnn.datasets._download import cache_dir
from jgnn.datasets._edges import build_graph, undirected_coalesced
from jgnn.datasets._errors import DatasetFormatError, DatasetNotFoundError
from jgnn.datasets._locate import Place, SearchReport, cache_place, find_complete, user_places
from jgnn.datasets._npz_cache import cached_dataset
from jgnn.datasets._types import NodeDataset

__all__ = ["OGB_DATASETS", "OgbSpec", "load_ogb", "ogb_files", "read_ogb"]

_OGB_URL = "https://snap.stanford.edu/ogb/data/nodeproppred"
_CACHE_FORMAT = 1  # bump when the processed layout changes


class OgbSpec(NamedTuple):
    """What jgnn needs to know about one OGB node-property dataset (from OGB's master.csv)."""

    name: str  # e.g. "ogbn-arxiv"
    download_name: str  # the zip's name and the folder it unpacks to, e.g. "arxiv"
    num_nodes: int
    num_classes: int
    split: str  # folder under split/
    add_inverse_edge: bool  # the file stores each undirected edge once
    zip_size: str  # approximate download size, for messages

    @property
    def dir_name(self) -> str:
        """OGB's folder name: the dataset name with ``-`` replaced by ``_`` (``ogbn_arxiv``)."""
        return self.name.replace("-", "_")

    @property
    def url(self) -> str:
        """Where the zip archive is published."""
        return f"{_OGB_URL}/{self.download_name}.zip"


#: The supported OGB node-property datasets, by name.
OGB_DATASETS: dict[str, OgbSpec] = {
    "ogbn-arxiv": OgbSpec("ogbn-arxiv", "arxiv", 169_343, 40, "time", False, "81 MB"),
    "ogbn-products": OgbSpec(
        "ogbn-products", "products", 2_449_029, 47, "sales_ranking", True, "1.4 GB"
    ),
}

_RAW = ("edge", "num-node-list", "num-edge-list", "node-feat", "node-label")
_SPLITS = ("train", "valid", "test")


def ogb_files(spec: OgbSpec) -> list[str]:
    """Returns the required files of a dataset, as paths relative to its folder."""
    raw = [f"raw/{stem}.csv.gz" for stem in _RAW]
    return raw + [f"split/{spec.split}/{part}.csv.gz" for part in _SPLITS]


def _spec(name: str) -> OgbSpec:
    key = name.lower() if isinstance(name, str) else name
    if key not in OGB_DATASETS:
        raise ValueError(
            f"Unknown OGB dataset {name!r}; expected one of {list(OGB_DATASETS)} "
            "(case-insensitive)."
        )
    return OGB_DATASETS[key]


def _check(cond: bool, path: Path, message: str) -> None:
    if not cond:
        raise DatasetFormatError(f"{path}: {message}")


def _count(path: Path) -> int:
    value = int(read_csv_gz(path, num_rows=1, num_cols=1)[0, 0])
    _check(value >= 0, path, f"expected a non-negative count, got {value}.")
    return value


def _check_range(values: np.ndarray, bound: int, path: Path, what: str) -> None:
    if values.size == 0:
        return
    lo, hi = int(values.min()), int(values.max())
    _check(
        lo >= 0 and hi < bound,
        path,
        f"{what} must lie in [0, {bound}) but range over [{lo}, {hi}].",
    )


def _ids(path: Path, num_nodes: int) -> np.ndarray:
    ids = read_csv_gz(path, num_cols=1, num_rows=None)[:, 0]
    _check_range(ids, num_nodes, path, "node ids")
    return ids


def read_ogb(folder: str | os.PathLike[str], name: str, *, undirected: bool = True) -> NodeDataset:
    """Builds an OGB node-property dataset from its raw files in ``folder``.

    Host-side: not jittable. Labels come from ``raw/node-label.csv.gz``, features from
    ``raw/node-feat.csv.gz`` (float32), and the official split from ``split/<split>/``.

    Args:
        folder: The dataset folder (holding ``raw/`` and ``split/``).
        name: ``"ogbn-arxiv"`` or ``"ogbn-products"``, case-insensitive.
        undirected: With ``True`` (default) the edges are made undirected, self loops dropped
            and duplicates merged, sorted by receiver then sender, like every other jgnn
            dataset. With ``False`` the edges are returned as OGB's loader returns them: in file
            order, each followed by its reverse for ``add_inverse_edge`` datasets, with self
            loops and duplicates kept (ogbn-arxiv then stays directed, as in the file).

    Returns:
        A :class:`NodeDataset` named ``name``: features float32 ``[N, F]``, labels int32
        ``[N]``, int32 senders/receivers, the official split as bool masks.

    Raises:
        ValueError: If ``name`` is not a supported OGB dataset.
        DatasetFormatError: If a file is truncated, corrupt (gzip CRC) or malformed, or the
            files disagree (node count against OGB's metadata, line counts, ids or labels out
            of range, overlapping splits); the message names the file.
        FileNotFoundError: If a file is missing.
    """
    spec = _spec(name)
    folder = Path(folder)
    raw = folder / "raw"
    num_nodes = _count(raw / "num-node-list.csv.gz")
    _check(
        num_nodes == spec.num_nodes,
        raw / "num-node-list.csv.gz",
        f"{spec.name} has {spec.num_nodes} nodes but this file says {num_nodes}; the folder "
        "holds another dataset or a modified copy.",
    )
    num_edges = _count(raw / "num-edge-list.csv.gz")
    edges = read_csv_gz(
        raw / "edge.csv.gz", num_rows=num_edges, num_cols=2, rows_from="num-edge-list.csv.gz"
    )
    _check_range(edges, num_nodes, raw / "edge.csv.gz", "node ids")
    feat_path = raw / "node-feat.csv.gz"
    x = read_csv_gz(
        feat_path,
        num_rows=num_nodes,
        num_cols=csv_width(feat_path),
        dtype=np.float32,
        rows_from="num-node-list.csv.gz",
    )
    label_path = raw / "node-label.csv.gz"
    labels = read_csv_gz(
        label_path, num_rows=num_nodes, num_cols=1, rows_from="num-node-list.csv.gz"
    )[:, 0]
    _check_range(labels, spec.num_classes, label_path, "labels")

    masks = np.zeros((3, num_nodes), dtype=bool)
    for i, part in enumerate(_SPLITS):
        path = folder / "split" / spec.split / f"{part}.csv.gz"
        ids = _ids(path, num_nodes)
        _check(
            not masks[:i, ids].any(),
            path,
            f"{part} nodes overlap an earlier split ({', '.join(_SPLITS[:i])}).",
        )
        masks[i, ids] = True

    senders, receivers = edges[:, 0], edges[:, 1]
    if undirected:
        senders, receivers = undirected_coalesced(senders, receivers, num_nodes)
    else:
        if spec.add_inverse_edge:
            senders, receivers = (
                np.stack([senders, receivers], axis=1).reshape(-1),
                np.stack([receivers, senders], axis=1).reshape(-1),
            )
        senders, receivers = senders.astype(np.int32), receivers.astype(np.int32)
    return NodeDataset(
        graph=build_graph(x, senders, receivers),
        labels=labels.astype(np.int32),
        train_mask=masks[0].copy(),
        val_mask=masks[1].copy(),
        test_mask=masks[2].copy(),
        num_classes=spec.num_classes,
        name=spec.name,
    )


def _places(spec: OgbSpec, root: str | os.PathLike[str] | None) -> list[Place]:
    def under(base: Path) -> list[Path]:
        return [base, base / spec.dir_name, base / spec.download_name]

    cache = cache_dir() / "ogb"
    return user_places(root, under) + [
        cache_place(cache / spec.dir_name),
        cache_place(cache / spec.download_name),
    ]


def _cache_key(spec: OgbSpec, folder: Path, files: list[str], undirected: bool) -> str:
    """Identifies the raw files (path, size, modification time) and the processing options."""
    stats = []
    for rel in files:
        st = (folder / rel).stat()
        stats.append([rel, st.st_size, st.st_mtime_ns])
    text = json.dumps(
        [_CACHE_FORMAT, spec.name, str(folder.resolve()), stats, undirected], sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_ogb(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    undirected: bool = True,
    cache: bool = True,
) -> NodeDataset:
    """Loads an OGB node-property dataset (ogbn-arxiv, ogbn-products) with its official split.

    Host-side NumPy; torch and the ``ogb`` package are not needed. The dataset folder (OGB's
    ``ogbn_arxiv``, or ``arxiv`` as the zip unpacks) is looked for, in order, in ``root``,
    ``$JGNN_DATA`` and ``cache_dir()/ogb``: each base folder itself, then ``<base>/<dir_name>``
    and ``<base>/<download_name>``. Nothing is downloaded: when no folder holds every file, the
    error lists the places searched, what each lacked, and the archive to fetch.

    The parsed dataset is cached in ``cache_dir()/ogb/processed/`` as an ``.npz`` holding its
    SHA-256 digest, keyed by the raw files' paths, sizes and modification times; a corrupt
    cache file is detected, deleted and rebuilt. Measured on 2 cores with files of the real
    sizes: ogbn-arxiv loads in 1.7 s the first time and 0.3 s from the cache; ogbn-products in
    48 s the first time (7.2 GB peak memory) and 2.5 s from the cache.

    ==============  =========  ==============  ========  =======  ============================
    dataset         nodes      edges in file   features  classes  train / valid / test
    ==============  =========  ==============  ========  =======  ============================
    ogbn-arxiv      169,343    1,166,243       128       40       90,941 / 29,799 / 48,603
    ogbn-products   2,449,029  61,859,140      100       47       196,615 / 39,323 / 2,213,091
    ==============  =========  ==============  ========  =======  ============================

    (Published statistics, for orientation; only the node count and the class count are
    checked.)

    Args:
        name: ``"ogbn-arxiv"`` or ``"ogbn-products"``, case-insensitive.
        root: Optional folder holding the dataset folder (or the dataset folder itself).
        undirected: See :func:`read_ogb`.
        cache: Read and write the processed ``.npz`` cache.

    Returns:
        A :class:`NodeDataset` (see :func:`read_ogb`).

    Raises:
        ValueError: If ``name`` is not a supported OGB dataset.
        DatasetNotFoundError: If no folder holds every raw file (a ``FileNotFoundError``).
        DatasetFormatError: If a file is truncated, corrupt or inconsistent (see
            :func:`read_ogb`).

    Examples:
        >>> ds = load_ogb("ogbn-arxiv")  # doctest: +SKIP
        >>> ds.graph.nodes.shape, ds.num_classes, int(ds.train_mask.sum())  # doctest: +SKIP
        ((169343, 128), 40, 90941)
    """
    spec = _spec(name)
    files = ogb_files(spec)
    report = SearchReport()
    folder = find_complete(_places(spec, root), files, report)
    if folder is None:
        raise DatasetNotFoundError(
            f"OGB dataset {spec.name!r} not found: no folder holds all of its raw files "
            f"({', '.join(files)}). Searched, in order:\n{report}\n"
            f"jgnn does not download OGB datasets. Download {spec.url} (about {spec.zip_size}), "
            f"unzip it, and put the '{spec.download_name}' folder it holds (or rename it "
            f"'{spec.dir_name}') in $JGNN_DATA, in the folder you pass as root, or in "
            f"{cache_dir() / 'ogb'}."
        )
    mode = "undirected" if undirected else "raw"
    processed = cache_dir() / "ogb" / "processed"
    key = _cache_key(spec, folder, files, undirected)
    path = processed / f"{spec.dir_name}-{mode}-{key}.npz"
    stale = processed.glob(f"{spec.dir_name}-{mode}-*.npz") if cache else ()
    return cached_dataset(
        path,
        lambda: read_ogb(folder, spec.name, undirected=undirected),
        enabled=cache,
        stale=list(stale),
    )
