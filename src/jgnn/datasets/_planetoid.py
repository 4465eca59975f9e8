"""The Planetoid citation datasets (Cora, CiteSeer, PubMed) with their public split.

Reads the raw files of Yang, Cohen and Salakhutdinov, "Revisiting Semi-Supervised Learning with
Graph Embeddings" (ICML 2016), https://github.com/kimiyoung/planetoid, and reproduces PyG's
``torch_geometric.io.read_planetoid_data`` exactly: same node order, features, labels, edges and
masks (checked against PyG in ``tests/datasets/test_planetoid.py``).

The raw files are Python 2 pickles; they are read with a restricted unpickler
(:mod:`jgnn.datasets._safe_pickle`) so that a tampered file cannot run code. Cora and CiteSeer
downloads are checked against pinned SHA-256 digests. PubMed digests are not pinned: a PubMed
file is only moved into the cache after it parses through the restricted unpickler, its digest
is recorded in a ``<file>.sha256`` sidecar (later loads from the cache are checked against it),
and a warning says that it was not pinned.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import scipy.sparse

from jgnn.datasets._download import cache_dir, sha256_file
from jgnn.datasets._download import download as download_file
from jgnn.datasets._edges import build_graph, undirected_coalesced
from jgnn.datasets._safe_pickle import safe_load
from jgnn.datasets._types import NodeDataset

__all__ = [
    "PLANETOID_SHA256",
    "PLANETOID_URL",
    "load_planetoid",
    "planetoid_url",
    "read_planetoid",
]

#: Canonical location of the raw files; ``$JGNN_PLANETOID_URL`` overrides it.
PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"

#: Pinned SHA-256 digests of the canonical raw files (PubMed is not pinned).
PLANETOID_SHA256: dict[str, str] = {
    "ind.citeseer.allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
    "ind.citeseer.ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
    "ind.citeseer.graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
    "ind.citeseer.test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
    "ind.citeseer.tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
    "ind.citeseer.ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
    "ind.citeseer.x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
    "ind.citeseer.y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
    "ind.cora.allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "ind.cora.ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "ind.cora.graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "ind.cora.test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    "ind.cora.tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "ind.cora.ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "ind.cora.x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "ind.cora.y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
}

_DISPLAY_NAMES = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
_NUM_VAL = 500


def planetoid_url() -> str:
    """Returns the base URL of the raw files: ``$JGNN_PLANETOID_URL`` or :data:`PLANETOID_URL`.

    Host-side.

    Returns:
        The base URL without a trailing slash.

    Examples:
        >>> planetoid_url().startswith(("http://", "https://", "file:"))
        True
    """
    return (os.environ.get("JGNN_PLANETOID_URL") or PLANETOID_URL).rstrip("/")


def _file_names(name: str) -> list[str]:
    return [f"ind.{name}.{suffix}" for suffix in _SUFFIXES]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_sidecar(path: Path) -> str | None:
    side = _sidecar(path)
    if not side.is_file():
        return None
    parts = side.read_text().split()
    return parts[0].lower() if parts else None


def _write_sidecar(path: Path, digest: str) -> None:
    side = _sidecar(path)
    tmp = side.with_name(f".{side.name}.{os.getpid()}.part")
    tmp.write_text(f"{digest}  {path.name}\n")
    os.replace(tmp, side)


def _expected_digest(path: Path) -> str | None:
    return PLANETOID_SHA256.get(path.name) or _read_sidecar(path)


def _check_dir(folder: Path, files: list[str], *, verify_digests: bool) -> dict[str, str]:
    """Maps each missing or unsound file in ``folder`` to its problem (empty when all good)."""
    problems = {}
    for fname in files:
        path = folder / fname
        if not path.is_file():
            problems[fname] = "missing"
        elif verify_digests:
            expected = _expected_digest(path)
            if expected is not None and sha256_file(path) != expected:
                problems[fname] = "fails its SHA-256 check"
    return problems


def _candidates(root: str | os.PathLike[str] | None) -> list[tuple[str, Path | None]]:
    """Places to look, in order, as (description, folder); folder is None when unset."""
    out: list[tuple[str, Path | None]] = []
    for label, value in (("root argument", root), ("$JGNN_DATA", os.environ.get("JGNN_DATA"))):
        if not value:
            out.append((f"{label}: not set", None))
            continue
        base = Path(value).expanduser().absolute()
        out += [(f"{label}: {base}", base), (f"{label}: {base / 'planetoid'}", base / "planetoid")]
    return out


def _verify_raw(path: Path, fname: str) -> None:
    """Parses a freshly downloaded raw file; raises if it is not a sound Planetoid file."""
    if fname.endswith(".test.index"):
        _read_index(path, source=fname)
    else:
        safe_load(path)


def _fetch(folder: Path, files: list[str]) -> None:
    """Downloads ``files`` into ``folder`` (see the module docstring for unpinned files)."""
    base = planetoid_url()
    for fname in files:
        dest = folder / fname
        url = f"{base}/{fname}"
        pinned = PLANETOID_SHA256.get(fname)
        recorded = None if pinned else _read_sidecar(dest)
        digest = download_file(
            url,
            dest,
            pinned or recorded,
            verify=None if pinned else (lambda tmp, fname=fname: _verify_raw(tmp, fname)),
        )
        if pinned is None and recorded is None:
            _write_sidecar(dest, digest)
            warnings.warn(
                f"{fname} was downloaded from {url} without a pinned SHA-256 digest; it parsed "
                f"through the restricted unpickler and its digest {digest} was recorded in "
                f"{_sidecar(dest)} (later loads from the cache are checked against it).",
                UserWarning,
                stacklevel=3,
            )


def _describe(desc: str, problems: dict[str, str], num_files: int) -> str:
    if len(problems) == num_files and set(problems.values()) == {"missing"}:
        return f"{desc} (no ind.* files)"
    return f"{desc} ({'; '.join(f'{f} {p}' for f, p in problems.items())})"


def _locate(name: str, root: str | os.PathLike[str] | None, download: bool) -> Path:
    files = _file_names(name)
    report = []
    for desc, folder in _candidates(root):
        if folder is None:
            report.append(desc)
            continue
        if not folder.is_dir():
            report.append(f"{desc} (does not exist)")
            continue
        problems = _check_dir(folder, files, verify_digests=False)
        if not problems:
            return folder
        report.append(_describe(desc, problems, len(files)))
    cache = cache_dir() / "planetoid"
    problems = _check_dir(cache, files, verify_digests=True)
    if not problems:
        return cache
    desc = f"cache ($JGNN_CACHE or ~/.cache/jgnn): {cache}"
    report.append(
        _describe(desc, problems, len(files)) if cache.is_dir() else f"{desc} (does not exist)"
    )
    where = "\n".join(f"  - {line}" for line in report)
    if not download:
        raise FileNotFoundError(
            f"Planetoid {name!r} raw files ({', '.join(files)}) not found. Looked in:\n{where}\n"
            "Downloading is disabled (download=False): set $JGNN_DATA or pass root= to a "
            "folder holding the files, or call with download=True."
        )
    try:
        _fetch(cache, list(problems))
    except OSError as err:
        raise FileNotFoundError(
            f"Planetoid {name!r} raw files not found. Looked in:\n{where}\nThen tried to "
            f"download them from {planetoid_url()}/ into {cache}, which failed: {err}"
        ) from err
    return cache


def _read_index(path: Path, source: str | None = None) -> np.ndarray:
    try:
        index = np.loadtxt(path, dtype=np.int64, ndmin=1)
    except ValueError as err:
        raise ValueError(f"{source or path}: expected one integer per line ({err}).") from err
    if index.ndim != 1:
        raise ValueError(f"{source or path}: expected one integer per line, got {index.shape}.")
    return index


def _read_matrix(folder: Path, fname: str, dtype: type) -> np.ndarray:
    path = folder / fname
    obj = safe_load(path)
    if scipy.sparse.issparse(obj):
        obj = obj.toarray()
    if not isinstance(obj, np.ndarray) or obj.ndim != 2:
        raise ValueError(
            f"{path}: expected a 2-D array or sparse matrix, got {type(obj).__name__} "
            f"with shape {getattr(obj, 'shape', None)}."
        )
    return obj.astype(dtype, copy=False)


def _read_graph(folder: Path, fname: str) -> Mapping[int, list[int]]:
    path = folder / fname
    obj = safe_load(path)
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a dict of adjacency lists, got {type(obj).__name__}.")
    return obj


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


def read_planetoid(folder: str | os.PathLike[str], name: str) -> NodeDataset:
    """Builds a Planetoid dataset from the eight raw ``ind.<name>.*`` files in ``folder``.

    Host-side. Follows PyG's ``read_planetoid_data``: nodes are ``allx`` followed by the test
    block, and row ``k`` of ``tx``/``ty`` belongs to node ``test.index[k]`` (the file is not
    sorted); ids inside the test range that ``test.index`` skips (CiteSeer's 15 isolated
    nodes) get zero features, label 0 and no split; labels are the argmax of the one-hot rows;
    the public split is train = the first ``len(y)`` nodes, val = the next 500, test = the
    nodes in ``test.index``; the adjacency dict becomes an undirected edge list without self
    loops or duplicates, sorted by receiver then sender. (For Cora and CiteSeer the dict is
    already symmetric, so the edges equal PyG's, which only removes self loops and coalesces.)

    Args:
        folder: Folder holding the raw files.
        name: ``"cora"``, ``"citeseer"`` or ``"pubmed"`` (lowercase).

    Returns:
        The dataset (features are not normalised; see :func:`normalize_features`).

    Raises:
        ValueError: If the files are inconsistent (row counts, feature widths, out-of-range ids).
        pickle.UnpicklingError: If a pickle names a global outside the allow-list.
    """
    folder = Path(folder)
    x, tx, allx = (_read_matrix(folder, f"ind.{name}.{s}", np.float32) for s in ("x", "tx", "allx"))
    y, ty, ally = (_read_matrix(folder, f"ind.{name}.{s}", np.int64) for s in ("y", "ty", "ally"))
    graph = _read_graph(folder, f"ind.{name}.graph")
    test_index = _read_index(folder / f"ind.{name}.test.index")

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
        test_index.shape[0] == tx.shape[0] and np.unique(test_index).size == test_index.size,
        f"{prefix}: test.index must list {tx.shape[0]} distinct ids (one per row of tx), got "
        f"{test_index.shape[0]} ids of which {np.unique(test_index).size} distinct.",
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
        raise ValueError(f"{prefix}: ind.{name}.graph: {err}") from err

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
    name: str, root: str | os.PathLike[str] | None = None, *, download: bool = True
) -> NodeDataset:
    """Loads Cora, CiteSeer or PubMed with the standard public split, like PyG's ``Planetoid``.

    Host-side NumPy. The raw files ``ind.<name>.{x,tx,allx,y,ty,ally,graph,test.index}`` are
    looked for, in order, in (a) ``root`` (or ``root/planetoid``), (b) ``$JGNN_DATA`` (or
    ``$JGNN_DATA/planetoid``), (c) ``cache_dir()/planetoid``, and (d) when ``download`` is true
    they are fetched into (c) from ``$JGNN_PLANETOID_URL`` (default :data:`PLANETOID_URL`).
    Cached files are checked against the pinned digests (PubMed: against the digest recorded at
    download time) and re-fetched when they fail. Files under ``root`` and ``$JGNN_DATA`` are
    used as they are, through the restricted unpickler.

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
        download: Whether to download missing files into the cache.

    Returns:
        A :class:`NodeDataset` (features float32 ``[N, F]``, labels int32 ``[N]``, masks bool
        ``[N]``, each undirected edge stored in both directions).

    Raises:
        ValueError: If ``name`` is not a Planetoid dataset, or the files are inconsistent.
        FileNotFoundError: If the files are found nowhere and downloading is disabled or fails;
            the message lists every place looked and the URL tried.
        ChecksumError: If a downloaded file does not match its pinned or recorded digest.
        pickle.UnpicklingError: If a raw file names a global outside the allow-list.

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
    folder = _locate(key, root, download)
    return read_planetoid(folder, key)
