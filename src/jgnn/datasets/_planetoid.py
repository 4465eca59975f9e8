"""The Planetoid citation datasets (Cora, CiteSeer, PubMed) with their public split.

Reads the raw files of Yang, Cohen and Salakhutdinov, "Revisiting Semi-Supervised Learning with
Graph Embeddings" (ICML 2016), https://github.com/kimiyoung/planetoid, and reproduces PyG's
``torch_geometric.io.read_planetoid_data`` exactly: same node order, features, labels, edges and
masks (checked against PyG in ``tests/datasets/test_planetoid.py``).

The raw files are Python 2 pickles; they are read with a restricted unpickler
(:mod:`jgnn.datasets._safe_pickle`) so that a tampered file cannot run code, and each file is
checked against its pinned SHA-256 digest first (see :mod:`jgnn.datasets._planetoid_files`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse

from jgnn.datasets._edges import build_graph, undirected_coalesced
from jgnn.datasets._errors import DatasetFormatError
from jgnn.datasets._planetoid_files import (
    locate_planetoid,
    planetoid_files,
    read_index,
    verify_planetoid_file,
)
from jgnn.datasets._safe_pickle import safe_load
from jgnn.datasets._types import NodeDataset

__all__ = ["load_planetoid", "read_planetoid"]

_DISPLAY_NAMES = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
_NUM_VAL = 500


def _read_matrix(folder: Path, fname: str, dtype: type) -> np.ndarray:
    path = folder / fname
    obj = safe_load(path)
    if scipy.sparse.issparse(obj):
        obj = obj.toarray()
    if not isinstance(obj, np.ndarray) or obj.ndim != 2:
        raise DatasetFormatError(
            f"{path}: expected a 2-D array or sparse matrix, got {type(obj).__name__} "
            f"with shape {getattr(obj, 'shape', None)}."
        )
    return obj.astype(dtype, copy=False)


def _read_graph(folder: Path, fname: str) -> Mapping[int, list[int]]:
    path = folder / fname
    obj = safe_load(path)
    if not isinstance(obj, Mapping):
        raise DatasetFormatError(
            f"{path}: expected a dict of adjacency lists, got {type(obj).__name__}."
        )
    return obj


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise DatasetFormatError(message)


def read_planetoid(
    folder: str | os.PathLike[str], name: str, *, verify: bool = True
) -> NodeDataset:
    """Builds a Planetoid dataset from the eight raw ``ind.<name>.*`` files in ``folder``.

    Host-side. With ``verify`` each file is first checked against its pinned SHA-256 digest
    (PubMed: against a ``.sha256`` sidecar recorded at download time, when there is one).

    Follows PyG's ``read_planetoid_data``: nodes are ``allx`` followed by the test block, and
    row ``k`` of ``tx``/``ty`` belongs to node ``test.index[k]`` (the file is not sorted); ids
    inside the test range that ``test.index`` skips (CiteSeer's 15 isolated nodes) get zero
    features, label 0 and no split; labels are the argmax of the one-hot rows; the public split
    is train = the first ``len(y)`` nodes, val = the next 500, test = the nodes in
    ``test.index``; the adjacency dict becomes an undirected edge list without self loops or
    duplicates, sorted by receiver then sender. (For Cora and CiteSeer the dict is already
    symmetric, so the edges equal PyG's, which only removes self loops and coalesces.)

    Args:
        folder: Folder holding the raw files.
        name: ``"cora"``, ``"citeseer"`` or ``"pubmed"`` (lowercase).
        verify: Check each file against its digest before parsing it. Pass ``False`` only for
            files you modified on purpose.

    Returns:
        The dataset (features are not normalised; see :func:`normalize_features`).

    Raises:
        ChecksumError: If a file fails its digest check (the message names the file, the
            expected and actual digests and what to do).
        DatasetFormatError: If a file cannot be parsed (truncated, empty, not a pickle, a pickle
            naming a global outside the allow-list: then a :class:`PickleFormatError`) or the
            files are inconsistent (row counts, feature widths, out-of-range ids).
        FileNotFoundError: If a file is missing.
    """
    folder = Path(folder)
    if verify:
        for fname in planetoid_files(name):
            verify_planetoid_file(folder / fname)
    x, tx, allx = (_read_matrix(folder, f"ind.{name}.{s}", np.float32) for s in ("x", "tx", "allx"))
    y, ty, ally = (_read_matrix(folder, f"ind.{name}.{s}", np.int64) for s in ("y", "ty", "ally"))
    graph = _read_graph(folder, f"ind.{name}.graph")
    test_index = read_index(folder / f"ind.{name}.test.index")

    prefix = f"Planetoid {name!r} in {folder}"
    _require(
        allx.shape[0] == ally.shape[0] and tx.shape[0] == ty.shape[0] and x.shape[0] == y.shape[0],
        f"{prefix}: row counts disagree: allx {allx.shape[0]} vs ally {ally.shape[0]}, "
        f"tx {tx.shape[0]} vs ty {ty.shape[0]}, x {x.shape[0]} vs y {y.shape[0]}.",
    )
    _require(
        allx.shape[1] == tx.shape[1] and ally.shape[1] == ty.shape[1],
        f"{prefix}: widths disagree: allx {allx.shape[1]} vs tx {tx.shape[1]} features, "
        f"ally {ally.shape[1]} vs ty {ty.shape[1]} classes.",
    )
    _require(
        0 < test_index.shape[0] == tx.shape[0] and np.unique(test_index).size == test_index.size,
        f"{folder / f'ind.{name}.test.index'}: must list {tx.shape[0]} distinct ids (one per "
        f"row of ind.{name}.tx), got {test_index.shape[0]} ids of which "
        f"{np.unique(test_index).size} distinct.",
    )
    sorted_test = np.sort(test_index)
    lo, hi = int(sorted_test[0]), int(sorted_test[-1])
    _require(
        lo >= allx.shape[0],
        f"{prefix}: test ids must follow the {allx.shape[0]} rows of allx, smallest is {lo}.",
    )

    # Test ids missing from a non-contiguous range (CiteSeer) become zero rows.
    span = hi - lo + 1
    if span != tx.shape[0]:
        tx_full = np.zeros((span, tx.shape[1]), tx.dtype)
        ty_full = np.zeros((span, ty.shape[1]), ty.dtype)
        tx_full[sorted_test - lo] = tx
        ty_full[sorted_test - lo] = ty
        tx, ty = tx_full, ty_full

    features = np.concatenate([allx, tx], axis=0)
    features[test_index] = features[sorted_test]
    labels = np.concatenate([ally, ty], axis=0).argmax(axis=1)
    labels[test_index] = labels[sorted_test]
    num_nodes = labels.shape[0]

    keys = np.fromiter(graph.keys(), dtype=np.int64, count=len(graph))
    lengths = np.fromiter((len(v) for v in graph.values()), dtype=np.int64, count=len(graph))
    senders = np.repeat(keys, lengths)
    receivers = np.fromiter(
        (int(v) for vs in graph.values() for v in vs), dtype=np.int64, count=int(lengths.sum())
    )
    try:
        senders, receivers = undirected_coalesced(senders, receivers, num_nodes)
    except ValueError as err:
        raise DatasetFormatError(f"{prefix}: ind.{name}.graph: {err}") from err

    def mask(index: np.ndarray) -> np.ndarray:
        out = np.zeros(num_nodes, dtype=bool)
        out[index] = True
        return out

    num_train = y.shape[0]
    return NodeDataset(
        graph=build_graph(features, senders, receivers),
        labels=labels.astype(np.int32),
        train_mask=mask(np.arange(num_train)),
        val_mask=mask(np.arange(num_train, min(num_train + _NUM_VAL, num_nodes))),
        test_mask=mask(test_index),
        num_classes=int(ally.shape[1]),
        name=_DISPLAY_NAMES.get(name, name),
    )


def load_planetoid(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    verify: bool = True,
) -> NodeDataset:
    """Loads Cora, CiteSeer or PubMed with the standard public split, like PyG's ``Planetoid``.

    Host-side NumPy. The raw files ``ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}`` are
    looked for, in order, in (a) ``root`` (or ``root/planetoid``), (b) ``$JGNN_DATA`` (or
    ``$JGNN_DATA/planetoid``), (c) ``cache_dir()/planetoid``, and (d) when ``download`` is true
    they are fetched into (c) from ``$JGNN_PLANETOID_URL`` (default :data:`PLANETOID_URL`).
    The first folder holding all eight files is used. Wherever they come from, the files are
    checked against the pinned SHA-256 digests (PubMed: against the digest recorded at download
    time, when there is one) and parsed through the restricted unpickler; cached files failing
    the check are downloaded again when ``download`` is true.

    Features are returned raw (binary bag-of-words for Cora/CiteSeer, TF-IDF for PubMed);
    apply :func:`normalize_features` for the usual row normalisation.

    ============  =======  ===========  ========  =======  =================
    dataset       nodes    edges (dir)  features  classes  train / val / test
    ============  =======  ===========  ========  =======  =================
    Cora          2708     10556        1433      7        140 / 500 / 1000
    CiteSeer      3327     9104         3703      6        120 / 500 / 1000
    PubMed        19717    88648        500       3        60 / 500 / 1000
    ============  =======  ===========  ========  =======  =================

    Args:
        name: ``"cora"``, ``"citeseer"`` or ``"pubmed"``, case-insensitive.
        root: Optional folder holding the raw files.
        download: Whether to download missing (or, with ``verify``, corrupt) files into the
            cache.
        verify: Check every file against its digest. Pass ``False`` only to read files you
            modified on purpose (downloads are always checked).

    Returns:
        A :class:`NodeDataset` (features float32 ``[N, F]``, labels int32 ``[N]``, masks bool
        ``[N]``, each undirected edge stored in both directions).

    Raises:
        ValueError: If ``name`` is not a Planetoid dataset.
        DatasetNotFoundError: If the files are found nowhere and downloading is disabled or
            fails; the message lists every place searched, what each lacked and the URL tried
            (a ``FileNotFoundError``).
        ChecksumError: If a file (found or downloaded) does not match its pinned or recorded
            digest.
        DatasetFormatError: If a file cannot be parsed or the files are inconsistent.

    Examples:
        >>> ds = load_planetoid("cora")  # doctest: +SKIP
        >>> ds.graph.nodes.shape, ds.num_edges, int(ds.train_mask.sum())  # doctest: +SKIP
        ((2708, 1433), 10556, 140)
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in _DISPLAY_NAMES:
        raise ValueError(
            f"Unknown Planetoid dataset {name!r}; expected one of {sorted(_DISPLAY_NAMES)} "
            "(case-insensitive)."
        )
    folder = locate_planetoid(key, root, download=download, verify=verify)
    return read_planetoid(folder, key, verify=verify)
