"""METIS k-way partitioning through pymetis, with a verified on-disk cache.

The cache file of a partition is named by a SHA-256 key of the graph structure and the
arguments (and the pymetis version); it stores the partition, the graph's own hash, the key and
a checksum of the partition. It is written atomically (temporary file, ``fsync``,
``os.replace``) and checked on every load: a truncated, corrupt or foreign file (another
graph's, another key's) is reported with a ``RuntimeWarning``, rebuilt and overwritten.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from jgnn.sampling._store import CSCGraph

__all__ = ["cached_partition", "graph_hash", "metis_adjacency", "metis_partition"]

_FORMAT = b"jgnn.sampling.metis/v1"


def _pymetis_version() -> str:
    try:
        return importlib.metadata.version("pymetis")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - installed from source
        return "unknown"


def metis_adjacency(graph: CSCGraph) -> tuple[np.ndarray, np.ndarray]:
    """The simple undirected adjacency METIS needs: ``(xadj [N + 1], adjncy)`` as int32.

    Host-side: not jittable. Self-loops and parallel edges are dropped.

    Args:
        graph: A store whose edge set is symmetric.

    Returns:
        CSR arrays in which ``adjncy[xadj[v]:xadj[v + 1]]`` are the neighbours of ``v``.

    Raises:
        ValueError: If the graph is not symmetric; the message names an edge whose reverse is
            missing and points to :func:`jgnn.graph.to_undirected`.
    """
    n = graph.num_nodes
    src = graph.indices.astype(np.int64)
    dst = graph.destinations().astype(np.int64)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    forward = np.unique(dst * n + src)  # grouped by destination, sources sorted
    backward = np.unique(src * n + dst)
    if forward.shape != backward.shape or not np.array_equal(forward, backward):
        missing = np.setdiff1d(backward, forward, assume_unique=True)
        if missing.size == 0:
            missing = np.setdiff1d(forward, backward, assume_unique=True)
            s, d = int(missing[0] % n), int(missing[0] // n)
        else:
            s, d = int(missing[0] // n), int(missing[0] % n)
        raise ValueError(
            "METIS needs a symmetric (undirected) graph, but edge "
            f"{s} -> {d} has no reverse {d} -> {s}. Symmetrise it first with "
            "jgnn.graph.to_undirected (or add the reverse edges)."
        )
    xadj = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(forward // n, minlength=n), out=xadj[1:])
    return xadj, (forward % n).astype(np.int32)


def metis_partition(
    xadj: np.ndarray, adjncy: np.ndarray, num_parts: int, recursive: bool, seed: int
) -> np.ndarray:
    """Calls ``pymetis.part_graph`` (k-way unless ``recursive``) and returns int64 parts ``[N]``.

    Host-side: not jittable.
    """
    import pymetis

    n = xadj.shape[0] - 1
    if num_parts == 1:
        return np.zeros(n, np.int64)
    options = pymetis.Options(seed=int(seed))
    if hasattr(pymetis, "CSRAdjacency"):
        result = pymetis.part_graph(
            num_parts,
            pymetis.CSRAdjacency(xadj, adjncy),
            recursive=recursive,
            options=options,
        )
    else:  # pymetis < 2025.2
        result = pymetis.part_graph(
            num_parts, xadj=xadj, adjncy=adjncy, recursive=recursive, options=options
        )
    return np.asarray(result[1], dtype=np.int64)


def graph_hash(graph: CSCGraph) -> str:
    """SHA-256 of the graph structure (node count, ``indptr``, ``indices``); host-side."""
    h = hashlib.sha256(_FORMAT)
    h.update(np.int64(graph.num_nodes).tobytes())
    h.update(np.ascontiguousarray(graph.indptr, np.int64).tobytes())
    h.update(np.ascontiguousarray(graph.indices, np.int32).tobytes())
    return h.hexdigest()


def _key(ghash: str, num_parts: int, recursive: bool, seed: int) -> str:
    text = f"{ghash}|parts={num_parts}|recursive={recursive}|seed={seed}|{_pymetis_version()}"
    return hashlib.sha256(_FORMAT + text.encode()).hexdigest()


def _checksum(part: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(part, np.int64).tobytes()).hexdigest()


def _load(path: Path, key: str, ghash: str, n: int, num_parts: int) -> np.ndarray:
    """The cached partition, or raises ``ValueError`` saying what is wrong with the file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            part = np.array(z["part"])
            stored_key = str(z["key"])
            stored_graph = str(z["graph_hash"])
            stored_sum = str(z["part_sha256"])
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"unreadable ({type(err).__name__}: {err})") from None
    if stored_graph != ghash:
        raise ValueError("written for another graph (stored graph hash differs)")
    if stored_key != key:
        raise ValueError("written for other arguments (stored key differs)")
    if part.shape != (n,) or not np.issubdtype(part.dtype, np.integer):
        raise ValueError(f"malformed (partition of shape {part.shape} and dtype {part.dtype})")
    if part.size and (part.min() < 0 or part.max() >= num_parts):
        raise ValueError(f"malformed (part ids outside [0, {num_parts}))")
    if _checksum(part) != stored_sum:
        raise ValueError("corrupt (partition checksum mismatch)")
    return part.astype(np.int64)


def _save(path: Path, part: np.ndarray, key: str, ghash: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                part=part.astype(np.int64),
                key=np.array(key),
                graph_hash=np.array(ghash),
                part_sha256=np.array(_checksum(part)),
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_partition(
    graph: CSCGraph, num_parts: int, recursive: bool, seed: int, cache_dir: Path
) -> tuple[np.ndarray, Path, bool]:
    """METIS parts of ``graph``, from ``cache_dir`` when a valid file is there.

    Host-side: not jittable. Checks symmetry first (a ``ValueError`` even on a cache hit).

    Args:
        graph: A symmetric store.
        num_parts: Number of parts.
        recursive: Recursive bisection instead of k-way.
        seed: METIS seed.
        cache_dir: Folder of the cache files (created when missing).

    Returns:
        ``(part [N] int64, cache file path, whether it came from the cache)``.
    """
    xadj, adjncy = metis_adjacency(graph)
    ghash = graph_hash(graph)
    key = _key(ghash, num_parts, recursive, seed)
    path = Path(cache_dir) / f"metis-{key[:40]}.npz"
    if path.exists():
        try:
            return _load(path, key, ghash, graph.num_nodes, num_parts), path, True
        except ValueError as problem:
            warnings.warn(
                f"ClusterData: the partition cache file {path} is {problem}; rebuilding it.",
                RuntimeWarning,
                stacklevel=3,
            )
    part = metis_partition(xadj, adjncy, num_parts, recursive, seed)
    try:
        _save(path, part, key, ghash)
    except OSError as err:
        warnings.warn(
            f"ClusterData: could not write the partition cache {path} ({err}); continuing "
            "without it.",
            RuntimeWarning,
            stacklevel=3,
        )
    return part, path, False
