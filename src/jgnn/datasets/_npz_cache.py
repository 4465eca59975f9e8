"""A verified on-disk cache of whole datasets: one ``.npz`` file per dataset, with its digest.

A cache file is written to a temporary file in its folder and moved into place with
``os.replace``, so it is either complete or absent. It stores the SHA-256 digest of its arrays
(names, dtypes, shapes and bytes); reading recomputes the digest, and a file that fails the
check or cannot be read at all is reported with a warning, deleted and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from jgnn.datasets._edges import build_graph
from jgnn.datasets._types import NodeDataset

__all__ = ["cached_dataset", "read_arrays", "write_arrays"]

_DIGEST_KEY = "__sha256__"


class _CorruptCache(Exception):
    """A cache file that cannot be read or fails its digest check (internal)."""


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def write_arrays(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Writes ``arrays`` and their digest to ``path`` atomically (temp file + ``os.replace``).

    Host-side. The parent folder is created when needed.

    Args:
        path: Destination ``.npz`` file.
        arrays: Arrays to store, by name (plain dtypes only: no objects).

    Raises:
        OSError: If the folder or file cannot be written (nothing is left behind).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {name: np.asarray(a) for name, a in arrays.items()}
    payload[_DIGEST_KEY] = np.array(_digest(payload))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Reads a file written by :func:`write_arrays` and checks its digest.

    Host-side.

    Args:
        path: The ``.npz`` file.

    Returns:
        The arrays, by name.

    Raises:
        OSError: If ``path`` does not exist or cannot be opened.
        _CorruptCache: If the file cannot be read or fails its digest check.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
    except (OSError, MemoryError):  # missing or unreadable: not a verdict on the contents
        raise
    except Exception as err:  # zipfile.BadZipFile, ValueError, EOFError, zlib.error, ...
        raise _CorruptCache(f"cannot be read ({type(err).__name__}: {err})") from err
    stored = arrays.pop(_DIGEST_KEY, None)
    if stored is None:
        raise _CorruptCache("holds no digest")
    actual = _digest(arrays)
    if str(stored) != actual:
        raise _CorruptCache(f"fails its SHA-256 check (stored {stored}, computed {actual})")
    return arrays


def _to_arrays(ds: NodeDataset) -> dict[str, np.ndarray]:
    g = ds.graph
    return {
        "nodes": np.asarray(g.nodes),
        "senders": np.asarray(g.senders),
        "receivers": np.asarray(g.receivers),
        "labels": np.asarray(ds.labels),
        "train_mask": np.asarray(ds.train_mask),
        "val_mask": np.asarray(ds.val_mask),
        "test_mask": np.asarray(ds.test_mask),
        "num_classes": np.array(ds.num_classes, dtype=np.int64),
        "name": np.array(ds.name),
    }


def _from_arrays(arrays: Mapping[str, np.ndarray]) -> NodeDataset:
    try:
        return NodeDataset(
            graph=build_graph(arrays["nodes"], arrays["senders"], arrays["receivers"]),
            labels=arrays["labels"],
            train_mask=arrays["train_mask"],
            val_mask=arrays["val_mask"],
            test_mask=arrays["test_mask"],
            num_classes=int(arrays["num_classes"]),
            name=str(arrays["name"]),
        )
    except KeyError as err:
        raise _CorruptCache(f"lacks the array {err}") from err


def cached_dataset(
    path: str | os.PathLike[str],
    build: Callable[[], NodeDataset],
    *,
    enabled: bool = True,
    stale: Iterable[Path] = (),
) -> NodeDataset:
    """Returns the dataset cached at ``path``, or builds it with ``build()`` and caches it.

    Host-side. A cache file that cannot be read or fails its digest check is reported with a
    ``UserWarning``, deleted and rebuilt. If the cache cannot be written (read-only folder, full
    disk) the built dataset is returned with a warning.

    Args:
        path: The cache file (``.npz``).
        build: Builds the dataset when the cache is missing, corrupt or disabled.
        enabled: With ``False`` the cache is neither read nor written.
        stale: Older cache files to delete once ``path`` is written (e.g. built from files
            that have since changed).

    Returns:
        The dataset.
    """
    path = Path(path)
    if not enabled:
        return build()
    try:
        return _from_arrays(read_arrays(path))
    except OSError:  # missing (or unreadable: then writing it below fails with a warning)
        pass
    except _CorruptCache as err:
        warnings.warn(
            f"Dataset cache {path} {err}; deleting it and rebuilding it.",
            UserWarning,
            stacklevel=3,
        )
        path.unlink(missing_ok=True)
    ds = build()
    try:
        write_arrays(path, _to_arrays(ds))
    except OSError as err:
        warnings.warn(f"Could not write the dataset cache {path}: {err}", UserWarning, stacklevel=3)
        return ds
    for old in stale:
        if old != path:
            old.unlink(missing_ok=True)
    return ds
